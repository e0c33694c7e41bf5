/**
 * A ws_url or rest_url may carry credentials (`wss://user:pw@relay/…`: Bun's WebSocket and fetch send them as Basic
 * authentication), and a relay's ws_url often one in its query (`wss://relay/ws?token=abc`). Wherever such a URL is
 * shown (configuration errors, check-config, logs, /status, /readyz, capture files, export), its user information is
 * replaced by `***`, and so is the value of each query key that names a secret (SECRET_QUERY_KEY, any case:
 * `?token=***&depth=5`); the connection itself uses the URL as configured.
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
  return redactQuery(redactUserinfo(url));
}

function redactUserinfo(url: string): string {
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
  if (!text.includes("://")) return text;
  const out = text.includes("@") ? text.replace(USERINFO_IN_TEXT, "$1***@") : text;
  return out.includes("?") ? out.replace(URL_IN_TEXT, redactQuery) : out;
}

/**
 * A query key whose value is a secret, matched anywhere in the key, in any case (after percent-decoding): token
 * (access_token, apiToken), key (api_key, apikey, X-MBX-APIKEY), secret, passw(or)d, pwd, signature, sig (Azure's
 * SAS), auth (auth, authorization), credential, jwt. A key such as "monkey" is hidden too: a value hidden for nothing
 * costs less than a secret shown.
 */
const SECRET_QUERY_KEY = /token|key|secret|passw|pwd|signature|^sig$|auth|credential|jwt/i;
/** One `key=value` of a query (separated by & or ;). */
const QUERY_PARAM = /(^|[&;])([^=&;]*)=([^&;]*)/g;
/** A URL in a free text: from its scheme up to whitespace (a value ends there). */
const URL_IN_TEXT = /\b[A-Za-z][A-Za-z0-9+.\-]*:\/\/\S*/g;

/** `url` with the value of each secret-naming query key (up to any #fragment) as `***`. */
function redactQuery(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const hash = url.indexOf("#", q);
  const end = hash < 0 ? url.length : hash;
  const query = url.slice(q + 1, end).replace(QUERY_PARAM, (param: string, sep: string, key: string, value: string) => (value !== "" && secretKey(key) ? `${sep}${key}=***` : param));
  return url.slice(0, q + 1) + query + url.slice(end);
}

function secretKey(key: string): boolean {
  let name = key;
  try {
    name = decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    // a malformed escape: the key as written
  }
  return SECRET_QUERY_KEY.test(name);
}
