/**
 * Status, books and metrics over HTTP (Bun.serve). Loopback by default; binding beyond loopback needs
 * `http.allow_non_loopback` (checked by the config) and logs a warning; a bearer token can be required.
 *
 * GET /healthz                              200 while the process runs (never needs the token)
 * GET /readyz                               200 when every configured book is live and no other publisher sends on
 *                                           our streams, else 503 naming the books and conflicts
 * GET /metrics                              Prometheus text format 0.0.4
 * GET /books                                every book with its state (JSON, or MessagePack on Accept: application/msgpack)
 * GET /books/{venue}/{market}/{symbol}?depth=N   one book, top N levels per side (all when absent)
 * @module
 */
import { pack } from "msgpackr";
import type { Logger } from "../core/log.ts";
import type { HttpConfig } from "../config/types.ts";
import type { BookDetail, BookSummary } from "./book-json.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";

export const MSGPACK_CONTENT_TYPE = "application/msgpack";

/** What the HTTP layer reads: one process's books, or the aggregate of several workers. */
export interface StatusSource {
  books(): BookSummary[] | Promise<BookSummary[]>;
  book(venue: string, market: string, symbol: string, depth: number): BookDetail | undefined | Promise<BookDetail | undefined>;
  metricsText(): string | Promise<string>;
  /** Another publisher on our own streams, one sentence each (app/publish-guard.ts); any makes /readyz 503. */
  publishConflicts?(): string[];
}

export interface HttpServerHandle {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function startHttpServer(config: HttpConfig, source: StatusSource, log: Logger): HttpServerHandle {
  if (!config.host.startsWith("127.")) {
    log.warn("HTTP is bound beyond loopback", { host: config.host, port: config.port, bearerToken: config.bearerToken ? "required" : "not set" });
  }
  const expectedAuth = config.bearerToken ? `Bearer ${config.bearerToken}` : undefined;
  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    async fetch(req) {
      try {
        return await route(req, source, expectedAuth);
      } catch (err) {
        log.error("HTTP handler failed", { url: req.url, error: err instanceof Error ? err.message : String(err) });
        return json({ error: "internal error" }, 500);
      }
    },
  });
  const port = server.port ?? config.port;
  log.info("HTTP listening", { url: `http://${config.host}:${port}` });
  return {
    url: `http://${config.host}:${port}`,
    port,
    stop: async () => {
      await server.stop(true);
    },
  };
}

async function route(req: Request, source: StatusSource, expectedAuth: string | undefined): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (req.method !== "GET" && req.method !== "HEAD") return json({ error: `method ${req.method} not allowed` }, 405);
  if (path === "/healthz") return new Response("ok\n", { headers: { "content-type": "text/plain" } });
  if (expectedAuth && req.headers.get("authorization") !== expectedAuth) {
    return json({ error: "missing or wrong bearer token" }, 401, { "www-authenticate": "Bearer" });
  }
  const msgpack = (req.headers.get("accept") ?? "").includes(MSGPACK_CONTENT_TYPE);
  if (path === "/readyz") {
    const books = await source.books();
    const notLive = books.filter((b) => b.state !== "live").map((b) => ({ venue: b.venue, market: b.market, symbol: b.symbol, state: b.state, reason: b.reason }));
    const conflicts = source.publishConflicts?.() ?? [];
    const ready = books.length > 0 && notLive.length === 0 && conflicts.length === 0;
    return body({ ready, books: books.length, notLive, conflicts }, msgpack, ready ? 200 : 503);
  }
  if (path === "/metrics") return new Response(await source.metricsText(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  if (path === "/books") return body(await source.books(), msgpack, 200);
  const m = /^\/books\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
  if (m) {
    const depthParam = url.searchParams.get("depth");
    let depth = 0;
    if (depthParam !== null) {
      depth = Number(depthParam);
      if (!Number.isInteger(depth) || depth < 1 || depth > 100_000) {
        return json({ error: `depth: ${JSON.stringify(depthParam)} is not an integer 1–100000` }, 400);
      }
    }
    const [venue, market, symbol] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
    const book = await source.book(venue, market, symbol, depth);
    if (!book) return json({ error: `no book ${venue}/${market}/${symbol}` }, 404);
    return body(book, msgpack, 200);
  }
  return json({ error: `no route ${path}` }, 404);
}

function body(value: unknown, msgpack: boolean, status: number): Response {
  if (msgpack) return new Response(pack(value), { status, headers: { "content-type": MSGPACK_CONTENT_TYPE } });
  return json(value, status);
}

function json(value: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}
