/**
 * Review of the receiving side (s-rev8): retransmission against a hostile request server, randomized against a
 * reference model. No randomized test covered the subscriber's recovery (test/subscriber/fuzz.test.ts and
 * random-loss.test.ts run without it; the ring has its own). Here a seeded publisher model (real encoder and packer,
 * split deltas, chunked snapshots, statuses, refreshes; TestBook is the reference book) feeds the subscriber's
 * datagram entry point (ingest) with random loss, duplication and reordering; the subscriber asks a request server
 * of the test's own over real loopback UDP (its request socket, as in production), and that server answers each
 * request at random: correctly, partly, in reverse order, with duplicates, OUT_OF_RANGE, not at all (timeout),
 * late (after the subscriber fell back), with datagrams of an older publisher session, and, when the feed is keyed,
 * with forged unsigned copies. After every batch (once no request is open):
 * - every `valid` book is exactly the publisher's book at the subscriber's instrSeq;
 * and after a lossless refresh every book is valid and identical to the publisher's current one.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { packBookDelta, packBookSnapshot, packBookStatus } from "../../src/wire/encoder.ts";
import { PKT_MSG_COUNT_OFFSET, PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { decodeRetxControl, encodeRetxControl, markRetransmit, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { levelsOf, makeInstrument, randInt, randomBookSides, randomChanges, resealCrc, rng, TestBook, waitFor } from "../wire/helpers.ts";
import { packer, T0, take } from "./feed-harness.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const seqOf = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset).getUint32(PKT_SEQ_NUM_OFFSET, true);
const countOf = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset).getUint16(PKT_MSG_COUNT_OFFSET, true);

/** The publisher's request server as an adversary: every answer is a random choice among right and wrong ones. */
class HostileServer {
  readonly socket = dgram.createSocket({ type: "udp4" });
  readonly acts: Record<string, number> = {};
  /** Datagrams of an older session of the same stream, at the same sequence numbers (another process's ring). */
  readonly older = new Map<number, Uint8Array>();
  private inFlight = 0;
  closed = false;

  constructor(
    private readonly r: () => number,
    private readonly ring: RetransmitRing,
    private readonly auth: DatagramAuth | undefined,
  ) {}

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.socket.bind(0, "127.0.0.1", () => resolve()));
    this.socket.on("message", (msg, rinfo) => this.onRequest(msg, rinfo.port));
    return this.socket.address().port;
  }

  /** Answers not sent yet (delayed ones). */
  get pending(): number {
    return this.inFlight;
  }

  private act(name: string): void {
    this.acts[name] = (this.acts[name] ?? 0) + 1;
  }

  private onRequest(msg: Buffer, port: number): void {
    const req = decodeRetxControl(msg, this.auth);
    if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) throw new Error(`the subscriber sent a bad request: ${String(req)}`);
    const r = this.r;
    const x = r();
    if (x < 0.12) return this.act("silent"); // the subscriber times out
    const first = this.ring.find(req.seqNum);
    const end = req.seqNum + req.count;
    if (x < 0.22 || first < 0 || end > this.ring.nextSeq) {
      const out = new Uint8Array(64);
      const n = encodeRetxControl(out, { ...req, kind: RETX_KIND_OUT_OF_RANGE, firstAvailable: this.ring.firstSeq, nextSeq: this.ring.nextSeq }, this.auth);
      this.send([out.slice(0, n)], port, 0);
      return this.act("out_of_range");
    }
    let answer: Uint8Array[] = [];
    for (let i = first; i < this.ring.size && this.ring.seqOf(i) < end; i++) {
      const copy = this.ring.datagram(i).slice();
      markRetransmit(copy, copy.length, this.auth);
      answer.push(copy);
    }
    const y = r();
    if (y < 0.15) {
      answer = answer.flatMap((d) => (r() < 0.5 ? [d, d] : [d]));
      this.act("duplicated");
    } else if (y < 0.27) {
      answer.reverse();
      this.act("reversed");
    } else if (y < 0.37 && answer.length > 1) {
      answer.splice(randInt(r, 0, answer.length - 1), 1);
      this.act("partial");
    } else if (y < 0.47) {
      // The same sequence numbers from an older session of this stream, before (or instead of part of) the answer.
      const old = answer.map((d) => this.older.get(seqOf(d))).filter((d): d is Uint8Array => d !== undefined);
      answer = [
        ...old.map((d) => {
          const c = d.slice(); // a genuine datagram of that session (signed with the key when keyed), flagged
          markRetransmit(c, c.length, this.auth);
          return c;
        }),
        ...answer,
      ];
      this.act("older_session");
    } else if (y < 0.55 && this.auth !== undefined) {
      // A forger's copy without the key: the first datagram with a level changed, flagged, CRC recomputed.
      const forged = answer[0]!.slice();
      forged[forged.length - 40] ^= 0x01;
      resealCrc(forged); // already flagged RETRANSMIT; the trailer is now wrong
      answer.unshift(forged);
      this.act("forged");
    } else this.act("right");
    const delayMs = r() < 0.12 ? randInt(r, 60, 200) : 0; // late: often after the subscriber gave up (timeout 50 ms)
    if (delayMs > 0) this.act("late");
    this.send(answer, port, delayMs);
  }

  private send(ds: Uint8Array[], port: number, delayMs: number): void {
    this.inFlight++;
    const go = () => {
      if (!this.closed) for (const d of ds) this.socket.send(d, port, "127.0.0.1");
      this.inFlight--;
    };
    if (delayMs > 0) setTimeout(go, delayMs);
    else go();
  }
}

