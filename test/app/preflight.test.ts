/**
 * The start-up checks and the stream watcher in isolation, with real sockets on loopback (interface 127.0.0.1,
 * TTL 1, 239.255.x.x): a destination interface that is not an address of this host, a directory that cannot be
 * written, and which datagrams on our groups count as another publisher.
 */
import { afterEach, describe, expect, test } from "vitest";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkDestinations, checkWritableDir } from "../../src/app/preflight.ts";
import { PublishGuard } from "../../src/app/publish-guard.ts";
import { validateConfig } from "../../src/config/load.ts";
import { localIpv4Addresses } from "../../src/config/host.ts";
import type { DestinationConfig, PublishConfig } from "../../src/config/types.ts";
import { silentLogger } from "../../src/core/log.ts";
import { StreamWatcher } from "../../src/net/stream-watcher.ts";
import {
  MAGIC,
  PKT_CHANNEL_ID_OFFSET,
  PKT_CHECKSUM_OFFSET,
  PKT_FLAG_END_OF_SESSION,
  PKT_FLAGS_OFFSET,
  PKT_LENGTH_OFFSET,
  PKT_MAGIC_OFFSET,
  PKT_SESSION_ID_OFFSET,
  PKT_SOURCE_ID_OFFSET,
  PKT_VERSION_OFFSET,
  WIRE_VERSION,
} from "../../src/wire/layout.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { datagramChecksum } from "../wire/helpers.ts";
import { waitFor } from "../e2e/harness.ts";
import { uniqueDestination } from "../support/destination.ts";

const GROUP = `239.255.47.${1 + (process.pid % 250)}`;
const PORT = uniqueDestination(470).port; // + up to 3; below the ephemeral ports (test/support/destination.ts)

function dest(iface: string, port = PORT): DestinationConfig {
  return { name: "d", group: GROUP, port, iface, ttl: 1, channelId: 3, match: { venue: "*", market: "*", symbols: ["*"] } };
}

function publish(...destinations: DestinationConfig[]): PublishConfig {
  return { maxDatagramBytes: 1400, heartbeatIntervalMs: 100, snapshotIntervalMs: 0, snapshotDepth: 0, destinations };
}

