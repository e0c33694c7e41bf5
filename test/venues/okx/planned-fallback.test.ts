/**
 * OKX planned reconnects (notice 64008) whose topics are in other states at the swap and at the fallback, over a
 * WebSocket proxy that holds what the simulator sends on the replacement (its acks never come): a book resynced
 * during the overlap is started afresh on the old socket; a topic the venue refused stays refused and is never
 * asked for again; the old socket closing first leaves the replacement in charge, and if that one then fails too,
 * the ordinary reconnect follows (never a fallback to a closed socket), and its refusal of a topic is the venue's.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { OkxSim } from "../../../src/sim/okx-sim.ts";
import type { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { LinkRules, ProxyLink } from "../ws-proxy.ts";
import { startOkx, TEST_TIMINGS, until, type BookMaps, type PlannedRun, type Recorded } from "../planned-fallback-harness.ts";

type OkxRun = PlannedRun & { sim: OkxSim; recorded: readonly Recorded[]; replay(): Promise<BookMaps>; replayEachRecord?(): Promise<string | null> };
const runs: OkxRun[] = [];
afterEach(async () => {
  while (runs.length > 0) {
    const run = runs.pop()!;
    try {
      // Replay publishes what the live run did for the same frames: the same invalidations and books after every
      // record (the live run's taken as the tap met the next one), and at the end.
      expect(await run.replayEachRecord!()).toBeNull();
      const again = await run.replay();
      const books = (sink: BookMaps) => run.subs.map((_, i) => ({ seq: sink.seq[i], bids: sink.bids[i], asks: sink.asks[i] }));
      expect({ invalid: again.invalid, books: books(again) }).toEqual({ invalid: run.sink.invalid, books: books(run.sink) });
    } finally {
      await run.stop();
    }
  }
});

async function equal(run: PlannedRun, indexes: number[], what: string, timeoutMs?: number): Promise<void> {
  run.step(2);
  await until(() => indexes.every((i) => run.equal(i)), `books ${indexes.join(", ")} equal ${what}`, timeoutMs);
}

/**
 * The wait for the start's books. The start runs on TEST_TIMINGS' 500 ms handshake and ack deadlines (the adapter
 * takes one ackTimeoutMs, the replacement's too, which the tests need short); on a loaded machine (load ~30 on 2
 * CPUs) a start could miss them and reconnect, more than once, and 10 s was not always enough (seen: "books 0, 1
 * equal at start" timed out). Nothing after the start depends on how long it took.
 */
const START_WAIT_MS = 30_000;

/**
 * A housekeeping interval no test here outlasts: no round runs. A round after the replacement's last ack closes the old
 * socket (it carries every topic), which a test that acts on the overlap after those acks must come before; on a
 * loaded machine the default 125 ms between rounds was not always enough (10 s timeouts). Only with heldClock: from
 * the notice on no deadline or backoff of a round could be due, and before it none is within a test's seconds.
 */
const NO_ROUNDS_MS = 3_600_000;

/**
 * The adapter's clock: the wall clock until hold(), then standing still. A test whose steps must all happen before
 * the replacement's ack deadline (500 ms of wall clock) holds it at the notice: on a loaded machine the test's own
 * polling and the proxy can take longer than that, and the deadline would fail the replacement first.
 */
function heldClock(): { now: () => number; hold(): void; advance(ms: number): void; release(): void } {
  let heldAtMs: number | undefined;
  return {
    now: () => heldAtMs ?? Date.now(),
    hold: () => void (heldAtMs = Date.now()),
    advance: (ms) => void (heldAtMs = (heldAtMs ?? Date.now()) + ms),
    release: () => void (heldAtMs = undefined),
  };
}

/** The adapter's info lines (to wait for what it has handled, not only for what the proxy did). */
function infoLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log: Logger & { lines: string[] } = { ...silentLogger, lines, info: (msg) => void lines.push(msg), child: () => log };
  return log;
}

/**
 * Closes the old socket's path and waits until the adapter has handled its close. The proxy's side closing first
 * (link.closed) is not enough: frames released on the replacement right after could still be handled before the
 * adapter's close, and the retired books then depended on the run (the refusal test below failed 1 in N under load).
 */
