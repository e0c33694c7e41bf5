/**
 * The simulator stays consistent under bad input: a tick/lot change it cannot make is refused with 400 naming the
 * field and changes nothing (REST, book, u, random stream, no snapshot sent); a recording with malformed order-book
 * lines is served (those lines verbatim, not applied to the replay book) without anything throwing, over
 * /sim/step, /sim/fault and the timer alike; and an error inside a tick is logged while the simulator goes on.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { startBybitSimulator, type BybitSim, type BybitSimOptions } from "../../src/sim/bybit-sim.ts";
import { SimSpecError } from "../../src/sim/sim-book.ts";
import { RawClient } from "./raw-client.ts";
import { until } from "../support/until.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function sim(opts: Partial<BybitSimOptions> = {}): Promise<BybitSim> {
  const s = await startBybitSimulator({ seed: 3, markets: [{ market: "linear", symbols: ["BTCUSDT"] }], ...opts });
  cleanups.push(() => s.stop());
  return s;
}

async function client(s: BybitSim, topic: string): Promise<{ c: RawClient; snapshot: any }> {
  const c = await RawClient.open(`${s.wsUrl}/linear`);
  cleanups.push(() => c.close());
  return { c, snapshot: await c.subscribe(topic) };
}

async function post(s: BybitSim, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${s.restUrl}${path}`, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

async function restSpec(s: BybitSim): Promise<{ tickSize: string; lotSize: string }> {
  const info = (await (await fetch(`${s.restUrl}/v5/market/instruments-info?category=linear`)).json()) as any;
  return { tickSize: info.result.list[0].priceFilter.tickSize, lotSize: info.result.list[0].lotSizeFilter.qtyStep };
}

const LINEAR = { market: "linear", symbol: "BTCUSDT" };

describe("instrument changes the simulator cannot make", { timeout: 15_000 }, () => {
  test("400 naming the field, and REST, book, u and the subscriber's stream are untouched", async () => {
    const s = await sim();
    const { c, snapshot } = await client(s, "orderbook.50.BTCUSDT");
    const rest0 = await restSpec(s);
    const book0 = s.book("linear", "BTCUSDT", 50);
    const bad: [Record<string, unknown>, string][] = [
      [{ tickSize: "1000000000000000000000" }, "tickSize"], // mantissa above 2^53 (used to answer 500 after assigning)
      [{ lotSize: "0.0000000000000000001" }, "lotSize"], // 19 decimals (used to be accepted with 200)
      [{ lotSize: "0.0000000000000001" }, "lotSize"], // 16 decimals: 10^16 > 2^53
      [{ tickSize: "0.000000000000001" }, "tickSize"], // 15 decimals is allowed, but 95000 × 10^15 is not a mantissa
      [{ lotSize: "0.000000000000001" }, "lotSize"], // sizes × 10^12 leave the safe range
      [{ tickSize: "100000" }, "tickSize"], // above the price: no bid could exist
      [{ tickSize: "0" }, "tickSize"],
      [{ tickSize: "0.000" }, "tickSize"],
      [{ tickSize: "1e-8" }, "tickSize"],
      [{ tickSize: "-0.1" }, "tickSize"],
      [{ tickSize: ".5" }, "tickSize"],
      [{ tickSize: 0.5 }, "tickSize"],
      [{ tickSize: "0.5", lotSize: "0.0000000000000000001" }, "lotSize"], // a good tick does not go in alone
    ];
    for (const [change, field] of bad) {
      const r = await post(s, "/sim/instrument", { ...LINEAR, ...change });
      expect({ change, status: r.status, field: r.body.field }).toEqual({ change, status: 400, field });
      expect(r.body.error).toMatch(new RegExp(`^${field}: `));
      expect(await restSpec(s)).toEqual(rest0);
      expect(s.book("linear", "BTCUSDT", 50)).toEqual(book0);
    }
    // No snapshot was sent: the next frame is the delta that follows the subscription's snapshot.
    expect(c.pending).toBe(0);
    expect((await post(s, "/sim/step")).body).toMatchObject({ ok: true, messagesSent: 1 });
    expect(await c.nextJson()).toMatchObject({ type: "delta", data: { u: snapshot.data.u + 1 } });
    // And a good change still works afterwards.
    expect((await post(s, "/sim/instrument", { ...LINEAR, tickSize: "0.5", lotSize: "0.00001" })).status).toBe(200);
    expect(await c.nextJson()).toMatchObject({ type: "snapshot", data: { u: 1 } });
    expect(await restSpec(s)).toEqual({ tickSize: "0.5", lotSize: "0.00001" });
  });

  test("from code: SimSpecError, and the book and its random stream are exactly as before", async () => {
    // Two simulators on one seed; one is refused a change (after computing a rebuilt book), then both make the same
    // good change that rebuilds the book from the random stream: the books agree only if the refusal consumed nothing.
    const a = await sim();
    const b = await sim();
    let err: unknown;
    try {
      a.changeInstrument("linear", "BTCUSDT", { tickSize: "100000" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimSpecError);
    expect((err as SimSpecError).field).toBe("tickSize");
    expect(a.book("linear", "BTCUSDT")).toEqual(b.book("linear", "BTCUSDT"));
    a.changeInstrument("linear", "BTCUSDT", { tickSize: "0.7" });
    b.changeInstrument("linear", "BTCUSDT", { tickSize: "0.7" });
    const after = a.book("linear", "BTCUSDT");
    expect(after).toEqual(b.book("linear", "BTCUSDT"));
    expect([...after.bids.keys()].every((p) => Math.round(Number(p) * 10) % 7 === 0)).toBe(true);
  });
});

describe("replay of a recording with malformed order-book lines", { timeout: 15_000 }, () => {
  const T = "orderbook.50.XRPUSDT";
  const good = (type: string, u: number, b: string, a: string) => `{"topic":"${T}","type":"${type}","ts":${u},"data":{"s":"XRPUSDT","b":${b},"a":${a},"u":${u},"seq":${u}},"cts":${u}}`;
  const LINES = [
    good("snapshot", 1, `[["1.0000","5"]]`, `[["1.0001","5"]]`),
    `{"topic":"${T}","type":"delta","ts":2,"data":{"s":"XRPUSDT","u":2,"seq":2},"cts":2}`, // no b, no a
    "{not json at all",
    `{"topic":"${T}","type":"delta","ts":3,"data":{"s":"XRPUSDT","b":5,"a":[["1.0001","x"]],"u":3,"seq":3},"cts":3}`, // b not an array
    `{"topic":"${T}","type":"delta","ts":4,"data":{"s":"XRPUSDT","b":[[1.0,"2"]],"a":[],"u":4},"cts":4}`, // a number as price
    `{"topic":"${T}","type":"delta","ts":5,"data":null}`,
    `{"topic":"${T}","type":"delta","ts":6,"data":{"s":"XRPUSDT","b":[["0.9999","7"]],"a":[],"u":"6"}}`, // u a string
    good("delta", 7, `[["0.9999","3"],["1.0000","0"]]`, `[]`),
  ];
  const SERVED = LINES.filter((l) => l !== "{not json at all");

  function recording(): string {
    const dir = mkdtempSync(join(tmpdir(), "sim-replay-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "rec.jsonl");
    writeFileSync(file, LINES.join("\n") + "\n");
    return file;
  }

  function expectFinalBook(s: BybitSim): void {
    // Only the well-formed lines were applied: the snapshot, then the last delta (u = 7).
    const book = s.book("linear", "XRPUSDT");
    expect(book).toEqual({ bids: new Map([["0.9999", "3"]]), asks: new Map([["1.0001", "5"]]), u: 7 });
  }

  test("/sim/step and /sim/fault serve malformed lines verbatim and answer 200; the replay book ignores them", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    cleanups.push(() => warn.mockRestore());
    const s = await sim({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: recording() });
    expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/1 line\(s\) that are not JSON skipped; 5 order-book line\(s\) .* served verbatim/);
    const { c, snapshot } = await client(s, T);
    expect(JSON.stringify(snapshot)).toBe(JSON.stringify(JSON.parse(SERVED[0]!)));
    expect(await post(s, "/sim/step")).toMatchObject({ status: 200, body: { ok: true, messagesSent: 1 } });
    expect(await c.next()).toBe(SERVED[1]);
    expect(await post(s, "/sim/fault", { type: "duplicate", symbol: "XRPUSDT" })).toMatchObject({ status: 200, body: { topics: 1 } });
    expect(await c.next()).toBe(SERVED[1]);
    expect(await post(s, "/sim/fault", { type: "gap", symbol: "XRPUSDT" })).toMatchObject({ status: 200, body: { topics: 1 } }); // SERVED[2] not sent
    expect(await post(s, "/sim/step", { n: 2 })).toMatchObject({ status: 200, body: { messagesSent: 2 } });
    expect(await c.next()).toBe(SERVED[3]);
    expect(await c.next()).toBe(SERVED[4]);
    expect(s.book("linear", "XRPUSDT")).toEqual({ bids: new Map([["1.0000", "5"]]), asks: new Map([["1.0001", "5"]]), u: 1 });
    expect(await post(s, "/sim/step", { n: 5 })).toMatchObject({ status: 200, body: { messagesSent: 2 } }); // the end
    expect(await c.next()).toBe(SERVED[5]);
    expect(await c.next()).toBe(SERVED[6]);
    expectFinalBook(s);
    expect(s.topics()).toEqual([expect.objectContaining({ topic: T, cursor: SERVED.length, lines: SERVED.length, u: 7 })]);
    // A late subscriber gets the replay book as a snapshot.
    const late = await client(s, T);
    expect(late.snapshot.data).toMatchObject({ b: [["0.9999", "3"]], a: [["1.0001", "5"]], u: 7 });
  });

  test("the timer plays the whole recording without an error escaping", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    cleanups.push(() => warn.mockRestore());
    const s = await sim({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: recording(), messagesPerSecond: 200 });
    const { c } = await client(s, T);
    await until(() => c.frames.length >= 1 + SERVED.length, "every line served");
    expect(c.frames.slice(1)).toEqual(SERVED);
    expect((s as unknown as { tickErrors: number }).tickErrors).toBe(0);
    expectFinalBook(s);
  });
});

describe("the tick loop", { timeout: 15_000 }, () => {
  test("an error inside a tick is logged (rate-limited) and the simulator goes on", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    cleanups.push(() => logged.mockRestore());
    const s = await sim({ messagesPerSecond: 100 });
    const inner = s as unknown as { onTick: () => void; tickErrors: number };
    const { c } = await client(s, "orderbook.50.BTCUSDT");
    inner.onTick = () => {
      throw new Error("boom in tick");
    };
    await until(() => inner.tickErrors >= 3, "three failed ticks");
    expect(logged).toHaveBeenCalledTimes(1); // once a second at most
    expect(String(logged.mock.calls[0]!.slice(1))).toContain("boom in tick");
    delete (inner as { onTick?: unknown }).onTick; // back to the class's own tick
    const seen = c.frames.length;
    await until(() => c.frames.length > seen + 3, "deltas flow again from the timer");
    expect((await post(s, "/sim/step")).status).toBe(200);
  });
});