function header(o: { magic?: number; version?: number; channelId?: number; sourceId?: number; sessionId?: number; flags?: number; bytes?: number }): Uint8Array {
  const b = new Uint8Array(o.bytes ?? 48);
  if (b.length < 16) return b;
  const dv = new DataView(b.buffer);
  dv.setUint16(PKT_MAGIC_OFFSET, o.magic ?? MAGIC, true);
  dv.setUint8(PKT_VERSION_OFFSET, o.version ?? 1);
  dv.setUint8(PKT_FLAGS_OFFSET, o.flags ?? 0);
  dv.setUint16(PKT_CHANNEL_ID_OFFSET, o.channelId ?? 3, true);
  dv.setUint32(PKT_SESSION_ID_OFFSET, o.sessionId ?? 1, true);
  dv.setUint16(PKT_SOURCE_ID_OFFSET, o.sourceId ?? 0, true);
  const version = o.version ?? 1;
  if ((version === 2 || version === WIRE_VERSION) && b.length >= 48) {
    // Sealed as a publisher seals it: the watcher checks a v2/v3 datagram's length and checksum before it counts.
    dv.setUint16(PKT_LENGTH_OFFSET, b.length, true);
    dv.setUint32(PKT_CHECKSUM_OFFSET, datagramChecksum(b, b.length), true);
  }
  return b;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function sender() {
  const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  tx.setMulticastInterface("127.0.0.1");
  tx.setMulticastTTL(1);
  cleanups.push(() => tx.close());
  return tx;
}

describe("destination checks", () => {
  test("an interface that is not an address of this host is named by its key", async () => {
    expect(localIpv4Addresses().map((l) => l.address)).toContain("127.0.0.1");
    await expect(checkDestinations(publish(dest("127.0.0.1"), dest("10.254.254.1")))).rejects.toThrow(
      /^publish\.destinations\[1\]\.interface: "10\.254\.254\.1" is not an address of this host \(its IPv4 addresses: .*127\.0\.0\.1/,
    );
  });

  test("the sender socket itself is tried: binding a foreign address fails naming the destination", async () => {
    // Pretend the host has the address, so the check reaches the socket, which the kernel refuses.
    await expect(checkDestinations(publish(dest("10.254.254.1")), ["127.0.0.1", "10.254.254.1"])).rejects.toThrow(
      new RegExp(`^publish\\.destinations\\[0\\] \\(${GROUP.replaceAll(".", "\\.")}:${PORT} via 10\\.254\\.254\\.1\\): multicast sender on interface "10\\.254\\.254\\.1"`),
    );
  });

  test("a local interface passes and leaves no socket behind (the port can be checked again)", async () => {
    await checkDestinations(publish(dest("127.0.0.1")));
    await checkDestinations(publish(dest("127.0.0.1")));
  });
});

describe("writable directories", () => {
  test("a directory that cannot be created is named with the reason; a good one keeps no probe file", () => {
    const base = makeTempDir("feeder-preflight-");
    writeFileSync(join(base, "file"), "");
    expect(() => checkWritableDir("venues.bybit.instrument_cache", join(base, "file", "sub"))).toThrow(
      `venues.bybit.instrument_cache: directory ${JSON.stringify(join(base, "file", "sub"))} is not writable (ENOTDIR)`,
    );
    checkWritableDir("--out", join(base, "new", "dir"));
    expect(existsSync(join(base, "new", "dir"))).toBe(true);
    expect(readdirSync(join(base, "new", "dir"))).toEqual([]);
  });
});

describe("stream watcher", () => {
  test("only our channel and source id with another session count; ours, neighbours and garbage do not", async () => {
    const watcher = new StreamWatcher([{ group: GROUP, port: PORT + 1, iface: "127.0.0.1", channelId: 3, key: "publish.destinations[0]" }], [0, 5]);
    watcher.addOwnSession(0, 111);
    await watcher.start();
    cleanups.push(() => watcher.stop());
    const tx = await sender();
    const ignored = [
      header({ sourceId: 0, sessionId: 111 }), // our own session
      header({ sourceId: 1, sessionId: 222 }), // another source on our channel: a worker or shard elsewhere
      header({ channelId: 4, sessionId: 222 }), // another channel on our group
      header({ magic: 0x1234, sessionId: 222 }), // not a feeder datagram
      header({ version: 4, sessionId: 222 }), // a version whose header we do not know
      header({ bytes: 15 }), // too short for the header fields
      new Uint8Array(0),
    ];
    for (const d of ignored) tx.send(d, PORT + 1, GROUP);
    await waitFor(() => watcher.datagrams === ignored.length, "every ignored datagram received");
    expect(watcher.sessions()).toEqual([]);

    tx.send(header({ version: 1, sourceId: 0, sessionId: 333 }), PORT + 1, GROUP);
    tx.send(header({ version: 2, sourceId: 5, sessionId: 444 }), PORT + 1, GROUP);
    tx.send(header({ version: 2, sourceId: 5, sessionId: 444, flags: PKT_FLAG_END_OF_SESSION }), PORT + 1, GROUP);
    tx.send(header({ version: WIRE_VERSION, sourceId: 0, sessionId: 555 }), PORT + 1, GROUP); // today's publishers
    await waitFor(() => watcher.datagrams === ignored.length + 4, "the foreign datagrams received");
    const found = watcher.sessions().map((f) => ({ s: f.sessionId, src: f.sourceId, v: f.version, n: f.datagrams, ended: f.ended, from: f.from }));
    expect(found).toEqual([
      { s: 333, src: 0, v: 1, n: 1, ended: false, from: `127.0.0.1:${tx.port}` },
      { s: 444, src: 5, v: 2, n: 2, ended: true, from: `127.0.0.1:${tx.port}` },
      { s: 555, src: 0, v: WIRE_VERSION, n: 1, ended: false, from: `127.0.0.1:${tx.port}` },
    ]);
    watcher.addOwnSession(0, 333); // e.g. a worker's session announced late: the guard drops it as ours
    expect(watcher.isOwn(0, 333)).toBe(true);
  });

  test("a group that cannot be joined on the interface is named by its key", async () => {
    const watcher = new StreamWatcher([{ group: GROUP, port: PORT + 2, iface: "10.254.254.1", channelId: 3, key: "publish.destinations[2]" }], [0]);
    await expect(watcher.start()).rejects.toThrow(`publish.destinations[2]: cannot listen on ${GROUP}:${PORT + 2} via 10.254.254.1 for other publishers`);
  });
});

describe("startup window", () => {
  function config(startupListenMs: number) {
    return validateConfig({ publish: { heartbeat_interval_ms: 100, startup_listen_ms: startupListenMs, destinations: [{ group: GROUP, port: PORT + 3, interface: "127.0.0.1", channel: 3 }] } }, { requireVenue: false });
  }

  test("every session heard in the window is named in the refusal", async () => {
    const guard = new PublishGuard(config(300), silentLogger);
    const tx = await sender();
    // Two other publishers keep sending (every 10 ms, far inside the 300 ms window) until the guard answers.
    const timer = setInterval(() => {
      tx.send(header({ channelId: 3, sourceId: 0, sessionId: 7 }), PORT + 3, GROUP);
      tx.send(header({ channelId: 3, sourceId: 0, sessionId: 8, version: 2 }), PORT + 3, GROUP);
    }, 10);
    cleanups.push(() => clearInterval(timer));
    const err = await guard.listenBeforePublishing().then(() => undefined, (e: Error) => e);
    expect(err?.message).toBe(
      `another publisher is sending on group ${GROUP}:${PORT + 3} channel 3 as source 0 (session 7 from 127.0.0.1:${tx.port}); ` +
        `and 1 more: another publisher is sending on group ${GROUP}:${PORT + 3} channel 3 as source 0 (session 8 from 127.0.0.1:${tx.port}). ` +
        "Refusing to publish: stop the other publisher, or give this instance its own destinations or publish.source_id",
    );
  });

  test("a session that said END_OF_SESSION in the window is stopping and does not block the start", async () => {
    const guard = new PublishGuard(config(300), silentLogger);
    const tx = await sender();
    const timer = setInterval(() => tx.send(header({ channelId: 3, sourceId: 0, sessionId: 9, flags: PKT_FLAG_END_OF_SESSION }), PORT + 3, GROUP), 10);
    cleanups.push(() => clearInterval(timer));
    await guard.listenBeforePublishing();
    cleanups.push(() => guard.stop());
    expect(guard.watcherDatagrams()).toBeGreaterThan(0); // it was heard
  });

  test("with no other publisher the window passes and the guard keeps watching", async () => {
    const guard = new PublishGuard(config(0), silentLogger);
    await guard.listenBeforePublishing();
    cleanups.push(() => guard.stop());
    expect(guard.conflicts()).toEqual([]);
  });
});