async function runSeed(seed: number): Promise<{ recovered: number; fallbacks: number; checkedValid: number; acts: Record<string, number> }> {
  const r = rng(seed);
  const keyed = seed % 2 === 1;
  const auth = keyed ? new DatagramAuth(KEY) : undefined;
  const maxBytes = seed % 3 === 0 ? 256 : 1400;
  const p = packer({ sessionId: 5000 + seed, sessionStartUs: T0, maxBytes, auth, heartbeatIntervalMs: 1000 });
  const older = packer({ sessionId: 9000 + seed, sessionStartUs: T0 - 60_000_000, maxBytes, auth, heartbeatIntervalMs: 1000 });
  const ring = new RetransmitRing(randInt(r, 4, 64) * 1024, maxBytes);
  const server = new HostileServer(r, ring, auth);
  const port = await server.start();
  cleanups.push(() => {
    server.closed = true;
    return new Promise<void>((resolve) => server.socket.close(() => resolve()));
  });
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, maxDatagramBytes: maxBytes, authKey: keyed ? KEY : undefined, retransmit: { host: "127.0.0.1", port, timeoutMs: 50 } });
  await sub.start();
  cleanups.push(() => sub.stop());

  const books = ["AUSDT", "BUSDT", "CUSDT", "DUSDT"].map((s) => new TestBook(makeInstrument("bybit", "linear", s, 1, 2)));
  const history = books.map(() => new Map<number, string>());
  const record = (k: number) => history[k]!.set(books[k]!.instrSeq, JSON.stringify({ levels: levelsOf(books[k]!), state: books[k]!.state }));
  let checkedValid = 0;
  const check = (when: string) => {
    books.forEach((b, k) => {
      const sb = sub.book(b.instrument.instrumentId);
      if (sb === undefined || !sb.valid) return;
      checkedValid++;
      expect(JSON.stringify({ levels: levelsOf(sb), state: sb.state }), `seed ${seed} ${when}: book ${k} valid at instrSeq ${sb.instrSeq}`).toBe(history[k]!.get(sb.instrSeq));
    });
  };
  /** Everything packed since the last call, sealed, kept in the ring, delivered with loss, duplicates and reordering. */
  const deliver = async (lossRate: number, when: string) => {
    const ds = take(p, T0);
    // The older session's process had sent other datagrams at the same sequence numbers.
    for (const d of ds) {
      if (countOf(d) === 0) continue;
      ring.push(d, d.length, seqOf(d), countOf(d));
      older.nextSeq = seqOf(d);
      const ob = new TestBook(books[0]!.instrument);
      const s = randomBookSides(r, 3, 50_000);
      ob.load(s.bids, s.asks, 1, T0);
      packBookSnapshot(older, ob, 0, false);
      for (const o of take(older, T0 - 1)) server.older.set(seqOf(o), o);
    }
    const out: Uint8Array[] = [];
    for (const d of ds) {
      if (r() < lossRate) continue;
      out.push(d);
      if (r() < lossRate * 0.3) out.push(d);
      if (r() < lossRate * 0.3 && out.length >= 2) out.splice(out.length - 2, 0, out.pop()!);
    }
    for (const d of out) sub.ingest(d, T0);
    await waitFor(() => sub.retransmitsPending === 0, 5000, `seed ${seed} ${when}: every request answered or timed out`);
    check(when);
  };

  for (const [k, b] of books.entries()) {
    const s = randomBookSides(r, randInt(r, 0, 40), 50_000);
    b.load(s.bids, s.asks, 1, T0);
    b.state = BookState.LIVE;
    record(k);
    packBookSnapshot(p, b, 0, false);
  }
  await deliver(0, "start");
  const cs = new ChangeSet();
  for (let step = 0; step < 250; step++) {
    const k = randInt(r, 0, books.length - 1);
    const b = books[k]!;
    const x = r();
    if (x < 0.78) {
      randomChanges(r, b, cs, r() < 0.1 ? 120 : 8, 50_000);
      b.apply(cs, step, T0 + step);
      packBookDelta(p, b, cs);
    } else if (x < 0.86) {
      b.instrSeq++;
      b.state = b.state === BookState.LIVE ? BookState.RESYNCING : BookState.LIVE;
      b.reason = b.state === BookState.LIVE ? StatusReason.SNAPSHOT_APPLIED : StatusReason.SEQUENCE_GAP;
      packBookStatus(p, b);
    } else if (x < 0.92) {
      const s = randomBookSides(r, randInt(r, 0, 100), 50_000);
      b.load(s.bids, s.asks, step, T0 + step);
      packBookSnapshot(p, b, 0, false);
    } else if (x < 0.97) {
      packBookSnapshot(p, b, 0, true); // refresh, same instrSeq
    } else {
      p.appendHeartbeat(0);
    }
    record(k);
    if (r() < 0.35) await deliver(0.15, `step ${step}`);
  }
  await deliver(0.15, "last step");
  await waitFor(() => server.pending === 0, 5000, "late answers sent");
  await new Promise((resolve) => setTimeout(resolve, 20)); // the last late answers reach the socket
  check("after the late answers");
  // A lossless refresh makes every book valid and identical to the publisher's.
  for (const b of books) packBookSnapshot(p, b, 0, true);
  await deliver(0, "refresh");
  for (const [k, b] of books.entries()) {
    const sb = sub.book(b.instrument.instrumentId)!;
    const what = `seed ${seed} after the refresh: book ${k}`;
    expect(sb.valid, what).toBe(true);
    expect(sb.instrSeq, what).toBe(b.instrSeq);
    expect(levelsOf(sb), what).toEqual(levelsOf(b));
    expect(sb.state, what).toBe(b.state);
  }
  expect(sub.counters.listenerErrors).toBe(0);
  return { recovered: sub.counters.retransmitRecovered, fallbacks: sub.counters.retransmitFallbacks, checkedValid, acts: server.acts };
}

