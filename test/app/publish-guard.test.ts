/**
 * The publish guard's reporting rules on a controlled clock, with real datagrams on loopback (interface 127.0.0.1,
 * TTL 1, 239.255.x.x): when a foreign session counts, when it is over, how the error log is rate-limited, and a
 * worker's session announced a moment after its first datagram is not a conflict. Then a stall of the guard's own
 * thread: the foreign datagram that arrived meanwhile still waits unread when a request (/readyz, /metrics) asks
 * first, and the silence across the stall used to end the live conflict there.
 */
import { afterEach, describe, expect, test } from "vitest";
import { CONFIRM_MS, LOG_EVERY_MS, PublishGuard, QUIET_HEARTBEATS } from "../../src/app/publish-guard.ts";
import { validateConfig } from "../../src/config/load.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { PKT_FLAG_END_OF_SESSION } from "../../src/wire/layout.ts";
import { MAX_FOREIGN_CHECKS_PER_SECOND } from "../../src/net/stream-watcher.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { waitFor } from "../e2e/harness.ts";
import { stallThread } from "../support/stall-thread.ts";
import { captureLog } from "../support/capture-log.ts";
import { guardDatagram as datagram, guardSender, loopbackSender } from "./support/guard-datagram.ts";
import { uniqueDestination } from "../support/destination.ts";

const GROUP = `239.255.48.${1 + (process.pid % 250)}`;
const PORT = uniqueDestination(468).port; // + up to 7; below the ephemeral ports (test/support/destination.ts)
const HEARTBEAT_MS = 100;
const QUIET_MS = QUIET_HEARTBEATS * HEARTBEAT_MS;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A publish config of one destination, GROUP:`port` channel 4, heartbeats every HEARTBEAT_MS. */
function guardConfig(port: number, more: { startup_listen_ms?: number; auth_key_file?: string } = {}) {
  return validateConfig({
    publish: { heartbeat_interval_ms: HEARTBEAT_MS, startup_listen_ms: 0, ...more, destinations: [{ group: GROUP, port, interface: "127.0.0.1", channel: 4 }] },
  }, { requireVenue: false });
}

/** A guard on `config` and the clock `nowMs`, our own session 1 of source 0, stopped after the test; `listen`: its start check done. */
async function ownGuard(config: ReturnType<typeof guardConfig>, log: ReturnType<typeof captureLog>["log"], nowMs: () => number, listen = true): Promise<PublishGuard> {
  const guard = new PublishGuard(config, log, nowMs);
  guard.addOwnSession(0, 1);
  if (listen) await guard.listenBeforePublishing();
  cleanups.push(() => guard.stop());
  return guard;
}

/** A temporary publish.auth_key_file holding `key` (hex). */
function keyFileOf(key: Uint8Array): string {
  const keyFile = join(makeTempDir("guard-key-"), "feed.key");
  writeFileSync(keyFile, Buffer.from(key).toString("hex"));
  return keyFile;
}

/** A real wire v3 snapshot datagram of session `sessionId` (channel 4, source 0), signed if `auth` is given. */
function snapshotDatagram(sessionId: number, auth?: DatagramAuth): Uint8Array {
  const p = packer({ channelId: 4, sourceId: 0, sessionId, auth });
  const b = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  b.load([[943503, 1500]], [[943504, 250]], 1, T0);
  packBookSnapshot(p, b, 0, false);
  return take(p)[0]!;
}

