/**
 * Retransmission over real sockets on loopback (docs/wire-protocol.md §11): the publisher's ring and request server,
 * the subscriber's re-request. The refresh is off (snapshot_interval_ms 0) unless a test says otherwise, so a book
 * that becomes identical again after a loss was repaired by retransmission. Multicast groups 239.255.47.x, ports
 * from uniqueDestination(453), interface 127.0.0.1, TTL 1; this file only.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { PublishConfig, RetransmitConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { ANSWER_DATAGRAMS_PER_TURN } from "../../src/net/retransmit-server.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { PKT_FLAG_RETRANSMIT } from "../../src/wire/layout.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { levelsOf, makeInstrument, randomBookSides, randomChanges, rng, TestBook, waitFor } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const BASE_PORT = uniqueDestination(453).port; // below the ephemeral ports (test/support/destination.ts)
const T0 = 1_764_000_000_000_000;
const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x30 + i);
let portSeq = 0;

function retx(over: Partial<RetransmitConfig> = {}): RetransmitConfig {
  return { host: "127.0.0.1", port: 0, ringBytes: 1 << 20, allow: ["127.0.0.0/8"], requestsPerSec: 10_000, bytesPerSec: 1 << 28, totalBytesPerSec: 1 << 28, ...over };
}

function publishConfig(over: Partial<PublishConfig> = {}): PublishConfig {
  const port = BASE_PORT + portSeq++;
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 100,
    snapshotIntervalMs: 0,
    snapshotDepth: 0,
    destinations: [{ name: "all", group: "239.255.47.1", port, iface: "127.0.0.1", ttl: 1, channelId: 3, match: { venue: "*", market: "*", symbols: ["*"] } }],
    retransmit: retx(),
    ...over,
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface PairOptions {
  pub?: Partial<PublishConfig>;
  drop?: (seq: number) => boolean;
  authKey?: Uint8Array;
  subRetransmit?: boolean;
  timeoutMs?: number;
}

async function startPair(o: PairOptions = {}) {
  const cfg = publishConfig(o.pub);
  const drop = o.drop;
  const pub = new FeedPublisher({ publish: cfg, authKey: o.authKey, dropFilter: drop === undefined ? undefined : (_c, seq) => drop(seq) });
  await pub.start();
  cleanups.push(() => pub.stop());
  const addr = pub.retransmitAddress();
  const sub = new FeedSubscriber({
    groups: cfg.destinations.map((d) => ({ group: d.group!, port: d.port, iface: "127.0.0.1" })),
    staleAfterMs: 0,
    authKey: o.authKey,
    retransmit: o.subRetransmit === false || addr === undefined ? undefined : { host: addr.host, port: addr.port, timeoutMs: o.timeoutMs ?? 300 },
  });
  await sub.start();
  cleanups.push(() => sub.stop());
  return { cfg, pub, sub };
}

function makeBooks(seed: number): TestBook[] {
  const r = rng(seed);
  return [makeInstrument("bybit", "spot", "BTCUSDT", 2, 6), makeInstrument("bybit", "linear", "ETHUSDT", 1, 3)].map((inst) => {
    const b = new TestBook(inst);
    const s = randomBookSides(r, 80, 300_000);
    b.load(s.bids, s.asks, 1, T0);
    return b;
  });
}

async function drive(pub: FeedPublisher, books: TestBook[], handles: number[], events: number, seed: number, from = 0): Promise<void> {
  const r = rng(seed);
  const cs = new ChangeSet();
  for (let e = from; e < from + events; e++) {
    const k = e % books.length;
    randomChanges(r, books[k]!, cs, e % 13 === 0 ? 120 : 6, 300_000);
    books[k]!.apply(cs, 1000 + e, T0 + e);
    pub.publishDelta(handles[k]!, books[k]!, cs);
    if (e % 3 === 2) await nextTurn();
  }
  await nextTurn();
}

function identical(sub: FeedSubscriber, books: TestBook[]): boolean {
  return books.every((b) => {
    const sb = sub.book(b.instrument.instrumentId);
    if (sb === undefined || !sb.valid || sb.instrSeq !== b.instrSeq) return false;
    return JSON.stringify(levelsOf(sb)) === JSON.stringify(levelsOf(b));
  });
}

async function setUp(o: PairOptions, seed: number) {
  const p = await startPair(o);
  const books = makeBooks(seed);
  const handles = books.map((b) => p.pub.register(b.instrument, b));
  books.forEach((b, i) => p.pub.publishSnapshot(handles[i]!, b));
  await nextTurn();
  return { ...p, books, handles };
}

/**
 * Publishes and flushes one delta of book (handle) per call: six bids at fixed prices under 300,000, new quantities
 * each time, so every datagram has the same length; venueSeq counts on from venueSeqBase.
 */
