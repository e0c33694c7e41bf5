/**
 * Many books are listed over many turns (list-stream.ts), the venues running in between: the books and the
 * unresolved symbols of one answer must be of the same turn, or a symbol that resolves (a venue whose instrument
 * REST answers late) in between is in neither list. Before, Feeder.readinessInputInTurns read the unresolved symbols
 * in its last turn and /books took them from a second collection after its books': such a venue's symbols vanished
 * from /books, and /readyz was 200 with them not live. Here the Feeder's pipelines are attached by hand (no
 * network: its venues are never started) and the HTTP source is a model of one.
 */
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import type { BookSummary } from "../../src/app/book-json.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { collectInTurns, LIST_ITEMS_PER_TURN, type Turn } from "../../src/app/list-stream.ts";
import { evaluateReadiness, type ReadinessInput } from "../../src/app/readiness.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { Instrument, VenueName } from "../../src/core/types.ts";
import { uniqueDestination } from "../e2e/harness.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const instrument = (venue: VenueName, symbol: string): Instrument => ({ instrumentId: instrumentIdOf(venue, "linear", symbol), venue, market: "linear", symbol, priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" });

/** What the tests reach inside a Feeder that is never started. */
interface Pipelines {
  createPipelines(): void;
  pipelines: { adapter: { venue: string }; attach(instruments: (Instrument | undefined)[]): void }[];
}

describe("the books and the unresolved symbols of one answer are of one turn", () => {
  test("Feeder.readinessInputInTurns: a venue attached during the turns is unresolved (resolving), not in neither list", async () => {
    const { group, port } = uniqueDestination(371);
    const many = Array.from({ length: 2 * LIST_ITEMS_PER_TURN + 1 }, (_, i) => `S${i}USDT`);
    const late = ["LATEUSDT", "LATE2USDT"];
    const config = validateConfig({
      log: { level: "error", format: "json" },
      http: { enabled: false },
      publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] },
      venues: {
        bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 50, symbols: many } },
        okx: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 400, symbols: late.map((s) => s.replace("USDT", "-USDT-SWAP")) } },
      },
    });
    for (let attachAt = 0; attachAt < 3; attachAt++) {
      const feeder = new Feeder({ config, log: silentLogger });
      cleanups.push(() => feeder.stop());
      const inside = feeder as unknown as Pipelines;
      inside.createPipelines();
      const [bybit, okx] = inside.pipelines;
      bybit!.attach(many.map((s) => instrument("bybit", s)));
      const okxSymbols = late.map((s) => s.replace("USDT", "-USDT-SWAP"));
      let turns = 0;
      // The okx REST answers in turn `attachAt` of the collection (the venues run between its turns).
      const input = await feeder.readinessInputInTurns(async () => {
        if (turns++ === attachAt) okx!.attach(okxSymbols.map((s) => instrument("okx", s)));
      });
      expect(turns).toBe(3);
      const listed = [...input.books.map((b) => `${b.venue}/${b.symbol}`), ...input.unresolved.map((u) => `${u.venue}/${u.symbol}`)];
      expect(listed.sort()).toEqual([...many.map((s) => `bybit/${s}`), ...okxSymbols.map((s) => `okx/${s}`)].sort());
      expect(input.unresolved.map((u) => [u.symbol, u.reason])).toEqual(okxSymbols.map((s) => [s, "resolving"]));
      expect(evaluateReadiness(input).reasons.filter((r) => r.check === "symbol_unresolved")).toHaveLength(2);
    }
  });

  test("/books: a symbol that resolves while the books are collected is listed once, as a book or unresolved", async () => {
    // A model of the runtime's source: the list and the unresolved symbols fixed when a collection is called.
    const symbols = Array.from({ length: 2 * LIST_ITEMS_PER_TURN }, (_, i) => `S${i}USDT`);
    const resolved = new Set(symbols.slice(0, -1)); // the last one resolves during the first collection
    let collections = 0;
    const summary = (symbol: string) => ({ venue: "bybit", market: "linear", symbol, state: "resyncing", valid: false, reason: "awaiting_snapshot" }) as unknown as BookSummary;
    const collect = (turn?: Turn) => {
      const list = symbols.filter((s) => resolved.has(s));
      const unresolved = symbols.filter((s) => !resolved.has(s)).map((symbol) => ({ venue: "bybit", market: "linear", symbol, reason: "not_trading" }));
      const first = collections++ === 0;
      const books = collectInTurns(list.length, (i) => {
        if (first && i === LIST_ITEMS_PER_TURN) resolved.add(symbols.at(-1)!);
        return summary(list[i]!);
      }, turn ?? (async () => {}));
      return { books, unresolved };
    };
    const source: StatusSource = {
      readiness: async (turn): Promise<ReadinessInput> => {
        const { books, unresolved } = collect(turn);
        return { books: await books, unresolved, connections: [], workersDown: [] };
      },
      book: () => undefined,
      metricsText: () => "",
      latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
    };
    const server: HttpServerHandle = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
    cleanups.push(() => server.stop());
    const listed = ((await (await fetch(`${server.url}/books`)).json()) as { symbol: string }[]).map((b) => b.symbol);
    expect(listed.sort()).toEqual([...symbols].sort());
  });
});
