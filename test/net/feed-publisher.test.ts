/**
 * Publisher → subscriber over real multicast on loopback (interface 127.0.0.1, TTL 1, 239.255.x.x groups only).
 * Groups and ports are private to this file: 239.255.41.{1,2} on ports from uniqueDestination(452).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { DestinationConfig, PublishConfig, RetransmitConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { PublishChannel } from "../../src/net/publish-channel.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { FeedSubscriber, type GapEvent, type SessionEvent } from "../../src/subscriber/index.ts";
import { getU64 } from "../../src/core/i64.ts";
import { nowUsAtMonoMs } from "../../src/core/clock.ts";
import { MIN_PUBLISH_DATAGRAM_BYTES } from "../../src/wire/layout.ts";
import { levelsOf, makeInstrument, randomBookSides, randomChanges, rng, TestBook, waitFor } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const BASE_PORT = uniqueDestination(452).port; // + up to 60; below the ephemeral ports (test/support/destination.ts)
const GROUP_SPOT = "239.255.41.1";
const GROUP_LINEAR = "239.255.41.2";
const T0 = 1_764_000_000_000_000;

function dest(name: string, group: string, port: number, channelId: number, market: string): DestinationConfig {
  return { name, group, port, iface: "127.0.0.1", ttl: 1, channelId, match: { venue: "bybit", market, symbols: ["*"] } };
}

function publishConfig(portOffset: number, over: Partial<PublishConfig> = {}): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 1000,
    snapshotIntervalMs: 0,
    snapshotDepth: 0,
    destinations: [
      dest("spot", GROUP_SPOT, BASE_PORT + portOffset, 1, "spot"),
      dest("linear", GROUP_LINEAR, BASE_PORT + portOffset + 1, 2, "linear"),
    ],
    ...over,
  };
}

function groupsOf(cfg: PublishConfig) {
  return cfg.destinations.map((d) => ({ group: d.group, port: d.port, iface: "127.0.0.1" }));
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startPair(portOffset: number, pubOver: Partial<PublishConfig> = {}, dropFilter?: (ch: number, seq: number, b: Uint8Array) => boolean) {
  const cfg = publishConfig(portOffset, pubOver);
  const sub = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 0 });
  await sub.start();
  cleanups.push(() => sub.stop());
  const pub = new FeedPublisher({ publish: cfg, dropFilter });
  await pub.start();
  cleanups.push(() => pub.stop());
  return { cfg, sub, pub };
}

/** Registers books, publishes a venue snapshot of each, then `events` random deltas spread over turns. */
async function drive(pub: FeedPublisher, books: TestBook[], handles: number[], events: number, seed: number): Promise<void> {
  const r = rng(seed);
  const cs = new ChangeSet();
  for (let e = 0; e < events; e++) {
    const k = e % books.length;
    randomChanges(r, books[k]!, cs, e % 17 === 0 ? 150 : 8, 300_000);
    books[k]!.apply(cs, 1000 + e, T0 + e);
    pub.publishDelta(handles[k]!, books[k]!, cs);
    if (e % 5 === 4) await nextTurn();
  }
  await nextTurn();
}

function makeBooks(seed: number): TestBook[] {
  const r = rng(seed);
  return [
    makeInstrument("bybit", "spot", "BTCUSDT", 2, 6),
    makeInstrument("bybit", "linear", "BTCUSDT", 1, 3),
    makeInstrument("bybit", "linear", "ETHUSDT", 2, 2),
  ].map((inst) => {
    const b = new TestBook(inst);
    const s = randomBookSides(r, 120, 300_000);
    b.load(s.bids, s.asks, 1, T0);
    return b;
  });
}

function identical(sub: FeedSubscriber, books: TestBook[]): boolean {
  return books.every((b) => {
    const sb = sub.book(b.instrument.instrumentId);
    if (sb === undefined || !sb.valid || sb.instrSeq !== b.instrSeq) return false;
    return JSON.stringify(levelsOf(sb)) === JSON.stringify(levelsOf(b));
  });
}