async function closeOld(run: PlannedRun, log: { lines: string[] }, old: ProxyLink): Promise<void> {
  run.proxy.closeClient(old, 1012);
  await until(() => log.lines.some((l) => l.includes("old socket closed during the planned reconnect")), "the adapter saw the old socket close");
}

/** An overlap's two links, and the adapter's reconnects before it (its start may have needed some). */
type Links = { old: ProxyLink; replacement: ProxyLink; reconnectsBefore: number };
type Overlap = OkxRun & Links;

/**
 * Announces 64008 with `rules` on the link opened after the notice (the replacement's), and waits for its subscribe.
 * The rules are never set by the proxy's link index: on a loaded machine the start may have needed more than one
 * socket (a 500 ms handshake or ack deadline missed), and link 1 was then a start's (until 2026-12-07, 1 in N runs).
 */
async function announceOnto(run: OkxRun, rules: LinkRules | null): Promise<Links> {
  const old = run.proxy.links.at(-1)!; // the socket the books came on (the adapter opens one at a time)
  const reconnectsBefore = run.adapter.stats().reconnects;
  run.proxy.next = rules;
  run.announce!();
  const replacement = () => run.proxy.links[old.index + 1];
  await until(() => replacement()?.fromClient.some((m) => m.includes('"subscribe"')) === true, "the replacement subscribing");
  return { old, replacement: replacement()!, reconnectsBefore };
}

/**
 * Starts OKX and announces 64008, the replacement's link (the one opened after the notice) holding everything the
 * simulator sends it; with `clock`, the adapter's clock stands still from the notice on (no deadline of the
 * replacement passes) and no housekeeping round runs (the overlap lasts until the test ends it, NO_ROUNDS_MS).
 * Until 2026-12-07 the hold was on the proxy's link 1: on a loaded machine the start's first socket could fail its
 * 500 ms handshake or ack deadline, link 1 was then a start's socket (its acks held: reconnected) and the
 * replacement went through unheld ("the replacement failed" timed out: the planned reconnect was done).
 */
async function overlapping(symbols: string[], vipOnly?: string[], clock?: ReturnType<typeof heldClock>, log?: Logger): Promise<Overlap> {
  const run = await startOkx(symbols, { vipOnly, adapter: clock ? { now: clock.now, log, housekeepingMs: NO_ROUNDS_MS } : undefined });
  runs.push(run);
  const live = symbols.map((_, i) => i).filter((i) => !vipOnly?.includes(symbols[i]!));
  await equal(run, live, "at start", START_WAIT_MS);
  clock?.hold();
  return Object.assign(run, await announceOnto(run, { holdDown: true }));
}

/**
 * BTC-USDT and ETH-USDT at depth 5, both LIVE; a planned reconnect announced on a held clock (no ack deadline fails
 * the replacement: the test closes it), both books subscribed on the replacement at the simulator. No housekeeping
 * round runs (NO_ROUNDS_MS): the first after both acks would close the old socket, and the test's close of the
 * replacement were then an ordinary reconnect, never the fallback it waits for (until 2026-12-07: "the replacement's
 * close counted" timed out in 3 runs of 10 on a shared core).
 */
async function books5Replacement(): Promise<{ run: OkxRun; adapter: OkxAdapter } & Links> {
  const clock = heldClock();
  const run = await startOkx(["BTC-USDT", "ETH-USDT"], { depth: 5, adapter: { now: clock.now, housekeepingMs: NO_ROUNDS_MS } });
  runs.push(run);
  const adapter = run.adapter as OkxAdapter;
  await equal(run, [0, 1], "at start", START_WAIT_MS);
  const subscribes = run.sim.stats.subscribes;
  clock.hold();
  const links = await announceOnto(run, null);
  await until(() => run.sim.stats.subscribes >= subscribes + 2 && [0, 1].every((i) => adapter.topicInfo(i).subscribed === true), "the replacement subscribed");
  return { run, adapter, ...links };
}

