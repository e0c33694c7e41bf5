/**
 * What the feeder's HTTP server (http-server.ts) and the bridge's (cli/commands/bridge-http.ts) check of a request
 * before any route: a request with a body is refused (413, its connection closed), the requests being answered are
 * capped (503 with retry-after past the cap; the probes excepted), a target or Host that does not parse is named
 * (400, never a 500), and a server without a token answers only requests addressed to a loopback name (403
 * otherwise: DNS rebinding). Each server wraps the messages in its own answer. Cold path.
 * @module
 */

/**
 * On every answer of both HTTP servers (the feeder's, the bridge's) but the status page's (which holds both): live
 * numbers are never cached, and no body is sniffed into another type.
 */
export const NOT_STORED = { "cache-control": "no-store", "x-content-type-options": "nosniff" } as const;

/** Headers of a body's refusal: the connection is closed, so nothing more of the body is read. */
export const BODY_REFUSAL_HEADERS: Readonly<Record<string, string>> = { connection: "close" };

/**
 * Why a request with a body is refused (a 413's message), or undefined when it has none. No route of either server
 * takes one, and Bun otherwise reads and discards a body of any length (GBs a second from a local client) on the
 * server's thread, whatever maxRequestBodySize says (that bounds only a body that is read).
 */
export function requestBodyRefusal(req: Request): string | undefined {
  const length = req.headers.get("content-length");
  const chunked = req.headers.has("transfer-encoding");
  // Any number of zeros is no body (RFC 9110 allows leading zeros, and Bun passes "00" on as it came).
  if (!chunked && (length === null || /^0+$/.test(length))) return undefined;
  const what = chunked ? `transfer-encoding ${req.headers.get("transfer-encoding")!.slice(0, 50)}` : `content-length ${length!.slice(0, 50)}`;
  return `a request body is not accepted (${what}): every route is GET or HEAD without one`;
}

/**
 * Why a request is refused (a 503's message, with retry-after) when `pending` requests are being answered, this one
 * included (Bun's pendingRequests: waiting, formatted, or a body still being sent to a client that reads slowly or
 * not at all, which holds it in memory until the idle timeout), or undefined within `maxInFlight`. `setting` names
 * what sets the cap.
 */
export function inFlightRefusal(pending: number, maxInFlight: number, setting: string): string | undefined {
  if (pending <= maxInFlight) return undefined;
  return `${maxInFlight} requests are being answered (${setting}); retry`;
}

export function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "localhost" || host === "::1";
}

/**
 * The request target as a URL, or what is wrong with it (a 400's message). Bun hands over the raw target when a
 * request has no usable Host (an HTTP/1.0 probe) or is not origin-form (`CONNECT host:port`), which `new URL` alone
 * rejects; and it makes the URL of an origin-form target from the Host header, so a Host that does not parse
 * (`[::1`) makes it throw too: then the Host is named, not the path.
 */
export function requestTarget(raw: string, host: string | null): URL | string {
  let url: URL;
  try {
    url = new URL(raw.startsWith("/") ? `http://localhost${raw}` : raw);
  } catch {
    if (host !== null && host !== "" && raw.startsWith(`http://${host}/`)) return `Host header ${JSON.stringify(host.slice(0, 200))} is not a host[:port]`;
    return `request target ${JSON.stringify(raw.slice(0, 200))} is not a path`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `request target ${JSON.stringify(raw.slice(0, 200))} is not a path`;
  return url;
}

/**
 * Host header values of a request addressed to this machine's loopback (any port), or of one with none (HTTP/1.0).
 * A browser sends the page's own name: a page whose name its owner's DNS turned into 127.0.0.1 after it loaded
 * (DNS rebinding) is same-origin with a loopback server to the browser, and reads whatever it serves.
 */
const LOOPBACK_HOST = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost\.?|\[::1\])(?::\d{1,5})?$/i;

/**
 * Why a server without a token must not answer a request with this Host (a 403's message), or undefined when it is
 * a loopback name or absent. `who` says which server and why it has no token; `remedy` what to do instead.
 */
export function foreignHostRefusal(host: string | null, who: string, remedy: string): string | undefined {
  if (host === null || host === "" || LOOPBACK_HOST.test(host)) return undefined;
  return `Host ${JSON.stringify(host.slice(0, 200))} is not a loopback name: ${who} answers only requests addressed to 127.0.0.1, localhost or [::1] (a web page could otherwise read it through DNS rebinding); ${remedy}`;
}