describe("FeedPublisher → FeedSubscriber over loopback multicast", () => {
  it("books are identical; definitions name them; counters add up; markets go to their own channel", async () => {
    const { sub, pub } = await startPair(0);
    const books = makeBooks(1);
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    await drive(pub, books, handles, 400, 1);
    await waitFor(() => identical(sub, books), 5000, "identical books");
    for (const b of books) {
      const sb = sub.book(b.instrument.instrumentId)!;
      expect(sb.definition).toEqual(b.instrument);
      expect(sb.venueSeq).toBe(b.venueSeq);
      expect(sb.tsEventUs).toBe(b.tsEventUs);
    }
    expect(sub.counters.gaps).toBe(0);
    expect(sub.counters.errors).toBe(0);
    expect(pub.counters.sendErrors).toBe(0);
    expect(pub.counters.datagrams).toBeGreaterThan(0);
    await waitFor(() => sub.counters.datagrams === pub.counters.datagrams, 5000, "all datagrams received");
    expect(sub.counters.bytes).toBe(pub.counters.bytes);
    expect(sub.counters.messages).toBe(pub.counters.messages);
    // several messages per datagram on average (packing)
    expect(pub.counters.messages / pub.counters.datagrams).toBeGreaterThan(2);
    const streams = sub.streamInfo().map((s) => [s.channelId, s.sessionId]);
    expect(streams.sort()).toEqual([
      [1, pub.sessionId],
      [2, pub.sessionId],
    ]);
    // SO_RCVBUF: the kernel caps the 8 MiB request at net.core.rmem_max and reports double the value it keeps.
    const { readFileSync } = await import("node:fs");
    const rmemMax = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
    const expected = 2 * Math.min(8 * 1024 * 1024, rmemMax);
    expect(sub.recvBufferSizes()).toEqual([expected, expected]);
  });

  it("a flush allocates no views: each pool buffer's exact-length view is reused for every length it sent before", async () => {
    const seen: { channel: number; data: Uint8Array }[] = [];
    const { sub, pub } = await startPair(40, {}, (channel, _seq, data) => {
      seen.push({ channel, data });
      return false; // observe only: everything is sent
    });
    const books = makeBooks(7);
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    pub.flush();
    const r = rng(7);
    const cs = new ChangeSet();
    const book = books[1]!; // linear: channel 2
    // One delta per flush, so each is the first datagram of its flush (pool buffer 0), with alternating sizes.
    const views: Uint8Array[] = [];
    for (let e = 0; e < 6; e++) {
      do randomChanges(r, book, cs, e % 2 === 0 ? 1 : 12, 300_000);
      while (cs.count === 0 || (e % 2 === 1 && cs.count < 6));
      book.apply(cs, 2000 + e, T0 + e);
      seen.length = 0;
      pub.publishDelta(handles[1]!, book, cs);
      pub.flush();
      const mine = seen.filter((x) => x.channel === 2);
      expect(mine).toHaveLength(1);
      views.push(mine[0]!.data);
    }
    const lengths = views.map((v) => v.byteLength);
    // the sizes alternate (a 1-level and a ≥ 6-level delta), so the old "last view per buffer" was replaced each time
    expect(lengths[0]).not.toBe(lengths[1]);
    for (let e = 2; e < 6; e++) {
      const before = views.findIndex((v) => v.byteLength === lengths[e]);
      if (before < e) expect(views[e]).toBe(views[before]); // the same object: nothing allocated for it
    }
    expect(views.slice(2).some((v, i) => views.indexOf(v) < i + 2)).toBe(true);
    await waitFor(() => identical(sub, books), 5000, "identical books");
  });

  it("dropped datagrams: the subscriber reports the gap, marks the books invalid, and is identical after the refresh", async () => {
    const dropped: number[] = [];
    let armed = false;
    const dropFilter = (ch: number, seq: number) => {
      if (armed && ch === 2 && dropped.length < 2) {
        dropped.push(seq);
        return true;
      }
      return false;
    };
    const { sub, pub } = await startPair(2, { snapshotIntervalMs: 0 }, dropFilter);
    const gaps: GapEvent[] = [];
    sub.on("gap", (e) => gaps.push(e));
    const books = makeBooks(2);
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    await drive(pub, books, handles, 60, 2);
    await waitFor(() => identical(sub, books), 5000, "identical before the drop");
    armed = true;
    await drive(pub, books, handles, 60, 3);
    armed = false;
    await waitFor(() => gaps.length > 0, 5000, "gap event");
    expect(pub.counters.droppedOnPurpose).toBe(2);
    expect(gaps[0]!.channelId).toBe(2);
    expect(gaps[0]!.expected).toBe(dropped[0]);
    const linear = books.filter((b) => b.instrument.market === "linear");
    const spot = books.filter((b) => b.instrument.market === "spot");
    await drive(pub, books, handles, 3, 4); // traffic after the loss, still invalid
    await waitFor(() => sub.counters.datagrams + pub.counters.droppedOnPurpose >= pub.counters.datagrams, 5000, "delivery");
    for (const b of linear) expect(sub.book(b.instrument.instrumentId)!.valid).toBe(false);
    for (const b of spot) expect(sub.book(b.instrument.instrumentId)!.valid).toBe(true); // other channel unaffected
    pub.refreshAll(); // what the refresh timer does every snapshotIntervalMs
    await waitFor(() => identical(sub, books), 5000, "identical after the refresh");
    for (const b of linear) expect(sub.book(b.instrument.instrumentId)!.invalidations).toBe(1);
  });

  it("the refresh timer recovers a late joiner without any request", async () => {
    const cfg = publishConfig(4, { snapshotIntervalMs: 100 });
    const pub = new FeedPublisher({ publish: cfg });
    await pub.start();
    cleanups.push(() => pub.stop());
    const books = makeBooks(3);
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    await drive(pub, books, handles, 30, 5);
    const late = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 0 });
    await late.start();
    cleanups.push(() => late.stop());
    await drive(pub, books, handles, 30, 6);
    await waitFor(() => identical(late, books), 5000, "late joiner identical");
    for (const b of books) expect(late.book(b.instrument.instrumentId)!.definition?.symbol).toBe(b.instrument.symbol);
  });

  it("a publisher restart is detected as a new session and books recover from its snapshots", async () => {
    const cfg = publishConfig(6);
    const sub = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 0 });
    await sub.start();
    cleanups.push(() => sub.stop());
    const sessions: SessionEvent[] = [];
    sub.on("session", (e) => sessions.push(e));
    const books = makeBooks(4);
    const first = new FeedPublisher({ publish: cfg });
    await first.start();
    let handles = books.map((b) => first.register(b.instrument, b));
    books.forEach((b, i) => first.publishSnapshot(handles[i]!, b));
    await drive(first, books, handles, 20, 7);
    await waitFor(() => identical(sub, books), 5000, "identical (first session)");
    await first.stop();
    await waitFor(() => sessions.filter((s) => s.kind === "ended").length === 2, 5000, "end of session on both channels");
    for (const b of books) expect(sub.book(b.instrument.instrumentId)!.valid).toBe(false);

    const second = new FeedPublisher({ publish: cfg });
    expect(second.sessionId).not.toBe(first.sessionId);
    await second.start();
    cleanups.push(() => second.stop());
    const fresh = makeBooks(5); // a restarted builder: new books, instrSeq from 1 again
    handles = fresh.map((b) => second.register(b.instrument, b));
    fresh.forEach((b, i) => second.publishSnapshot(handles[i]!, b));
    await drive(second, fresh, handles, 20, 8);
    await waitFor(() => identical(sub, fresh), 5000, "identical (second session)");
    const restarted = sessions.filter((s) => s.kind === "restarted");
    expect(restarted).toHaveLength(2);
    expect(restarted.every((s) => s.sessionId === second.sessionId && s.previousSessionId === first.sessionId)).toBe(true);
    expect(sub.counters.gaps).toBe(0);
  });

  it("idle channels get heartbeats carrying the next expected sequence", async () => {
    const seen: number[] = [];
    const { sub, pub } = await startPair(8, { heartbeatIntervalMs: 40 }, (ch, seq, bytes) => {
      if (ch === 1 && bytes.byteLength === 48) seen.push(seq); // a v2 heartbeat: the header alone
      return false;
    });
    await waitFor(() => sub.counters.heartbeats >= 4, 5000, "heartbeats");
    expect(seen.every((s) => s === 1)).toBe(true); // nothing sent yet: next expected is 1
    expect(pub.counters.datagrams).toBeGreaterThanOrEqual(4);
  });

  it("several subscribers on one host receive the same group:port (address reuse)", async () => {
    const { cfg, sub, pub } = await startPair(10);
    const second = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 0 });
    await second.start();
    cleanups.push(() => second.stop());
    const books = makeBooks(6);
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    await drive(pub, books, handles, 20, 9);
    await waitFor(() => identical(sub, books) && identical(second, books), 5000, "both subscribers identical");
  });

  it("a silent stream is reported stale and its books not usable", async () => {
    const cfg = publishConfig(12, { heartbeatIntervalMs: 0 });
    const sub = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 80 });
    await sub.start();
    cleanups.push(() => sub.stop());
    const stale: number[] = [];
    sub.on("stale", (e) => stale.push(e.channelId));
    const pub = new FeedPublisher({ publish: cfg });
    await pub.start();
    cleanups.push(() => pub.stop());
    const books = makeBooks(7);
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    await nextTurn();
    await waitFor(() => stale.length === 2, 5000, "stale events");
    // v2 subscriber: a stale stream's books keep `valid` (their levels are exact as of instrSeq) but are not usable.
    for (const b of books) expect(sub.book(b.instrument.instrumentId)!.usable).toBe(false);
  });

  it("refuses an interface that is not a local address, and non-multicast groups", async () => {
    const bad = publishConfig(14);
    const withIface = { ...bad, destinations: [{ ...bad.destinations[0]!, iface: "nonsense" }] };
    await expect(new FeedPublisher({ publish: withIface }).start()).rejects.toThrow(/interface "nonsense".*must be a local IPv4 address/);
    const unicast = { ...bad, destinations: [{ ...bad.destinations[0]!, group: "127.0.0.1" }] };
    expect(() => new FeedPublisher({ publish: unicast })).toThrow(/multicast/);
  });

  it("the drop filter sees each datagram's channel and first sequence number", async () => {
    const seqs: [number, number][] = [];
    const { pub } = await startPair(16, {}, (ch, seq, bytes) => {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      expect(getU64(dv, 16)).toBe(seq);
      seqs.push([ch, seq]);
      return false;
    });
    const books = makeBooks(8);
    const handles = books.map((b) => pub.register(b.instrument, b));
    pub.flush();
    expect(seqs).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(handles).toEqual([0, 1, 2]);
  });
});

