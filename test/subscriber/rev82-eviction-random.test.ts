/**
 * s-rev82: full stream and book tables under random interleavings of datagrams from more streams than the tables
 * hold (definitions, restarts, bogus sessions undone, late datagrams, losses and retransmission answers, END_OF_SESSION),
 * silence, stale checks, stop()/start() and eviction. After every step: no stream is evicted unless silent (by a
 * model of the rule: nothing heard for max(staleAfterMs, 3 × its heartbeat interval, 0 or over 60 s as 60 s) since
 * its last datagram or the last start(), seen so by a stale check) and silent longest, no book unless its stream is
 * so or gone; the `silent` flags are the model's; and every count (streams, books, bookLevels, assembly scratch,
 * held datagrams, each source's streams, the sources remembered, each source's list of books) equals a recount. The subscriber's clock is the
 * test's (mono-clock.ts mocked): silence is virtual time, no waiting.
 */
import { describe, it, vi } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import type { BookList } from "../../src/subscriber/book-list.ts";
import type { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import type { SourceState, StreamState } from "../../src/subscriber/streams.ts";
import { IDLE_SOURCES } from "../../src/subscriber/streams.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { PKT_FLAG_END_OF_SESSION } from "../../src/wire/layout.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { markRetransmit } from "../../src/wire/retransmit.ts";
import { makeInstrument, randomBookSides, randomChanges, rng, TestBook } from "../wire/helpers.ts";
import { packer, T0, take } from "./feed-harness.ts";

const clock = vi.hoisted(() => ({ nowMs: 1_764_000_000_000 }));
// The rest of the module as it is (FeedSubscriber's constructor calls followWallClock): only the silence clock mocked.
vi.mock("../../src/subscriber/mono-clock.ts", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../src/subscriber/mono-clock.ts")>()),
  monoEpochMs: () => clock.nowMs,
}));

const MAX_STREAMS = 5;
const MAX_BOOKS = 8;
const IDS = 12;
const HEARTBEATS_MS = [0, 1, 100, 1000, 65_535];

interface Actor {
  channelId: number;
  sourceId: number;
  sessionId: number;
  startUs: number;
  hbMs: number;
  p: ChannelPacker;
  books: Map<number, TestBook>;
}

/** What the test reads of the subscriber's insides (cold state only). */
interface Insides {
  streams: Map<number, StreamState>;
  streamTable: { sources: Map<number, SourceState>; idleSources: Map<number, SourceState> };
  instrumentBooks: { budget: { idle: BookList; parts: BookList; chunks: BookList }; sourceBooks: Map<number, BookList> };
  recovery?: { pending: Map<number, { st: StreamState; held: Uint8Array[] }>; ready: unknown[] };
}