function sixLevelDeltas(pub: FeedPublisher, book: TestBook, handle: number, venueSeqBase: number): () => void {
  const cs = new ChangeSet();
  let q = 1;
  return () => {
    cs.clear();
    for (let i = 0; i < 6; i++) cs.addBid(300_000 - 1 - i, q++);
    book.apply(cs, venueSeqBase + q, T0 + q);
    pub.publishDelta(handle, book, cs);
    pub.flush();
  };
}

/** Seeded loss of data datagrams after the first `keep` sequence numbers (definitions and snapshots arrive). */
function seededLoss(seed: number, rate: number, keep = 10): (seq: number) => boolean {
  const r = rng(seed);
  return (seq) => seq > keep && r() < rate;
}

describe("retransmission over loopback", { timeout: 20_000 }, () => {
  it("the subscriber asks for every lost range at once and its books become identical without any refresh", async () => {
    const { pub, sub, books, handles } = await setUp({ drop: seededLoss(5, 0.08) }, 1);
    await drive(pub, books, handles, 600, 2);
    await waitFor(() => identical(sub, books) && sub.retransmitsPending === 0, 8000, "books identical after retransmission");
    expect(pub.counters.droppedOnPurpose).toBeGreaterThan(5);
    expect(sub.counters.retransmitRequests).toBeGreaterThan(0);
    expect(sub.counters.retransmitRecovered).toBe(sub.counters.retransmitRequests);
    expect(sub.counters.retransmitFallbacks).toBe(0);
    expect(sub.counters.gaps).toBe(0); // every gap was filled: nothing was invalidated
    expect(sub.counters.retransmitDatagrams).toBeGreaterThanOrEqual(pub.counters.droppedOnPurpose);
    expect(pub.retransmitCounters!.answered).toBe(sub.counters.retransmitRequests);
    for (const b of books) expect(sub.book(b.instrument.instrumentId)!.usable).toBe(true);
  });

  it("without the retransmit option the same loss leaves the books invalid (the control for the test above)", async () => {
    const { pub, sub, books, handles } = await setUp({ drop: seededLoss(5, 0.08), subRetransmit: false }, 1);
    await drive(pub, books, handles, 600, 2);
    await waitFor(() => sub.counters.gaps > 0 && sub.streamInfo()[0]?.nextSeq === pub.channelInfo()[0]!.nextSeq, 8000, "all seen");
    expect(identical(sub, books)).toBe(false);
    expect(sub.counters.retransmitRequests).toBe(0);
  });

  it("with HMAC: answers are signed and verify; an unsigned request is refused unanswered", async () => {
    const { pub, sub, books, handles } = await setUp({ drop: seededLoss(9, 0.05), authKey: KEY }, 3);
    await drive(pub, books, handles, 300, 4);
    await waitFor(() => identical(sub, books) && sub.retransmitsPending === 0, 8000, "books identical after retransmission");
    expect(sub.counters.retransmitRecovered).toBeGreaterThan(0);
    expect(sub.counters.errors).toBe(0);
    const before = pub.retransmitCounters!.badRequests;
    const sock = dgram.createSocket("udp4");
    cleanups.push(() => new Promise<void>((res) => sock.close(() => res())));
    const out = new Uint8Array(64);
    const n = encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: pub.sessionId, seqNum: 1, count: 1, firstAvailable: 0, nextSeq: 0 });
    sock.send(out.subarray(0, n), pub.retransmitAddress()!.port, "127.0.0.1");
    const forged = new Uint8Array(64);
    const m = encodeRetxControl(forged, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: pub.sessionId, seqNum: 1, count: 1, firstAvailable: 0, nextSeq: 0 }, new DatagramAuth(new Uint8Array(32).fill(7)));
    sock.send(forged.subarray(0, m), pub.retransmitAddress()!.port, "127.0.0.1");
    await waitFor(() => pub.retransmitCounters!.badRequests === before + 2, 3000, "both refused");
    expect(pub.retransmitCounters!.answered).toBe(sub.counters.retransmitRequests);
  });

  it("a range no longer in the ring is answered OUT_OF_RANGE: the subscriber falls back and the refresh repairs", async () => {
    // 64 KiB ring; the datagrams from seq 40 to 800 are lost: the gap's start has left the ring by the time the
    // first datagram after it reveals it.
    const { pub, sub, books, handles } = await setUp({ pub: { retransmit: retx({ ringBytes: 65_536 }) }, drop: (seq) => seq >= 40 && seq < 800 }, 5);
    await drive(pub, books, handles, 1200, 6);
    await waitFor(() => sub.counters.retransmitFallbacks > 0, 8000, "fallback");
    expect(pub.retransmitCounters!.outOfRange).toBeGreaterThan(0);
    expect(sub.counters.retransmitRefused).toBeGreaterThan(0);
    expect(sub.counters.gaps).toBeGreaterThan(0);
    await waitFor(() => sub.retransmitsPending === 0, 3000, "no request pending");
    pub.refreshAll();
    await waitFor(() => identical(sub, books), 8000, "refresh repairs");
  });

  it("requests from outside publish.retransmit.allow are dropped unanswered: the subscriber times out and falls back", async () => {
    const { pub, sub, books, handles } = await setUp({ pub: { retransmit: retx({ allow: ["10.0.0.0/8"] }) }, drop: (seq) => seq >= 30 && seq < 40, timeoutMs: 50 }, 7);
    await drive(pub, books, handles, 100, 8);
    await waitFor(() => sub.counters.retransmitTimeouts > 0, 8000, "timeout");
    expect(pub.retransmitCounters!.refusedNetwork).toBeGreaterThan(0);
    expect(pub.retransmitCounters!.answered).toBe(0);
    expect(sub.counters.retransmitFallbacks).toBe(1);
    expect(sub.counters.gaps).toBe(1);
  });

  it("a requester over its request rate is answered THROTTLED and falls back", async () => {
    const { pub, sub, books, handles } = await setUp({ pub: { retransmit: retx({ requestsPerSec: 1 }) }, drop: seededLoss(11, 0.1) }, 9);
    await drive(pub, books, handles, 400, 10);
    await waitFor(() => pub.retransmitCounters!.throttled > 0 && sub.counters.retransmitRefused > 0, 8000, "throttled");
    // The bucket holds one request and refills one per second: most requests are refused.
    expect(pub.retransmitCounters!.answered).toBeLessThan(sub.counters.retransmitRequests);
    expect(sub.counters.retransmitRecovered).toBeLessThanOrEqual(pub.retransmitCounters!.answered);
  });
});