describe("FeedPublisher with an auth key, over loopback multicast", () => {
  it("a subscriber with the key rebuilds identical books; one with another key drops everything as bad_auth", async () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
    const cfg = publishConfig(24);
    const good = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 0, authKey: key });
    const wrong = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 0, authKey: Uint8Array.from(key, (x) => x ^ 0x5a) });
    for (const s of [good, wrong]) {
      await s.start();
      cleanups.push(() => s.stop());
    }
    const pub = new FeedPublisher({ publish: cfg, authKey: key });
    await pub.start();
    cleanups.push(() => pub.stop());
    const books = makeBooks(12);
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    await drive(pub, books, handles, 60, 12);
    await waitFor(() => identical(good, books), 5000, "identical books with the key");
    await waitFor(() => wrong.counters.errors === pub.counters.datagrams, 5000, "every datagram refused with the wrong key");
    expect(good.counters.errors).toBe(0);
    expect(wrong.counters.rejected).toMatchObject({ bad_auth: pub.counters.datagrams, bad_checksum: 0 });
    expect(wrong.books.size).toBe(0);
  });
});

describe("FeedPublisher.register", () => {
  it("registering an instrumentId again replaces the view behind the same handle (no stale refreshes)", async () => {
    const cfg = publishConfig(18);
    const pub = new FeedPublisher({ publish: cfg });
    const books = makeBooks(9);
    const h1 = pub.register(books[1]!.instrument, books[1]!);
    const other = pub.register(books[2]!.instrument, books[2]!);
    const replacement = new TestBook({ ...books[1]!.instrument, priceExp: 2 });
    const h2 = pub.register(replacement.instrument, replacement);
    expect(h2).toBe(h1);
    expect(other).not.toBe(h1);
    expect(pub.channelInfo().find((c) => c.channelId === 2)!.instruments).toBe(2);
  });

  it("a datagram maximum below the one every definition fits is refused by name; at it, signed, the longest definition is published", async () => {
    // The longest definition: 8 + 16 + 3 × 255 bytes, padded to 792, with the 48-byte header and the 16-byte HMAC trailer.
    expect(MIN_PUBLISH_DATAGRAM_BYTES).toBe(856);
    // Before, a 256-byte publisher was built, and register() of a definition that did not fit threw "message larger
    // than a datagram" naming nothing, after adding the book: every refresh tick then threw from its timer (the
    // process died). The configuration refuses such a maximum too (test/config/load.test.ts).
    expect(() => new FeedPublisher({ publish: publishConfig(28, { maxDatagramBytes: MIN_PUBLISH_DATAGRAM_BYTES - 1 }) })).toThrow(
      "publish.max_datagram_bytes 855 is below 856, the smallest datagram that holds every instrument definition",
    );
    const key = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);
    const cfg = publishConfig(28, { maxDatagramBytes: MIN_PUBLISH_DATAGRAM_BYTES, snapshotIntervalMs: 100 });
    const sub = new FeedSubscriber({ groups: groupsOf(cfg), staleAfterMs: 0, authKey: key, maxDatagramBytes: MIN_PUBLISH_DATAGRAM_BYTES });
    await sub.start();
    cleanups.push(() => sub.stop());
    const pub = new FeedPublisher({ publish: cfg, authKey: key });
    await pub.start();
    cleanups.push(() => pub.stop());
    const inst = { ...makeInstrument("bybit", "spot", "S".repeat(255), 1, 2), tickSize: "0.1".padEnd(255, "0"), lotSize: "0.01".padEnd(255, "0") };
    const book = new TestBook(inst);
    const handle = pub.register(inst, book);
    pub.publishSnapshot(handle, book);
    const registered = pub.counters.messages;
    await waitFor(() => sub.books.get(inst.instrumentId)?.definition?.lotSize === inst.lotSize, 5000, "the longest definition");
    // The refresh timer packs it again (definition + snapshot) without throwing.
    await waitFor(() => pub.counters.messages >= registered + 2, 5000, "a refresh of it");
    expect(sub.books.get(inst.instrumentId)!.definition).toEqual(inst);
    expect(sub.counters.errors).toBe(0);
  });

  it("after stop(), register() and refreshAll() pack nothing (as publish* do): nothing is counted that is never sent", async () => {
    const pub = new FeedPublisher({ publish: publishConfig(26) });
    await pub.start();
    cleanups.push(() => pub.stop());
    const books = makeBooks(11);
    pub.register(books[0]!.instrument, books[0]!);
    await pub.stop(); // flushes, sends END_OF_SESSION: the packers are empty
    const packed = () => (pub as unknown as { channels: { packer: { count: number } }[] }).channels.map((c) => c.packer.count);
    const messages = pub.counters.messages;
    expect(packed()).toEqual([0, 0]);
    pub.register(books[1]!.instrument, books[1]!); // new
    pub.register(books[0]!.instrument, books[0]!); // again
    pub.refreshAll();
    // Before: the definitions and refresh snapshots were packed and counted as messages, never to be sent.
    expect({ packed: packed(), messages: pub.counters.messages }).toEqual({ packed: [0, 0], messages });
  });
});

