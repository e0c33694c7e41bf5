/**
 * Bybit and Deribit planned reconnects (maximum connection age, make-before-break) with the replacement socket's
 * path faster than the old one's: a WebSocket proxy (ws-proxy.ts) holds the old socket's frames while the
 * replacement subscribes and delivers. Its snapshot is newer than the book (taken: the book jumps forward, equal to
 * the simulator's); the old socket's held deltas, released afterwards, are behind the book (repeats). No book leaves
 * LIVE (issue #12), nothing resyncs. The Binance equivalent (no snapshot on subscribe) is binance/planned-skew.test.ts.
 * The adapter runs on the test's clock, moved to the age limit once the book is equal: on the real clock (an 800 ms
 * age, a 500 ms ack deadline) a loaded machine could reach the limit before the start was through, or fail the held
 * replacement subscribe before the test released it.
 */
import { afterEach, describe, expect, test } from "vitest";
import { startBybit, startDeribit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

const AGE_MS = 800;
/** The adapters' clock (CommonAdapterOptions.now): it moves only when the test moves it. */
let clock = 1_000_000;

async function replacementFaster(run: PlannedRun): Promise<void> {
  runs.push(run);
  run.step(1);
  const conn = (run.adapter as unknown as { conns: { pending: Map<unknown, unknown> }[] }).conns[0]!;
  await until(() => run.equal(0) && conn.pending.size === 0, "the book equal at start, its subscribe answered");
  clock += AGE_MS; // the age limit: the next housekeeping round opens the replacement
  const p = run.proxy;
  // Link 1 (the replacement, opened at the age limit): its subscribe waits in the proxy until the old path is held.
  await until(() => p.links.length === 2 && (p.links[1]!.heldUp ?? []).length > 0, "the replacement subscribing (held)");
  const old = p.links[0]!;
  old.heldDown = []; // the old socket's path is slower from now on
  run.step(2); // the old socket's two deltas wait in the proxy
  p.releaseUp(p.links[1]!); // the replacement subscribes: its snapshot is newer than the book
  run.step(2);
  await until(() => run.equal(0), "the book equal through the replacement (its newer snapshot and deltas)");
  p.releaseDown(old); // the old socket's deltas: behind the book
  run.step(2);
  await until(() => run.equal(0) && old.closed, "the book equal, the old socket closed");
  expect(run.sink.invalid).toEqual([]);
}

describe("planned reconnect at the age limit, the replacement's path faster", { timeout: 30_000 }, () => {
  test("bybit linear: the book stays LIVE and equal", async () => {
    await replacementFaster(await startBybit(["BTCUSDT"], AGE_MS, { prepare: (p) => p.byIndex.set(1, { holdUp: true }), adapter: { now: () => clock } }));
  });
  test("deribit inverse: the book stays LIVE and equal", async () => {
    // The held paths hold the simulator's test_requests and their answers too: its 100 ms default closed a socket on a
    // loaded box (as in rev28-frames), a grace of a minute does not.
    await replacementFaster(await startDeribit(["BTC-PERPETUAL"], AGE_MS, { prepare: (p) => p.byIndex.set(1, { holdUp: true }), adapter: { now: () => clock }, heartbeatTimeoutMs: 60_000 }));
  });
});
