/**
 * A stream that went stale (silent), then came back with a gap that a retransmission request covers: its books stay
 * held (not `usable`) until the whole range is applied. The first retransmitted piece used to clear the stream's
 * staleness and with it the books' hold, so they showed usable while the rest of the range and the held datagrams
 * were still missing (behind the publisher). Driven through ingest() and checkStale(): no sockets, no timers.
 */
import { describe, expect, it } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { SEND_AHEAD_MAX_US } from "../../src/subscriber/streams.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { PKT_FLAG_END_OF_SESSION } from "../../src/wire/layout.ts";
import { levelsOf, makeInstrument, rng } from "../wire/helpers.ts";
import { deltaFeed, flagged } from "./delta-feed.ts";
import { T0, take } from "./feed-harness.ts";

describe("a stale stream's retransmission", () => {
  const inst = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);

  const feed = () => deltaFeed(inst, 25, 7);

  it("keeps the books held until the whole range and the held datagrams are applied", () => {
    const { book, head, deltas } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000 } });
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    sub.ingest(deltas[1]!, T0); // the stream's line is established
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.usable).toBe(true);
    sub.checkStale(Date.now() + 5000); // the stream went silent
    expect(sb.stale).toBe(true);
    // It speaks again: deltas[2..4] were lost, [5] reveals the gap and is held, [6] is held too.
    sub.ingest(deltas[5]!, T0);
    sub.ingest(deltas[6]!, T0);
    expect(sub.retransmitsPending).toBe(1);
    expect(sb.usable).toBe(false);
    sub.ingest(flagged(deltas[2]!), T0); // the first piece of the answer: [3], [4] and the held ones still missing
    expect(sub.retransmitsPending).toBe(1);
    expect(sb.instrSeq).toBeLessThan(book.instrSeq);
    expect(sb.usable).toBe(false);
    sub.ingest(flagged(deltas[3]!), T0);
    expect(sb.usable).toBe(false);
    sub.ingest(flagged(deltas[4]!), T0); // the range is complete: the held datagrams follow
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sb.instrSeq).toBe(book.instrSeq);
    expect(levelsOf(sb)).toEqual(levelsOf(book));
    expect(sb.usable).toBe(true);
    expect(sub.counters.gaps).toBe(0);
  });

  it("a stream silent since its gap is stale when the answer fills it: replaying what it held is no hearing it now", () => {
    const { book, head, deltas } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000 } });
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    sub.ingest(deltas[1]!, T0);
    sub.ingest(deltas[3]!, T0); // [2] lost: asked for, [3] held; then the publisher goes quiet
    const heardMs = sub.streamInfo()[0]!.lastRecvMs;
    sub.checkStale(heardMs + 5000);
    const sb = sub.book(inst.instrumentId)!;
    sub.ingest(flagged(deltas[2]!), T0); // the answer: the gap filled, the held [3] replayed
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sb.instrSeq).toBe(book.instrSeq - 3);
    // Before: the answer and the replay set lastRecvMs to now and cleared stale, the book usable though its
    // publisher had been silent past staleAfterMs.
    expect([sb.usable, sb.stale, sub.streamInfo()[0]!.stale, sub.streamInfo()[0]!.lastRecvMs]).toEqual([false, true, true, heardMs]);
    sub.ingest(deltas[4]!, T0); // it speaks again
    expect([sb.usable, sb.instrSeq]).toEqual([true, book.instrSeq - 2]);
  });

  it("a late copy of what a stale stream already had is no hearing it: its books stay stale; its next datagram is", () => {
    const { book, head, deltas } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    for (const d of [...head, deltas[0]!, deltas[1]!]) sub.ingest(d, T0);
    const heardMs = sub.streamInfo()[0]!.lastRecvMs;
    sub.checkStale(heardMs + 5000); // the publisher fell silent
    const sb = sub.book(inst.instrumentId)!;
    for (const d of [head[0]!, deltas[0]!]) sub.ingest(d, T0); // old datagrams again (history replayed onto the group)
    // Before: each counted as hearing the stream, stale cleared, the book usable again with its publisher silent.
    expect([sb.usable, sub.streamInfo()[0]!.stale, sub.streamInfo()[0]!.lastRecvMs, sub.counters.duplicates]).toEqual([false, true, heardMs, 2]);
    sub.ingest(deltas[2]!, T0); // it speaks again
    expect([sb.usable, sb.instrSeq, sub.streamInfo()[0]!.stale]).toEqual([true, book.instrSeq - 4, false]);
  });

  it("a copy of a heartbeat it already had at its line is no hearing it either: only a later one is", () => {
    const { book, head, deltas, p } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    for (const d of [...head, ...deltas]) sub.ingest(d, T0);
    const beats: Uint8Array[] = [];
    for (let i = 1; i <= 3; i++) (p.appendHeartbeat(0), beats.push(...take(p, T0 + 1000 * i))); // idle: one a second
    for (const d of beats) sub.ingest(d, T0);
    const heardMs = sub.streamInfo()[0]!.lastRecvMs;
    sub.checkStale(heardMs + 5000); // the publisher fell silent (died)
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.usable, sb.instrSeq]).toEqual([false, book.instrSeq]);
    // A forger without the key replays its last heartbeat (and an earlier one, at the same line): both at nextSeq.
    for (const d of [beats[2]!, beats[0]!, beats[2]!]) sub.ingest(d, T0);
    // Before: each counted as hearing the stream (a heartbeat at the line), stale cleared, the book usable again with
    // its publisher dead for as long as the replays came.
    expect([sb.usable, sub.streamInfo()[0]!.stale, sub.streamInfo()[0]!.lastRecvMs]).toEqual([false, true, heardMs]);
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 4000)) sub.ingest(d, T0); // it speaks again, idle still
    expect([sb.usable, sub.streamInfo()[0]!.stale]).toEqual([true, false]);
  });

  it("a copy (behind the line, or a heartbeat it had) does not reopen an ended stream; a new datagram does", () => {
    const { deltas, head, p } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    for (const d of [...head, ...deltas]) sub.ingest(d, T0);
    p.appendHeartbeat(0);
    const [beat] = take(p, T0 + 1000);
    p.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
    const [end] = take(p, T0 + 2000);
    sub.ingest(beat!, T0);
    sub.ingest(end!, T0);
    const info = () => sub.streamInfo()[0]!;
    expect(info().ended).toBe(true);
    // Replays (no key needed): a data datagram behind the line, the heartbeat before the END. Before: each set
    // ended back to false, so the ended stream was watched for silence again and its session no longer over.
    for (const d of [deltas[0]!, beat!, deltas[3]!, beat!]) {
      sub.ingest(d, T0);
      expect(info().ended).toBe(true);
    }
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 3000)) sub.ingest(d, T0); // more of the session: that END was bogus
    expect(info().ended).toBe(false);
  });

  it("a copy of an END_OF_SESSION the stream went on after does not end it again (its books stay valid)", () => {
    const { book, head, deltas, p } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    for (const d of [...head, ...deltas]) sub.ingest(d, T0);
    p.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
    const [end] = take(p, T0 + 1000);
    sub.ingest(end!, T0); // ended, its books invalid
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 2000)) sub.ingest(d, T0); // more of the session: that END was bogus
    packBookSnapshot(p, book, 0, true); // a refresh makes the book valid again
    for (const d of take(p, T0 + 3000)) sub.ingest(d, T0);
    const info = () => sub.streamInfo()[0]!;
    const sb = sub.book(inst.instrumentId)!;
    expect([info().ended, sb.valid]).toEqual([false, true]);
    sub.ingest(end!.slice(), T0); // the END replayed (no key needed): a copy, before the last heard
    expect([info().ended, sb.valid]).toEqual([false, true]); // before: [true, false], every book of the stream invalid
  });

  it("a heartbeat at the line sent far ahead of its receipt (forged, no key) is no hearing it, nor makes later real ones copies", () => {
    const { head, deltas, p } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    for (const d of [...head, ...deltas]) sub.ingest(d, T0 + 50); // received as sent (the clocks agree)
    const info = () => sub.streamInfo()[0]!;
    const makeStale = () => sub.checkStale(info().lastRecvMs + 5000);
    const beatAt = (sendUs: number) => (p.appendHeartbeat(0), take(p, sendUs)[0]!);
    sub.ingest(beatAt(T0 + 1_000_000), T0 + 1_000_050);
    makeStale();
    sub.ingest(beatAt(T0 + 86_400_000_000), T0 + 2_000_050); // a day ahead of its receipt
    expect(info().stale).toBe(true);
    for (let k = 3; k <= 5; k++) {
      makeStale();
      sub.ingest(beatAt(T0 + k * 1_000_000), T0 + k * 1_000_000 + 50); // the publisher, idle
      expect(info().stale, `heartbeat ${k}`).toBe(false); // before: true (sent before the forged one: a copy)
    }
    // A publisher whose clock runs ahead of the subscriber's by a steady amount is judged by that amount.
    const skewed = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    const BEHIND_US = 600_000_000;
    for (const d of [...head, ...deltas]) skewed.ingest(d, T0 + 50 - BEHIND_US);
    for (let k = 6; k <= 8; k++) {
      skewed.checkStale(skewed.streamInfo()[0]!.lastRecvMs + 5000);
      skewed.ingest(beatAt(T0 + k * 1_000_000), T0 + k * 1_000_000 + 50 - BEHIND_US);
      expect(skewed.streamInfo()[0]!.stale, `skewed heartbeat ${k}`).toBe(false);
    }
  });

  it("a heartbeat at the line sent before the datagram that brought the line there is no copy: its clock stepped back", () => {
    const { head, deltas, p } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    for (const d of [...head, ...deltas]) sub.ingest(d, T0); // sent at T0
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 1000)) sub.ingest(d, T0);
    sub.checkStale(sub.streamInfo()[0]!.lastRecvMs + 5000);
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.usable).toBe(false);
    p.appendHeartbeat(0);
    for (const d of take(p, T0 - 60_000_000)) sub.ingest(d, T0); // its host clock stepped back a minute, idle still
    // No heartbeat at this line was sent before T0 (the line's datagram): its publisher, not a copy. Judged a copy,
    // the idle stream stayed stale for as long as the step.
    expect([sb.usable, sub.streamInfo()[0]!.stale]).toEqual([true, false]);
  });

  it("after its clock stepped back while idle, a copy of its last heartbeat is still no hearing it", () => {
    const { head, deltas, p } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
    for (const d of [...head, ...deltas]) sub.ingest(d, T0); // sent at T0
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 1000)) sub.ingest(d, T0);
    const stepped: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) (p.appendHeartbeat(0), stepped.push(...take(p, T0 - 60_000_000 + 1_000_000 * i))); // a minute back
    for (const d of stepped) sub.ingest(d, T0);
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.usable).toBe(true); // its publisher, heard
    sub.checkStale(sub.streamInfo()[0]!.lastRecvMs + 5000); // then it died
    for (const d of [stepped[1]!, stepped[0]!, stepped[1]!]) sub.ingest(d, T0); // replayed (genuine copies)
    // Before: sent before the line's datagram, each copy was taken for its publisher with a clock stepped back: the
    // dead publisher's book usable for as long as the replays came.
    expect([sb.usable, sub.streamInfo()[0]!.stale]).toEqual([false, true]);
    p.appendHeartbeat(0);
    for (const d of take(p, T0 - 58_000_000)) sub.ingest(d, T0); // it speaks again, its clock as stepped
    expect([sb.usable, sub.streamInfo()[0]!.stale]).toEqual([true, false]);
  });

  it("random publisher clock steps, then replays after it died: a heartbeat later than all its line sent is heard; no copy un-stales twice", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const { book, head, deltas, p } = feed();
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 1000 });
      for (const d of [...head, ...deltas]) sub.ingest(d, T0);
      const info = () => sub.streamInfo()[0]!;
      const makeStale = () => sub.checkStale(info().lastRecvMs + 5000);
      const sent: Uint8Array[] = [];
      let clockUs = T0;
      let lineMaxUs = T0; // the latest send time since the line's last datagram with messages
      let lineStartUs = T0; // where the line's heartbeats are judged from, and how far it was ahead of its receipt
      let lineAheadUs = 0;
      for (let i = 0; i < 40; i++) {
        const x = r();
        clockUs += x < 0.2 ? -Math.floor(1 + r() * 120) * 1_000_000 : x < 0.3 ? Math.floor(1 + r() * 120) * 1_000_000 : 1_000_000;
        const data = r() < 0.2;
        if (data) packBookSnapshot(p, book, 0, true);
        else p.appendHeartbeat(0);
        const d = take(p, clockUs)[0]!;
        sent.push(d);
        makeStale();
        sub.ingest(d, T0);
        // Alive: data, or a heartbeat sent later than all its line had, is the publisher (a step back may wait); but
        // not a heartbeat sent more than SEND_AHEAD_MAX_US ahead of its receipt and of the line's start (isBeatAhead).
        const aheadUs = clockUs - T0; // received at T0
        const ahead = !data && aheadUs > SEND_AHEAD_MAX_US && aheadUs - lineAheadUs > SEND_AHEAD_MAX_US;
        if (ahead) expect(info().stale, `seed ${seed} step ${i} ahead`).toBe(true);
        else if (data || clockUs > lineMaxUs) expect(info().stale, `seed ${seed} step ${i}`).toBe(false);
        if (data || clockUs < lineStartUs) [lineStartUs, lineAheadUs] = [clockUs, aheadUs];
        lineMaxUs = data ? clockUs : Math.max(lineMaxUs, clockUs);
      }
      // It died. Replays of what it sent (genuine copies): each may count once at most (one it never had counted
      // for: a heartbeat later than the last heard), never the same one twice.
      const counted = new Map<number, number>();
      for (let k = 0; k < 300; k++) {
        makeStale();
        const j = Math.floor(r() * sent.length);
        sub.ingest(sent[j]!, T0);
        if (!info().stale) counted.set(j, (counted.get(j) ?? 0) + 1);
      }
      expect([...counted.values()].filter((n) => n > 1), `seed ${seed}`).toEqual([]);
    }
  });

  it("a live stream's books stay held through every piece of the answer, in the update events too", () => {
    const { book, head, deltas } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000 } });
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    sub.ingest(deltas[1]!, T0);
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.usable).toBe(true);
    sub.ingest(deltas[5]!, T0); // [2..4] lost
    sub.ingest(deltas[6]!, T0);
    const seen: { instrSeq: number; usable: boolean }[] = [];
    sub.on("update", (e) => seen.push({ instrSeq: e.book.instrSeq, usable: e.book.usable }));
    sub.ingest(flagged(deltas[2]!), T0);
    expect(sb.usable).toBe(false);
    sub.ingest(flagged(deltas[3]!), T0);
    expect(sb.usable).toBe(false);
    sub.ingest(flagged(deltas[4]!), T0);
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sb.instrSeq).toBe(book.instrSeq);
    expect(sb.usable).toBe(true);
    // The three retransmitted events are behind the held datagrams: not usable; the held ones then follow as live.
    expect(seen.map((x) => x.usable)).toEqual([false, false, false, true, true]);
  });
});