describe("the retransmit ring on the live path", { timeout: 20_000 }, () => {
  it("a flush copies its datagrams into the ring without making a view per datagram, and the copies still repair a loss", async () => {
    // Six fixed levels per delta: every datagram has the same length, so once warm the send path has every
    // exact-length view it needs and no view is made for any reason but the ring's (before: src.subarray per push).
    let lose = -1;
    const { pub, sub, books, handles } = await setUp({ drop: (seq) => seq === lose }, 13);
    const delta = sixLevelDeltas(pub, books[0]!, handles[0]!, 5000);
    for (let i = 0; i < 20; i++) delta(); // warm
    const subarray = Uint8Array.prototype.subarray;
    let views = 0;
    Uint8Array.prototype.subarray = function (this: Uint8Array, ...args: [number?, number?]) {
      views++;
      return subarray.apply(this, args);
    } as typeof subarray;
    try {
      for (let i = 0; i < 200; i++) delta();
    } finally {
      Uint8Array.prototype.subarray = subarray;
    }
    expect(pub.retransmitHistory()[0]!.datagrams).toBeGreaterThan(200);
    expect(views).toBe(0);
    // The ring's copies are whole datagrams: a lost one is answered from them and the book is identical again.
    lose = pub.channelInfo()[0]!.nextSeq;
    for (let i = 0; i < 3; i++) delta();
    await waitFor(() => identical(sub, books) && sub.retransmitsPending === 0, 8000, "books identical after retransmission");
    expect(pub.counters.droppedOnPurpose).toBe(1);
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sub.counters.gaps).toBe(0);
  });
});