describe("okx: topic states across a failed planned reconnect", { timeout: 60_000 }, () => {
  test("a gap during the overlap: that book alone resyncs, on the old socket once the replacement failed; the others stay LIVE", async () => {
    // The replacement fails by being closed, on a clock held from the notice until the resync on the old socket is
    // done: failed by its 500 ms ack deadline on the wall clock (until 2026-12-07), on a loaded machine the resync's
    // own acks on the old socket could miss that same deadline, and the old socket was dropped (ETH-USDT DISCONNECTED).
    // Housekeeping rounds run (the later planned reconnect needs them); none can close the old socket meanwhile: the
    // replacement's acks are held, and no deadline passes on the held clock.
    const clock = heldClock();
    const run = await startOkx(["BTC-USDT", "ETH-USDT"], { adapter: { now: clock.now } });
    runs.push(run);
    await equal(run, [0, 1], "at start", START_WAIT_MS);
    clock.hold();
    const { old, replacement, reconnectsBefore } = await announceOnto(run, { holdDown: true });
    run.sim.inject("gap", "BTC-USDT");
    // One message (the one after the lost one), then none until the replacement failed: with messages flowing the
    // RESYNCING book would be bridged to a REST snapshot on the old socket's stream before the fallback.
    run.step(1);
    await until(() => run.sink.invalid.length > 0, "the gap noticed");
    run.proxy.closeClient(replacement);
    await until(() => run.adapter.stats().plannedReconnectFailures === 1, "the replacement failed");
    expect(old.closed).toBe(false);
    // Its resync was asked of the replacement, which never answered: it is redone on the old socket.
    await until(() => old.fromClient.some((m) => m.includes('"unsubscribe"') && m.includes("BTC-USDT")), "BTC-USDT resubscribed on the old socket");
    await equal(run, [0, 1], "on the old socket");
    expect(run.sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
    clock.release(); // the later planned reconnect's backoff runs out
    await until(() => run.proxy.links.length > replacement.index + 1 && old.closed, "a later planned reconnect done");
    await equal(run, [0, 1], "on the new socket");
    expect(run.sink.invalid).toHaveLength(1);
    expect(run.adapter.stats().reconnects).toBe(reconnectsBefore);
  });

  test("a topic the venue refused stays HALTED through the swap and the fallback and is never asked for again", async () => {
    const run = await overlapping(["BTC-USDT", "ETH-USDT", "VIP-USDT"], ["VIP-USDT"]);
    const halted = [{ index: 2, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }];
    expect(run.sink.invalid).toEqual(halted);
    await until(() => run.adapter.stats().plannedReconnectFailures === 1, "the replacement failed");
    await equal(run, [0, 1], "on the old socket");
    await until(() => run.proxy.links.length > run.replacement.index + 1 && run.old.closed, "a later planned reconnect done");
    await equal(run, [0, 1], "on the new socket");
    expect(run.sink.invalid).toEqual(halted);
    expect((run.adapter as OkxAdapter).topicInfo(2).state).toBe("halted");
    for (const link of run.proxy.links.slice(run.replacement.index)) expect(link.fromClient.filter((m) => m.includes("VIP-USDT"))).toEqual([]);
  });

  test("the old socket closes while the replacement's acks are pending: the replacement carries on; the books, fed by nothing until it answers, leave LIVE and are LIVE again from its snapshots", async () => {
    const log = infoLog();
    const run = await overlapping(["BTC-USDT", "ETH-USDT"], undefined, heldClock(), log); // the acks stay pending until released
    await closeOld(run, log, run.old);
    // The old socket was their only feed and the venue may still refuse or never answer: RESYNCING at once (retired).
    const disconnected = [0, 1].map((index) => ({ index, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }));
    expect(run.sink.invalid).toEqual(disconnected);
    run.proxy.releaseDown(run.replacement); // its acks, then its snapshots and updates
    await equal(run, [0, 1], "on the replacement");
    expect(run.sink.invalid).toEqual(disconnected);
    expect([run.adapter.stats().plannedReconnectFailures, run.adapter.stats().reconnects, run.proxy.links.length]).toEqual([0, run.reconnectsBefore, run.replacement.index + 1]);
  });

  test("the old socket closes once the replacement has acked, before its first snapshot: no book leaves LIVE (the venue streams them on it)", async () => {
    const log = infoLog();
    const run = await overlapping(["BTC-USDT", "ETH-USDT"], undefined, heldClock(), log);
    const adapter = run.adapter as OkxAdapter;
    const replacement = run.replacement;
    await until(() => replacement.heldDown!.filter((f) => f.includes('"event":"subscribe"')).length === 2, "both acks held");
    // The acks alone; the snapshots and updates stay held until the old socket is gone.
    replacement.heldDown = replacement.heldDown!.filter((f) => !f.includes('"event":"subscribe"') || void replacement.client.send(f));
    await until(() => [0, 1].every((i) => adapter.topicInfo(i).subscribed === true), "both acked on the replacement");
    await closeOld(run, log, run.old);
    expect(run.sink.invalid).toEqual([]);
    run.proxy.releaseDown(replacement);
    await equal(run, [0, 1], "on the replacement");
    expect(run.sink.invalid).toEqual([]);
    expect([adapter.stats().plannedReconnectFailures, adapter.stats().reconnects, run.proxy.links.length]).toEqual([0, run.reconnectsBefore, replacement.index + 1]);
  });

  test("the old socket closes, then the replacement's acks never come: the ordinary reconnect (no fallback to a closed socket)", async () => {
    const run = await overlapping(["BTC-USDT", "ETH-USDT"]);
    run.proxy.closeClient(run.old, 1012);
    await until(() => run.adapter.stats().reconnects === run.reconnectsBefore + 1, "the ordinary reconnect after the ack deadline");
    await equal(run, [0, 1], "after the reconnect");
    expect(new Set(run.sink.invalid.map((e) => `${e.index}:${e.reason}`))).toEqual(new Set([`0:${StatusReason.DISCONNECTED}`, `1:${StatusReason.DISCONNECTED}`]));
    expect(run.adapter.stats().plannedReconnectFailures).toBe(0);
  });

  test("a refusal by the replacement once the old socket has closed is the venue's: that book alone is HALTED", async () => {
    const refuseEth = (f: string) =>
      f.includes('"event":"subscribe","arg":{"channel":"books","instId":"ETH-USDT"}') ? JSON.stringify({ id: JSON.parse(f).id, event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:ETH-USDT doesn't exist." }) : f;
    // The acks stay pending until released: the adapter's clock stands still from the notice on (heldClock).
    const clock = heldClock();
    const log = infoLog();
    const run = await startOkx(["BTC-USDT", "ETH-USDT"], { adapter: { now: clock.now, log } });
    runs.push(run);
    await equal(run, [0, 1], "at start", START_WAIT_MS);
    clock.hold();
    const { old, replacement } = await announceOnto(run, { holdDown: true, rewriteDown: refuseEth });
    // Handled before the replacement's answers (until 2026-12-07 the test waited for the proxy's side only, and the
    // answers came first in some runs: the books then never left LIVE, and the expected events differed, 1 in N).
    await closeOld(run, log, old);
    run.proxy.releaseDown(replacement);
    await until(() => run.sink.invalid.length > 2, "the refusal");
    await equal(run, [0], "on the replacement");
    expect(run.sink.invalid).toEqual([
      { index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED },
      { index: 1, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED },
      { index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED },
    ]);
    expect(run.adapter.stats().plannedReconnectFailures).toBe(0);
  });

  test("the replacement refuses a topic the old socket serves, the frames after the refusal in the same write: live goes back (ws:back recorded right after the refusing frame), nothing halted, replay the same", async () => {
    // Replay decides a held replacement refusal at the connection's next record (connection-lifecycle.ts
    // replaySocketEvent): live's ws:back is written in a microtask after the refusing frame, so this checks, on a real
    // socket, that Bun runs microtasks between two message events read at once. Were the next frame handled first, it
    // would be recorded before ws:back and replay would halt ETH-USDT where live kept it (the afterEach comparison).
    const refusalOf = (f: string) => JSON.stringify({ id: JSON.parse(f).id, event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:ETH-USDT doesn't exist." });
    const refuseEth = (f: string) => (f.includes('"event":"subscribe","arg":{"channel":"books","instId":"ETH-USDT"}') ? refusalOf(f) : f);
    const clock = heldClock(); // no ack deadline fails the replacement first
    const run = await startOkx(["BTC-USDT", "ETH-USDT"], { adapter: { now: clock.now } });
    runs.push(run);
    await equal(run, [0, 1], "at start", START_WAIT_MS);
    clock.hold();
    const { replacement } = await announceOnto(run, { holdDown: true, rewriteDown: refuseEth });
    const refusedAt = () => replacement.heldDown!.findIndex((f) => f.includes('"code":"60018"'));
    await until(() => refusedAt() >= 0 && replacement.heldDown!.some((f) => f.includes('"action":"snapshot"')), "the refusal and snapshots held");
    run.step(2);
    await until(() => replacement.heldDown!.length > refusedAt() + 3, "book messages held after the refusal");
    const held = replacement.heldDown!;
    replacement.heldDown = null;
    replacement.client.cork(() => held.forEach((f) => replacement.client.send(f))); // one write
    await until(() => run.adapter.stats().plannedReconnectFailures === 1, "the replacement failed");
    await equal(run, [0, 1], "on the old socket");
    expect(run.sink.invalid).toEqual([]);
    const refusal = run.recorded.findIndex((r) => r.frame?.includes('"code":"60018"'));
    expect(refusal).toBeGreaterThan(0);
    // What follows the refusing frame, requests written while it was handled aside: live's going back.
    expect(run.recorded.slice(refusal + 1).find((r) => !r.url?.startsWith("ws:req "))?.url).toBe("ws:back");
  });

  test("books without its snapshot, the replacement's path faster, then it closes: the old socket's copies of what the book took from the replacement are repeats, no book leaves LIVE", async () => {
    // ETH-USDT's ack is lost, so the replacement never carries every topic; BTC-USDT's messages flow on it.
    const dropEthAck = (f: string) => (f.includes('"event":"subscribe","arg":{"channel":"books","instId":"ETH-USDT"}') ? null : f);
    // The replacement fails when the test closes it, never first by its ack deadline: the clock stands still from the notice on.
    const clock = heldClock();
    const run = await startOkx(["BTC-USDT", "ETH-USDT"], { initialSnapshot: false, adapter: { now: clock.now } });
    runs.push(run);
    await equal(run, [0, 1], "at start (bridged to REST snapshots)", START_WAIT_MS);
    const subscribes = run.sim.stats.subscribes;
    clock.hold();
    const { old, replacement } = await announceOnto(run, { rewriteDown: dropEthAck });
    // Subscribed at the simulator, not only sent by the adapter: each topic's first message on the replacement (a
    // keepalive, no snapshot) is then at the book's seqId; stepped before, it would be ahead of the book (a gap).
    await until(() => run.sim.stats.subscribes >= subscribes + 2, "the replacement subscribed at the simulator");
    old.heldDown = []; // the old socket's path is slow from now on: the replacement delivers first
    run.step(2);
    await until(() => [0, 1].every((i) => run.equal(i)), "the books taken from the replacement");
    run.proxy.closeClient(replacement);
    await until(() => run.adapter.stats().plannedReconnectFailures === 1, "the replacement's close counted");
    run.proxy.releaseDown(old); // the old socket's copies of the two messages, then its own from now on
    await equal(run, [0, 1], "on the old socket");
    expect(run.sink.invalid).toEqual([]);
    expect(run.adapter.stats().gaps).toBe(0);
  });

  test("books5: two maintenance resets taken from the replacement, the old socket still behind them, then a resync during the overlap: after the fallback its redo on the old socket is answered LIVE, replay the same at every record", async () => {
    // The mark on the old socket (behind the resets, two drops owed) lasts to the fallback, where live redoes the resync
    // asked of the replacement (restartWanted), which ends it. Replay redoes it at ws:back too: until 2026-12-07 the mark
    // stayed there, the old socket's answer (its first drop) was ignored as the run between the resets, the book
    // RESYNCING where live's was LIVE (the per-record comparison in afterEach).
    const { run, adapter, old, replacement } = await books5Replacement();
    old.heldDown = []; // the old socket's path is slow from now on: it stays behind what the replacement delivers
    const resets = adapter.stats().maintenanceResets;
    for (let n = 1; n <= 2; n++) {
      const before = run.sim.book("BTC-USDT", 5).seqId;
      run.sim.inject("reset", "BTC-USDT");
      for (let k = 0; k < 200 && run.sim.book("BTC-USDT", 5).seqId >= before; k++) run.step(1); // its top 5's next change is the reset
      await until(() => adapter.stats().maintenanceResets === resets + n && run.equal(0), `reset ${n} taken from the replacement`);
    }
    replacement.heldUp = []; // the resync's unsubscribe never reaches the simulator: no answer before the fallback
    run.sim.inject("malformed", "BTC-USDT");
    const parseErrors = adapter.stats().parseErrors ?? 0;
    for (let k = 0; k < 50 && adapter.topicInfo(0).state === "live"; k++) {
      run.step(1);
      await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => adapter.topicInfo(0).state === "resyncing", "BTC-USDT resyncing on the replacement's bad frame");
    expect(adapter.stats().parseErrors ?? 1).toBeGreaterThan(parseErrors);
    run.proxy.closeClient(replacement);
    await until(() => adapter.stats().plannedReconnectFailures === 1, "the replacement's close counted (the fallback)");
    run.proxy.releaseDown(old); // its books behind the resets, then the redone resync's answers
    await equal(run, [0, 1], "on the old socket");
    expect(adapter.topicInfo(0).state).toBe("live");
  });

  test("books5: a maintenance reset stamped back taken from the replacement, the old socket behind it: gone back to, the book is resubscribed there (timeBack), replay the same at every record", async () => {
    // The old socket's books of the run before may be stamped later than such a reset, and its own reset need not drop
    // below its last: its books cannot be placed, so the go-back resubscribes (adapter onOverlapOver). A reset stamped
    // later leaves the book LIVE there (the mark orders the old socket's books until its own reset).
    const { run, adapter, old, replacement } = await books5Replacement();
    old.heldDown = []; // the old socket stays behind what the replacement delivers
    const before = run.sim.book("BTC-USDT", 5).seqId;
    run.sim.inject("reset", "BTC-USDT", { stampedBackMs: 5_000 });
    for (let k = 0; k < 200 && run.sim.book("BTC-USDT", 5).seqId >= before; k++) run.step(1);
    await until(() => adapter.stats().maintenanceResets === 1 && run.equal(0), "the reset taken from the replacement");
    run.proxy.closeClient(replacement);
    await until(() => adapter.stats().plannedReconnectFailures === 1, "the replacement's close counted (the fallback)");
    expect([adapter.stats().overlapEndHolds, adapter.topicInfo(0).state]).toEqual([1, "resyncing"]);
    run.proxy.releaseDown(old); // its books of the run before, then the resubscribe's answers
    await equal(run, [0, 1], "on the old socket");
    expect(run.sink.invalid.filter((e) => e.index === 0)).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
  });

  test("books5: a resync held for the hourly request budget ignores the book's frames until its wait is over, replay the same at every record", async () => {
    // Live sends nothing while the wait lasts (budget-wait.ts) and ignores the book's frames (the old subscription's
    // full books); replay, without a request to see, took the next one: until 2026-12-07 the book LIVE in replay where
    // live's waited RESYNCING (the per-record comparison in afterEach), up to an hour on OKX's 480 requests.
    // Two requests a 1.5 s window: the start's subscribe spent one, so the resync's two wait for the window's end. The
    // window is on the adapter's clock, held from before the start until the test is done looking (then moved past
    // it): on the wall clock a loaded machine's start or the loop below outlasted it (until 2026-12-07, "still
    // waiting" failed under load). A wait's timer ending on the held clock finds the window full and waits again.
    const clock = heldClock();
    clock.hold();
    const windowMs = 1_500;
    const run = await startOkx(["BTC-USDT", "ETH-USDT"], { depth: 5, adapter: { now: clock.now, requestsPerHour: 2, requestWindowMs: windowMs } });
    runs.push(run);
    const adapter = run.adapter as OkxAdapter;
    await equal(run, [0, 1], "at start", START_WAIT_MS);
    run.sim.inject("malformed", "BTC-USDT");
    for (let k = 0; k < 50 && adapter.topicInfo(0).state === "live"; k++) {
      run.step(1);
      await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => adapter.stats().requestBudgetWaits === 1, "BTC-USDT's resync waiting for the budget");
    const ignored = adapter.stats().ignoredWhileUnsubscribed ?? 0;
    for (let k = 0; k < 20 && (adapter.stats().ignoredWhileUnsubscribed ?? 0) < ignored + 3; k++) {
      run.step(1);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(adapter.topicInfo(0).state, "still waiting").toBe("resyncing");
    clock.advance(windowMs);
    await equal(run, [0, 1], "once the wait is over");
    expect(run.sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    // The wait and its end recorded, the restart's requests right after.
    const after = run.recorded.filter((r) => r.url?.startsWith("ws:wait") || r.url?.startsWith("ws:req ")).map((r) => `${r.url} ${r.body}`.trim().replace(/\["[su]\d+",/, "[id,"));
    expect(after.slice(-4)).toEqual(["ws:wait books5:BTC-USDT", "ws:waited books5:BTC-USDT", 'ws:req [id,"unsubscribe",["books5:BTC-USDT"]]', 'ws:req [id,"subscribe",["books5:BTC-USDT"]]']);
  });

  test("books5: a book waiting out its resync backoff at the swap (unsubscribed, IDLE) is not asked of the replacement; after the fallback it recovers once its wait is over; the others stay LIVE; replay the same at every record", async () => {
    // A second resync within the reset time waits 1–2 s (base 2 s, equal jitter): longer than the swap and the fallback.
    // The adapter's clock stands still from that resync until the replacement has failed (a loaded machine took longer
    // than the wait from the notice to the replacement's subscribe, and the wait was over by then: CI, 05:47 UTC), then
    // moves on 700 ms: past the replacement's 500 ms ack deadline, not past the wait's 1 s minimum. Resynced by the
    // stream's own bad frames (recorded), so replayed: replay's mark from the old socket's recorded unsubscribe ends at
    // ws:back (as a replacement's would), the old socket streaming nothing of the book by then (its unsubscribe acked
    // before the swap); s-okxrep's rule (the old subscription's books ignored until that ack) fails it without.
    const clock = heldClock();
    const run = await startOkx(["BTC-USDT", "ETH-USDT"], { depth: 5, resyncBackoffBaseMs: 2_000, adapter: { now: clock.now } });
    runs.push(run);
    const adapter = run.adapter as OkxAdapter;
    await equal(run, [0, 1], "at start", START_WAIT_MS);
    const reconnectsAtStart = adapter.stats().reconnects; // the start may have needed some (a deadline missed under load)
    const badFrame = async (n: number) => {
      run.sim.inject("malformed", "BTC-USDT");
      for (let k = 0; k < 50 && (adapter.stats().parseErrors ?? 0) < n; k++) {
        run.step(1);
        await new Promise((r) => setTimeout(r, 2));
      }
      await until(() => (adapter.stats().parseErrors ?? 0) >= n, `bad frame ${n} handled`);
    };
    await badFrame(1); // the first resync goes out at once
    await equal(run, [0, 1], "after the first resync");
    clock.hold();
    await badFrame(2); // the second waits: only its unsubscribe goes out
    await until(() => adapter.topicInfo(0).subscribed === false && run.proxy.links.at(-1)!.fromClient.at(-1)!.includes('"unsubscribe"'), "BTC-USDT unsubscribed, waiting");
    run.step(2);
    const { replacement } = await announceOnto(run, { holdDown: true });
    expect(replacement.fromClient.filter((m) => m.includes("BTC-USDT"))).toEqual([]); // not asked while it waits
    run.step(2);
    clock.advance(TEST_TIMINGS.ackTimeoutMs + 200);
    await until(() => adapter.stats().plannedReconnectFailures === 1, "the replacement failed");
    expect(adapter.topicInfo(0).subscribed, "the wait is not over yet").toBe(false);
    expect(replacement.fromClient.filter((m) => m.includes("BTC-USDT"))).toEqual([]);
    run.step(2);
    clock.release();
    await equal(run, [0, 1], "once the wait is over");
    expect(run.sink.invalid).toEqual([
      { index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR },
      { index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR },
    ]);
    expect(adapter.stats().reconnects).toBe(reconnectsAtStart);
  });
});
