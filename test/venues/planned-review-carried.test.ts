/**
 * Review of the planned-reconnect fallback: a replacement that answers a book the old socket serves with "too
 * frequent" (OKX 60014, sent again after a backoff, never rejected) has no request in flight and does not carry that
 * book. At the ack deadline it has failed: the old socket, which still delivers the book, must stay the connection's
 * (before, the old socket was closed at the deadline and the book stayed LIVE with nothing feeding it).
 */
import { afterEach, expect, test } from "vitest";
import { BookState } from "../../src/core/types.ts";
import { startOkx, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

/** Every subscribe ack of ETH-USDT on this link becomes OKX's 60014 for the same request, and its data never comes (as when refused). */
const tooFrequentEth = (f: string) => {
  if (!f.includes('"instId":"ETH-USDT"')) return f;
  if (f.includes('"event":"subscribe"')) return JSON.stringify({ id: JSON.parse(f).id, event: "error", code: "60014", msg: "Requests too frequent." });
  return null;
};

test("okx: a replacement that never carries a book the old socket serves (60014 again and again) fails at the ack deadline; the old socket keeps feeding it", { timeout: 30_000 }, async () => {
  const run = await startOkx(["BTC-USDT", "ETH-USDT"], {
    prepare: (p) => {
      for (const i of [1, 2, 3, 4]) p.byIndex.set(i, { rewriteDown: tooFrequentEth });
    },
  });
  runs.push(run);
  run.step(2);
  await until(() => run.equal(0) && run.equal(1), "books equal at start");
  run.announce!();
  const old = run.proxy.links[0]!;
  await until(() => run.adapter.stats().plannedReconnectFailures > 0 || old.closed, "the replacement failed, or the old socket closed");
  expect(old.closed).toBe(false);
  // ETH-USDT still comes from the old socket: it follows the simulator.
  run.step(3);
  await until(() => run.equal(0) && run.equal(1), "books equal after the fallback");
  expect(run.sink.invalid.filter((e) => e.state !== BookState.LIVE)).toEqual([]);
});
