/**
 * A planned reconnect's old socket that goes silent (its path black-holed: no close, nothing arrives) is given up
 * within the dead-connection limit of its last frame (7 s: found within 8 s), also when the replacement fails and
 * the connection goes back to it. OKX (notice 64008, client `ping` keepalive), on the adapter's clock (the test
 * moves it); the replacement delivers every book but one subscribe ack is lost, so it fails at the ack deadline
 * (10 s after it subscribed), and so does the next one. Before: the replacement's frames counted as the old
 * socket's liveness, and going back to it kept the replacement's last frame time, so a silent old socket was taken
 * for alive: gone back to, replaced again, and given up only when a third replacement completed (20 s on).
 */
import { afterEach, describe, expect, test } from "vitest";
import { startOkx, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

const TICK_MS = 50;
const ACK_MS = 10_000;
/** The default dead-connection rule: nothing for 7 s, found within 8 s. */
const FOUND_WITHIN_MS = 8_000;

/** The replacement's messages flow, but ETH-USDT's subscribe ack is lost. */
function dropAck(frame: string): string | null {
  return frame.includes('"event":"subscribe","arg":{"channel":"books","instId":"ETH-USDT"}') ? null : frame;
}

async function oldSocketSilent(silentAfterSwapMs: number): Promise<void> {
  let clock = 1_000_000;
  const run = await startOkx(["BTC-USDT", "ETH-USDT"], {
    // The first two sockets after the old one lose that ack: a replacement tried again fails the same way.
    prepare: (p) => [1, 2].forEach((i) => p.byIndex.set(i, { rewriteDown: dropAck })),
    adapter: { now: () => clock, housekeepingMs: 2, ackTimeoutMs: ACK_MS, random: () => 0.5 },
  });
  runs.push(run);
  const p = run.proxy;
  let ticks = 0;
  const drive = async (cond: () => boolean, what: string, maxMs: number) => {
    const end = clock + maxMs;
    while (!cond()) {
      if (clock > end) throw new Error(`not within ${maxMs} ms of the adapter's clock: ${what}`);
      clock += TICK_MS;
      if (++ticks % 4 === 0) run.step(1); // both sockets deliver every 200 ms of the adapter's clock
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live");
  run.announce!();
  await until(() => p.links.length === 2 && p.links[1]!.fromClient.some((m) => m.includes('"op":"subscribe"')), "the replacement open and subscribing");
  const swapMs = clock;
  await drive(() => clock >= swapMs + silentAfterSwapMs, "the overlap going on", silentAfterSwapMs + TICK_MS);
  const old = p.links[0]!;
  old.heldDown = []; // from now on nothing of the old socket arrives (and it is not closed)
  const silentFromMs = clock;
  await drive(() => old.closed, "the silent old socket given up", 30_000);
  expect(clock - silentFromMs).toBeLessThanOrEqual(FOUND_WITHIN_MS);
  // The replacement fails at its ack deadline; with no old socket to go back to, the ordinary reconnect brings the books back.
  await drive(() => run.adapter.stats().reconnects > 0 && run.equal(0) && run.equal(1), "both books equal after the reconnect", 30_000);
}

/**
 * The other side of the rule: an old socket with nothing to deliver (no book changes at all) but alive is probed with
 * the keepalive's ping during the overlap and after the go-back, answers, and stays the connection's: no book leaves
 * LIVE (given up for its silence, the failed replacement would have taken the connection down with it).
 */
async function oldSocketQuiet(): Promise<void> {
  let clock = 1_000_000;
  const run = await startOkx(["BTC-USDT", "ETH-USDT"], {
    // Every replacement loses that ack: the old socket stays the connection's throughout.
    prepare: (p) => Array.from({ length: 20 }, (_, i) => p.byIndex.set(i + 1, { rewriteDown: dropAck })),
    adapter: { now: () => clock, housekeepingMs: 2, ackTimeoutMs: ACK_MS, random: () => 0.5 },
  });
  runs.push(run);
  const p = run.proxy;
  const drive = async (cond: () => boolean, what: string, maxMs: number) => {
    const end = clock + maxMs;
    while (!cond()) {
      if (clock > end) throw new Error(`not within ${maxMs} ms of the adapter's clock: ${what}`);
      clock += TICK_MS;
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live");
  run.announce!();
  await until(() => p.links.length === 2 && p.links[1]!.fromClient.some((m) => m.includes('"op":"subscribe"')), "the replacement open and subscribing");
  await drive(() => run.adapter.stats().plannedReconnectFailures === 1, "the replacement failed (an ack lost)", ACK_MS + 2_000);
  const backMs = clock;
  await drive(() => clock >= backMs + 2 * FOUND_WITHIN_MS, "quiet on the old socket", 2 * FOUND_WITHIN_MS + TICK_MS);
  expect(p.links[0]!.closed).toBe(false);
  expect(p.links[0]!.fromClient.filter((m) => m === "ping").length).toBeGreaterThanOrEqual(2);
  expect([run.adapter.stats().reconnects, run.adapter.stats().deadConnections]).toEqual([0, 0]);
  run.step(2);
  await until(() => run.equal(0) && run.equal(1), "both books equal");
  expect(run.sink.invalid).toEqual([]);
}

describe("okx: a silent old socket is found within the dead-connection limit", { timeout: 60_000 }, () => {
  test("quiet but alive (no book changes): probed, kept, gone back to; no book leaves LIVE", async () => {
    await oldSocketQuiet();
  });
  test("silent from the swap on: given up during the overlap, 7 s after its last frame", async () => {
    await oldSocketSilent(0);
  });
  test("silent 4 s before the replacement fails: after the go-back, its own last frame counts, not the replacement's", async () => {
    await oldSocketSilent(6_000);
  });
});
