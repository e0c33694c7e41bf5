import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { unpack } from "msgpackr";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { detail, summarize } from "../../src/app/book-json.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { parsePrometheusText, PromWriter } from "../../src/app/prometheus.ts";

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
const source: StatusSource = {
  books: () => books.map((b) => summarize(b, b.state === BookState.LIVE)),
  book: (venue, market, symbol, depth) => {
    const b = books.find((x) => x.instrument.venue === venue && x.instrument.market === market && x.instrument.symbol === symbol);
    return b && detail(b, b.state === BookState.LIVE, depth);
  },
  metricsText: () => new PromWriter().family("feeder_up", "gauge", "up").sample("feeder_up", {}, 1).text(),
};

describe("http server", () => {
  let server: HttpServerHandle;
  let secured: HttpServerHandle;
  beforeAll(() => {
    server = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
    secured = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: "tok" }, source, silentLogger);
  });
  afterAll(async () => {
    await server.stop();
    await secured.stop();
  });

  test("/healthz and /readyz (503 while any book is not live)", async () => {
    expect(await (await fetch(`${server.url}/healthz`)).text()).toBe("ok\n");
    const r = await fetch(`${server.url}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ ready: false, books: 2, notLive: [{ venue: "bybit", market: "linear", symbol: "ETHUSDT", state: "resyncing", reason: "sequence_gap" }], conflicts: [] });
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

  test("/books/{venue}/{market}/{symbol}?depth=N", async () => {
    const one = (await (await fetch(`${server.url}/books/bybit/linear/XRPUSDT?depth=2`)).json()) as any;
    expect(one.bids).toEqual([["1.9531", "6203"], ["1.9530", "2409"]]);
    expect(one.asks).toEqual([["1.9532", "100"], ["1.9535", "8415"]]);
    const packed = unpack(new Uint8Array(await (await fetch(`${server.url}/books/bybit/linear/XRPUSDT`, { headers: { accept: "application/msgpack" } })).arrayBuffer()));
    expect(packed.bids).toHaveLength(3);
    expect(packed.tickSize).toBe("0.0001");
    expect((await fetch(`${server.url}/books/bybit/linear/NOPE`)).status).toBe(404);
    const bad = await fetch(`${server.url}/books/bybit/linear/XRPUSDT?depth=-1`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error).toContain("depth");
  });

  test("/metrics is Prometheus text", async () => {
    const r = await fetch(`${server.url}/metrics`);
    expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(parsePrometheusText(await r.text()).samples).toEqual([{ name: "feeder_up", labels: {}, value: 1 }]);
  });

  test("a bearer token guards everything but /healthz", async () => {
    expect((await fetch(`${secured.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${secured.url}/books`)).status).toBe(401);
    expect((await fetch(`${secured.url}/books`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${secured.url}/books`, { headers: { authorization: "Bearer tok" } })).status).toBe(200);
    expect((await fetch(`${server.url}/books`, { method: "POST" })).status).toBe(405);
  });
});