/** Throws with `what` unless `cond` (cheaper than expect() per step and per entry). */
function ok(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

function eq(got: unknown, want: unknown, what: string): void {
  if (got !== want) throw new Error(`${what}: ${String(got)}, expected ${String(want)}`);
}

function listed(list: BookList): SubscriberBook[] {
  const out: SubscriberBook[] = [];
  for (let l = list.head; l !== null; l = l.next) out.push(l.book);
  return out;
}

async function run(seed: number, steps: number, withRetransmit: boolean, staleAfterMs: number | undefined): Promise<void> {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const sub = new FeedSubscriber({
    groups: [],
    staleAfterMs,
    maxStreams: MAX_STREAMS,
    maxBooks: MAX_BOOKS,
    ...(withRetransmit ? { retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 500, maxHeldDatagrams: 4, maxHeldDatagramsTotal: 6 } } : {}),
  });
  const ins = sub as unknown as Insides;
  const streams = ins.streams;
  const limitMs = (hbMs: number): number => Math.max(staleAfterMs ?? 0, 3 * (hbMs === 0 || hbMs > 60_000 ? 60_000 : hbMs));

  const actors: Actor[] = [];
  for (let i = 0; i < 10; i++) {
    const a = { channelId: 1 + (i % 3), sourceId: 1 + (i % 7), sessionId: 1, startUs: T0, hbMs: pick(HEARTBEATS_MS), books: new Map() } as Omit<Actor, "p">;
    actors.push({ ...a, p: packer({ ...a, maxBytes: 512, heartbeatIntervalMs: a.hbMs }) });
  }
  const lost: Uint8Array[] = [];
  const old: Uint8Array[] = [];
  const cs = new ChangeSet();

  // The model: which stream objects a stale check found silent, and since when the subscriber listens.
  let silent = new Set<StreamState>();
  let startedMs = -Infinity;
  let running = false;
  const evictedStreams: StreamState[] = [];
  const evictedBooks: SubscriberBook[] = [];
  let before = new Map<number, StreamState>();
  const recvBefore = new Map<StreamState, number>();
  sub.on("session", (e) => {
    if (e.kind === "evicted") evictedStreams.push(before.get(e.channelId * 65536 + e.sourceId)!);
  });
  // Judged when evicted: a replay of held datagrams (checkRecovery) may make the stream speak later in the same step.
  const silentWhenEvicted = new Set<SubscriberBook>();
  sub.on("evict", (e) => {
    evictedBooks.push(e.book);
    const st = streams.get(e.book.streamKey);
    if (st !== undefined && silent.has(st) && st.lastRecvMs === recvBefore.get(st)) silentWhenEvicted.add(e.book);
  });
  sub.on("error", () => {});

  const send = (datagrams: Uint8Array[]): void => {
    for (const d of datagrams) {
      const k = r();
      if (k < 0.08) lost.push(d);
      else sub.ingest(d, T0 + 50);
      if (k > 0.95) old.push(d);
    }
    if (lost.length > 40) lost.splice(0, 20);
    if (old.length > 40) old.splice(0, 20);
  };
  const speak = (a: Actor): void => {
    const k = r();
    const id = 1 + Math.floor(r() * IDS);
    const inst = makeInstrument("bybit", "linear", `I${id}`, 1, 3);
    let b = a.books.get(id);
    if (k < 0.05) {
      packInstrumentDefinition(a.p, new EncodedDefinition({ ...inst, instrumentId: id }), r() < 0.5);
    } else if (k < 0.3 || (k < 0.7 && b === undefined)) {
      b ??= new TestBook({ ...inst, instrumentId: id });
      a.books.set(id, b);
      const s = randomBookSides(r, 1 + Math.floor(r() * 40), 100_000);
      b.load(s.bids, s.asks, 1, T0);
      packBookSnapshot(a.p, b, 0, r() < 0.5);
    } else if (k < 0.7) {
      randomChanges(r, b!, cs, 30, 100_000);
      b!.apply(cs, 1, T0);
      packBookDelta(a.p, b!, cs);
    } else {
      a.p.appendHeartbeat(k > 0.97 ? PKT_FLAG_END_OF_SESSION : 0);
    }
    send(take(a.p));
  };

  const check = (step: string): void => {
    const ctx = `seed ${seed} ${step}`;
    // Heard since (lastRecvMs moved): no longer silent in the model.
    for (const st of silent) if (st.lastRecvMs !== recvBefore.get(st)) silent.delete(st);
    for (const v of evictedStreams) {
      ok(silent.has(v), `${ctx}: a stream evicted though not silent`);
      ok(streams.get(v.key) !== v, `${ctx}: an evicted stream still in the table`);
      for (const w of streams.values()) {
        if (silent.has(w) && w.lastRecvMs < v.lastRecvMs) throw new Error(`${ctx}: a stream evicted while one silent longer stayed`);
      }
    }
    for (const b of evictedBooks) {
      ok(sub.books.get(b.instrumentId) !== b, `${ctx}: an evicted book in the table`);
      ok(!(b.usable || b.bidCount + b.askCount > 0 || b.scratchLevels > 0), `${ctx}: an evicted book not emptied`);
      const was = before.get(b.streamKey);
      const fine = was === undefined || streams.get(b.streamKey) !== was || silent.has(was) || evictedStreams.includes(was) || silentWhenEvicted.has(b);
      ok(fine, `${ctx}: a book evicted though its stream is live`);
    }
    for (const v of evictedStreams) silent.delete(v);
    evictedStreams.length = 0;
    evictedBooks.length = 0;
    silentWhenEvicted.clear();
    for (const st of streams.values()) eq(st.silent, silent.has(st), `${ctx}: stream ${st.key} silent flag`);
    // Recounts.
    ok(streams.size <= MAX_STREAMS && sub.books.size <= MAX_BOOKS, `${ctx}: over a table's cap`);
    let levels = 0;
    let scratch = 0;
    for (const b of sub.books.values()) {
      ok(b.streamKey >= 0, `${ctx}: book ${b.instrumentId} of no stream (a full table takes it first)`);
      levels += b.bidCount + b.askCount;
      scratch += b.scratchLevels * 2;
      if (b.usable) {
        const st = streams.get(b.streamKey);
        ok(st !== undefined && !st.stale, `${ctx}: book ${b.instrumentId} usable without its stream live`);
      }
    }
    eq(sub.bookLevels, levels, `${ctx}: bookLevels`);
    eq(sub.assemblyScratchLevels, scratch, `${ctx}: assemblyScratchLevels`);
    const budget = ins.instrumentBooks.budget;
    for (const b of [...listed(budget.idle), ...listed(budget.parts), ...listed(budget.chunks)]) {
      eq(sub.books.get(b.instrumentId), b, `${ctx}: an assembly list holds a book not in the table`);
    }
    // Each source's list (what a new session, a stream's restart and a revert walk) is exactly the table's books of
    // that source, each once; a book carried by a stream is of that stream's source (the walks find it).
    const bySource = new Map<number, SubscriberBook[]>();
    for (const b of sub.books.values()) {
      if (b.streamKey >= 0) eq(b.streamKey % 65536, b.sourceId, `${ctx}: book ${b.instrumentId} carried by a stream of another source`);
      if (b.sourceId >= 0) bySource.set(b.sourceId, [...(bySource.get(b.sourceId) ?? []), b]);
    }
    const lists = ins.instrumentBooks.sourceBooks;
    eq(lists.size, bySource.size, `${ctx}: source lists`);
    for (const [id, want] of bySource) {
      const got = lists.get(id);
      ok(got !== undefined && got.head !== null, `${ctx}: source ${id} has books but no list`);
      const on = listed(got!);
      eq(on.length, want.length, `${ctx}: source ${id}'s list length`);
      for (const b of want) ok(on.includes(b), `${ctx}: book ${b.instrumentId} not on its source ${id}'s list`);
    }
    const rec = ins.recovery;
    if (rec !== undefined) {
      let held = 0;
      for (const p of rec.pending.values()) {
        held += p.held.length;
        eq(streams.get(p.st.key), p.st, `${ctx}: a request open for a stream not in the table`);
      }
      eq(sub.heldDatagrams, held, `${ctx}: heldDatagrams`);
      eq(rec.ready.length, 0, `${ctx}: requests left to replay`);
    }
    const { sources, idleSources } = ins.streamTable;
    const counts = new Map<SourceState, number>();
    for (const st of streams.values()) {
      eq(sources.get(st.sourceId), st.source, `${ctx}: stream ${st.key}'s source is not the one remembered`);
      counts.set(st.source, (counts.get(st.source) ?? 0) + 1);
    }
    for (const [id, src] of sources) {
      eq(src.streams, counts.get(src) ?? 0, `${ctx}: source ${id} stream count`);
      eq(idleSources.get(id), src.streams === 0 ? src : undefined, `${ctx}: source ${id} with no stream is remembered as such`);
    }
    for (const [id, src] of idleSources) eq(sources.get(id), src, `${ctx}: idle source ${id}`);
    ok(idleSources.size <= Math.max(IDLE_SOURCES, MAX_STREAMS), `${ctx}: idle sources over their bound`);
  };

  for (let step = 0; step < steps; step++) {
    before = new Map(streams);
    recvBefore.clear();
    for (const st of streams.values()) recvBefore.set(st, st.lastRecvMs);
    const k = r();
    let what: string;
    if (k < 0.45) {
      what = "speak";
      speak(pick(actors));
    } else if (k < 0.5) {
      what = "restart";
      const a = pick(actors);
      a.sessionId++;
      a.startUs += 1000;
      a.books.clear();
      a.p = packer({ channelId: a.channelId, sourceId: a.sourceId, sessionId: a.sessionId, sessionStartUs: a.startUs, maxBytes: 512, heartbeatIntervalMs: a.hbMs });
    } else if (k < 0.53) {
      what = "bogus session";
      const a = pick(actors);
      const p = packer({ channelId: 1 + Math.floor(r() * 4), sourceId: a.sourceId, sessionId: 99, sessionStartUs: a.startUs + 1e9, maxBytes: 512, heartbeatIntervalMs: pick(HEARTBEATS_MS) });
      p.appendHeartbeat(0);
      for (const d of take(p)) sub.ingest(d, T0 + 50);
    } else if (k < 0.57) {
      what = "late";
      if (old.length > 0) sub.ingest(pick(old), T0 + 50);
    } else if (k < 0.61) {
      what = "answer";
      if (lost.length > 0) {
        const d = pick(lost).slice();
        markRetransmit(d, d.length, undefined);
        sub.ingest(d, T0 + 50);
      }
    } else if (k < 0.76) {
      what = "time";
      clock.nowMs += pick([1, 50, 400, 1500, 70_000, 200_000]);
    } else if (k < 0.9) {
      what = "checkStale";
      sub.checkStale(clock.nowMs);
      for (const st of streams.values()) {
        if (clock.nowMs - Math.max(st.lastRecvMs, startedMs) >= limitMs(st.heartbeatIntervalMs)) silent.add(st);
      }
    } else if (k < 0.95) {
      what = "checkRecovery";
      sub.checkRecovery(clock.nowMs);
    } else if (!withRetransmit && k < 0.98) {
      what = running ? "stop" : "start";
      if (running) await sub.stop();
      else {
        await sub.start();
        startedMs = clock.nowMs;
        silent = new Set();
      }
      running = !running;
    } else {
      what = "nothing";
    }
    check(`step ${step} (${what})`);
  }
  if (running) await sub.stop();
}

describe("full tables under random interleavings: no live entry evicted, every count exact", () => {
  it("with retransmission (requests end with their evicted stream)", async () => {
    for (let seed = 1; seed <= 3; seed++) await run(seed, 1200, true, seed % 2 === 0 ? undefined : 1000);
  });

  it("with stop() and start() (silence counted from the last start)", async () => {
    for (let seed = 11; seed <= 13; seed++) await run(seed, 1200, false, seed % 2 === 0 ? undefined : 1000);
  });
});