describe("a large answer and the live feed", { timeout: 20_000 }, () => {
  it("an answer of 600 datagrams goes out a bounded slice per turn, live datagrams between the slices, all of it in order", async () => {
    // The server runs on the publisher's thread. It sent a whole answer in one turn: a request for a ring's worth
    // (thousands of datagrams) held every live datagram behind it (~100 ms for ~5,900 on the project's VM).
    const { pub, books, handles } = await setUp({ subRetransmit: false }, 15);
    const delta = sixLevelDeltas(pub, books[0]!, handles[0]!, 9000);
    const firstSeq = pub.channelInfo()[0]!.nextSeq;
    const ANSWER = 600;
    for (let i = 0; i < ANSWER; i++) delta(); // one datagram each (~200 B: the whole answer fits a receive buffer)
    const requester = dgram.createSocket("udp4");
    cleanups.push(() => new Promise<void>((res) => requester.close(() => res())));
    const got: { seq: number; flags: number }[] = [];
    requester.on("message", (msg) => {
      const d = decodeDatagram(new Uint8Array(msg), 1400);
      if (d.ok) got.push({ seq: d.packet.seqNum, flags: d.packet.flags });
      else got.push({ seq: -1, flags: 0 });
    });
    await new Promise<void>((res) => requester.bind(0, "127.0.0.1", () => res()));
    const out = new Uint8Array(64);
    const n = encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: pub.sessionId, seqNum: firstSeq, count: ANSWER, firstAvailable: 0, nextSeq: 0 });
    requester.send(out.subarray(0, n), pub.retransmitAddress()!.port, "127.0.0.1");
    // From the request on, one live delta per turn: what the server had sent when each live datagram went.
    const sentAtLive: number[] = [];
    for (let turns = 0; pub.retransmitCounters!.datagrams < ANSWER && turns < 200_000; turns++) {
      delta();
      sentAtLive.push(pub.retransmitCounters!.datagrams);
      await nextTurn();
    }
    sentAtLive.push(pub.retransmitCounters!.datagrams);
    expect(pub.retransmitCounters!.answered).toBe(1);
    const slices = sentAtLive.map((n, i) => n - (sentAtLive[i - 1] ?? 0)).filter((n) => n > 0);
    // Before: [600], the whole answer between two live datagrams.
    expect(Math.max(...slices)).toBeLessThanOrEqual(ANSWER_DATAGRAMS_PER_TURN);
    expect(slices.reduce((a, b) => a + b, 0)).toBe(ANSWER);
    // Every datagram of the range, once, in order, flagged RETRANSMIT (and verified by the decoder's CRC).
    await waitFor(() => got.length === ANSWER, 5000, "the whole answer");
    expect(got.map((g) => g.seq)).toEqual(Array.from({ length: ANSWER }, (_, i) => firstSeq + i));
    expect(got.every((g) => (g.flags & PKT_FLAG_RETRANSMIT) !== 0)).toBe(true);
    expect(pub.retransmitCounters!.sendErrors).toBe(0);
  });
});
