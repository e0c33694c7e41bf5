/**
 * The publish guard's reporting rules on a controlled clock, with real datagrams on loopback (interface 127.0.0.1,
 * TTL 1, 239.255.x.x): when a foreign session counts, when it is over, how the error log is rate-limited, and a
 * worker's session announced a moment after its first datagram is not a conflict.
 */
import { afterEach, describe, expect, test } from "vitest";
import { CONFIRM_MS, LOG_EVERY_MS, PublishGuard, QUIET_HEARTBEATS } from "../../src/app/publish-guard.ts";
import { validateConfig } from "../../src/config/load.ts";
import { MAGIC, PKT_CHANNEL_ID_OFFSET, PKT_FLAG_END_OF_SESSION, PKT_FLAGS_OFFSET, PKT_MAGIC_OFFSET, PKT_SESSION_ID_OFFSET, PKT_SOURCE_ID_OFFSET, PKT_VERSION_OFFSET } from "../../src/wire/layout.ts";
import { waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const GROUP = `239.255.48.${1 + (process.pid % 250)}`;
const PORT = 48_000 + (process.pid % 2000);
const HEARTBEAT_MS = 100;
const QUIET_MS = QUIET_HEARTBEATS * HEARTBEAT_MS;

function datagram(sessionId: number, flags = 0): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint16(PKT_MAGIC_OFFSET, MAGIC, true);
  dv.setUint8(PKT_VERSION_OFFSET, 1);
  dv.setUint8(PKT_FLAGS_OFFSET, flags);
  dv.setUint16(PKT_CHANNEL_ID_OFFSET, 4, true);
  dv.setUint32(PKT_SESSION_ID_OFFSET, sessionId, true);
  dv.setUint16(PKT_SOURCE_ID_OFFSET, 0, true);
  return b;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("publish guard reporting", () => {
  test("confirmation, end of session, quiet, late own sessions and the rate-limited error log", async () => {
    let nowMs = 1_000_000;
    const { log, lines } = captureLog();
    const config = validateConfig({
      publish: { heartbeat_interval_ms: HEARTBEAT_MS, startup_listen_ms: 0, destinations: [{ group: GROUP, port: PORT, interface: "127.0.0.1", channel: 4 }] },
    }, { requireVenue: false });
    const guard = new PublishGuard(config, log, () => nowMs);
    guard.addOwnSession(0, 1);
    await guard.listenBeforePublishing();
    cleanups.push(() => guard.stop());
    const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    tx.setMulticastInterface("127.0.0.1");
    tx.setMulticastTTL(1);
    cleanups.push(() => tx.close());
    let sent = 0;
    const send = async (d: Uint8Array) => {
      tx.send(d, PORT, GROUP);
      sent++;
      await waitFor(() => guard.watcherDatagrams() === sent, "the guard's watcher received it");
    };

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
});
