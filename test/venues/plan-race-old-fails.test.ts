/**
 * A planned reconnect's replacement open but not swapped in yet (the old socket has a request in flight: the swap
 * waits until it is answered) when the old socket closes. OKX (notice 64008): the replacement's handshake is held by
 * the proxy (ws-proxy.ts `holdUpgrades`) while a sequence break on BTC-USDT sends an unsubscribe on the old socket
 * whose ack the proxy drops; then the handshake completes and the old socket closes. The ordinary reconnect follows,
 * once: ETH-USDT leaves LIVE once (DISCONNECTED), BTC-USDT already RESYNCING is not invalidated again, the waiting
 * replacement is closed (it never carries a book), one new socket carries both books again, equal to the simulator's.
 * The swapped case (the old socket closing before the replacement's stream joined) is binance/plan-race-old-fails.
 * No defect found (pins the behaviour).
 */
import { afterEach, expect, test } from "vitest";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { housekeepingRounds } from "../support/housekeeping-rounds.ts";
import { startOkx, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { replacing: WebSocket | null; replacingOpen: boolean; retiringWs: WebSocket | null; pending: Map<unknown, unknown>; open: boolean; ws: WebSocket | null };

test("okx: the old socket closes while the open replacement waits for its request in flight: one ordinary reconnect, each book invalid once", { timeout: 30_000 }, async () => {
  const run = await startOkx(["BTC-USDT", "ETH-USDT"], { adapter: { ackTimeoutMs: 5_000 } });
  runs.push(run);
  const p = run.proxy;
  const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
  const afterHousekeeping = housekeepingRounds(run.adapter);
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  const old = p.links[0]!;
  p.holdUpgrades = true;
  run.announce!();
  await until(() => p.upgradesHeld === 1 && conn.replacing !== null, "the replacement opening (handshake held)");
  old.rewriteDown = (f) => (f.includes('"event":"unsubscribe"') ? null : f); // the old socket's unsubscribe stays unanswered
  run.sim.inject("gap", "BTC-USDT");
  run.step(1);
  await until(() => conn.pending.size >= 1 && old.fromClient.some((m) => m.includes("unsubscribe")), "the resync's unsubscribe in flight on the old socket");
  p.holdUpgrades = false;
  p.releaseUpgrades();
  await until(() => conn.replacingOpen, "the replacement open");
  await afterHousekeeping(3);
  expect([conn.replacingOpen, conn.retiringWs]).toEqual([true, null]); // not swapped in: the old socket's request is in flight
  const replacement = conn.replacing!;
  p.closeClient(old);
  await until(() => run.sink.invalid.length === 2 && conn.replacing === null, "the old socket's close handled");
  await until(() => replacement.readyState === WebSocket.CLOSED, "the waiting replacement closed");
  await until(() => p.links.length === 3 && conn.open, "the ordinary reconnect open");
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live and equal on the new socket");
  await afterHousekeeping(5);
  expect(run.sink.invalid.map((x) => [x.index, x.state, x.reason])).toEqual([
    [0, BookState.RESYNCING, StatusReason.SEQUENCE_GAP],
    [1, BookState.RESYNCING, StatusReason.DISCONNECTED],
  ]);
  expect(p.links.map((l) => l.closed)).toEqual([true, true, false]);
  expect(p.links[1]!.fromClient.some((m) => m.includes('"op":"subscribe"'))).toBe(false); // it never carried a book
  const s = run.adapter.stats();
  expect([s.reconnects, s.plannedReconnects, s.plannedReconnectFailures, s.connects]).toEqual([1, 1, 0, 3]);
});
