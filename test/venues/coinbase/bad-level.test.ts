/**
 * An l2_data frame that reads as JSON, in sequence, with one product's event unreadable (a price or size that does not
 * fit the exponents, negative, in exponent form, of another JSON type, missing, empty or past 2^53; a side that is
 * neither bid nor offer; a level that is no object; an event type that is neither snapshot nor update). Its
 * sequence_num is known and taken, so only
 * that product's book resyncs (unsubscribe + subscribe on the same socket); the frame's other events are applied and
 * the other books stay LIVE. Before, any of these resynced every book of the connection (a reconnect): one product's
 * tick change took its connection's 20 books down on every frame until REST answered. Only a decimal that does not
 * fit asks for the products (until 2026-12-07 a price of another JSON type did too). Real simulator behind a
 * proxy that spoils one event of a frame carrying two products.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { startRewritten, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];

/**
 * How one level of the victim's event is spoiled: [what, [side, price, size] as sent → the level's text, the parse
 * error's reason, whether it re-checks the market's products]. Only a decimal that does not fit the instrument (finer
 * than its tick, past 2^53 at its lot) may mean the listing changed; a field of another JSON type or text that is no
 * decimal says nothing about it (before, a price or size of either kind asked for the products).
 */
const SPOILS: [string, (side: string, px: string, qty: string) => string, string, boolean][] = [
  ["a price finer than the tick", (s, px, q) => level(s, `${px}${px.includes(".") ? "" : "."}01`, q), "price", true],
  ["a negative price", (s, px, q) => level(s, `-${px}`, q), "price_level", false],
  ["a price in exponent form", (s, _px, q) => level(s, "1e3", q), "price_level", false],
  ["an empty size", (s, px) => level(s, px, ""), "new_quantity", false],
  ["a size past 2^53", (s, px) => level(s, px, "99999999999999999999"), "qty", true],
  ["a price that is a JSON number", (s, px, q) => level(s, px, q).replace(`"price_level":"${px}"`, `"price_level":${px}`), "price_level", false],
  ["a price that is an object", (s, px, q) => level(s, px, q).replace(`"price_level":"${px}"`, `"price_level":{"v":"${px}"}`), "price_level", false],
  ["a size that is null", (s, px) => level(s, px, "").replace(`"new_quantity":""`, `"new_quantity":null`), "new_quantity", false],
  ["a size that is missing", (s, px) => level(s, px, "").replace(`,"new_quantity":""`, ""), "new_quantity", false],
  ["a side that is neither bid nor offer", (_s, px, q) => level("ask", px, q), "side", false],
  ["a level that is no object", () => "5", "shape", false],
  ["an event type that is neither snapshot nor update", () => TYPE_SPOIL, "shape", false],
];
/** Marks the spoil that changes the victim event's type instead of its level. */
const TYPE_SPOIL = "<type>";
const level = (side: string, px: string, qty: string) => `{"side":"${side}","event_time":"2026-01-01T00:00:00Z","price_level":"${px}","new_quantity":"${qty}"}`;

describe("coinbase: one product's unreadable event in a frame read in sequence", { timeout: 30_000 }, () => {
  test("resyncs that product's book alone; the frame's other events apply; no reconnect", async () => {
    const sim = await startCoinbaseSimulator({ products: PRODUCTS, seed: 17, levels: 20, heartbeatMs: 50 });
    /** The next frame carrying updates of both products of the first connection gets the victim's first level spoiled. */
    let spoil: { victim: string; other: string; make: (side: string, px: string, qty: string) => string } | null = null;
    let spoiled = 0;
    const rewrite = (f: string): string => {
      if (spoil === null || !f.startsWith('{"channel":"l2_data"') || !f.includes(`"product_id":"${spoil.other}","updates":[{`)) return f;
      const re = new RegExp(`("product_id":"${spoil.victim}","updates":\\[)\\{"side":"(bid|offer)","event_time":"[^"]*","price_level":"([^"]*)","new_quantity":"([^"]*)"\\}`);
      const m = re.exec(f);
      if (m === null) return f;
      const made = spoil.make(m[2]!, m[3]!, m[4]!);
      const out =
        made === TYPE_SPOIL
          ? f.replace(`"type":"update","product_id":"${spoil.victim}"`, `"type":"delta","product_id":"${spoil.victim}"`)
          : f.slice(0, m.index) + m[1] + made + f.slice(m.index + m[0].length);
      spoil = null;
      spoiled++;
      return out;
    };
    const { adapter, sink, allMatch } = await startRewritten(sim, PRODUCTS, rewrite, cleanup);
    expect(adapter.connectionOf(0)).toBe(adapter.connectionOf(1));
    const connects = sim.stats.connectionsTotal;

    for (let k = 0; k < SPOILS.length; k++) {
      const [what, make, reason, rechecks] = SPOILS[k]!;
      const rechecksBefore = adapter.stats().instrumentRechecks!;
      const reasonBefore = adapter.stats()[`parseErrors.${reason}`] ?? 0;
      const victim = k % 2; // BTC-USD and ETH-USD take turns: both share the first connection
      const other = 1 - victim;
      const invalidBefore = sink.invalid.length;
      spoil = { victim: PRODUCTS[victim]!, other: PRODUCTS[other]!, make };
      const spoiledBefore = spoiled;
      for (let n = 0; spoiled === spoiledBefore; n++) {
        expect(n, `${what}: a frame with both products' updates`).toBeLessThan(200);
        sim.step(1);
        await new Promise((r) => setTimeout(r, 5));
      }
      // The victim alone leaves LIVE, for a parse error; the other product's event in the same frame was applied.
      await waitFor(() => sink.invalid.length > invalidBefore && sink.matches(sim, other, PRODUCTS[other]!), `${what}: the victim invalid, the other book applied`);
      expect(sink.invalid.slice(invalidBefore), what).toEqual([{ index: victim, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
      // Counted under the field that was wrong; the products asked for only when the instrument may have changed.
      expect(adapter.stats()[`parseErrors.${reason}`], what).toBe(reasonBefore + 1);
      expect(adapter.stats().instrumentRechecks! - rechecksBefore, what).toBe(rechecks ? 1 : 0);
      // A fresh snapshot on the same socket makes it equal again; nothing else was invalidated meanwhile.
      sim.step(1);
      await waitFor(allMatch, `${what}: books equal again`);
      expect(sink.invalid.length, what).toBe(invalidBefore + 1);
    }
    expect(sim.stats.connectionsTotal).toBe(connects);
    expect(adapter.stats().connectionResyncs).toBe(0);
    expect(adapter.stats().parseErrors).toBe(SPOILS.length);
  });
});
