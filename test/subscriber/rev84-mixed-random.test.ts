/**
 * s-rev84: what no single randomized test mixes. One publisher's instruments on A/B channels (two streams of one
 * source, refreshed out of phase, reordered, lost), retransmission answers into the gaps, noise streams and
 * instruments over small table caps (eviction), publisher restarts (what the old session had in flight still
 * arriving), a forger replaying older snapshots of the real books on a stream of its own, and steps of the
 * subscriber's wall clock (test/support/stepped-wall-clock.ts) with its receive clock behind or ahead of the
 * publisher's. After every step: a valid book is the publisher's at its session and instrSeq, never behind one it
 * showed valid in that session (a book evicted starts over); every count equals a recount. Once the forger and the
 * noise stop and the publisher keeps refreshing, every real book is usable and the publisher's (never stuck).
 * The receive clock is the test's (mono-clock.ts monoEpochMs mocked; shownUs and checkWallClock real). Kept inside
 * docs/wire-protocol.md §6.6 item 3's stated limits: no datagram (late, replayed or queued) over 60 s old, and a
 * restarted run's backlog a few datagrams (a run never seen, arriving while the newest is stale, is a restart, §3.4).
 * Many seeds locally: N84=200 B84=1 (seeds B84 .. B84+N84-1).
 */
