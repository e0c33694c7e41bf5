/**
 * Bybit and Deribit planned reconnects (maximum connection age, make-before-break) with the replacement socket's
 * path faster than the old one's: a WebSocket proxy (ws-proxy.ts) holds the old socket's frames while the
 * replacement subscribes and delivers. Its snapshot is newer than the book (taken: the book jumps forward, equal to
 * the simulator's); the old socket's held deltas, released afterwards, are behind the book (repeats). No book leaves
 * LIVE (issue #12), nothing resyncs. The Binance equivalent (no snapshot on subscribe) is binance/planned-skew.test.ts.
 */
import { afterEach, describe, expect, test } from "vitest";
import { startBybit, startDeribit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

async function replacementFaster(run: PlannedRun): Promise<void> {
  runs.push(run);
  run.step(1);
  await until(() => run.equal(0), "the book equal at start");
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
    await replacementFaster(await startBybit(["BTCUSDT"], 800, { prepare: (p) => p.byIndex.set(1, { holdUp: true }) }));
  });
  test("deribit inverse: the book stays LIVE and equal", async () => {
    await replacementFaster(await startDeribit(["BTC-PERPETUAL"], 800, { prepare: (p) => p.byIndex.set(1, { holdUp: true }) }));
  });
});
