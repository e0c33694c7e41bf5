/**
 * What makes an `http.bearer_token` unusable. A client sends it as `Authorization: Bearer <token>`: a header's value
 * is trimmed and holds no line break, so a token with whitespace around it (a pasted line with its newline) would
 * never match and every request would be 401; and only visible ASCII is sent as it is by every client (fetch refuses
 * control characters, non-ASCII goes as whatever bytes the client picks). The token itself is never in the message.
 * @module
 */

/** The problem (naming the key, not the token), or undefined when the token can be sent; "" is no token. */
export function bearerTokenProblem(token: string): string | undefined {
  if (token !== token.trim()) {
    return "http.bearer_token: has whitespace at its start or end (the token is not shown): an Authorization header's value is trimmed and holds no line break, so every request would be refused (401); remove it";
  }
  let position = 0;
  for (const ch of token) {
    position++;
    const code = ch.codePointAt(0)!;
    if (code >= 0x21 && code <= 0x7e) continue;
    const kind = code === 0x20 ? "a space" : code < 0x20 || code === 0x7f ? "a control character" : "not ASCII";
    return `http.bearer_token: character ${position} is ${kind} (the token is not shown): a bearer token must be visible ASCII (0x21–0x7E), the only characters every client sends as they are in an Authorization header (e.g. openssl rand -hex 32)`;
  }
  return undefined;
}
