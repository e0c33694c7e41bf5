import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect } from "node:net";
import { unpack } from "msgpackr";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { LatencyHistogram } from "../../src/core/histogram.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { levelsOf, summarize } from "../../src/app/book-json.ts";
import { checkHttpExposure, prefersMsgpack, startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { histogramData } from "../../src/app/metrics.ts";
import { parsePrometheusText, PromWriter } from "../../src/app/prometheus.ts";
import type { ReadinessInput } from "../../src/app/readiness.ts";
import { STATUS_PAGE_SCRIPT } from "../../src/app/status-page/client.ts";

function instrument(symbol: string): Instrument {
  return { instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 4, qtyExp: 0, tickSize: "0.0001", lotSize: "1" };
}

const xrp = new BookBuilder(instrument("XRPUSDT"));
const eth = new BookBuilder(instrument("ETHUSDT"));
const u = new BookUpdate();
u.isSnapshot = true;
u.venueSeq = 20254869;
u.pushBid(19531, 6203);
u.pushBid(19530, 2409);
u.pushBid(19529, 680);
u.pushAsk(19532, 100);
u.pushAsk(19535, 8415);
xrp.applySnapshot(u);
eth.markInvalid(BookState.RESYNCING, StatusReason.SEQUENCE_GAP);

const books = [xrp, eth];
const receiptToSend = new LatencyHistogram();
for (const v of [3, 40, 40, 900]) receiptToSend.observe(v);
let extraReadiness: Partial<ReadinessInput> = {};
const summaries = () => books.map((b) => summarize(b, b.state === BookState.LIVE));
const source: StatusSource = {
  book: (venue, market, symbol, depth) => {
    const b = books.find((x) => x.instrument.venue === venue && x.instrument.market === market && x.instrument.symbol === symbol);
    return b && levelsOf(b, b.state === BookState.LIVE, depth);
  },
  metricsText: () => new PromWriter().family("feeder_up", "gauge", "up").sample("feeder_up", {}, 1).text(),
  readiness: () => ({ books: summaries(), unresolved: [], connections: [], workersDown: [], ...extraReadiness }),
  latency: () => ({ receiptToSend: histogramData(receiptToSend), exchangeToReceipt: {} }),
};

/** Every log line of the servers, to check that bad requests never log at error level. */
const logLines: { level: string; msg: string }[] = [];
const log = createLogger({ level: "debug", format: "json", write: (line) => logLines.push(JSON.parse(line)) });

/** One request as raw bytes over TCP (what a health-check probe or a scanner sends): the status and the body. */
function raw(port: number, request: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    let data = "";
    let done = false;
    const finish = () => {
      const head = data.indexOf("\r\n\r\n");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (head < 0 || !m) return false;
      const length = /\r\ncontent-length: *(\d+)/i.exec(data.slice(0, head));
      const text = data.slice(head + 4);
      if (length && Buffer.byteLength(text) < Number(length[1])) return false;
      done = true;
      socket.destroy();
      resolve({ status: Number(m[1]), text });
      return true;
    };
    socket.setEncoding("utf8");
    socket.on("data", (d) => {
      data += d;
      finish();
    });
    socket.on("error", (err) => done || reject(err));
    socket.on("close", () => done || finish() || reject(new Error(`no complete HTTP response in ${JSON.stringify(data.slice(0, 200))}`)));
  });
}

