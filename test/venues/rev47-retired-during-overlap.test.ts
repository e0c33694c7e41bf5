/**
 * A book closed (its instrument no longer listed: ConnectionLifecycle.retire / retireAll) during a planned
 * reconnect's overlap, whose replacement then fails (s-rev47). The old socket still serves the book at the venue;
 * the replacement's subscribe of it, not yet answered, is what retire() waits on to unsubscribe (an active topic only
 * is unsubscribed at once). Going back to the old socket forgot the replacement's requests and skipped the given-up
 * topic: the venue kept streaming the closed book on the old socket for as long as it lived (hours: until its age
 * limit), and a later reopening subscribed it again where it was still subscribed (Bybit refuses that as a
 * duplicate). Now going back unsubscribes it on the old socket. Bybit linear over a proxy, on the adapter's clock.
 */
import { afterEach, expect, test } from "vitest";
import { StatusReason } from "../../src/core/types.ts";
import type { TopicState } from "../../src/venues/common/connection.ts";
import { ageToRetiring, startBybit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { retiringWs: WebSocket | null; openedMs: number; ws: WebSocket | null; topics: TopicState[] };
type Lifecycle = { retireAll(ts: TopicState[], reason: StatusReason): void };
const TICK_MS = 50;
const AGE_MS = 10_000;

test("bybit: a book closed during the overlap is unsubscribed on the old socket when the replacement fails", { timeout: 60_000 }, async () => {
  let clock = 10_000_000;
  const run = await startBybit(["BTCUSDT", "ETHUSDT"], AGE_MS, {
    prepare: (p) => p.byIndex.set(1, { holdDown: true }), // the replacement's answers held: its subscribes stay out
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, ackTimeoutMs: 60_000, staleAfterMs: () => 600_000 },
  });
  runs.push(run);
  const { conn, lc } = await ageToRetiring<Conn, Lifecycle>(run, AGE_MS, TICK_MS, () => clock, (ms) => (clock += ms));
  const old = run.proxy.links[0]!;
  await until(() => run.proxy.links.length >= 2 && run.proxy.links[1]!.fromClient.some((m) => m.includes("subscribe")), "the replacement subscribing");
  const btc = conn.topics.find((t) => t.symbol === "BTCUSDT")!;
  lc.retireAll([btc], StatusReason.INSTRUMENT_CLOSED); // BTCUSDT no longer listed as trading
  const sentOnOld = old.fromClient.length;
  run.proxy.closeClient(run.proxy.links[1]!); // the replacement fails: back to the old socket
  await until(() => conn.retiringWs === null, "back on the old socket");
  await until(() => old.fromClient.slice(sentOnOld).some((m) => m.includes("unsubscribe") && m.includes("orderbook.50.BTCUSDT")), "BTCUSDT unsubscribed on the old socket", 5_000);
  expect(old.fromClient.slice(sentOnOld).filter((m) => m.includes("ETHUSDT"))).toEqual([]); // the other book untouched
});