describe("review: retransmission against a hostile request server (randomized, reference model)", () => {
  it("valid ⇒ the publisher's book at instrSeq, whatever the answers; a lossless refresh ⇒ every book identical", async () => {
    let recovered = 0;
    let fallbacks = 0;
    let checkedValid = 0;
    const acts: Record<string, number> = {};
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const res = await runSeed(seed);
      recovered += res.recovered;
      fallbacks += res.fallbacks;
      checkedValid += res.checkedValid;
      for (const [a, n] of Object.entries(res.acts)) acts[a] = (acts[a] ?? 0) + n;
      while (cleanups.length > 0) await cleanups.pop()!();
    }
    // The properties were exercised: gaps repaired by retransmission, fallbacks, every kind of answer.
    expect(recovered).toBeGreaterThan(10);
    expect(fallbacks).toBeGreaterThan(5);
    expect(checkedValid).toBeGreaterThan(200);
    for (const a of ["silent", "out_of_range", "duplicated", "reversed", "partial", "older_session", "forged", "late", "right"]) expect(acts[a] ?? 0, a).toBeGreaterThan(0);
    console.log(`retransmit review: ${recovered} recovered, ${fallbacks} fallbacks, ${checkedValid} valid books checked, answers ${JSON.stringify(acts)}`);
  }, 60_000);
});