describe("publish guard reporting", () => {
  test("confirmation, end of session, quiet, late own sessions and the rate-limited error log", async () => {
    let nowMs = 1_000_000;
    const { log, lines } = captureLog();
    const guard = await ownGuard(guardConfig(PORT), log, () => nowMs);
    const { tx, send } = await guardSender(guard, GROUP, PORT, cleanups);

    // Our own session is never a conflict; a stranger that sends and ends at once is still reported, once.
    await send(datagram(1));
    await send(datagram(2));
    await send(datagram(2, PKT_FLAG_END_OF_SESSION));
    expect(guard.conflicts()).toEqual([]);
    expect(guard.conflictsDetected).toBe(0); // younger than CONFIRM_MS
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toEqual([]); // already over: it ended
    expect(guard.conflictsDetected).toBe(1);
    expect(lines.map((l) => [l.level, l.fields.conflict ?? l.msg])).toEqual([
      ["error", `another publisher is sending on group ${GROUP}:${PORT} channel 4 as source 0 (session 2 from 127.0.0.1:${tx.port})`],
      ["warn", "no other publisher on our streams any more"],
    ]);

    // A worker's session whose first datagram arrives before the worker's announcement is not a conflict.
    await send(datagram(3));
    guard.addOwnSession(0, 3);
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toEqual([]);
    expect(guard.conflictsDetected).toBe(1);

    // A stranger that keeps sending: reported and active, but the next error line waits for LOG_EVERY_MS.
    lines.length = 0;
    await send(datagram(4));
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toHaveLength(1);
    expect(guard.conflictsDetected).toBe(2);
    expect(lines).toEqual([]); // the first line was less than LOG_EVERY_MS ago
    nowMs += LOG_EVERY_MS;
    await send(datagram(4)); // still sending
    expect(guard.conflicts()).toEqual([`another publisher is sending on group ${GROUP}:${PORT} channel 4 as source 0 (session 4 from 127.0.0.1:${tx.port})`]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", fields: { active: 1, newSinceLastLine: 1, total: 2 } });

    // Silent for fewer than QUIET_HEARTBEATS intervals: still a conflict; then quiet: over.
    nowMs += QUIET_MS - 1;
    expect(guard.conflicts()).toHaveLength(1);
    nowMs += 1;
    expect(guard.conflicts()).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ level: "warn", msg: "no other publisher on our streams any more" });
    expect(guard.conflictsDetected).toBe(2);
  });

  test("a session that ended and keeps heartbeating with END_OF_SESSION (its sequence ran out) is one conflict, reported and ended once", async () => {
    // docs/wire-protocol.md §5.1: such a publisher runs on, each heartbeat with END_OF_SESSION. Before, the guard forgot
    // an ended session at once, so each later END heartbeat recorded it afresh: counted again every CONFIRM_MS, a
    // "no other publisher" warning per heartbeat, an error line every LOG_EVERY_MS, for as long as it ran.
    let nowMs = 3_000_000;
    const { log, lines } = captureLog();
    const guard = await ownGuard(guardConfig(PORT + 2), log, () => nowMs);
    const { send } = await guardSender(guard, GROUP, PORT + 2, cleanups);
    await send(datagram(5));
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toHaveLength(1);
    // Its END heartbeats for over LOG_EVERY_MS, each CONFIRM_MS after the last (fewer than QUIET_HEARTBEATS intervals).
    for (let i = 0; i <= LOG_EVERY_MS / CONFIRM_MS; i++) {
      await send(datagram(5, PKT_FLAG_END_OF_SESSION));
      expect(guard.conflicts()).toEqual([]);
      nowMs += CONFIRM_MS;
    }
    expect(guard.conflictsDetected).toBe(1);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["error", "another publisher is sending on our stream; subscribers see its session and ours alternate"],
      ["warn", "no other publisher on our streams any more"],
    ]);
    // A datagram of it without END after its END (that END was none): a conflict again, at once; then quiet: over.
    await send(datagram(5));
    expect(guard.conflicts()).toHaveLength(1);
    expect(guard.conflictsDetected).toBe(2);
    nowMs += QUIET_MS;
    expect(guard.conflicts()).toEqual([]);
  });

  test("a stall of this thread is no quiet: a request right after it does not end a live conflict; real quiet still does", async () => {
    let nowMs = 2_000_000;
    const { log, lines } = captureLog();
    const guard = await ownGuard(guardConfig(PORT + 1), log, () => nowMs);
    guard.startWatching();
    const tx = await loopbackSender(cleanups);
    let sent = 0;
    const conflict = `another publisher is sending on group ${GROUP}:${PORT + 1} channel 4 as source 0 (session 9 from 127.0.0.1:${tx.port})`;
    tx.send(datagram(9), PORT + 1, GROUP);
    sent++;
    await waitFor(() => guard.watcherDatagrams() === sent, "the guard's watcher received it");
    nowMs += CONFIRM_MS;
    await waitFor(() => guard.conflictsDetected === 1, "the conflict confirmed by the timer");
    expect(guard.conflicts()).toEqual([conflict]);
    lines.length = 0;

    // The stranger keeps sending; this thread stalls past the timer's interval while the guard's clock passes the
    // quiet bound (the silence measured across the stall); a request is answered before the datagram is read.
    tx.send(datagram(9), PORT + 1, GROUP);
    sent++;
    stallThread(500);
    nowMs += QUIET_MS;
    expect(guard.conflicts()).toEqual([conflict]);
    await waitFor(() => guard.watcherDatagrams() === sent, "the datagram sent before the stall read");
    expect(guard.conflicts()).toEqual([conflict]);
    expect(guard.conflictsDetected).toBe(1);
    expect(lines).toEqual([]);

    // It stops sending: after a stall, the timer's next rounds still end it (as soon as the quiet bound passes).
    stallThread(500);
    nowMs += QUIET_MS;
    await waitFor(() => guard.metricsText().includes("feeder_publish_conflicts_active 0"), "the quiet conflict ended");
    expect(lines.at(-1)).toMatchObject({ level: "warn", msg: "no other publisher on our streams any more" });
    expect(guard.conflictsDetected).toBe(1);
  });

  test("with publish.auth_key_file, a session not signed with the key is no conflict (dropped as forged)", async () => {
    // Before, the watcher checked no signature: one unsigned datagram on our channel and source, which every keyed
    // subscriber drops, turned /readyz to 503 (or, in the start window, refused the start).
    let nowMs = 4_000_000;
    const key = Uint8Array.from({ length: 32 }, (_, i) => 7 * i);
    const guard = await ownGuard(guardConfig(PORT + 3, { auth_key_file: keyFileOf(key) }), captureLog().log, () => nowMs);
    const { tx, send } = await guardSender(guard, GROUP, PORT + 3, cleanups);
    await send(datagram(2)); // wire v1: cannot be signed
    await send(snapshotDatagram(3)); // v3, its CRC right, unsigned
    await send(snapshotDatagram(4, new DatagramAuth(Uint8Array.from(key, (b) => b ^ 1)))); // signed with another key
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toEqual([]);
    expect(guard.metricsText()).toContain(`feeder_publish_watch_dropped_total{reason="forged"} 3`);
    await send(snapshotDatagram(5, new DatagramAuth(key))); // signed with ours: another publisher of our feed
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toEqual([`another publisher is sending on group ${GROUP}:${PORT + 3} channel 4 as source 0 (session 5 from 127.0.0.1:${tx.port})`]);
  });
});

