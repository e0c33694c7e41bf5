/**
 * The publisher's wire v2 duties: header fields (session start, heartbeat interval, schema, CRC), publish.source_id
 * plus the worker number, publish.auth_key_file (AUTHENTICATED datagrams; bad files named with the key), and the
 * order of an exponent change (definition, then book messages at the new exponents). Datagrams are observed
 * through the drop filter (decoded as a subscriber would) and not sent.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PublishConfig } from "../../src/config/types.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { decodeDatagram, type DecodedPacket } from "../../src/wire/decode-objects.ts";
import { PKT_FLAG_AUTHENTICATED } from "../../src/wire/layout.ts";
import { makeInstrument, randomBookSides, rng, TestBook } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const PORT = uniqueDestination(457).port; // below the ephemeral ports (test/support/destination.ts)
const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);

function config(over: Partial<PublishConfig> = {}): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 750,
    snapshotIntervalMs: 0,
    snapshotDepth: 0,
    destinations: [
      { name: "all", group: "239.255.44.1", port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 7, match: { venue: "*", market: "*", symbols: ["*"] } },
    ],
    ...over,
  };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** A started publisher whose datagrams are collected raw (exact copies) instead of sent. */
async function capture(over: Partial<PublishConfig>, extra: { sourceId?: number; authKey?: Uint8Array; sessionStartUs?: number } = {}) {
  const raw: Uint8Array[] = [];
  const pub = new FeedPublisher({ publish: config(over), ...extra, dropFilter: (_c, _s, bytes) => (raw.push(bytes.slice()), true) });
  await pub.start();
  stops.push(() => pub.stop());
  return { pub, raw };
}

function book(seed: number, priceExp = 1): TestBook {
  const b = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", priceExp, 3));
  const s = randomBookSides(rng(seed), 10, 300_000);
  b.load(s.bids, s.asks, 5, 1_764_000_000_000_000);
  return b;
}

function decodeAll(raw: Uint8Array[], auth?: DatagramAuth): DecodedPacket[] {
  return raw.map((bytes) => {
    const res = decodeDatagram(bytes, 1400, auth);
    if (!res.ok) throw res.error;
    return res.packet;
  });
}

describe("FeedPublisher: wire v2 header", () => {
  it("every datagram carries the session start, the heartbeat interval, schema 1 and a valid CRC", async () => {
    const { pub, raw } = await capture({}, { sessionStartUs: 1_764_000_000_123_456 });
    const b = book(1);
    pub.publishSnapshot(pub.register(b.instrument, b), b);
    pub.flush();
    const packets = decodeAll(raw); // decodeDatagram verifies the CRC
    expect(packets.length).toBeGreaterThan(0);
    for (const p of packets) {
      expect([p.sessionStartUs, p.heartbeatIntervalMs, p.schemaId, p.sessionId]).toEqual([1_764_000_000_123_456, 750, 1, pub.sessionId]);
    }
  });

  it("the session start defaults to the publisher's start time, so a later publisher orders after an earlier one", async () => {
    const first = await capture({});
    const second = await capture({});
    expect(second.pub.sessionStartUs).toBeGreaterThanOrEqual(first.pub.sessionStartUs);
    expect(Math.abs(first.pub.sessionStartUs - Date.now() * 1000)).toBeLessThan(60_000_000); // now, not 0 or garbage
  });

  it("sourceId is publish.source_id plus the worker number", async () => {
    const { pub, raw } = await capture({ sourceId: 100 }, { sourceId: 3 });
    expect(pub.sourceId).toBe(103);
    const b = book(2);
    pub.register(b.instrument, b);
    pub.flush();
    expect(decodeAll(raw).map((p) => p.sourceId)).toEqual([103]);
    expect(() => new FeedPublisher({ publish: config({ sourceId: 65535 }), sourceId: 1 })).toThrow(/sourceId 65536.*publish.source_id/);
  });
});

describe("FeedPublisher: publish.auth_key_file", () => {
  const dir = mkdtempSync(join(tmpdir(), "feeder-auth-"));

  it("signs every datagram: AUTHENTICATED, verified with the key, refused with another key", async () => {
    const file = join(dir, "key.bin");
    writeFileSync(file, KEY);
    const { pub, raw } = await capture({ authKeyFile: file, heartbeatIntervalMs: 20 });
    expect(pub.authenticated).toBe(true);
    const b = book(3);
    pub.publishSnapshot(pub.register(b.instrument, b), b);
    pub.flush();
    const packets = decodeAll(raw, new DatagramAuth(KEY));
    expect(packets.every((p) => (p.flags & PKT_FLAG_AUTHENTICATED) !== 0)).toBe(true);
    const other = new DatagramAuth(Uint8Array.from(KEY, (x) => x ^ 1));
    for (const bytes of raw) {
      const res = decodeDatagram(bytes, 1400, other);
      expect(res.ok ? "ok" : res.error.codeName).toBe("bad_auth");
    }
  });

  it("reads a hex key file (with a trailing newline) as the bytes it spells", async () => {
    const file = join(dir, "key.hex");
    writeFileSync(file, Buffer.from(KEY).toString("hex") + "\n");
    const { pub, raw } = await capture({ authKeyFile: file });
    const b = book(4);
    pub.register(b.instrument, b);
    pub.flush();
    expect(decodeAll(raw, new DatagramAuth(KEY))).toHaveLength(1);
  });

  it("a missing file or a short key is a configuration error naming the key and the file", () => {
    const missing = join(dir, "nope.key");
    const short = join(dir, "short.key");
    writeFileSync(short, "0123456789abcdef"); // hex: 8 bytes
    for (const [file, why] of [
      [missing, /cannot read key file/],
      [short, /8-byte key; at least 16 bytes are required/],
    ] as const) {
      let err: unknown;
      try {
        new FeedPublisher({ publish: config({ authKeyFile: file }) });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^publish\.auth_key_file: /);
      expect((err as Error).message).toContain(JSON.stringify(file));
      expect((err as Error).message).toMatch(why);
    }
  });
});

describe("FeedPublisher: exponent change", () => {
  it("the new definition precedes every book message at the new exponents; none at the old ones follows it", async () => {
    const { pub, raw } = await capture({});
    const old = book(5, 1);
    const h = pub.register(old.instrument, old);
    pub.publishSnapshot(h, old);
    const cs = new ChangeSet();
    cs.addBid(old.bidPriceAt(0), 7);
    old.apply(cs, 6, 1_764_000_000_000_100);
    pub.publishDelta(h, old, cs);
    // The venue changed the tick: a new builder at priceExp 2, registered again, status, then its snapshot.
    const fresh = book(6, 2);
    fresh.instrSeq = 7;
    expect(pub.register(fresh.instrument, fresh)).toBe(h);
    pub.publishStatus(h, fresh);
    pub.publishSnapshot(h, fresh);
    pub.refreshAll(); // a refresh after the change repeats the new definition and book
    const seq: [string, number][] = decodeAll(raw).flatMap((p) => p.messages.map((m) => [m.type, "priceExp" in m ? m.priceExp : NaN] as [string, number]));
    const defAt2 = seq.findIndex(([t, e]) => t === "definition" && e === 2);
    expect(defAt2).toBeGreaterThan(0);
    expect(seq.slice(0, defAt2).every(([, e]) => e === 1)).toBe(true);
    expect(seq.slice(defAt2).every(([, e]) => e === 2)).toBe(true);
    expect(seq.slice(defAt2).map(([t]) => t)).toEqual(["definition", "status", "snapshot", "definition", "snapshot"]);
  });
});