describe("FeedPublisher flush policy", () => {
  it("holds a turn's events and sends them together at the turn's end", async () => {
    const { sub, pub } = await startPair(22);
    const all = makeBooks(99);
    const books = all.filter((b) => b.instrument.market === "linear"); // both on one channel
    expect(books.length).toBe(2);
    const handles = books.map((b) => pub.register(b.instrument, b));
    for (let i = 0; i < books.length; i++) pub.publishSnapshot(handles[i]!, books[i]!);
    await nextTurn();
    for (const b of books) await waitFor(() => sub.book(b.instrument.instrumentId)?.valid === true, 5000, "snapshot received");
    const sentBefore = pub.counters.datagrams;
    const r = rng(5);
    for (let i = 0; i < books.length; i++) {
      const cs = new ChangeSet();
      randomChanges(r, books[i]!, cs, 4, 300_000);
      books[i]!.apply(cs, 77, T0);
      pub.publishDelta(handles[i]!, books[i]!, cs);
    }
    expect(pub.counters.datagrams - sentBefore).toBe(0); // nothing leaves inside the turn
    await nextTurn();
    expect(pub.counters.datagrams - sentBefore).toBe(1); // both events in one datagram, one flush
    for (const b of books) await waitFor(() => sub.book(b.instrument.instrumentId)?.venueSeq === 77, 5000, "delta received");
  });
});