describe("http server", () => {
  let server: HttpServerHandle;
  let secured: HttpServerHandle;
  beforeAll(() => {
    server = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, log);
    secured = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: "tok" }, source, log);
  });
  afterAll(async () => {
    await server.stop();
    await secured.stop();
  });

  test("/healthz, and /readyz 503 with every reason while any book is not live", async () => {
    expect(await (await fetch(`${server.url}/healthz`)).text()).toBe("ok\n");
    const r = await fetch(`${server.url}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({
      ready: false,
      books: 2,
      live: 1,
      reasons: [{ check: "book_not_live", venue: "bybit", market: "linear", symbol: "ETHUSDT", state: "resyncing", reason: "sequence_gap", detail: "bybit linear:ETHUSDT is resyncing (sequence_gap)" }],
      reasonCounts: { book_not_live: 1 },
      reasonsNotShown: 0,
    });
  });

  test("/readyz lists unresolved symbols and venue connections that are down, each with what it is", async () => {
    extraReadiness = {
      unresolved: [{ venue: "bybit", market: "spot", symbol: "NOPEUSDT" }],
      connections: [{ venue: "bybit", connection: "conn1", market: "spot", url: "ws://127.0.0.1:9/v5/public/spot", up: false, lastError: "ECONNREFUSED: Failed to connect", downSinceMs: Date.now() - 5000 }],
    };
    try {
      const body = (await (await fetch(`${server.url}/readyz`)).json()) as { reasons: Record<string, unknown>[] };
      expect(body.reasons.map((r) => r.check)).toEqual(["symbol_unresolved", "venue_down", "book_not_live"]);
      expect(body.reasons[0]).toMatchObject({ venue: "bybit", market: "spot", symbol: "NOPEUSDT" });
      expect(body.reasons[1]).toMatchObject({ url: "ws://127.0.0.1:9/v5/public/spot", error: "ECONNREFUSED: Failed to connect" });
      expect(body.reasons[1]!.downForMs).toBeGreaterThanOrEqual(5000);
    } finally {
      extraReadiness = {};
    }
  });

  test("/books as JSON and as MessagePack carry the same content", async () => {
    const asJson = (await (await fetch(`${server.url}/books`)).json()) as any[];
    const r = await fetch(`${server.url}/books`, { headers: { accept: "application/msgpack" } });
    expect(r.headers.get("content-type")).toBe("application/msgpack");
    const asPack = unpack(new Uint8Array(await r.arrayBuffer()));
    expect(asPack).toEqual(asJson);
    expect(asJson[0]).toMatchObject({ symbol: "XRPUSDT", state: "live", valid: true, bestBid: ["1.9531", "6203"], bestAsk: ["1.9532", "100"], bidLevels: 3, venueSeq: 20254869 });
    expect(asJson[1]).toMatchObject({ symbol: "ETHUSDT", state: "resyncing", valid: false, bestBid: null });
  });

  test("MessagePack only when Accept prefers it: q=0 refuses it, a JSON preferred over it wins, a tie is MessagePack", async () => {
    const cases: [string, string][] = [
      ["application/msgpack", "application/msgpack"],
      ["application/msgpack, */*", "application/msgpack"],
      ["application/json, application/msgpack", "application/msgpack"],
      ["APPLICATION/MSGPACK;Q=0.5", "application/msgpack"], // media types are case-insensitive (before: JSON)
      ["application/json;q=0.5, application/msgpack", "application/msgpack"],
      // Before, each of these was MessagePack: any mention of it was.
      ["application/msgpack;q=0", "application/json"],
      ["application/msgpack; q=0.000", "application/json"],
      ["application/json, application/msgpack;q=0.5", "application/json"],
      ["*/*, application/msgpack;q=0.9", "application/json"],
      ["application/*;q=0.8, application/msgpack;q=0.2", "application/json"],
      ["application/msgpack;q=2", "application/json"], // no valid q: that range left out
      ["*/*", "application/json"],
    ];
    for (const [accept, type] of cases) {
      const r = await fetch(`${server.url}/books/bybit/linear/XRPUSDT?depth=1`, { headers: { accept } });
      expect(r.headers.get("content-type"), accept).toBe(type);
      const bytes = new Uint8Array(await r.arrayBuffer());
      expect(type === "application/json" ? JSON.parse(new TextDecoder().decode(bytes)) : unpack(bytes), accept).toMatchObject({ symbol: "XRPUSDT", bids: [["1.9531", "6203"]] });
    }
  });

  test("prefersMsgpack of random Accept headers as a model of their ranges: quoted parameters holding , ; = and q, whitespace, case, bad q", () => {
    // The header is written from ranges; the model judges the ranges themselves (no parsing): the first range of a
    // type with a valid q counts, a range with an invalid q is left out; MessagePack when its q is above 0 and no
    // lower than JSON's (application/json, else application/*, else */*). Until 2026-12-07 a quoted parameter holding
    // a comma or semicolon split the range there (`profile="a,b";q=0.1` read as JSON at q=1), so the choice was wrong.
    let seed = 20261207;
    const random = () => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const types = ["application/msgpack", "APPLICATION/MsgPack", "application/json", "Application/JSON", "application/*", "*/*", "text/html"];
    const validQ = ["0", "0.", "0.000", "0.001", "0.5", "0.9", "1", "1.", "1.000"];
    const invalidQ = ["1.5", "abc", "", "0.1234", "2", "-0", ".5", '"0.5"'];
    const quotedChars = ['a', ',', ';', '=', ' ', 'q', '0', '.', '5', '\\"', '\\\\'];
    const ows = () => pick(["", "", " ", "\t", "  "]);
    const seen = new Set<boolean>();
    for (let n = 0; n < 1500; n++) {
      const q = new Map<string, number>();
      const ranges: string[] = [];
      for (let r = 1 + Math.floor(random() * 4); r > 0; r--) {
        const type = pick(types);
        let text = type;
        for (let p = Math.floor(random() * 3); p > 0; p--) {
          const value = random() < 0.5 ? "utf-8" : `"${Array.from({ length: Math.floor(random() * 6) }, () => pick(quotedChars)).join("")}"`;
          text += `${ows()};${ows()}${pick(["charset", "profile", "v"])}=${value}`;
        }
        const kind = random();
        const given = kind < 0.3 ? undefined : kind < 0.85 ? pick(validQ) : pick(invalidQ);
        if (given !== undefined) text += `${ows()};${ows()}${pick(["q", "Q"])}=${given}`;
        ranges.push(text);
        if (given !== undefined && !validQ.includes(given)) continue;
        if (!q.has(type.toLowerCase())) q.set(type.toLowerCase(), given === undefined ? 1 : Number(given));
      }
      const header = ranges.join(`${ows()},${ows()}`);
      const packed = q.get("application/msgpack") ?? 0;
      const expected = packed > 0 && packed >= (q.get("application/json") ?? q.get("application/*") ?? q.get("*/*") ?? 0);
      seen.add(expected);
      expect(prefersMsgpack(header), header).toBe(expected);
    }
    expect([...seen].sort()).toEqual([false, true]);
  });

  test("/books/{venue}/{market}/{symbol}?depth=N", async () => {
    const one = (await (await fetch(`${server.url}/books/bybit/linear/XRPUSDT?depth=2`)).json()) as any;
    expect(one.bids).toEqual([["1.9531", "6203"], ["1.9530", "2409"]]);
    expect(one.asks).toEqual([["1.9532", "100"], ["1.9535", "8415"]]);
    const packed = unpack(new Uint8Array(await (await fetch(`${server.url}/books/bybit/linear/XRPUSDT`, { headers: { accept: "application/msgpack" } })).arrayBuffer()));
    expect(packed.bids).toHaveLength(3);
    expect(packed.tickSize).toBe("0.0001");
    expect((await fetch(`${server.url}/books/bybit/linear/NOPE`)).status).toBe(404);
    for (const bad of ["-1", "1.5", "abc", "0", "100001", ""]) {
      const r = await fetch(`${server.url}/books/bybit/linear/XRPUSDT?depth=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(((await r.json()) as any).error).toContain("depth");
    }
    // A repeated or misspelt parameter is named, not ignored (ignored, the whole book would be sent).
    for (const [query, error] of [
      ["depth=1&depth=2", "depth: given 2 times"],
      ["depth=2&dpeth=1", 'unknown query parameter "dpeth"'],
      ["Depth=1", 'unknown query parameter "Depth"'],
      ["depth", 'depth: "" is not'],
    ]) {
      const r = await fetch(`${server.url}/books/bybit/linear/XRPUSDT?${query}`);
      expect(r.status, query).toBe(400);
      expect(((await r.json()) as any).error, query).toContain(error);
    }
    const long = (await (await fetch(`${server.url}/books/bybit/linear/XRPUSDT?depth=${"9".repeat(5000)}`)).json()) as any;
    expect(long.error.length, "a long value is cut in the error").toBeLessThan(200);
  });

  test("/status has readiness, every book and the latency histograms; / is the status page", async () => {
    const s = (await (await fetch(`${server.url}/status`)).json()) as any;
    expect(s.ready).toBe(false);
    expect(s.books.map((b: any) => b.symbol)).toEqual(["XRPUSDT", "ETHUSDT"]);
    expect(s.latency.receiptToSend.count).toBe(4);
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/); // no external asset
    expect(html).toContain(STATUS_PAGE_SCRIPT);
    expect(() => new Function(STATUS_PAGE_SCRIPT)).not.toThrow(); // the inline script at least parses
  });

  test("/status?books=N: at most N books and reasons, the chosen book and those not usable first, with totals", async () => {
    extraReadiness = { unresolved: [{ venue: "bybit", market: "linear", symbol: "SOLUSDT", reason: "not_listed" }] };
    try {
      const get = async (q: string) => (await (await fetch(`${server.url}/status?${q}`)).json()) as any;
      const one = await get("books=1");
      expect(one.books.map((b: any) => b.symbol)).toEqual(["ETHUSDT"]); // not usable before usable
      expect(one.reasons).toHaveLength(1);
      expect(one.totals).toEqual({ reasons: 2, books: 2, usable: 1, unresolved: 1 });
      expect(one.latency.receiptToSend.count).toBe(4);
      expect((await get("books=1&book=bybit%2Flinear%2FXRPUSDT")).books.map((b: any) => b.symbol)).toEqual(["XRPUSDT"]);
      expect((await get("books=3&book=bybit/linear/XRPUSDT")).books.map((b: any) => b.symbol)).toEqual(["XRPUSDT", "ETHUSDT", "SOLUSDT"]);
      expect((await get("books=500")).books.map((b: any) => b.symbol)).toEqual(["ETHUSDT", "SOLUSDT", "XRPUSDT"]);
      // Without books=: every book, as before, and no totals.
      expect((await get("")).totals).toBeUndefined();
      for (const bad of ["books=0", "books=x", "books=1&books=2", "books=100001"]) {
        const r = await fetch(`${server.url}/status?${bad}`);
        expect(r.status, bad).toBe(400);
        expect(((await r.json()) as any).error, bad).toMatch(/^books: .* is not one integer 1–100000$/);
      }
    } finally {
      extraReadiness = {};
    }
  });

  test("/status (s-rev61): a repeated or misspelt parameter, or book= without books=, is a 400 naming it (was ignored: every book sent)", async () => {
    const cases: [string, RegExp][] = [
      ["books=5&book=bybit/linear/XRPUSDT&book=bybit/linear/ETHUSDT", /^book: given 2 times$/],
      ["boks=5", /^unknown query parameter "boks" \(\/status takes only books and book\)$/],
      ["books=5&bok=bybit/linear/XRPUSDT", /^unknown query parameter "bok"/],
      ["book=bybit/linear/XRPUSDT", /^book: chooses the first of books=N; books= not given$/],
    ];
    for (const [q, error] of cases) {
      const r = await fetch(`${server.url}/status?${q}`);
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as any).error, q).toMatch(error);
    }
    expect((await fetch(`${server.url}/status?books=5&book=bybit/linear/XRPUSDT`)).status).toBe(200);
  });

  test("/books (2026-12-07): any query parameter is a 400 naming it (was ignored: every book sent for ?depth=5 or ?venue=okx)", async () => {
    for (const [q, error] of [
      ["depth=5", /^unknown query parameter "depth" \(\/books takes none: one book's levels are \/books\/\{venue\}\/\{market\}\/\{symbol\}\?depth=N\)$/],
      ["venue=okx", /^unknown query parameter "venue"/],
      ["books=1", /^unknown query parameter "books"/],
      ["%FF=1", /^bad percent-encoding in query parameter/],
    ] as [string, RegExp][]) {
      const r = await fetch(`${server.url}/books?${q}`);
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as any).error, q).toMatch(error);
    }
    for (const q of ["", "?"]) expect((await fetch(`${server.url}/books${q}`)).status, q).toBe(200);
  });

  test("/metrics is Prometheus text", async () => {
    const r = await fetch(`${server.url}/metrics`);
    expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(parsePrometheusText(await r.text()).samples).toEqual([{ name: "feeder_up", labels: {}, value: 1 }]);
  });

  test("a bearer token guards everything but /healthz and the (data-free) page", async () => {
    expect((await fetch(`${secured.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${secured.url}/`)).status).toBe(200);
    for (const path of ["/books", "/readyz", "/status", "/metrics", "/books/bybit/linear/XRPUSDT"]) {
      expect((await fetch(`${secured.url}${path}`)).status, path).toBe(401);
    }
    for (const auth of ["Bearer wrong", "Bearer to", "Bearer tokk", "Bearer tok2", "Bearer", "tok", "Basic dG9rOg=="]) {
      const r = await fetch(`${secured.url}/books`, { headers: { authorization: auth } });
      expect(r.status, auth).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe("Bearer");
    }
    expect((await fetch(`${secured.url}/books`, { headers: { authorization: "Bearer tok" } })).status).toBe(200);
    expect((await fetch(`${secured.url}/books`, { headers: { authorization: "bearer tok" } })).status).toBe(200); // the scheme is case-insensitive
  });

  test("bad requests are 4xx naming what was wrong, never 500, never an error log line", async () => {
    logLines.length = 0;
    // An HTTP/1.0 health probe carries no Host header.
    const probe = await raw(server.port, "GET /healthz HTTP/1.0\r\n\r\n");
    expect(probe).toEqual({ status: 200, text: "ok\n" });
    expect((await raw(server.port, "GET /readyz HTTP/1.0\r\n\r\n")).status).toBe(503);
    expect((await raw(secured.port, "GET /books HTTP/1.0\r\n\r\n")).status).toBe(401);
    expect((await raw(server.port, "GET /books HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n")).status).toBe(200);
    // CONNECT carries an authority, not a path.
    for (const req of [`CONNECT 127.0.0.1:${server.port} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`, "CONNECT example.com:443 HTTP/1.0\r\n\r\n"]) {
      const r = await raw(server.port, req);
      expect(r.status, req).toBe(405);
      expect(r.text).toContain("CONNECT");
    }
    // Percent-encoding that does not decode.
    for (const path of ["/books/bybit/linear/%E0%A4%A", "/books/%ZZ/linear/XRPUSDT", "/books/bybit/%/XRPUSDT"]) {
      const r = await raw(server.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(r.status, path).toBe(400);
      expect(r.text).toContain("percent-encoding");
    }
    // A target that is no path at all, and other methods.
    expect((await raw(server.port, "GET foo:bar HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")).status).toBe(400);
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
      const r = await fetch(`${server.url}/books`, { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.get("allow")).toBe("GET, HEAD");
    }
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    // A token in a query is not logged (the page's ?token= sent by hand to another route), nor a target's whole length.
    expect((await fetch(`${server.url}/nope?a=1&TOKEN=s3cret-in-url&b=2`)).status).toBe(404);
    expect((await fetch(`${server.url}/books/bybit/linear/XRPUSDT?token=s3cret-in-url`)).status).toBe(400);
    // Its name percent-encoded is the same parameter to the page (URLSearchParams decodes it) and to the log.
    expect((await fetch(`${server.url}/books/bybit/linear/XRPUSDT?depth=5&%74oken=s3cret-in-url`)).status).toBe(400);
    expect((await fetch(`${server.url}/nope?%54%4FKEN=s3cret-in-url#x`)).status).toBe(404);
    expect((await fetch(`${server.url}/${"x".repeat(5000)}`)).status).toBe(404);
    expect(JSON.stringify(logLines)).not.toContain("s3cret-in-url");
    expect(Math.max(...logLines.map((l) => String((l as { target?: string }).target ?? "").length))).toBeLessThanOrEqual(500);
    expect(logLines.filter((l) => l.level === "error")).toEqual([]);
    expect(logLines.some((l) => l.level === "debug" && l.msg === "HTTP bad request")).toBe(true);
  });

  test("every answer is no-store and nosniff: /metrics, /healthz and MessagePack too (s-httpsmall: they lacked nosniff)", async () => {
    const packed = { accept: "application/msgpack" };
    const asked: [string, Record<string, string>][] = [
      ["/healthz", {}], ["/metrics", {}], ["/readyz", {}], ["/readyz", packed], ["/books", {}], ["/books", packed],
      ["/status", packed], ["/status?books=1", packed], ["/books/bybit/linear/XRPUSDT", packed], ["/nope", {}],
    ];
    for (const [path, headers] of asked) {
      const r = await fetch(`${server.url}${path}`, { headers });
      await r.arrayBuffer();
      expect([r.headers.get("cache-control"), r.headers.get("x-content-type-options")], `${path} ${headers.accept ?? ""}`).toEqual(["no-store", "nosniff"]);
    }
  });

  test("a query whose percent-encoding does not decode is a 400 naming the parameter, as a path segment's (s-httpsmall: it was read as U+FFFD)", async () => {
    logLines.length = 0;
    const cases: [string, string][] = [
      ["/books/bybit/linear/XRPUSDT?depth=%FF", "depth"],
      ["/books/bybit/linear/XRPUSDT?depth=%E0%A4%A", "depth"],
      ["/status?books=5&book=%FF", "book"],
      ["/status?books=%ED%A0%80", "books"], // an encoded lone surrogate
      ["/status?%FF=1", "%FF"],
    ];
    for (const [path, name] of cases) {
      const r = await fetch(`${server.url}${path}`);
      expect([r.status, ((await r.json()) as { error: string }).error], path).toEqual([400, `bad percent-encoding in query parameter ${JSON.stringify(name)}`]);
    }
    // Good escapes and a form's + still decode.
    expect((await fetch(`${server.url}/books/bybit/linear/XRPUSDT?%64epth=%32`)).status).toBe(200);
    const chosen = (await (await fetch(`${server.url}/status?books=1&book=bybit%2Flinear%2FETHUSDT`)).json()) as { books: { symbol: string }[] };
    expect(chosen.books.map((b) => b.symbol)).toEqual(["ETHUSDT"]);
    expect(logLines.filter((l) => l.level === "error")).toEqual([]);
  });

  test("a further depth's book is found by its wire symbol, its @ sent as is or as %40 (operations.md); the plain symbol is the market's", async () => {
    const further = new BookBuilder(instrument("XRPUSDT@1"));
    books.push(further);
    try {
      for (const symbol of ["XRPUSDT@1", "XRPUSDT%401"]) {
        const r = await fetch(`${server.url}/books/bybit/linear/${symbol}`);
        const b = (await r.json()) as { symbol: string; instrumentId: number };
        expect([r.status, b.symbol, b.instrumentId], symbol).toEqual([200, "XRPUSDT@1", instrumentIdOf("bybit", "linear", "XRPUSDT@1")]);
      }
      expect(((await (await fetch(`${server.url}/books/bybit/linear/XRPUSDT`)).json()) as { symbol: string }).symbol).toBe("XRPUSDT");
    } finally {
      books.splice(books.indexOf(further), 1);
    }
  });

  test("a 404 for no book names it cut to 200 characters, as other errors cut what the request sent (s-httpsmall: ~16 KB echoed)", async () => {
    const symbol = "X".repeat(5000);
    const r = await fetch(`${server.url}/books/bybit/linear/${symbol}`);
    expect([r.status, ((await r.json()) as { error: string }).error]).toEqual([404, `no book ${`bybit/linear/${symbol}`.slice(0, 200)}`]);
  });

  test("without a token, a request addressed to a name that is not loopback is refused: a web page cannot read it through DNS rebinding", async () => {
    // A page on evil.example whose name the attacker's DNS turns into 127.0.0.1 after load is same-origin with this
    // server to the browser, which sends Host: evil.example:PORT. It read every book, the status and the metrics.
    logLines.length = 0;
    for (const host of ["evil.example", `evil.example:${server.port}`, "127.0.0.1.evil.example", "localhost.evil.example", "[::2]", "0.0.0.0"]) {
      for (const path of ["/books", "/status", "/metrics", "/readyz", "/books/bybit/linear/XRPUSDT", "/"]) {
        const r = await raw(server.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        expect(r.status, `${host} ${path}`).toBe(403);
        expect(r.text, `${host} ${path}`).toContain("DNS rebinding");
        expect(r.text).not.toContain("XRPUSDT");
      }
      expect((await raw(server.port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).status, host).toBe(200);
    }
    // Loopback names (any port, any case), an empty Host and none (HTTP/1.0) are served.
    for (const host of ["127.0.0.1", `127.0.0.1:${server.port}`, "127.1.2.3:80", "localhost", `LocalHost:${server.port}`, "localhost.", "[::1]", `[::1]:${server.port}`, ""]) {
      expect((await raw(server.port, `GET /books HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).status, host).toBe(200);
    }
    expect((await raw(server.port, "GET /books HTTP/1.0\r\n\r\n")).status).toBe(200);
    // With a token the token guards it (a rebinding page has none): any Host.
    expect((await raw(secured.port, "GET /books HTTP/1.1\r\nHost: feeder.example\r\nAuthorization: Bearer tok\r\nConnection: close\r\n\r\n")).status).toBe(200);
    expect(logLines.filter((l) => l.level === "error")).toEqual([]);
  });

  test("a Host header that is no host is a 400 naming the Host header, not the path", async () => {
    for (const host of ["[::1", "a:99999", "a%zz"]) {
      const r = await raw(secured.port, `GET /books HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(r.status, host).toBe(400);
      expect(JSON.parse(r.text).error, host).toBe(`Host header ${JSON.stringify(host)} is not a host[:port]`);
    }
  });

  test("a failure of the feeder itself is a 500 and an error line", async () => {
    // /books reads readiness() (its books and unresolved symbols from one collection), so both fail here.
    const broken: StatusSource = { ...source, readiness: () => Promise.reject(new Error("worker gone")) };
    const h = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, broken, log);
    try {
      logLines.length = 0;
      expect((await fetch(`${h.url}/books`)).status).toBe(500);
      expect(logLines.filter((l) => l.level === "error").map((l) => l.msg)).toEqual(["HTTP handler failed"]);
    } finally {
      await h.stop();
    }
  });

  test("a book that cannot be read is a 500 at every poll, but one error line per 5 s, with the count", async () => {
    // As Feeder.bookLevels → levelsOf for a LIVE book whose fields throw (a bug): before, an error line per request.
    const unreadable = new BookBuilder(instrument("BADUSDT"));
    unreadable.applySnapshot(u);
    Object.defineProperty(unreadable, "tsExchangeUs", {
      get() {
        throw new Error("book times unreadable (test)");
      },
    });
    const broken: StatusSource = { ...source, book: () => levelsOf(unreadable, true, 0) };
    const h = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, broken, log);
    try {
      logLines.length = 0;
      // Whatever the load: the polls span `elapsedMs` on the limiter's clock (this thread's), so a line per 5 s allows
      // 1 + elapsedMs / 5000 of them (1 unless the machine stalls for seconds); a line per request was 5.
      const startMs = performance.now();
      for (let n = 0; n < 5; n++) expect((await fetch(`${h.url}/books/bybit/linear/BADUSDT`)).status).toBe(500);
      const elapsedMs = performance.now() - startMs;
      const errors = logLines.filter((l) => l.level === "error") as { msg: string; count?: number; total?: number; detail?: string }[];
      const detail = `GET ${h.url}/books/bybit/linear/BADUSDT: book times unreadable (test)`;
      expect(errors[0]).toMatchObject({ msg: "HTTP handler failed", count: 1, total: 1, detail });
      expect(errors.length).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / 5000));
      for (const l of errors) expect([l.msg, l.detail]).toEqual(["HTTP handler failed", detail]);
    } finally {
      await h.stop();
    }
  });
});

describe("listening beyond loopback", () => {
  const wide = { enabled: true, host: "0.0.0.0", port: 0, allowNonLoopback: true } as const;

  test("refuses to start without a bearer token, naming the key", () => {
    expect(() => startHttpServer({ ...wide, bearerToken: undefined }, source, silentLogger)).toThrow(ConfigError);
    expect(() => checkHttpExposure({ ...wide, bearerToken: undefined })).toThrow(/http\.bearer_token: required when http\.listen \(0\.0\.0\.0:0\) is beyond loopback/);
    expect(() => checkHttpExposure({ ...wide, enabled: false, bearerToken: undefined })).not.toThrow();
  });

  test("starts with a token, and then every data endpoint needs it", async () => {
    const h = startHttpServer({ ...wide, bearerToken: "s3cret-token" }, source, silentLogger);
    try {
      expect((await fetch(`http://127.0.0.1:${h.port}/books`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${h.port}/books`, { headers: { authorization: "Bearer s3cret-token" } })).status).toBe(200);
    } finally {
      await h.stop();
    }
  });
});
