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

/**
 * After a scheme's "://", the run a URL's authority can span in a text (up to whitespace or where the parser ends it:
 * "/", "\\", "?", "#") and its last "@" (greedy: the parser's user information ends at the authority's last "@").
 */
const USERINFO_IN_TEXT = /\b([A-Za-z][A-Za-z0-9+.\-]*:\/\/)[^\s/\\?#]*@/g;

/**
 * Every URL's user information in a free text (a log message or field, an error) shown as `***`, up to the last "@"
 * of the authority as redactUrl: "wss://u:p@ss@host" was "wss://***@ss@host" until 2026-12-06 (part of the password
 * shown). One value at a time, not a serialized record: quotes are no end (a password may hold one), so in a JSON
 * line '"wss://h","x":"a@b"' would lose text up to the "@" (the logger redacts each string before serializing).
 */
export function redactUrlsIn(text: string): string {
  if (!text.includes("@") || !text.includes("://")) return text;
  return text.replace(USERINFO_IN_TEXT, "$1***@");
}
