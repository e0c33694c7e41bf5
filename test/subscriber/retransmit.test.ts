/**
 * Retransmission pieces without sockets (docs/wire-protocol.md §11): the publisher's byte ring against a reference
 * model, the control packet codec, the flagged datagram's CRC/HMAC, and the subscriber's rule that a RETRANSMIT
 * datagram is applied only into a gap it asked for (fed through ingest(); the request itself goes nowhere).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import type { InstrumentBooks } from "../../src/subscriber/instrument-books.ts";
import { Divert, Recovery } from "../../src/subscriber/recovery.ts";
import type { StreamState } from "../../src/subscriber/streams.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { EncodedDefinition, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { PKT_FLAG_RETRANSMIT } from "../../src/wire/layout.ts";
import { decodeRetxControl, encodeRetxControl, markRetransmit, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { levelsOf, makeInstrument, randInt, rng } from "../wire/helpers.ts";
import { deltaFeed, flagged } from "./delta-feed.ts";
import { packer, take, T0 } from "./feed-harness.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x51 + i);

describe("RetransmitRing", () => {
  it("holds exactly the newest datagrams that fit its bytes, byte for byte (randomized against a reference model)", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const capacity = randInt(r, 1400, 20_000);
      const ring = new RetransmitRing(capacity, 1400);
      const model: { seq: number; bytes: Uint8Array; pos: number }[] = [];
      let seq = 1;
      let writePos = 0;
      for (let i = 0; i < 500; i++) {
        const len = 56 + 8 * randInt(r, 0, 168);
        const msgs = randInt(r, 1, 9);
        const bytes = Uint8Array.from({ length: len }, () => randInt(r, 0, 255));
        ring.push(bytes, len, seq, msgs);
        // Reference: contiguous placement with wrap to 0; the held datagrams are the newest ones (a suffix of
        // everything pushed) of which none overlaps another.
        const pos = writePos + len > capacity ? 0 : writePos;
        const end = pos + len;
        while (model.some((o) => o.pos < end && o.pos + o.bytes.length > pos)) model.shift();
        model.push({ seq, bytes, pos });
        writePos = end;
        seq += msgs;
        expect(ring.size).toBe(model.length);
        expect(ring.firstSeq).toBe(model[0]!.seq);
        expect(ring.nextSeq).toBe(seq);
      }
      model.forEach((m, i) => {
        expect(ring.find(m.seq)).toBe(i);
        expect(Array.from(ring.datagram(i))).toEqual(Array.from(m.bytes));
      });
      expect(ring.find(model[0]!.seq - 1)).toBe(-1);
      expect(ring.find(seq)).toBe(-1);
    }
  });

  it("push copies without allocating (the ring's memory is preallocated; the measure sees a 32 B object a push)", () => {
    // The heap's capacity without a GC in between (heapUsed, what the last GC marked, read 0 growth for a copy per
    // push: this test passed whatever push allocated). Pushed from a bigger pool buffer, as the publisher's flush does.
    const growthPerPush = (n: number, push: (i: number) => void): number => {
      Bun.gc(true);
      const before = process.memoryUsage().heapTotal;
      for (let i = 0; i < n; i++) push(i);
      return (process.memoryUsage().heapTotal - before) / n;
    };
    const ring = new RetransmitRing(1 << 20, 1400);
    const pool = new Uint8Array(1408).fill(3);
    for (let i = 0; i < 20_000; i++) ring.push(pool, 1400, 1 + i, 1); // warm (the JIT's own cells settle)
    const perPush = growthPerPush(20_000, (i) => ring.push(pool, 1400, 20_001 + i, 1));
    let kept: { a: number } | undefined;
    const perControl = growthPerPush(20_000, (i) => void (kept = { a: i }));
    expect(kept?.a).toBe(19_999);
    expect(perControl).toBeGreaterThan(8);
    expect(perPush).toBeLessThan(2); // before: ~62 B (a subarray of the source per push)
    expect(ring.size).toBe(Math.floor((1 << 20) / 1400));
    expect(Array.from(ring.datagram(ring.size - 1))).toEqual(Array.from(pool.subarray(0, 1400)));
  });
});

describe("control packets", () => {
  const req = { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 2, sessionId: 0xdeadbeef, seqNum: 2 ** 40 + 5, count: 77, firstAvailable: 0, nextSeq: 0 };

  it("round-trip, plain and signed; damage, forgery and foreign bytes are named", () => {
    const out = new Uint8Array(64);
    const n = encodeRetxControl(out, req);
    expect(n).toBe(48);
    expect(decodeRetxControl(out.subarray(0, n))).toEqual(req);
    const auth = new DatagramAuth(KEY);
    const m = encodeRetxControl(out, { ...req, kind: RETX_KIND_OUT_OF_RANGE, firstAvailable: 9, nextSeq: 99 }, auth);
    expect(m).toBe(64);
    expect(decodeRetxControl(out.subarray(0, m), auth)).toEqual({ ...req, kind: RETX_KIND_OUT_OF_RANGE, firstAvailable: 9, nextSeq: 99 });
    expect(decodeRetxControl(out.subarray(0, m), new DatagramAuth(new Uint8Array(32)))).toBe("bad_auth");
    const plain = new Uint8Array(64);
    const k = encodeRetxControl(plain, req);
    expect(decodeRetxControl(plain.subarray(0, k), auth)).toBe("bad_auth"); // unsigned where a key is set
    for (let bit = 0; bit < k * 8; bit++) {
      const c = plain.slice(0, k);
      c[bit >> 3]! ^= 1 << (bit & 7);
      expect(decodeRetxControl(c)).not.toEqual(req);
    }
    expect(decodeRetxControl(Uint8Array.of(0x46, 0x44, 2, 0))).toBe("bad_magic");
  });

  it("a retransmitted datagram is the original with RETRANSMIT set, verifying (CRC, HMAC) as a live one", () => {
    const auth = new DatagramAuth(KEY);
    const p = packer({ auth });
    packInstrumentDefinition(p, new EncodedDefinition(makeInstrument("bybit", "spot", "BTCUSDT", 2, 6)), false);
    const [orig] = take(p);
    const copy = orig!.slice();
    markRetransmit(copy, copy.length, auth);
    const res = decodeDatagram(copy, 1400, auth);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.packet.flags & PKT_FLAG_RETRANSMIT).toBe(PKT_FLAG_RETRANSMIT);
    // Only the flags byte, the HMAC trailer and the CRC differ from the original.
    const diff = [...copy.keys()].filter((i) => copy[i] !== orig![i]);
    expect(diff.every((i) => i === 3 || (i >= 44 && i < 48) || i >= copy.length - 16)).toBe(true);
    const flagOnly = orig!.slice();
    flagOnly[3]! |= PKT_FLAG_RETRANSMIT; // the flag set without recomputing: damage (the CRC covers the flag)
    expect(decodeDatagram(flagOnly, 1400, auth).ok).toBe(false);
  });
});

describe("the subscriber applies RETRANSMIT datagrams only into a gap it asked for", () => {
  const inst = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);

  const feed = () => deltaFeed(inst, 4, 6);

  it("without the retransmit option every RETRANSMIT datagram is dropped", () => {
    const { head, deltas } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    const seqBefore = sub.streamInfo()[0]!.nextSeq;
    sub.ingest(flagged(deltas[1]!), T0);
    expect(sub.counters.retransmitRejected).toBe(1);
    expect(sub.streamInfo()[0]!.nextSeq).toBe(seqBefore);
  });

  it("a gap holds the later datagrams; only the gap's next piece is applied; the held ones follow in order", () => {
    const { book, head, deltas } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000 } });
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    sub.ingest(deltas[1]!, T0); // the stream's line is established
    // deltas[2] and [3] lost; [4] reveals the gap and is held
    sub.ingest(deltas[4]!, T0);
    expect(sub.counters.retransmitRequests).toBe(1);
    expect(sub.retransmitsPending).toBe(1);
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.usable).toBe(false); // behind while waiting
    expect(sb.valid).toBe(true);
    sub.ingest(deltas[5]!, T0); // held too
    sub.ingest(flagged(deltas[4]!), T0); // not in the gap
    sub.ingest(flagged(deltas[3]!), T0); // in the gap but not its next piece
    expect(sub.counters.retransmitRejected).toBe(2);
    sub.ingest(flagged(deltas[2]!), T0);
    sub.ingest(flagged(deltas[3]!), T0);
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sub.retransmitsPending).toBe(0);
    expect(sb.instrSeq).toBe(book.instrSeq);
    expect(levelsOf(sb)).toEqual(levelsOf(book));
    expect(sb.usable).toBe(true);
    expect(sub.counters.gaps).toBe(0);
    sub.ingest(flagged(deltas[2]!), T0); // a late copy after the recovery
    expect(sub.counters.retransmitRejected).toBe(3);
    expect(sb.instrSeq).toBe(book.instrSeq);
  });

  it("a timeout falls back: the held datagrams are processed as a plain gap (books invalid until a refresh)", () => {
    const { head, deltas } = feed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 1000 } });
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    sub.ingest(deltas[1]!, T0);
    sub.ingest(deltas[3]!, T0);
    sub.checkRecovery(Date.now() + 2000);
    expect(sub.counters.retransmitTimeouts).toBe(1);
    expect(sub.counters.gaps).toBe(1);
    expect(sub.book(inst.instrumentId)!.valid).toBe(false);
    sub.ingest(flagged(deltas[2]!), T0); // too late
    expect(sub.counters.retransmitRejected).toBe(1);
  });

  it("requests falling back together: no book of one is usable while another's held datagrams are replayed", () => {
    // Each fallback made its books as its stream (usable) when it ended, its gap processed only at its turn of the
    // replay: a listener of the first stream's replay read the second's book usable, a gap behind the feed.
    const other = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
    const a = deltaFeed(inst, 4, 4);
    const b = deltaFeed(other, 5, 4, { channelId: 2 });
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 1000 } });
    for (const f of [a, b]) for (const d of [...f.head, f.deltas[0]!, f.deltas[1]!]) sub.ingest(d, T0);
    sub.ingest(a.deltas[3]!, T0); // [2] lost on each stream: two requests
    sub.ingest(b.deltas[3]!, T0);
    expect(sub.retransmitsPending).toBe(2);
    const seen: boolean[] = [];
    sub.on("gap", (e) => {
      if (e.channelId === 1) seen.push(sub.book(other.instrumentId)!.usable); // the first stream's gap, replayed
    });
    sub.checkRecovery(Date.now() + 2000);
    expect(sub.counters.retransmitTimeouts).toBe(2);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((u) => !u)).toBe(true);
    expect(sub.book(other.instrumentId)!.valid).toBe(false); // its own gap, once replayed
  });

  it("a fallen-back request whose stream leaves the table before its replay turn: its books released as the stream, none of its datagrams replayed", () => {
    // Recovery.forget with the request waiting in the ready queue (no subscriber flow found to reach it: the queue is
    // drained in the call that fills it). Its held books are released there: replayReady, reaching it with nothing
    // held, does not, so without forget's release they stayed held, not usable until each one's next event.
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    const heldStale = new Map<number, boolean>();
    const books = { setStreamStale: (key: number, stale: boolean) => void heldStale.set(key, stale) } as unknown as InstrumentBooks;
    const replayed: number[] = [];
    const host = { send: () => {}, canAsk: () => true, replay: (bytes: Uint8Array) => void replayed.push(bytes[0]!) };
    const rec = new Recovery(sub.counters, books, host, undefined, 100, 64, 1024);
    const stream = (key: number) => ({ key, channelId: key, sourceId: 0, sessionId: 11, sessionStartUs: T0, nextSeq: 5, altNext: -1, stale: false }) as unknown as StreamState;
    const [x, y] = [stream(1), stream(2)];
    for (const st of [x, y]) expect(rec.divert(st, 7, 1, Uint8Array.of(st.key), 1, T0, 0)).toBe(Divert.HELD); // 5 and 6 lost
    expect([...heldStale]).toEqual([[1, true], [2, true]]);
    rec.checkTimeouts(1000); // both fall back, held until their replay turn
    expect(sub.counters.retransmitTimeouts).toBe(2);
    expect([...heldStale]).toEqual([[1, true], [2, true]]);
    rec.forget(y);
    expect(heldStale.get(2)).toBe(false);
    rec.replayReady();
    expect(replayed).toEqual([1]); // x's only; y's dropped
    expect([...heldStale]).toEqual([[1, false], [2, false]]);
  });

  describe("never started (fed only through ingest(), no timer)", () => {
    afterEach(() => void vi.restoreAllMocks());

    it("each datagram fed times the requests out: one past timeoutMs falls back before it is processed", () => {
      // The subscriber's clock (performance.now) under the test's hand. Before 2026-12-07 nothing timed the request
      // out here: the book stayed held (not usable) until maxHeldDatagrams piled up.
      let nowMs = 1_000_000;
      vi.spyOn(performance, "now").mockImplementation(() => nowMs);
      // Each received as it is fed (rounded up to the µs: the request's deadline is in exact ms, judged at its boundary).
      const recvUs = () => Math.ceil((performance.timeOrigin + nowMs) * 1000);
      const { head, deltas } = feed();
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 250 } });
      for (const d of head) sub.ingest(d, recvUs());
      sub.ingest(deltas[0]!, recvUs());
      sub.ingest(deltas[1]!, recvUs());
      sub.ingest(deltas[3]!, recvUs()); // [2] lost: asked for (the request goes nowhere: no socket), [3] held
      expect(sub.retransmitsPending).toBe(1);
      nowMs += 249;
      sub.ingest(deltas[4]!, recvUs()); // within the timeout: held too
      expect(sub.retransmitsPending).toBe(1);
      expect(sub.counters.retransmitTimeouts).toBe(0);
      expect(sub.book(inst.instrumentId)!.usable).toBe(false);
      // Past the timeout by 1 ms: at exactly 250 ms the two stamps, epoch µs from performance.timeOrigin (a different
      // fraction in every process), differ by 250 ms ± 1 µs of float rounding, so the boundary itself failed 1 full
      // run in many (retransmitTimeouts 0).
      nowMs += 2;
      sub.ingest(deltas[5]!, recvUs()); // past the timeout: the request falls back first, then this one goes the plain way
      expect(sub.counters.retransmitTimeouts).toBe(1);
      expect(sub.retransmitsPending).toBe(0);
      expect(sub.heldDatagrams).toBe(0);
      expect(sub.counters.gaps).toBe(1);
      expect(sub.book(inst.instrumentId)!.valid).toBe(false); // the gap: invalid until the refresh
      sub.ingest(flagged(deltas[2]!), recvUs()); // the answer, too late
      expect(sub.counters.retransmitRejected).toBe(1);
    });

    it("an answer received before the deadline but fed after it (the owner's thread stalled) is applied, as started", () => {
      // Started, the timer's round right after a stall times nothing out: the answer waiting unread is read first.
      // Fed through ingest(), the timeouts were judged as of the call, before the datagram: that answer was refused and
      // the book invalid until its refresh. Now as of the datagram's receipt stamp (recvTimeUs, never past now).
      let nowMs = 1_000_000;
      vi.spyOn(performance, "now").mockImplementation(() => nowMs);
      const recvUs = () => Math.round((performance.timeOrigin + nowMs) * 1000);
      const { book, head, deltas } = feed();
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 250 } });
      for (const d of [...head, deltas[0]!, deltas[1]!]) sub.ingest(d, recvUs());
      sub.ingest(deltas[3]!, recvUs()); // [2] lost: asked for, [3] held
      nowMs += 200;
      const answerRecvUs = recvUs(); // received in time ...
      const nextRecvUs = recvUs();
      nowMs += 300; // ... and fed after a stall past the deadline, with the datagram received beside it
      sub.ingest(flagged(deltas[2]!), answerRecvUs);
      sub.ingest(deltas[4]!, nextRecvUs);
      sub.ingest(deltas[5]!, recvUs());
      expect(sub.counters.retransmitTimeouts).toBe(0);
      expect(sub.counters.retransmitRecovered).toBe(1);
      expect(sub.counters.gaps).toBe(0);
      const sb = sub.book(inst.instrumentId)!;
      expect(sb.usable).toBe(true);
      expect(sb.instrSeq).toBe(book.instrSeq);
    });

    it("a receipt stamp on another clock (0, NaN, far behind, ahead) still times the request out, late by at most max(timeoutMs, 1 s) (randomized against a reference model)", () => {
      // Judged at the stamp as is, one far behind now (0, a capture's stamps, Date.now() after the host's clock stepped
      // back) timed nothing out while it stayed behind: the books held until maxHeldDatagrams piled up.
      let nowMs = 1_000_000;
      vi.spyOn(performance, "now").mockImplementation(() => nowMs);
      const usAt = (offMs: number) => Math.round((performance.timeOrigin + 1_000_000 + offMs) * 1000);
      const r = rng(7);
      const { head, deltas } = feed();
      for (let i = 0; i < 60; i++) {
        nowMs = 1_000_000;
        const timeoutMs = [250, 2000][randInt(r, 0, 1)]!;
        const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 9, timeoutMs } });
        for (const d of [...head, deltas[0]!, deltas[1]!, deltas[3]!]) sub.ingest(d, usAt(0)); // [2] lost: asked for at 0
        expect(sub.retransmitsPending).toBe(1);
        // Half-ms offsets: no verdict falls on a deadline's float boundary.
        const feedAtMs = randInt(r, 0, 4000) + 0.5;
        nowMs = 1_000_000 + feedAtMs;
        const kind = randInt(r, 0, 4);
        const stampOffMs = kind === 0 ? feedAtMs - randInt(r, 0, 3000) : kind === 1 ? feedAtMs + randInt(r, 1, 5000) : kind === 2 ? -1e12 : kind === 3 ? NaN : -3_600_000;
        const stampUs = kind === 2 ? 0 : kind === 3 ? NaN : usAt(stampOffMs);
        sub.ingest(deltas[4]!, stampUs);
        // Reference: judged at the stamp, never past now, never more than max(timeoutMs, 1 s) behind it.
        const earliestMs = feedAtMs - Math.max(timeoutMs, 1000);
        const judgedMs = stampOffMs >= feedAtMs ? feedAtMs : stampOffMs > earliestMs ? stampOffMs : earliestMs;
        const timedOut = judgedMs >= timeoutMs;
        const what = `timeout ${timeoutMs} ms, fed at ${feedAtMs} ms, stamp ${kind === 3 ? "NaN" : kind === 2 ? "0" : stampOffMs} ms`;
        expect(sub.counters.retransmitTimeouts, what).toBe(timedOut ? 1 : 0);
        expect(sub.retransmitsPending, what).toBe(timedOut ? 0 : 1);
      }
    });
  });
});