describe("FeedPublisher flush: clock reads", () => {
  // HOT PATH cost (docs/performance.md §10): a flush reads the clock once for the datagrams' send time and once per
  // channel after its send (PublishChannel.lastSendMs, monotonic); the receipt → sent histogram ends at the last of
  // those (nowUsAtMonoMs), where it read the clock again before.
  it("reads performance.now() once for the send time and once per channel sent; receipt → sent ends at the last send", async () => {
    const cfg = publishConfig(28);
    const observedUs: number[] = [];
    const pub = new FeedPublisher({ publish: cfg, dropFilter: () => true, receiptToSend: { observe: (us) => observedUs.push(us) } });
    await pub.start();
    cleanups.push(() => pub.stop());
    const books = makeBooks(31); // one spot, two linear: both channels
    const handles = books.map((b) => pub.register(b.instrument, b));
    pub.flush(); // the definitions
    const r = rng(6);
    const cs = new ChangeSet();
    for (let i = 0; i < books.length; i++) {
      randomChanges(r, books[i]!, cs, 4, 300_000);
      books[i]!.apply(cs, 50 + i, T0 + i);
      pub.publishDelta(handles[i]!, books[i]!, cs);
    }
    const realNow = performance.now;
    const readsMs: number[] = [];
    performance.now = () => {
      const ms = realNow.call(performance);
      readsMs.push(ms);
      return ms;
    };
    try {
      pub.flush();
    } finally {
      performance.now = realNow;
    }
    expect(readsMs.length).toBe(1 + cfg.destinations.length);
    expect(observedUs).toEqual(books.map((b) => nowUsAtMonoMs(readsMs.at(-1)!) - b.tsRecvUs));
  });
});

