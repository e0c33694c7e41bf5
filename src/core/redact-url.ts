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
 * A scheme's "://" in a text, its slashes JSON-escaped too (`wss:\/\/h`: a URL in an exchange's JSON echoed in a log
 * field; `\\\/` once more escaped): until 2026-12-06 only a plain "://" was seen, and such a URL's token was shown.
 */
const SCHEME_IN_TEXT = String.raw`\b[A-Za-z][A-Za-z0-9+.\-]*:(?:\\*\/){2}`;

/**
 * After a scheme's "://", the run a URL's authority can span in a text (up to whitespace or where the parser ends it:
 * "/", "\\", "?", "#") and its last "@" (greedy: the parser's user information ends at the authority's last "@").
 */
const USERINFO_IN_TEXT = new RegExp(String.raw`(${SCHEME_IN_TEXT})[^\s/\\?#]*@`, "g");

/**
 * Every URL's user information in a free text (a log message or field, an error) shown as `***`, up to the last "@"
 * of the authority as redactUrl: "wss://u:p@ss@host" was "wss://***@ss@host" until 2026-12-06 (part of the password
 * shown). One value at a time, not a serialized record: quotes are no end (a password may hold one), so in a JSON
 * line '"wss://h","x":"a@b"' would lose text up to the "@" (the logger redacts each string before serializing).
 */
export function redactUrlsIn(text: string): string {
  if (!text.includes(":/") && !text.includes(":\\")) return text;
  const out = text.includes("@") ? text.replace(USERINFO_IN_TEXT, "$1***@") : text;
  return out.includes("?") || out.includes("#") ? out.replace(URL_IN_TEXT, redactQuery) : out;
}

/**
 * A query key whose value is a secret, matched anywhere in the key, in any case (after percent-decoding): token
 * (access_token, apiToken), key (api_key, apikey, X-MBX-APIKEY, Binance's listenKey), secret, pass (password,
 * passphrase, pass), pwd, sig (signature, sign, Azure's sig), auth (auth, authorization), credential, jwt, session
 * (sessionid), cookie, bearer, private, ticket; pw, sid and code (OAuth's) as a word (not "side", "encode"). A key
 * such as "monkey" or "design" is hidden too: a value hidden for nothing costs less than a secret shown (passphrase,
 * pass, session and sign were shown until 2026-12-06).
 */
const SECRET_QUERY_KEY = /token|key|secret|pass|pwd|sig|auth|credential|jwt|session|cookie|bearer|private|ticket|(?<![a-z])(?:pw|sid|code)(?![a-z])/i;
/**
 * One `key=value` of a query or a fragment (`#access_token=…`, shown until 2026-12-06): after "?", "&", ";", "#" or a
 * JSON-escaped "&" (`\u0026`), up to the next of those.
 */
const QUERY_PARAM = /(^|[?&;#]|\\u0026)([^=&;#?]*)=((?:(?!\\u0026)[^&;#])*)/gi;
/** A URL in a free text: from its scheme up to whitespace (a value ends there). */
const URL_IN_TEXT = new RegExp(String.raw`${SCHEME_IN_TEXT}\S*`, "g");

/**
 * `url` with the value of each secret-naming query or fragment key as `***`, and of any key whose value, decoded,
 * holds such a key (`?redirect=wss%3A%2F%2Fh%2F%3Ftoken%3Dabc`: the whole value).
 */
function redactQuery(url: string): string {
  const q = url.search(/[?#]/);
  if (q < 0) return url;
  return url.slice(0, q) + url.slice(q).replace(QUERY_PARAM, (param: string, sep: string, key: string, value: string) => (value !== "" && (secretKey(key) || holdsSecret(value)) ? `${sep}${key}=***` : param));
}

/**
 * True when `value`, percent-decoded, holds a `key=value` whose key names a secret or a URL with user information (a
 * URL or a query inside it). Recursion on ever shorter text: each level is a value inside the one before.
 */
function holdsSecret(value: string): boolean {
  const text = decoded(value);
  if (!text.includes("=") && !text.includes("@")) return false;
  for (const m of text.matchAll(QUERY_PARAM)) if (m[3] !== "" && secretKey(m[2]!)) return true;
  return redactUrlsIn(text) !== text;
}

function secretKey(key: string): boolean {
  return SECRET_QUERY_KEY.test(decoded(key));
}

/**
 * `s` with "+" as a space and each well-formed %XX decoded, repeated while that changes it (a key percent-encoded
 * twice, `tok%2565n`, reads as token): decodeURIComponent gave up on the whole key at one malformed escape
 * (`tok%65n%zz` was shown).
 */
function decoded(s: string): string {
  let out = s.replace(/\+/g, " ");
  for (let i = 0; i < 4 && out.includes("%"); i++) {
    const next = out.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (next === out) break;
    out = next;
  }
  return out;
}