describe("publish guard under a flood over the watcher's checks per second (s-rd2c)", () => {
  test("a live conflict is not judged quiet under a flood over the checks per second; once it stops, it is", async () => {
    // The watcher examines at most MAX_FOREIGN_CHECKS_PER_SECOND other-session datagrams a second: under a flood of
    // forged ones, the real other publisher's went unchecked, its lastSeenMs stood still, and after QUIET_MS the guard
    // said "no other publisher on our streams any more" (/readyz ready) while it went on sending. A tracked session's
    // datagram is now checked beyond the budget (TRACKED_CHECK_EVERY_MS); s-rd2c kept it as an unverified claim.
    let nowMs = 5_000_000;
    const key = Uint8Array.from({ length: 32 }, (_, i) => 5 * i + 1);
    const guard = await ownGuard(guardConfig(PORT + 5, { auth_key_file: keyFileOf(key) }), captureLog().log, () => nowMs);
    const { tx, send } = await guardSender(guard, GROUP, PORT + 5, cleanups);
    const real = snapshotDatagram(5, new DatagramAuth(key)); // signed with our key: another publisher of our feed
    const forged = datagram(9); // wire v1, unsigned: forged, whatever its session
    const conflict = `another publisher is sending on group ${GROUP}:${PORT + 5} channel 4 as source 0 (session 5 from 127.0.0.1:${tx.port})`;
    await send(real);
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toEqual([conflict]);
    await send(forged, MAX_FOREIGN_CHECKS_PER_SECOND); // the checks spent
    for (let i = 0; i < 2 * QUIET_HEARTBEATS; i++) {
      nowMs += HEARTBEAT_MS;
      await send(forged, 150); // spends the refill (100 ms: 100 checks), 50 left unchecked
      await send(real); // beyond the budget: checked as its session's
      expect(guard.conflicts()).toEqual([conflict]);
    }
    expect(guard.metricsText()).toContain(`feeder_publish_watch_dropped_total{reason="unchecked"} ${2 * QUIET_HEARTBEATS * 50}`);
    // The real one stops; the flood goes on, naming another session: that keeps nothing reported.
    for (let i = 0; i < QUIET_HEARTBEATS; i++) {
      nowMs += HEARTBEAT_MS;
      await send(forged, 100);
    }
    expect(guard.conflicts()).toEqual([]);
  });

  test("the start check examines every datagram of its window: a flood over the checks per second does not hide another publisher from it", async () => {
    // Capped there too, the flood spent the checks and the real other publisher's datagram went unchecked: the start
    // went ahead beside it. Nothing is published before the start, so the window checks all it hears.
    const nowMs = 6_000_000; // still: the budget gets no refill
    const key = Uint8Array.from({ length: 32 }, (_, i) => 3 * i + 2);
    const guard = await ownGuard(guardConfig(PORT + 6, { startup_listen_ms: 800, auth_key_file: keyFileOf(key) }), captureLog().log, () => nowMs, false);
    const tx = await loopbackSender(cleanups);
    const forged = datagram(9); // wire v1, unsigned: forged
    const real = snapshotDatagram(5, new DatagramAuth(key)); // signed with our key
    const outcome = guard.listenBeforePublishing().then(() => "started", (err: Error) => err.message);
    await waitFor(() => guard.watcherDatagrams() > 0, "the watcher joined", 10_000, () => tx.send(forged, PORT + 6, GROUP));
    for (let i = 0; i < 4; i++) {
      const heard = guard.watcherDatagrams();
      for (let j = 0; j < 300; j++) tx.send(forged, PORT + 6, GROUP); // within the watcher's receive buffer
      await waitFor(() => guard.watcherDatagrams() >= heard + 300, "the flood received");
    }
    tx.send(real, PORT + 6, GROUP);
    expect(await outcome).toContain(`another publisher is sending on group ${GROUP}:${PORT + 6} channel 4 as source 0 (session 5 from 127.0.0.1:${tx.port})`);
    expect(guard.metricsText()).toContain(`feeder_publish_watch_dropped_total{reason="unchecked"} 0`);
  });
});