describe("FeedPublisher receipt → sent", () => {
  it("counts only events sent by a started publisher's flush: not those published before start(), nor a book with no destination", async () => {
    const cfg = publishConfig(30);
    const observedUs: number[] = [];
    const pub = new FeedPublisher({ publish: cfg, dropFilter: () => true, receiptToSend: { observe: (us) => observedUs.push(us) } });
    cleanups.push(() => pub.stop());
    const [spot] = makeBooks(32);
    const nowhere = new TestBook(makeInstrument("okx", "spot", "BTC-USDT", 2, 6)); // matches neither destination
    const handle = pub.register(spot!.instrument, spot!);
    const nowhereHandle = pub.register(nowhere.instrument, nowhere);
    const cs = new ChangeSet();
    const r = rng(7);
    // Received before the publisher started (T0: a year before now), sent by start(): before, observed as ~a year.
    randomChanges(r, spot!, cs, 4, 300_000);
    spot!.apply(cs, 2, T0);
    pub.publishDelta(handle, spot!, cs);
    pub.publishSnapshot(handle, spot!);
    await pub.open();
    pub.publishDelta(handle, spot!, cs); // open, not started: the same
    await pub.start();
    expect(observedUs).toEqual([]);
    // Started: a book with no destination sends nothing (before: observed at the next flush), the spot book's event is.
    nowhere.apply(cs, 3, T0);
    pub.publishDelta(nowhereHandle, nowhere, cs);
    pub.flush();
    expect(observedUs).toEqual([]);
    pub.publishDelta(handle, spot!, cs);
    pub.flush();
    expect(observedUs).toHaveLength(1);
  });

  it("does not count an event none of whose datagrams the kernel took: refused, or skipped while its destination's route is gone", async () => {
    const cfg = publishConfig(34);
    const observedUs: number[] = [];
    const pub = new FeedPublisher({ publish: cfg, receiptToSend: { observe: (us) => observedUs.push(us) } });
    await pub.start();
    cleanups.push(() => pub.stop());
    // The monotonic clock stands still: the second flush comes within the route pause however slow the machine.
    const nowMs = performance.now();
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    cleanups.push(async () => void vi.restoreAllMocks());
    const [spot, linear] = makeBooks(35); // one per destination
    const spotHandle = pub.register(spot!.instrument, spot!);
    const linearHandle = pub.register(linear!.instrument, linear!);
    pub.flush();
    // The spot destination's route is gone (its socket a stand-in throwing ENETUNREACH); the linear one's is fine.
    const spotChannel = (pub as unknown as { channels: PublishChannel[] }).channels[0]!;
    expect(spotChannel.dest.name).toBe("spot");
    const real = spotChannel.socket!;
    let gone = true;
    spotChannel.socket = {
      sendMany(args: never) {
        if (gone) throw Object.assign(new Error("ENETUNREACH: network is unreachable, send"), { code: "ENETUNREACH" });
        return real.sendMany(args);
      },
      close: () => real.close(),
    } as never;
    const cs = new ChangeSet();
    const r = rng(36);
    const publish = (book: TestBook, handle: number, seq: number) => {
      randomChanges(r, book, cs, 4, 300_000);
      book.apply(cs, seq, T0);
      pub.publishDelta(handle, book, cs);
    };
    publish(spot!, spotHandle, 2); // refused
    publish(linear!, linearHandle, 2); // sent
    pub.flush();
    expect(observedUs).toHaveLength(1);
    expect(spotChannel.routeBackoffMs).toBeGreaterThan(0);
    publish(spot!, spotHandle, 3); // skipped: the pause
    pub.flush();
    expect(observedUs).toHaveLength(1);
    gone = false;
    spotChannel.tryNextSend();
    publish(spot!, spotHandle, 4);
    pub.flush();
    expect(spotChannel.routeBackoffMs).toBe(0);
    expect(observedUs).toHaveLength(2);
  });
});

