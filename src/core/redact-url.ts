/**
 * A ws_url or rest_url may carry credentials (`wss://user:pw@relay/…`: Bun's WebSocket and fetch send them as Basic
 * authentication). Wherever such a URL is shown (configuration errors, check-config, logs, /status, /readyz, capture
 * files), its user information is replaced by `***`; the connection itself uses the URL as configured.
 * @module
 */

const SCHEME = /^[A-Za-z][A-Za-z0-9+.\-]*:\/\//;

/**
 * `url` with its user information shown as `***` ("wss://***@host/path"); unchanged without any. A URL that parses
 * loses what precedes the last "@" of its authority (where the parser ends it: "/", "\", "?" or "#"), as the parser
 * reads it; a text that does not parse (a refused value in an error) everything before its last "@", so a password
 * holding a "/" or a space is not shown in part either.
 */
export function redactUrl(url: string): string {
  if (!url.includes("@")) return url;
  const scheme = SCHEME.exec(url);
  const from = scheme === null ? 0 : scheme[0].length;
  let at: number;
  if (scheme !== null && URL.canParse(url)) {
    const end = url.slice(from).search(/[/\\?#]/);
    at = url.lastIndexOf("@", end < 0 ? url.length : from + end);
  } else at = url.lastIndexOf("@");
  return at < from ? url : `${url.slice(0, from)}***${url.slice(at)}`;
}

/** Every URL's user information in a free text (a log line, an error) shown as `***`. */
export function redactUrlsIn(text: string): string {
  if (!text.includes("@") || !text.includes("://")) return text;
  return text.replace(/\b([A-Za-z][A-Za-z0-9+.\-]*:\/\/)[^\s/\\?#@"'<>]*@/g, "$1***@");
}
