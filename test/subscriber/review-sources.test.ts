/**
 * Review of the receiving side (s-rev8): source ids. A subscriber orders sessions per source id (docs/wire-protocol.md
 * §3.4, §6.2): a newer session of a source supersedes every book of its older ones, whatever channel, so that a
 * restarted publisher that moved an instrument cannot leave the old book usable. Two live publisher processes with
 * one source id on different channels (two feeders with the default publish.source_id 0 on their own groups: the
 * start-up check only guards a process's own streams) therefore made the older process's books never usable again
 * — superseded, every later message dropped as an older session's — and said nothing. The subscriber cannot tell
 * which process a book belongs to; it now names the conflict (an 'error' event and `sharedSourceIds`) once an
 * older session keeps sending SHARED_SOURCE_AFTER_MS after the newer one took over (read and sent that late: a stall
 * of the subscriber's thread between a restart's datagrams is no second publisher). Datagrams from the real packer
 * and encoders through ingest, with receive times 100 ms apart.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { PKT_FLAG_END_OF_SESSION } from "../../src/wire/layout.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import type { SubscriberErrorEvent } from "../../src/subscriber/index.ts";
import { levelsOf, makeInstrument, randInt, randomBookSides, randomChanges, rng, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const A = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const B = makeInstrument("okx", "linear", "BTC-USDT-SWAP", 1, 3);

function book(inst: typeof A): TestBook {
  const b = new TestBook(inst);
  b.load([[943503, 1500]], [[943504, 250]], 1, T0);
  return b;
}

function delta(b: TestBook, q: number): ChangeSet {
  const cs = new ChangeSet();
  cs.addBid(943503, q);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

function start(p: ChannelPacker, b: TestBook): void {
  packInstrumentDefinition(p, new EncodedDefinition(b.instrument), false);
  packBookSnapshot(p, b, 0, false);
}

describe("review: one source id, two live publishers", () => {
  it("is named once (an error event, sharedSourceIds) when the older session keeps sending a second after the newer one took over", () => {
    const sub = newSubscriber();
    const errors: SubscriberErrorEvent[] = [];
    sub.on("error", (e) => errors.push(e));
    const p1 = packer({ channelId: 1, sourceId: 0, sessionId: 100, sessionStartUs: T0 }); // the bybit feeder
    const p2 = packer({ channelId: 2, sourceId: 0, sessionId: 200, sessionStartUs: T0 + 1_000_000 }); // the okx feeder, started later
    const a = book(A);
    const b = book(B);
    start(p1, a);
    start(p2, b);
    let nowUs = T0 + 5_000_000;
    for (const d of take(p1, nowUs)) sub.ingest(d, nowUs);
    for (const d of take(p2, nowUs)) sub.ingest(d, nowUs);
    for (let i = 0; i < 30; i++) {
      nowUs += 100_000;
      packBookDelta(p1, a, delta(a, 10 + i));
      for (const d of take(p1, nowUs)) sub.ingest(d, nowUs);
      packBookDelta(p2, b, delta(b, 10 + i));
      for (const d of take(p2, nowUs)) sub.ingest(d, nowUs);
    }
    expect(sub.counters.sharedSourceIds).toBe(1);
    expect(errors.map((e) => e.error.message)).toEqual([expect.stringMatching(/^two publishers share source id 0: channel 1 still sends session 100 .* after channel 2 brought the newer session 200/)]);
    expect(sub.book(B.instrumentId)!.usable).toBe(true);
    expect(sub.book(A.instrumentId)!.usable).toBe(false); // what the message says: the subscriber cannot keep both
  });

  it("a real restart's late datagrams of the dead session are not taken for another publisher", () => {
    const sub = newSubscriber();
    const errors: SubscriberErrorEvent[] = [];
    sub.on("error", (e) => errors.push(e));
    const o1 = packer({ channelId: 1, sessionId: 100, sessionStartUs: T0 });
    const o2 = packer({ channelId: 2, sessionId: 100, sessionStartUs: T0 });
    const a = book(A);
    const b = book(B);
    start(o1, a);
    start(o2, b);
    let nowUs = T0 + 5_000_000;
    for (const d of [...take(o1), ...take(o2)]) sub.ingest(d, nowUs);
    packBookDelta(o2, b, delta(b, 5));
    packBookDelta(o2, b, delta(b, 6));
    const late = take(o2); // still in channel 2's socket buffer when the new process's first datagrams arrive
    const n1 = packer({ channelId: 1, sessionId: 300, sessionStartUs: T0 + 4_000_000 });
    const n2 = packer({ channelId: 2, sessionId: 300, sessionStartUs: T0 + 4_000_000 });
    const na = book(A);
    const nb = book(B);
    start(n1, na);
    start(n2, nb);
    nowUs += 2_000_000;
    for (const d of take(n1)) sub.ingest(d, nowUs);
    for (const d of late) sub.ingest(d, nowUs + 3_000);
    for (const d of take(n2)) sub.ingest(d, nowUs + 4_000);
    for (let i = 0; i < 30; i++) {
      nowUs += 100_000;
      packBookDelta(n1, na, delta(na, 10 + i));
      packBookDelta(n2, nb, delta(nb, 10 + i));
      for (const d of [...take(n1), ...take(n2)]) sub.ingest(d, nowUs);
    }
    expect(sub.counters.sharedSourceIds).toBe(0);
    expect(errors).toEqual([]);
    expect(sub.book(A.instrumentId)!.usable).toBe(true);
    expect(sub.book(B.instrumentId)!.usable).toBe(true);
  });

  it("a stall of this thread between a restart's first datagram and the dead session's late ones is no second publisher", () => {
    const sub = newSubscriber();
    const errors: SubscriberErrorEvent[] = [];
    sub.on("error", (e) => errors.push(e));
    const o1 = packer({ channelId: 1, sessionId: 100, sessionStartUs: T0 });
    const o2 = packer({ channelId: 2, sessionId: 100, sessionStartUs: T0 });
    const a = book(A);
    const b = book(B);
    start(o1, a);
    start(o2, b);
    let nowUs = T0 + 5_000_000;
    for (const d of [...take(o1, nowUs), ...take(o2, nowUs)]) sub.ingest(d, nowUs);
    packBookDelta(o2, b, delta(b, 5));
    const late = take(o2, nowUs + 100_000); // its last datagram: still queued in channel 2's socket when it is read
    // The restarted process (its session starts after the old one died) sends on both channels.
    const n1 = packer({ channelId: 1, sessionId: 300, sessionStartUs: T0 + 6_000_000 });
    const n2 = packer({ channelId: 2, sessionId: 300, sessionStartUs: T0 + 6_000_000 });
    const na = book(A);
    const nb = book(B);
    start(n1, na);
    start(n2, nb);
    nowUs = T0 + 7_000_000;
    for (const d of take(n1, nowUs)) sub.ingest(d, nowUs);
    packBookDelta(n1, na, delta(na, 9)); // a second datagram: the newer session is confirmed (§6.2)
    for (const d of take(n1, nowUs)) sub.ingest(d, nowUs);
    expect(sub.counters.superseded).toBeGreaterThan(0);
    // A 4 s stall (a slow listener of the restart's events) before channel 2's socket is read: the dead session's
    // datagram is read 4 s after the newer session was adopted (the bound is 3 heartbeat intervals: 3 s here), but
    // it was sent before that session began.
    for (const d of late) sub.ingest(d, nowUs + 4_000_000);
    for (const d of take(n2, nowUs)) sub.ingest(d, nowUs + 4_001_000);
    for (let i = 0; i < 5; i++) {
      nowUs += 100_000;
      packBookDelta(n1, na, delta(na, 10 + i));
      packBookDelta(n2, nb, delta(nb, 10 + i));
      for (const d of [...take(n1, nowUs), ...take(n2, nowUs)]) sub.ingest(d, nowUs + 4_001_000);
    }
    expect(sub.counters.oldSessionDatagrams + sub.counters.oldSessionMessages).toBeGreaterThan(0); // it was read, and dropped
    expect(errors).toEqual([]);
    expect(sub.counters.sharedSourceIds).toBe(0);
    expect(sub.book(A.instrumentId)!.usable).toBe(true);
    expect(sub.book(B.instrumentId)!.usable).toBe(true);
  });

  it("a second publisher on a host whose clock runs an hour behind is named too (its own clock says it kept sending)", () => {
    // s-rev25: with the send time judged against the newer session's start alone (the other host's clock), the
    // process whose clock runs behind never sent "after" it, and its books went dark at every subscriber unnamed.
    const sub = newSubscriber();
    const errors: SubscriberErrorEvent[] = [];
    sub.on("error", (e) => errors.push(e));
    const behindUs = 3_600_000_000;
    const p1 = packer({ channelId: 1, sourceId: 0, sessionId: 100, sessionStartUs: T0 - behindUs }); // its clock: an hour behind
    const p2 = packer({ channelId: 2, sourceId: 0, sessionId: 200, sessionStartUs: T0 + 1_000_000 });
    const a = book(A);
    const b = book(B);
    start(p1, a);
    start(p2, b);
    let nowUs = T0 + 5_000_000;
    for (const d of take(p1, nowUs - behindUs)) sub.ingest(d, nowUs);
    for (const d of take(p2, nowUs)) sub.ingest(d, nowUs);
    for (let i = 0; i < 40; i++) {
      nowUs += 100_000;
      packBookDelta(p1, a, delta(a, 10 + i));
      for (const d of take(p1, nowUs - behindUs)) sub.ingest(d, nowUs);
      packBookDelta(p2, b, delta(b, 10 + i));
      for (const d of take(p2, nowUs)) sub.ingest(d, nowUs);
    }
    expect(sub.counters.sharedSourceIds).toBe(1);
    expect(errors.map((e) => e.error.message)).toEqual([expect.stringMatching(/^two publishers share source id 0: channel 1 still sends session 100 /)]);
  });
});

describe("s-subrd: an instrument that moves to another source across a restart", () => {
  // workers (or shards) changed between two runs split the ids anew: BTCUSDT was worker 1's (source 1) and is worker
  // 2's (source 2) after the restart; each worker draws its own session, worker 2's a few µs before worker 1's.
  for (const order of ["the old source's new session first", "the new source's session first"] as const) {
    it(`is usable from the source that now publishes it (${order})`, () => {
      const sub = newSubscriber();
      const w1 = packer({ channelId: 1, sourceId: 1, sessionId: 100, sessionStartUs: T0 });
      const a = book(A);
      const b = book(B);
      start(w1, a);
      start(w1, b);
      let nowUs = T0 + 5_000_000;
      for (const d of take(w1, nowUs)) sub.ingest(d, nowUs);
      expect(sub.book(A.instrumentId)!.usable).toBe(true);
      const n1 = packer({ channelId: 1, sourceId: 1, sessionId: 301, sessionStartUs: T0 + 10_000_007 }); // keeps B
      const n2 = packer({ channelId: 1, sourceId: 2, sessionId: 302, sessionStartUs: T0 + 10_000_003 }); // takes A
      const na = book(A);
      const nb = book(B);
      start(n1, nb);
      start(n2, na);
      nowUs = T0 + 11_000_000;
      // A run of source 2 older than the one that carried A last (it had A before the run before): still refused.
      const old2 = packer({ channelId: 1, sourceId: 2, sessionId: 50, sessionStartUs: T0 - 1_000_000 });
      start(old2, book(A));
      const late = take(old2, T0 - 500_000);
      const first = order === "the old source's new session first" ? [...take(n1, nowUs), ...late, ...take(n2, nowUs)] : [...take(n2, nowUs), ...take(n1, nowUs)];
      for (const d of first) {
        sub.ingest(d, nowUs);
        if (late.includes(d)) expect(sub.book(A.instrumentId)!.sourceId).toBe(1); // not taken by the older run
      }
      for (let i = 0; i < 5; i++) {
        nowUs += 100_000;
        packBookDelta(n1, nb, delta(nb, 10 + i));
        packBookDelta(n2, na, delta(na, 10 + i));
        for (const d of [...take(n1, nowUs), ...take(n2, nowUs)]) sub.ingest(d, nowUs);
      }
      const what = `${order}: superseded ${sub.counters.superseded}, old-session messages ${sub.counters.oldSessionMessages}`;
      expect(sub.book(B.instrumentId)!.usable, what).toBe(true);
      // Old (the old source's new session first): A superseded to source 1's new session, which never carried it;
      // source 2's session, a few µs older, then had every message of A dropped as an older session's, for good.
      expect(sub.book(A.instrumentId)!.usable, what).toBe(true);
      expect(sub.book(A.instrumentId)!.sourceId, what).toBe(2);
    });
  }
});

describe("s-rdsubrd: a run before the one that walked the book, its datagrams delayed", () => {
  // Run 1: BTCUSDT is source 1's. Run 2 moves it to source 2, whose datagrams are held on the way (a receive buffer,
  // a retransmission request). Run 3 moves it back to source 1, which restarts again before sending it. The held
  // datagrams of run 2 (sent before run 3 began) then arrive, before any of source 2's run 3: its session is newer
  // than run 1's (the last that sent the book), but run 2 is over.
  it("does not take the book: a datagram sent before the book's source's current run began is of a run before it", () => {
    const sub = newSubscriber();
    const w1 = packer({ channelId: 1, sourceId: 1, sessionId: 100, sessionStartUs: T0 });
    start(w1, book(A));
    start(w1, book(B));
    for (const d of take(w1, T0 + 1_000_000)) sub.ingest(d, T0 + 1_000_000);
    expect(sub.book(A.instrumentId)!.usable).toBe(true);
    // Run 2 (T0 + 10 s): source 1 keeps B, source 2 takes A with other levels.
    const r2s1 = packer({ channelId: 1, sourceId: 1, sessionId: 201, sessionStartUs: T0 + 10_000_007 });
    const r2s2 = packer({ channelId: 1, sourceId: 2, sessionId: 202, sessionStartUs: T0 + 10_000_003 });
    start(r2s1, book(B));
    const run2A = new TestBook(A);
    run2A.load([[943000, 7]], [[944000, 9]], 1, T0 + 10_500_000);
    start(r2s2, run2A);
    for (const d of take(r2s1, T0 + 10_500_000)) sub.ingest(d, T0 + 10_500_000);
    const held = take(r2s2, T0 + 10_500_000);
    // Run 3 (T0 + 20 s): A back to source 1, whose first datagram carries B only.
    const r3s1 = packer({ channelId: 1, sourceId: 1, sessionId: 301, sessionStartUs: T0 + 20_000_005 });
    start(r3s1, book(B));
    let nowUs = T0 + 20_500_000;
    for (const d of take(r3s1, nowUs)) sub.ingest(d, nowUs);
    for (const d of held) sub.ingest(d, nowUs);
    const x = sub.book(A.instrumentId)!;
    // Before: taken by run 2's session (newer than run 1's), its snapshot loaded: usable with a dead run's levels.
    expect(x.usable, `A on session ${x.sessionId}`).toBe(false);
    expect(x.sessionId).toBe(301);
    // Source 1's run 3 then sends A: usable from it.
    const run3A = new TestBook(A);
    run3A.load([[943100, 3]], [[943900, 4]], 1, nowUs);
    start(r3s1, run3A);
    nowUs += 100_000;
    for (const d of take(r3s1, nowUs)) sub.ingest(d, nowUs);
    expect(x.usable).toBe(true);
    expect(levelsOf(x)).toEqual(levelsOf(run3A));
  });
});

describe("s-rdsubrd: the new owner sent the book before the old source's new session started", () => {
  // The cost of the bound above: worker 2 started (and sent BTCUSDT) before worker 1's new session began. That message
  // may be a held run's, so it is dropped; worker 2's next message, sent after, takes the book, its refresh loads it.
  it("drops that message, takes the book at the next one and is usable at its refresh", () => {
    const sub = newSubscriber();
    const w1 = packer({ channelId: 1, sourceId: 1, sessionId: 100, sessionStartUs: T0 });
    start(w1, book(A));
    start(w1, book(B));
    for (const d of take(w1, T0 + 1_000_000)) sub.ingest(d, T0 + 1_000_000);
    const n1 = packer({ channelId: 1, sourceId: 1, sessionId: 301, sessionStartUs: T0 + 10_200_000 }); // keeps B
    const n2 = packer({ channelId: 1, sourceId: 2, sessionId: 302, sessionStartUs: T0 + 10_000_000 }); // takes A
    const na = book(A);
    start(n1, book(B));
    start(n2, na);
    const early = take(n2, T0 + 10_100_000); // sent before n1 began
    const nowUs = T0 + 10_300_000;
    for (const d of [...take(n1, nowUs), ...early]) sub.ingest(d, nowUs);
    const x = sub.book(A.instrumentId)!;
    expect(x.sessionId).toBe(301);
    packBookDelta(n2, na, delta(na, 11));
    for (const d of take(n2, nowUs + 100_000)) sub.ingest(d, nowUs + 100_000);
    expect(x.sessionId).toBe(302);
    expect(x.usable).toBe(false); // a delta of a session it has no snapshot of
    packBookSnapshot(n2, na, 0, true);
    for (const d of take(n2, nowUs + 200_000)) sub.ingest(d, nowUs + 200_000);
    expect(x.usable).toBe(true);
    expect(levelsOf(x)).toEqual(levelsOf(na));
  });
});

describe("s-rdsubrd: a re-split across a restart whose host clock stepped back", () => {
  // Run 1 ended (END_OF_SESSION on both workers' streams); the host clock then stepped back a minute, so run 2's
  // sessions start before run 1's (taken as clock-step restarts, §3.4). BUSDT moves to worker 1, AUSDT to worker 2,
  // whose session starts a few µs before worker 1's.
  it("the book follows its new owner: its session is older than the last one that sent the book, by the stepped clock", () => {
    const sub = newSubscriber();
    const X = makeInstrument("bybit", "linear", "AUSDT", 1, 3);
    const Y = makeInstrument("bybit", "linear", "BUSDT", 1, 3);
    const w1 = packer({ channelId: 1, sourceId: 1, sessionId: 100, sessionStartUs: T0 + 10_000_000 });
    const w2 = packer({ channelId: 1, sourceId: 2, sessionId: 200, sessionStartUs: T0 + 10_000_004 });
    start(w1, book(X));
    start(w2, book(Y));
    let nowUs = T0 + 11_000_000;
    for (const d of [...take(w1, nowUs), ...take(w2, nowUs)]) sub.ingest(d, nowUs);
    for (const p of [w1, w2]) p.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
    nowUs += 1_000_000;
    for (const d of [...take(w1, nowUs), ...take(w2, nowUs)]) sub.ingest(d, nowUs);
    const runUs = T0 + 20_000_000 - 60_000_000; // the stepped clock
    const n1 = packer({ channelId: 1, sourceId: 1, sessionId: 301, sessionStartUs: runUs + 7 });
    const n2 = packer({ channelId: 1, sourceId: 2, sessionId: 302, sessionStartUs: runUs + 3 });
    const nx = book(X);
    const ny = book(Y);
    for (let k = 0; k < 3; k++) {
      start(n1, ny);
      start(n2, nx);
      nowUs += 1_000_000;
      for (const d of [...take(n1, runUs + 1000 + k), ...take(n2, runUs + 1000 + k)]) sub.ingest(d, nowUs);
    }
    expect(sub.book(Y.instrumentId)!.usable).toBe(true);
    // Before: AUSDT stayed on worker 1's new session, which never sent it, and every message of worker 2's was dropped
    // as older than run 1's session that had sent it last: not usable until worker 2's next restart.
    const x = sub.book(X.instrumentId)!;
    expect(x.sessionId).toBe(302);
    expect(x.usable).toBe(true);
    expect(levelsOf(x)).toEqual(levelsOf(nx));
  });
});

describe("s-subrd: instruments re-split between two sources at each restart (randomized, reference model)", () => {
  // Each run of the process draws a session per worker (sources 1 and 2, starts a few µs apart in either order) and
  // splits the instruments anew; the two workers' datagrams arrive interleaved at random, with the last few of the
  // run before arriving late among them. Now and then one worker's whole run (its refresh too) is held on the way and
  // arrives during the next run, before that worker's next run is heard (s-rdsubrd). After every datagram: a valid
  // book is what its session's publisher had at its instrSeq, and a usable one is on a session of a run no earlier
  // than any its book was on (a run over, delayed, never takes a book back). Now and then both workers carry one
  // instrument, each with its own book (a shard overlap): neither's levels are ever shown as the other's. Now and then
  // a run ends cleanly and the host clock steps back a minute before the next, whose sessions then start before the
  // last run's (clock-step restarts, §3.4). Now and then a third source, on a host whose clock is up to 5 s ahead or
  // 10–15 s behind, joins for one run and is gone after it (ended, never restarted: s-rdsub3). After each run's lossless
  // refresh: every book whose owner was not held is usable, its owner's (of an overlap: one of the two not held),
  // identical to that owner's book.
  it("valid ⇒ its session's book at instrSeq; usable ⇒ not an earlier run; after a refresh every book is usable from the source that owns it", () => {
    const ids = ["AUSDT", "BUSDT", "CUSDT", "DUSDT"].map((sym) => makeInstrument("bybit", "linear", sym, 1, 3));
    let checkedValid = 0;
    let moved = 0;
    let heldRuns = 0;
    let overlaps = 0;
    let steps = 0;
    let thirds = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const r = rng(seed);
      const sub = newSubscriber();
      sub.on("error", () => {});
      const history = new Map<string, string>(); // session:instrument:instrSeq -> levels
      const keyOf = (session: number, id: number, seq: number) => `${session}:${id}:${seq}`;
      const runOf = (session: number) => Math.floor(session / 1000) - 1;
      const highestRun = ids.map(() => -1); // per instrument: the latest run of a session its book was on
      // A restart undone by two late datagrams of the run before it (§6.2, documented) takes its books back with it.
      sub.on("session", (e) => {
        if (e.kind !== "reverted") return;
        ids.forEach((inst, i) => {
          if (sub.book(inst.instrumentId)?.sessionId === e.sessionId) highestRun[i] = Math.min(highestRun[i]!, runOf(e.sessionId));
        });
      });
      let late: Uint8Array[] = [];
      let held: Uint8Array[] = [];
      let heldSrc = 0;
      let clockUs = 0; // the publishers' host clock against the real time: stepped back a minute now and then
      let stepNext = false;
      let owners: number[] = [];
      // Source 3's host clock against the others': up to 5 s ahead (less than a refresh takes: below), or 10–15 s behind
      // (its sessions start before the others' last run's).
      const ahead3Us = seed % 2 === 1 ? -randInt(r, 10_000_000, 15_000_000) : randInt(r, 0, 5_000_000);
      const clockOf = (src: number) => (src === 3 ? ahead3Us : 0);
      const check = (what: string) => {
        ids.forEach((inst, i) => {
          const sb = sub.book(inst.instrumentId);
          if (sb === undefined || sb.sessionStartUs < 0) return;
          if (sb.usable) expect(runOf(sb.sessionId), `${what}: ${inst.symbol} usable on session ${sb.sessionId}`).toBeGreaterThanOrEqual(highestRun[i]!);
          highestRun[i] = Math.max(highestRun[i]!, runOf(sb.sessionId));
          if (!sb.valid) return;
          checkedValid++;
          expect(JSON.stringify(levelsOf(sb)), `${what}: ${inst.symbol} valid at session ${sb.sessionId} instrSeq ${sb.instrSeq}`).toBe(history.get(keyOf(sb.sessionId, inst.instrumentId, sb.instrSeq)));
        });
      };
      for (let run = 0; run < 6; run++) {
        const runUs = T0 + run * 10_000_000; // real time (the subscriber's receive clock)
        if (stepNext) clockUs -= 60_000_000; // this run's sessions start before the last run's
        const startUs = runUs + clockUs;
        // Now and then a third source (a shard on another host) joins for this run alone and is gone after it (ended,
        // never restarted): its instruments move to sources 1 and 2, whose next sessions may start before its own did.
        // This run of that worker held on the way; not after a clock step: a book of a worker whose restart is not heard
        // yet is on a session that started after this run's other worker's, which cannot take it then (docs §6.4).
        // Nor with source 3 behind (its session may start before the held worker's last one): the same.
        const holdSrc: number = run > 0 && run < 5 && !stepNext && r() < 0.5 ? randInt(r, 1, 2) : 0;
        if (holdSrc > 0) heldRuns++;
        const with3 = run < 5 && (holdSrc === 0 || ahead3Us >= 0) && r() < 0.4;
        if (with3) thirds++;
        const srcs = with3 ? [1, 2, 3] : [1, 2];
        const packers = srcs.map((src) =>
          packer({ channelId: src === 3 ? 3 : 1, sourceId: src, sessionId: 1000 * (run + 1) + src, sessionStartUs: startUs + clockOf(src) + randInt(r, 0, 20) }),
        );
        const prevOwners = owners;
        owners = ids.map(() => randInt(r, 1, 2));
        if (r() < 0.4) {
          owners[randInt(r, 0, ids.length - 1)] = 3; // both workers carry it
          overlaps++;
        }
        if (with3) ids.forEach((_, i) => owners[i] !== 3 && r() < 0.5 && (owners[i] = 4)); // source 3's
        const carriers = (i: number) => (owners[i] === 3 ? [1, 2] : owners[i] === 4 ? [3] : [owners[i]!]);
        moved += owners.filter((o, i) => prevOwners[i] !== undefined && prevOwners[i] !== o).length;
        const pubs = ids.map((inst) => [new TestBook(inst), new TestBook(inst), new TestBook(inst)]); // each worker's book of it
        const record = (i: number, src: number) =>
          history.set(keyOf(1000 * (run + 1) + src, ids[i]!.instrumentId, pubs[i]![src - 1]!.instrSeq), JSON.stringify(levelsOf(pubs[i]![src - 1]!)));
        const queues: Uint8Array[][] = srcs.map(() => []);
        const flush = (src: number, nowUs: number) => queues[src - 1]!.push(...take(packers[src - 1]!, nowUs + clockOf(src)));
        for (const src of srcs) {
          packers[src - 1]!.appendHeartbeat(0); // a worker that carries nothing this run still heartbeats
          flush(src, startUs + 500);
        }
        ids.forEach((inst, i) => {
          for (const src of carriers(i)) {
            const s = randomBookSides(r, randInt(r, 1, 8), 50_000);
            pubs[i]![src - 1]!.load(s.bids, s.asks, 1, startUs);
            record(i, src);
            const p = packers[src - 1]!;
            packInstrumentDefinition(p, new EncodedDefinition(inst), false);
            packBookSnapshot(p, pubs[i]![src - 1]!, 0, false);
            flush(src, startUs + 1000);
          }
        });
        const cs = new ChangeSet();
        for (let step = 0; step < 12; step++) {
          const i = randInt(r, 0, ids.length - 1);
          for (const src of carriers(i)) {
            const pub = pubs[i]![src - 1]!;
            randomChanges(r, pub, cs, 4, 50_000);
            pub.apply(cs, step + 2, startUs + 2000 + step);
            record(i, src);
            packBookDelta(packers[src - 1]!, pub, cs);
            flush(src, startUs + 2000 + step);
          }
        }
        // Both workers' datagrams interleaved at random (each one's in order), the last run's late ones among the first;
        // a held run's arrive among them too, but before any of its worker's run now (then the stream drops them).
        const order: Uint8Array[] = [];
        const q = queues.map((x, i) => (i === holdSrc - 1 ? [] : x.slice()));
        for (;;) {
          const open = q.flatMap((x, k) => (x.length > 0 ? [k] : []));
          if (open.length + held.length === 0) break;
          if (late.length > 0 && r() < 0.3) order.push(late.shift()!);
          const from = open.length === 0 ? -1 : open[randInt(r, 0, open.length - 1)]!;
          if (held.length > 0 && (r() < 0.3 || from === heldSrc - 1 || from < 0)) order.push(held.shift()!);
          else order.push(q[from]!.shift()!);
        }
        const recvUs = runUs + 5_000_000;
        for (const d of order) {
          sub.ingest(d, recvUs);
          check(`seed ${seed} run ${run}`);
        }
        late = queues.flatMap((x, i) => (i === holdSrc - 1 || i === 2 ? [] : x.slice(-2))); // in flight when this run dies
        // Or the run ends cleanly (END_OF_SESSION, nothing late) and the host clock steps back before the next one,
        // whose sessions are then taken as clock-step restarts (§3.4).
        stepNext = run < 5 && holdSrc === 0 && r() < 0.4;
        if (stepNext) {
          steps++;
          late = [];
        }
        // A lossless refresh from each worker: every book its owner's, usable, identical.
        ids.forEach((inst, i) => {
          for (const src of carriers(i)) {
            packInstrumentDefinition(packers[src - 1]!, new EncodedDefinition(inst), true);
            packBookSnapshot(packers[src - 1]!, pubs[i]![src - 1]!, 0, true);
          }
        });
        held = [];
        heldSrc = holdSrc;
        for (const [i, p] of packers.entries()) {
          // Source 3 behind sends its refresh later (6 s into the run by the others' clock): sent before the others' new
          // sessions began by theirs, a walked book's new owner is not taken (the clocks' difference, docs §6.4).
          const refresh = take(p, startUs + Math.max(clockOf(i + 1), 0) + 6_000_000);
          if (i === holdSrc - 1) held = [...queues[i]!, ...refresh];
          else
            for (const d of refresh) {
              sub.ingest(d, recvUs + 1000);
              check(`seed ${seed} run ${run} refresh`);
            }
        }
        ids.forEach((inst, i) => {
          const live = carriers(i).filter((src) => src !== holdSrc);
          if (live.length === 0) return;
          const sb = sub.book(inst.instrumentId)!;
          const what = `seed ${seed} run ${run}: ${inst.symbol} (owner source ${owners[i]}, before ${prevOwners[i]}, held ${holdSrc})`;
          expect(live, what).toContain(sb.sourceId);
          expect(sb.usable, what).toBe(true);
          expect(levelsOf(sb), what).toEqual(levelsOf(pubs[i]![sb.sourceId - 1]!));
        });
        if (with3) {
          // Source 3 is gone: its last datagram, its end (its restart never comes).
          packers[2]!.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
          for (const d of take(packers[2]!, startUs + ahead3Us + 7_000_000)) sub.ingest(d, recvUs + 2000);
          check(`seed ${seed} run ${run} source 3 gone`);
        }
        if (stepNext) {
          for (const p of packers.slice(0, 2)) {
            p.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
            for (const d of take(p, startUs + 7_000_000)) sub.ingest(d, recvUs + 2000);
          }
        }
      }
    }
    console.log(`re-split: ${moved} moved, ${heldRuns} runs held, ${overlaps} overlaps, ${steps} clock steps, ${thirds} runs with a source gone after, ${checkedValid} valid checked`);
    expect(moved).toBeGreaterThan(10); // instruments did change hands
    expect(heldRuns).toBeGreaterThan(5);
    expect(overlaps).toBeGreaterThan(5);
    expect(steps).toBeGreaterThan(3);
    expect(thirds).toBeGreaterThan(5);
    expect(checkedValid).toBeGreaterThan(500);
  });
});

describe("s-rdsub3: an instrument whose old source is gone (workers or shards reduced), its restart never heard", () => {
  // Run 1: AUSDT is source 3's, BUSDT source 1's. Run 2: source 3 is no more (a shard removed, workers reduced) and
  // AUSDT is source 1's, whose new session starts before source 3's did: source 3's host clock runs 10 s ahead
  // (another host), or every host's clock stepped back a minute between the runs (one host). Source 3 ends cleanly
  // (END_OF_SESSION) or is killed (silent: stale). Its restart never comes, so nothing walks AUSDT (movedHere).
  const cases = [
    { name: "a shard on a host 10 s ahead, ended", aheadUs: 10_000_000, stepUs: 0, silent: false },
    { name: "a shard on a host 10 s ahead, killed (stale)", aheadUs: 10_000_000, stepUs: 0, silent: true },
    { name: "a worker dropped across a clock step back, ended", aheadUs: 0, stepUs: -60_000_000, silent: false },
  ];
  for (const c of cases) {
    it(`the book follows its new owner once the old one's session is over (${c.name})`, () => {
      const sub = newSubscriber({ staleAfterMs: 3000 });
      const X = makeInstrument("bybit", "linear", "AUSDT", 1, 3);
      const Y = makeInstrument("bybit", "linear", "BUSDT", 1, 3);
      const w1 = packer({ channelId: 1, sourceId: 1, sessionId: 100, sessionStartUs: T0 });
      const w3 = packer({ channelId: 3, sourceId: 3, sessionId: 300, sessionStartUs: T0 + c.aheadUs + 4 });
      const x3 = book(X);
      start(w1, book(Y));
      start(w3, x3);
      let nowUs = T0 + 1_000_000;
      for (const d of [...take(w1, nowUs), ...take(w3, nowUs + c.aheadUs)]) sub.ingest(d, nowUs);
      const x = sub.book(X.instrumentId)!;
      expect(x.usable).toBe(true);
      if (c.stepUs !== 0) {
        w1.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
        for (const d of take(w1, nowUs + 1000)) sub.ingest(d, nowUs + 1000);
      }
      // Run 2 (real T0 + 5 s): source 1 alone, with both books, its session before source 3's by that clock.
      const n1 = packer({ channelId: 1, sourceId: 1, sessionId: 101, sessionStartUs: T0 + 5_000_000 + c.stepUs });
      const nx = new TestBook(X);
      nx.load([[943000, 7]], [[944000, 9]], 1, T0);
      const ny = book(Y);
      start(n1, ny);
      start(n1, nx);
      nowUs = T0 + 5_100_000;
      // Source 3 still alive (its shutdown under way): its book is its own, not taken.
      for (const d of take(n1, nowUs + c.stepUs)) sub.ingest(d, nowUs);
      expect(x.sourceId).toBe(3);
      if (c.silent) sub.checkStale(Date.now() + 10_000); // killed: silent past its stale limit
      else {
        w3.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
        for (const d of take(w3, nowUs + c.aheadUs)) sub.ingest(d, nowUs);
      }
      expect(x.usable).toBe(false);
      for (let i = 0; i < 3; i++) {
        nowUs += 100_000;
        packBookDelta(n1, ny, delta(ny, 10 + i));
        packBookDelta(n1, nx, delta(nx, 10 + i));
        for (const d of take(n1, nowUs + c.stepUs)) sub.ingest(d, nowUs);
      }
      expect(sub.book(Y.instrumentId)!.usable).toBe(true);
      // Before: every message of source 1's run 2 of AUSDT was dropped as older than source 3's session, for good.
      expect(x.sourceId, `old-session messages ${sub.counters.oldSessionMessages}`).toBe(1);
      expect(x.sessionId).toBe(101);
      expect(x.usable).toBe(false); // deltas of a session it has no snapshot of
      packBookSnapshot(n1, nx, 0, true);
      for (const d of take(n1, nowUs + c.stepUs + 1000)) sub.ingest(d, nowUs + 1000);
      expect(x.usable).toBe(true);
      expect(levelsOf(x)).toEqual(levelsOf(nx));
    });
  }
});

describe("s-rdsub3: a removed worker's run, held across a clock step, took the book", () => {
  // Run 2 moved AUSDT to worker 2, whose datagrams are held on the way; run 2 ends, the host clock steps back a minute
  // and run 3 has worker 1 alone (workers reduced), with AUSDT. The held run arrives after run 3's restart was heard:
  // its send times, on the clock before the step, pass the walked book's bound (§6.4, documented) and it takes the
  // book. Worker 2 never comes back, so nothing of it walks the book again.
  it("the book goes back to its owner once that run's stream is stale (before: never)", () => {
    const sub = newSubscriber({ staleAfterMs: 3000 });
    const X = makeInstrument("bybit", "linear", "AUSDT", 1, 3);
    const Y = makeInstrument("bybit", "linear", "BUSDT", 1, 3);
    const w1 = packer({ channelId: 1, sourceId: 1, sessionId: 100, sessionStartUs: T0 + 10_000_000 });
    start(w1, book(X));
    start(w1, book(Y));
    for (const d of take(w1, T0 + 10_500_000)) sub.ingest(d, T0 + 10_500_000);
    const r2w1 = packer({ channelId: 1, sourceId: 1, sessionId: 201, sessionStartUs: T0 + 20_000_004 });
    const r2w2 = packer({ channelId: 2, sourceId: 2, sessionId: 202, sessionStartUs: T0 + 20_000_002 });
    start(r2w1, book(Y));
    start(r2w2, book(X));
    for (const d of take(r2w1, T0 + 20_500_000)) sub.ingest(d, T0 + 20_500_000);
    const held = take(r2w2, T0 + 20_500_000); // worker 2 is then killed: no END_OF_SESSION
    r2w1.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
    for (const d of take(r2w1, T0 + 21_000_000)) sub.ingest(d, T0 + 21_000_000);
    const runUs = T0 + 30_000_000 - 60_000_000; // run 3, the stepped clock
    const r3 = packer({ channelId: 1, sourceId: 1, sessionId: 301, sessionStartUs: runUs });
    const nx = new TestBook(X);
    nx.load([[943000, 7]], [[944000, 9]], 1, T0);
    start(r3, book(Y));
    start(r3, nx);
    let nowUs = T0 + 30_500_000;
    const first = take(r3, runUs + 500_000);
    sub.ingest(first[0]!, nowUs); // run 3's restart heard: AUSDT walked (by a clock-step restart)
    for (const d of held) sub.ingest(d, nowUs);
    for (const d of first.slice(1)) sub.ingest(d, nowUs);
    const x = sub.book(X.instrumentId)!;
    expect(x.sourceId).toBe(2); // the documented exposure: a dead run's levels, usable until its stream is stale
    expect(x.usable).toBe(true);
    sub.checkStale(Date.now() + 10_000); // worker 2 is gone: its stream is silent past the stale limit
    expect(x.usable).toBe(false);
    nowUs += 100_000;
    packBookSnapshot(r3, nx, 0, true);
    for (const d of take(r3, runUs + 600_000)) sub.ingest(d, nowUs);
    // Before: run 3's every message of AUSDT was dropped as older than run 2's, for good (no restart of worker 2 comes).
    expect(x.sourceId).toBe(1);
    expect(x.usable).toBe(true);
    expect(levelsOf(x)).toEqual(levelsOf(nx));
  });
});

describe("s-rdsub3: a re-split between shards on hosts whose clocks differ", () => {
  // Shard 1's host clock runs 10 s ahead of shard 2's. Run 1: AUSDT is shard 1's. Both restart 5 s later (a second
  // deploy) and AUSDT moves to shard 2, whose new session starts, by its clock, before shard 1's last one did.
  it("the book follows its new owner within the clocks' difference, not at that owner's next restart", () => {
    const sub = newSubscriber();
    const aheadUs = 10_000_000;
    const X = makeInstrument("bybit", "linear", "AUSDT", 1, 3);
    const Y = makeInstrument("bybit", "linear", "BUSDT", 1, 3);
    const s1 = packer({ channelId: 1, sourceId: 1, sessionId: 100, sessionStartUs: T0 + aheadUs });
    const s2 = packer({ channelId: 2, sourceId: 2, sessionId: 200, sessionStartUs: T0 + 3 });
    start(s1, book(X));
    start(s2, book(Y));
    let nowUs = T0 + 1_000_000;
    for (const d of [...take(s1, nowUs + aheadUs), ...take(s2, nowUs)]) sub.ingest(d, nowUs);
    const n1 = packer({ channelId: 1, sourceId: 1, sessionId: 101, sessionStartUs: T0 + 5_000_000 + aheadUs }); // BUSDT
    const n2 = packer({ channelId: 2, sourceId: 2, sessionId: 201, sessionStartUs: T0 + 5_000_004 }); // AUSDT
    const nx = new TestBook(X);
    nx.load([[943000, 7]], [[944000, 9]], 1, T0);
    const ny = book(Y);
    start(n1, ny);
    start(n2, nx);
    nowUs = T0 + 5_100_000;
    for (const d of [...take(n1, nowUs + aheadUs), ...take(n2, nowUs)]) sub.ingest(d, nowUs);
    const x = sub.book(X.instrumentId)!;
    // Shard 2's datagrams sent before shard 1's new session began by shard 1's clock (the walked book's bound, §6.4).
    expect(x.sessionId).toBe(101);
    // A refresh a minute later: shard 2's clock is past that start by then.
    nowUs = T0 + 65_000_000;
    for (const [p, b, skewUs] of [[n1, ny, aheadUs], [n2, nx, 0]] as const) {
      packBookSnapshot(p, b, 0, true);
      for (const d of take(p, nowUs + skewUs)) sub.ingest(d, nowUs);
    }
    expect(sub.book(Y.instrumentId)!.usable).toBe(true);
    // Before: shard 2's session is older than shard 1's run 1 (the last that sent AUSDT) by those clocks: every message
    // of it was dropped until shard 2's next restart.
    expect(x.sourceId, `old-session messages ${sub.counters.oldSessionMessages}`).toBe(2);
    expect(x.usable).toBe(true);
    expect(levelsOf(x)).toEqual(levelsOf(nx));
  });
});