/**
 * open() (the Feeder binds before its venues' REST), start() and stop() in any order. Before, a stop() during open()
 * left the sockets open() went on to bind open for good (stop() does not run twice), two open() calls at once bound
 * twice (the second failed on the retransmission port and closed the first's channels; the first's server kept its
 * port), and open() or start() after stop() bound again (start() sent heartbeats after the END_OF_SESSION).
 */
describe("FeedPublisher open(), start() and stop()", () => {
  const retx = (port: number): RetransmitConfig => ({ host: "127.0.0.1", port, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec: 100, bytesPerSec: 1 << 20, totalBytesPerSec: 1 << 20 });
  /** A UDP port on 127.0.0.1 free a moment ago. */
  async function freeUdpPort(): Promise<number> {
    const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const port = s.port;
    s.close();
    return port;
  }
  async function udpPortFree(port: number): Promise<boolean> {
    try {
      (await Bun.udpSocket({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      return false;
    }
  }
  type Internals = { channels: { socket: unknown; close(): void }[]; retransmitServer?: { stop(): void } };
  const socketsOf = (pub: FeedPublisher) => (pub as unknown as Internals).channels.map((ch) => ch.socket !== undefined);
  /** A publisher with two destinations and a retransmission server on `port`; whatever it leaves open is closed after. */
  function publisher(portOffset: number, port: number): FeedPublisher {
    const pub = new FeedPublisher({ publish: publishConfig(portOffset, { retransmit: retx(port) }) });
    cleanups.push(async () => {
      await pub.stop();
      const p = pub as unknown as Internals; // what a leak left open, so the next test can bind
      for (const ch of p.channels) ch.close();
      p.retransmitServer?.stop();
    });
    return pub;
  }

  it("a stop() while open() is under way: nothing stays bound, and open() resolves with nothing open", async () => {
    const port = await freeUdpPort();
    const pub = publisher(30, port);
    const opening = pub.open();
    await pub.stop();
    await opening;
    expect(socketsOf(pub)).toEqual([false, false]);
    expect(pub.retransmitAddress()).toBeUndefined();
    expect(await udpPortFree(port)).toBe(true); // old: held by the server open() bound after the stop
  });

  it("a stop() at each step of open() (each destination's socket, the retransmission server's bind) leaves nothing bound", async () => {
    // Each step's start is where stop() comes: the step's socket is asked for, not yet bound. Before, a stop() while
    // the server bound dropped its reference at once, and open() then closed nothing: its port stayed held (and the
    // server answered re-requests) for good after the END_OF_SESSION.
    const channelProto = PublishChannel.prototype as unknown as { open(): Promise<void> };
    const serverProto = RetransmitServer.prototype as unknown as { start(): Promise<void> };
    const channelOpen = channelProto.open;
    const serverStart = serverProto.start;
    try {
      for (const stopAt of [0, 1, 2]) {
        const port = await freeUdpPort();
        const pub = publisher(50 + 2 * stopAt, port);
        let step = 0;
        let stopping: Promise<void> | undefined;
        const atStep = <T>(started: T): T => {
          if (step++ === stopAt) stopping = pub.stop();
          return started;
        };
        channelProto.open = function (this: unknown) {
          return atStep(channelOpen.call(this));
        };
        serverProto.start = function (this: unknown) {
          return atStep(serverStart.call(this));
        };
        await pub.open();
        await stopping;
        expect(step).toBe(stopAt + 1); // open() went no further than the step it was stopped at
        expect(socketsOf(pub)).toEqual([false, false]);
        expect(pub.retransmitAddress()).toBeUndefined();
        expect(await udpPortFree(port)).toBe(true); // old (stopAt 2): held by the server stop() had let go of
      }
    } finally {
      channelProto.open = channelOpen;
      serverProto.start = serverStart;
    }
  });

  it("two open() calls at once bind once; stop() frees every socket", async () => {
    const port = await freeUdpPort();
    const pub = publisher(32, port);
    await Promise.all([pub.open(), pub.open(), pub.start()]); // old: the second failed (EADDRINUSE), the first's server leaked
    expect(socketsOf(pub)).toEqual([true, true]);
    expect(pub.retransmitAddress()).toEqual({ host: "127.0.0.1", port });
    await pub.stop();
    expect(socketsOf(pub)).toEqual([false, false]);
    expect(await udpPortFree(port)).toBe(true);
  });

  it("open() or start() after stop() is refused and binds nothing, stopped between open() and start() as after start()", async () => {
    for (const started of [false, true]) {
      const port = await freeUdpPort();
      const pub = publisher(started ? 36 : 34, port);
      await pub.open();
      if (started) await pub.start();
      await pub.stop();
      await expect(pub.start()).rejects.toThrow("publisher: open() after stop(): a stopped publisher does not open again; create a new one");
      await expect(pub.open()).rejects.toThrow("a stopped publisher does not open again");
      expect(socketsOf(pub)).toEqual([false, false]);
      expect(await udpPortFree(port)).toBe(true); // old: bound again (and start() sent heartbeats after the END_OF_SESSION)
      expect((pub as unknown as { started: boolean }).started).toBe(false);
    }
  });
});