describe("second read of s-rd2c (s-rd4b): unsigned datagrams under a flood keep nothing reported", () => {
  test("with publish.auth_key_file, a forger copying a reported session's header keeps it reported no longer than its signed datagrams go on", async () => {
    // s-rd2c took an unchecked datagram naming a reported session as its claim (lastClaimedMs), never verified: once a
    // real other publisher had been seen and had stopped, a forger spending the checks with any unsigned datagrams and
    // then sending one more with that session's header (readable on the group) kept the conflict, /readyz 503, for as
    // long as it went on. Only a datagram signed with the key may count as another publisher.
    let nowMs = 7_000_000;
    const key = Uint8Array.from({ length: 32 }, (_, i) => 11 * i + 3);
    const guard = await ownGuard(guardConfig(PORT + 7, { auth_key_file: keyFileOf(key) }), captureLog().log, () => nowMs);
    const { tx, send } = await guardSender(guard, GROUP, PORT + 7, cleanups);
    const real = snapshotDatagram(5, new DatagramAuth(key)); // signed with our key: another publisher of our feed
    const conflict = `another publisher is sending on group ${GROUP}:${PORT + 7} channel 4 as source 0 (session 5 from 127.0.0.1:${tx.port})`;
    await send(real);
    nowMs += CONFIRM_MS;
    expect(guard.conflicts()).toEqual([conflict]);
    // The real one stops. The forger spends the checks (unsigned datagrams of another session), then sends unsigned
    // ones with the reported session's header, every heartbeat interval, for twice the quiet bound.
    await send(datagram(9), MAX_FOREIGN_CHECKS_PER_SECOND);
    for (let i = 0; i < 2 * QUIET_HEARTBEATS; i++) {
      nowMs += HEARTBEAT_MS;
      await send(datagram(9), 100); // spends the refill (100 ms: 100 checks)
      await send(datagram(5), 2); // wire v1, unsigned: forged
    }
    expect(guard.conflicts()).toEqual([]);
    expect(guard.metricsText()).toContain("feeder_publish_conflicts_active 0");
  });
});
