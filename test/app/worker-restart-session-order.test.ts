/**
 * A worker restarted after the host's wall clock stepped back (NTP, a VM resumed). Its new publisher took its session
 * start from the wall clock, so it was older than its predecessor's session on the same streams (§3.4 orders sessions
 * by (sessionStartNs, sessionId)): a subscriber dropped every datagram of the restarted worker as a late one of an
 * older run (oldSessionDatagrams) for as long as the dead session's stream was alive there; with no stale bound
 * (staleAfterMs 0, as here) its books never came back. Now the supervisor keeps each slot's last session start and
 * the next worker of the slot starts its session after it (docs/wire-protocol.md §3.4: a publisher must not start a
 * session earlier than a previous one on the same streams). The step is staged: the first workers' clocks read
 * CLOCK_AHEAD_MS ahead (clock-ahead-preload.ts), the restarted one's the real clock.
 * Destination uniqueDestination(936), interface 127.0.0.1, TTL 1.
 */
import { rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";
import { clockAheadMarker } from "./support/clock-ahead-preload.ts";

const CANDIDATES = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT"];
const share = (worker: number) => CANDIDATES.filter((symbol) => inWorkerShare("bybit", { market: "linear", symbol, depth: 50 }, worker, 2));
/** One symbol of each worker's share. */
const SYMBOLS = [share(0)[0]!, share(1)[0]!];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];
const TOPICS = SYMBOLS.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));

let sim: BybitSim;
let supervisor: Supervisor;
let subscriber: FeedSubscriber;
const { log, lines } = captureLog();

beforeAll(async () => {
  writeFileSync(clockAheadMarker(), "");
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 936, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(936);
  // No stale bound: the dead worker's stream stays alive here, so only the session order lets the restart in.
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], staleAfterMs: 0 });
  await subscriber.start();
  supervisor = new Supervisor(validateConfig(rawConfig({ sim, markets: MARKETS, group, port, workers: 2 })), log, new URL("./support/clock-ahead-worker.ts", import.meta.url).href);
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  rmSync(clockAheadMarker(), { force: true });
  await supervisor?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

test("a worker restarted after the wall clock stepped back starts a session newer than its predecessor's", { timeout: 60_000 }, async () => {
  expect(share(0).length > 0 && share(1).length > 0).toBe(true);
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "both workers' books at the subscriber", 20_000);
  rmSync(clockAheadMarker()); // the host's clock steps back: a worker started from now reads the real clock
  supervisor.kill(1);
  await waitFor(() => supervisor.restarts === 1, "worker 1 restarted", 20_000);
  sim.step(1);
  // Before: worker 1's new session was older than its dead one's, its datagrams dropped, its book never equal again.
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "both workers' books after the restart", 20_000);
  expect(subscriber.counters.oldSessionDatagrams).toBe(0);
  // Said, with how far ahead of the clock the carried start is (a far-future one would stick for the process's life).
  const said = lines.find((l) => l.msg.startsWith("worker restarts with its predecessor's session start"));
  expect(said?.fields).toMatchObject({ worker: 1 });
  expect(said!.fields.aheadMs as number).toBeGreaterThan(0);
});