import { expect, it, vi } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { checkWallClock } from "../../src/subscriber/mono-clock.ts";
import type { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import type { SourceState, StreamState } from "../../src/subscriber/streams.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { markRetransmit } from "../../src/wire/retransmit.ts";
import { useSteppedWallClock } from "../support/stepped-wall-clock.ts";
import { levelsOf, makeInstrument, randomBookSides, randomChanges, rng, TestBook } from "../wire/helpers.ts";
import { packer, T0, take } from "./feed-harness.ts";

const clock = vi.hoisted(() => ({ nowMs: 1_764_000_000_000 }));
vi.mock("../../src/subscriber/mono-clock.ts", async (orig) => ({ ...(await orig<object>()), monoEpochMs: () => clock.nowMs }));
const wall = useSteppedWallClock();

const REAL_IDS = [1, 2, 3];
const NOISE_IDS = [11, 12, 13, 14, 15];
const MAX_STREAMS = 4;
const MAX_BOOKS = 5;
const HOUR_MS = 3_600_000;

interface Insides {
  streams: Map<number, StreamState>;
  streamTable: { sources: Map<number, SourceState>; idleSources: Map<number, SourceState> };
  recovery?: { pending: Map<number, { st: StreamState; held: Uint8Array[] }> };
}

function fail(what: string): never {
  throw new Error(what);
}

function run(seed: number, steps: number): { checkedValid: number; evicted: number; refused: number } {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const sub = new FeedSubscriber({
    groups: [],
    staleAfterMs: 1000,
    maxStreams: MAX_STREAMS,
    maxBooks: MAX_BOOKS,
    maxAssemblyLevels: 2000,
    retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 400, maxHeldDatagrams: 6, maxHeldDatagramsTotal: 10 },
  });
  const ins = sub as unknown as Insides;
  sub.on("error", () => {});
  // The publisher's clock against the receive clock: behind it, with it, or ahead by over SEND_AHEAD_MAX_US.
  const skewUs = pick([0, 150_000_000, -150_000_000, 2 * HOUR_MS * 1000]);
  const pubUs = (): number => clock.nowMs * 1000 + skewUs;
  const recvUs = (): number => clock.nowMs * 1000;
  let wallStepMs = 0;

  let session = 40;
  let startUs = pubUs();
  const newChannels = (): ChannelPacker[] =>
    [1, 2].map((channelId) => packer({ channelId, sourceId: 1, sessionId: session, sessionStartUs: startUs, maxBytes: 300, heartbeatIntervalMs: 100 }));
  let chans = newChannels();
  const pubs = new Map<number, TestBook>();
  const history = new Map<string, string>();
  const record = (b: TestBook) => history.set(`${session}:${b.instrument.instrumentId}:${b.instrSeq}`, JSON.stringify(levelsOf(b)));
  /** Snapshots already sent, per instrument: what the forger replays (older, its own stream, its send time). */
  const sentSnaps = new Map<number, { seq: number; book: TestBook; sendUs: number; session: number }[]>();
  const copy = (b: TestBook): TestBook => {
    const c = new TestBook(b.instrument);
    const l = levelsOf(b);
    c.load(l.bids, l.asks, b.venueSeq, T0);
    c.instrSeq = b.instrSeq;
    return c;
  };
  const queues: Uint8Array[][] = [[], []];
  const lost: Uint8Array[] = [];
  const late: { d: Uint8Array; sendUs: number }[] = [];
  const cs = new ChangeSet();
  const snapshotOn = (c: number, b: TestBook, refresh: boolean) => {
    packBookSnapshot(chans[c]!, b, 0, refresh);
    queues[c]!.push(...take(chans[c]!, pubUs()));
    const list = sentSnaps.get(b.instrument.instrumentId) ?? [];
    list.push({ seq: b.instrSeq, book: copy(b), sendUs: pubUs(), session });
    if (list.length > 12) list.shift();
    sentSnaps.set(b.instrument.instrumentId, list);
  };
  const loadRandom = (b: TestBook) => {
    const s = randomBookSides(r, 2 + Math.floor(r() * 30), 200_000);
    b.load(s.bids, s.asks, 1, T0);
    record(b);
  };
  for (const id of REAL_IDS) {
    const b = new TestBook({ ...makeInstrument("bybit", "linear", `R${id}`, 1, 3), instrumentId: id });
    b.instrSeq = 100;
    pubs.set(id, b);
    loadRandom(b);
    for (const c of [0, 1]) snapshotOn(c, b, false);
  }

  const noise = [3, 4, 5, 6].map((channelId) => ({ p: packer({ channelId, sourceId: 2 + channelId, sessionId: 1, maxBytes: 300, heartbeatIntervalMs: 100 }), books: new Map<number, TestBook>() }));
  const forger = packer({ channelId: 7, sourceId: 1, sessionId: session, sessionStartUs: startUs, maxBytes: 300, heartbeatIntervalMs: 100 });
  let forgerP = forger;

  const evicted = new Set<SubscriberBook>();
  let evictedCount = 0;
  sub.on("evict", (e) => {
    evicted.add(e.book);
    evictedCount++;
  });
  /** Per book object and session: the highest instrSeq it showed valid. */
  const shown = new Map<SubscriberBook, Map<number, number>>();
  let checkedValid = 0;

  const deliver = (d: Uint8Array) => {
    sub.ingest(d, recvUs());
  };
  const check = (ctx: string) => {
    for (const id of REAL_IDS) {
      const sb = sub.book(id);
      if (sb === undefined) continue;
      if (evicted.has(sb)) fail(`${ctx}: book ${id} evicted, still in the table`);
      if (!sb.valid) continue;
      checkedValid++;
      const want = history.get(`${sb.sessionId}:${id}:${sb.instrSeq}`);
      if (want === undefined) fail(`${ctx}: book ${id} valid at session ${sb.sessionId} instrSeq ${sb.instrSeq}, which the publisher never had`);
      if (JSON.stringify(levelsOf(sb)) !== want) fail(`${ctx}: book ${id} valid at ${sb.sessionId}:${sb.instrSeq} but not the publisher's`);
      const per = shown.get(sb) ?? new Map<number, number>();
      shown.set(sb, per);
      const top = per.get(sb.sessionId) ?? -1;
      if (sb.instrSeq < top) fail(`${ctx}: book ${id} went back in session ${sb.sessionId}: ${sb.instrSeq} after ${top}`);
      per.set(sb.sessionId, Math.max(top, sb.instrSeq));
    }
    // Recounts.
    if (ins.streams.size > MAX_STREAMS || sub.books.size > MAX_BOOKS) fail(`${ctx}: over a table's cap`);
    let levels = 0;
    let scratch = 0;
    for (const b of sub.books.values()) {
      levels += b.bidCount + b.askCount;
      scratch += b.scratchLevels * 2;
    }
    if (sub.bookLevels !== levels) fail(`${ctx}: bookLevels ${sub.bookLevels}, recount ${levels}`);
    if (sub.assemblyScratchLevels !== scratch) fail(`${ctx}: assemblyScratchLevels ${sub.assemblyScratchLevels}, recount ${scratch}`);
    let held = 0;
    for (const p of ins.recovery!.pending.values()) {
      held += p.held.length;
      if (ins.streams.get(p.st.key) !== p.st) fail(`${ctx}: a request open for a stream not in the table`);
    }
    if (sub.heldDatagrams !== held) fail(`${ctx}: heldDatagrams ${sub.heldDatagrams}, recount ${held}`);
    const counts = new Map<SourceState, number>();
    for (const st of ins.streams.values()) counts.set(st.source, (counts.get(st.source) ?? 0) + 1);
    for (const [id, src] of ins.streamTable.sources) if (src.streams !== (counts.get(src) ?? 0)) fail(`${ctx}: source ${id} stream count ${src.streams}`);
  };

  for (let step = 0; step < steps; step++) {
    const k = r();
    let what: string;
    if (k < 0.2) {
      what = "delta";
      const b = pubs.get(pick(REAL_IDS))!;
      randomChanges(r, b, cs, 8, 200_000);
      b.apply(cs, b.venueSeq + 1, T0);
      record(b);
      for (const c of [0, 1]) {
        packBookDelta(chans[c]!, b, cs);
        queues[c]!.push(...take(chans[c]!, pubUs()));
      }
    } else if (k < 0.26) {
      what = "refresh";
      snapshotOn(r() < 0.5 ? 0 : 1, pubs.get(pick(REAL_IDS))!, true); // each channel in its own phase
    } else if (k < 0.27) {
      what = "restart";
      session++;
      startUs = Math.max(pubUs(), startUs + 1000);
      chans = newChannels();
      for (const q of queues) q.splice(0, Math.max(0, q.length - 3)); // the old run's last few in flight, the rest lost
      for (const b of pubs.values()) {
        b.instrSeq = 1 + Math.floor(r() * 40);
        loadRandom(b);
        for (const c of [0, 1]) snapshotOn(c, b, false);
      }
      forgerP = packer({ channelId: 7, sourceId: 1, sessionId: session, sessionStartUs: startUs, maxBytes: 300, heartbeatIntervalMs: 100 });
    } else if (k < 0.5) {
      what = "arrive";
      const q = queues[r() < 0.5 ? 0 : 1]!;
      for (let n = 1 + Math.floor(r() * 4); n > 0; n--) {
        const d = r() < 0.05 && q.length > 2 ? q.splice(2, 1)[0] : q.shift(); // reordered now and then
        if (d === undefined) break;
        const x = r();
        if (x < 0.08) lost.push(d);
        else deliver(d);
        if (x > 0.93) late.push({ d, sendUs: pubUs() });
        if (lost.length > 30) lost.splice(0, 15);
        if (late.length > 30) late.splice(0, 15);
      }
    } else if (k < 0.55) {
      what = "answer";
      if (lost.length > 0) {
        const d = lost.splice(Math.floor(r() * lost.length), 1)[0]!.slice();
        markRetransmit(d, d.length, undefined);
        deliver(d);
      }
    } else if (k < 0.57) {
      what = "late";
      const l = late.length > 0 ? pick(late) : undefined;
      if (l !== undefined && pubUs() - l.sendUs < 50_000_000) deliver(l.d); // a lag past 60 s is §6.6's stated limit
    } else if (k < 0.62) {
      what = "forge older";
      // A real older snapshot of this session replayed on the forger's stream, its send time as it was.
      // Under 60 s old: older, a replay past h by 60 s proves h bogus where the publisher's clock is ahead (§6.6 item 3).
      const list = (sentSnaps.get(pick(REAL_IDS)) ?? []).filter((s) => s.session === session && pubUs() - s.sendUs < 50_000_000);
      if (list.length > 1) {
        const s = pick(list.slice(0, -1));
        packBookSnapshot(forgerP, s.book, 0, r() < 0.7);
        for (const d of take(forgerP, s.sendUs)) deliver(d);
      }
    } else if (k < 0.75) {
      what = "noise";
      const n = pick(noise);
      const id = pick(NOISE_IDS);
      let b = n.books.get(id);
      if (b === undefined || r() < 0.3) {
        b ??= new TestBook({ ...makeInstrument("bybit", "linear", `N${id}`, 1, 3), instrumentId: id });
        n.books.set(id, b);
        const s = randomBookSides(r, 1 + Math.floor(r() * 20), 100_000);
        b.load(s.bids, s.asks, 1, T0);
        if (r() < 0.2) packInstrumentDefinition(n.p, new EncodedDefinition(b.instrument), false);
        packBookSnapshot(n.p, b, 0, r() < 0.5);
      } else {
        randomChanges(r, b, cs, 10, 100_000);
        b.apply(cs, b.venueSeq + 1, T0);
        packBookDelta(n.p, b, cs);
      }
      for (const d of take(n.p, pubUs())) deliver(d);
    } else if (k < 0.8) {
      what = "heartbeats";
      for (const c of [0, 1]) {
        chans[c]!.appendHeartbeat(0);
        queues[c]!.push(...take(chans[c]!, pubUs()));
      }
    } else if (k < 0.9) {
      what = "time";
      clock.nowMs += pick([1, 20, 150, 600, 1500, 5000]); // no lag past 60 s: §6.6 item 3 states that limit
    } else if (k < 0.95) {
      what = "checks";
      sub.checkStale(clock.nowMs);
      sub.checkRecovery(clock.nowMs);
    } else if (k < 0.97) {
      what = "wall step";
      const ms = pick([HOUR_MS, -HOUR_MS, 5 * 60_000, -5 * 60_000]);
      wall.step(ms);
      wallStepMs += ms;
      checkWallClock();
    } else {
      what = "nothing";
    }
    check(`seed ${seed} step ${step} (${what})`);
  }

  // The forger and the noise stop; what was in flight arrives; the publisher keeps refreshing both channels.
  for (const c of [0, 1]) for (const d of queues[c]!.splice(0)) deliver(d);
  for (let round = 0; round < 4; round++) {
    clock.nowMs += 70_000; // past the send-ahead allowance and every request's timeout
    sub.checkStale(clock.nowMs);
    sub.checkRecovery(clock.nowMs);
    for (const b of pubs.values()) for (const c of [0, 1]) snapshotOn(c, b, true);
    for (const c of [0, 1]) for (const d of queues[c]!.splice(0)) deliver(d);
    check(`seed ${seed} refresh round ${round}`);
  }
  for (const [id, b] of pubs) {
    const sb = sub.book(id);
    const ctx = `seed ${seed} after the refreshes: book ${id}`;
    if (sb === undefined) fail(`${ctx} missing`);
    expect([sb.sessionId, sb.instrSeq, sb.usable], ctx).toEqual([session, b.instrSeq, true]);
    expect(levelsOf(sb), ctx).toEqual(levelsOf(b));
  }
  wall.step(-wallStepMs);
  checkWallClock(); // the shown clock back on the real wall clock for the next seed
  return { checkedValid, evicted: evictedCount, refused: sub.counters.olderSnapshots + sub.counters.staleSnapshots };
}

const N84 = Number(process.env.N84 ?? 0);
const B84 = Number(process.env.B84 ?? 1);
const SEEDS = N84 > 0 ? Array.from({ length: N84 }, (_, i) => B84 + i) : [1, 2];

it(`A/B channels, retransmission, eviction at small caps, restarts, a forger, wall steps: seeds ${SEEDS[0]}..${SEEDS.at(-1)}`, () => {
  let checkedValid = 0;
  let evicted = 0;
  let refused = 0;
  for (const seed of SEEDS) {
    const res = run(seed, 1000);
    checkedValid += res.checkedValid;
    evicted += res.evicted;
    refused += res.refused;
  }
  // The mix was exercised: valid books checked, books evicted, older snapshots refused.
  expect(checkedValid).toBeGreaterThan(500);
  expect(evicted).toBeGreaterThan(0);
  expect(refused).toBeGreaterThan(0);
}, 600_000);
