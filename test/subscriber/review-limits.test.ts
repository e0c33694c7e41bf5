/**
 * Review of the receiving side (s-rev8): small defects at the edges of the subscriber.
 * - A datagram of a new stream dropped for the stream cap (maxStreams) still moved its source to its (newer)
 *   session: the real stream's next datagram was then taken as evidence against it and dropped — a loss caused by
 *   a datagram that was refused. (Through ingest: the test is about bytes.)
 * - The request socket took any control packet for "the server cannot" and fell back: a request reflected back to
 *   it (a server or host echoing what it received) cost the retransmission. (Real loopback UDP.)
 * - maxDatagramBytes and recvBufferBytes were not checked: 0 dropped every datagram as "oversized", NaN accepted
 *   anything that fit the buffer.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { decodeRetxControl, markRetransmit, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { forgedControl, levelsOf, makeInstrument, TestBook, waitFor } from "../wire/helpers.ts";
import { PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { deltaFeed, flagged } from "./delta-feed.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function liveBook(): TestBook {
  const b = new TestBook(inst);
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  return b;
}

function delta(b: TestBook, q: number): ChangeSet {
  const cs = new ChangeSet();
  cs.addBid(943500, q);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("review: the subscriber's edges", () => {
  it("a datagram refused for the stream cap does not move its source to its session", () => {
    const sub = newSubscriber({ maxStreams: 1 });
    const p = packer({ channelId: 1, sourceId: 0, sessionId: 40, sessionStartUs: T0 });
    const b = liveBook();
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    packBookDelta(p, b, delta(b, 1));
    ingestAll(sub, take(p));
    const other = packer({ channelId: 2, sourceId: 0, sessionId: 41, sessionStartUs: T0 + 60_000_000 });
    other.appendHeartbeat(0);
    ingestAll(sub, take(other)); // a stream over the cap: refused
    expect(sub.counters.streamsOverCap).toBe(1);
    for (let i = 0; i < 3; i++) {
      packBookDelta(p, b, delta(b, 2 + i));
      ingestAll(sub, take(p));
    }
    expect(sub.counters.oldSessionDatagrams).toBe(0);
    expect(sub.counters.gaps).toBe(0);
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.usable).toBe(true);
  });

  it("a reply whose seqNum, firstAvailable or nextSeq is 2^53 or more is refused (unsafe_integer), not taken for the server's refusal", async () => {
    const server = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: server.address().port, timeoutMs: 10_000 } });
    const errors: string[] = [];
    sub.on("error", (e) => errors.push(e.error.message));
    await sub.start();
    cleanups.push(() => sub.stop());
    const p = packer();
    const b = liveBook();
    packBookSnapshot(p, b, 0, false);
    const ds = [...take(p)];
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, b, delta(b, 10 + i));
      ds.push(...take(p));
    }
    const lost = ds[3]!;
    // The "server": forged OUT_OF_RANGE replies first (the request's seqNum with a nextSeq of 2^60, which before was
    // taken as the server's refusal and made the request fall back; a seqNum of 2^64 − 1), then the real answer.
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      const o = { channelId: req.channelId, sourceId: req.sourceId, sessionId: req.sessionId, count: req.count };
      server.send(forgedControl(RETX_KIND_OUT_OF_RANGE, [BigInt(req.seqNum), 0n, 2n ** 60n], undefined, o), rinfo.port, rinfo.address);
      server.send(forgedControl(RETX_KIND_OUT_OF_RANGE, [2n ** 64n - 1n, 0n, 0n], undefined, o), rinfo.port, rinfo.address);
      const answer = lost.slice();
      markRetransmit(answer, answer.length, undefined);
      server.send(answer, rinfo.port, rinfo.address);
    });
    for (const d of ds) if (d !== lost) sub.ingest(d, T0);
    expect(sub.counters.retransmitRequests).toBe(1);
    await waitFor(() => sub.retransmitsPending === 0, 5000, "the request answered");
    await waitFor(() => sub.counters.retransmitRejected === 2, 5000, "both forged replies refused");
    expect(errors).toEqual(["retransmission reply: unsafe_integer", "retransmission reply: unsafe_integer"]);
    expect(sub.counters.retransmitRefused).toBe(0);
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sub.counters.gaps).toBe(0);
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.usable).toBe(true);
  });

  it("a request reflected back to the request socket is refused, not taken for the server's refusal", async () => {
    const server = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: server.address().port, timeoutMs: 10_000 } });
    await sub.start();
    cleanups.push(() => sub.stop());
    const p = packer();
    const b = liveBook();
    packBookSnapshot(p, b, 0, false);
    const ds = [...take(p)];
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, b, delta(b, 10 + i));
      ds.push(...take(p));
    }
    const lost = ds[3]!;
    // The "server": echoes the request first, then answers it with the lost datagram, then (late: the request is
    // filled) refuses it OUT_OF_RANGE.
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      server.send(msg, rinfo.port, rinfo.address);
      const answer = lost.slice();
      markRetransmit(answer, answer.length, undefined);
      server.send(answer, rinfo.port, rinfo.address);
      const o = { channelId: req.channelId, sourceId: req.sourceId, sessionId: req.sessionId, count: req.count };
      server.send(forgedControl(RETX_KIND_OUT_OF_RANGE, [BigInt(req.seqNum), 0n, 0n], undefined, o), rinfo.port, rinfo.address);
    });
    for (const d of ds) if (d !== lost) sub.ingest(d, T0);
    expect(sub.counters.retransmitRequests).toBe(1);
    await waitFor(() => sub.retransmitsPending === 0, 5000, "the request answered");
    // The echo, and the late refusal (for no open request: before 2026-12-07 dropped without being counted).
    await waitFor(() => sub.counters.retransmitRejected === 2, 5000, "the echo and the late refusal counted");
    expect(sub.counters.retransmitRefused).toBe(0);
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sub.counters.gaps).toBe(0);
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.usable).toBe(true);
  });

  it("a maxDatagramBytes or recvBufferBytes that cannot work is refused, naming the option", () => {
    for (const v of [0, -1, 47, 65508, Number.NaN, 1400.5]) {
      expect(() => new FeedSubscriber({ groups: [], maxDatagramBytes: v }), String(v)).toThrow(/maxDatagramBytes must be an integer in 48\.\.65507/);
    }
    for (const v of [0, -5, Number.NaN]) {
      expect(() => new FeedSubscriber({ groups: [], recvBufferBytes: v }), String(v)).toThrow(/recvBufferBytes must be a positive integer/);
    }
    expect(() => new FeedSubscriber({ groups: [], maxDatagramBytes: 65507, recvBufferBytes: 1 << 20 })).not.toThrow();
  });

  it("a retransmit.sourceIdBase or host that cannot name a server is refused, naming the option (before: taken, each gap's request then thrown by the socket or sent nowhere)", () => {
    for (const v of [-1, 1.5, 65536, Number.NaN]) {
      expect(() => new FeedSubscriber({ groups: [], retransmit: { host: "127.0.0.1", port: 31900, sourceIdBase: v } }), String(v)).toThrow(/retransmit\.sourceIdBase must be an integer in 0\.\.65535/);
    }
    expect(() => new FeedSubscriber({ groups: [], retransmit: { host: "", port: 31900 } })).toThrow(/retransmit\.host must be/);
    expect(() => new FeedSubscriber({ groups: [], retransmit: { host: "127.0.0.1", port: 31900, sourceIdBase: 65535 } })).not.toThrow();
  });

  it("the retransmit options are the constructor's: changed after it (unchecked), they do not move the request server", () => {
    // Before: kept by reference and read at each send, so a port (or host, base) set afterwards, never checked, was used.
    const inst = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);
    const { head, deltas } = deltaFeed(inst, 27, 4);
    const retransmit = { host: "127.0.0.1", port: 31900, timeoutMs: 60_000 };
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit });
    retransmit.port = 0; // no server: a gap would fall back at once
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    sub.ingest(deltas[1]!, T0);
    sub.ingest(deltas[3]!, T0); // [2] lost: asked of port 31900, as constructed
    expect(sub.counters.retransmitRequests).toBe(1);
    expect(sub.retransmitsPending).toBe(1);
    expect(sub.counters.gaps).toBe(0);
  });

  it("a gap of a source whose server port falls outside 1..65535 is not asked for: it is a gap at once (before: counted as asked, nothing sent, the books held until the timeout)", () => {
    const inst = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);
    const { head, deltas } = deltaFeed(inst, 25, 4);
    // Source 0 (another shard's, below this base): port 10 + 0 − 20.
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: 10, sourceIdBase: 20, timeoutMs: 60_000 } });
    for (const d of head) sub.ingest(d, T0);
    sub.ingest(deltas[0]!, T0);
    sub.ingest(deltas[1]!, T0);
    sub.ingest(deltas[3]!, T0); // [2] lost
    expect(sub.counters.retransmitRequests).toBe(0);
    expect(sub.retransmitsPending).toBe(0);
    expect(sub.counters.gaps).toBe(1);
    expect(sub.book(inst.instrumentId)!.valid).toBe(false); // the gap invalidated it: the refresh repairs it
  });

  describe("a request open across stop() and start(): no book usable until its stream is whole again", () => {
    // stop() closes the request socket the request went out on (an answer to it is lost) and its timer; the request
    // stays open, its books held, and start() asks it again on the new socket (before 2026-12-07 it did not: the gap
    // always fell back at the timeout). Each step checks `usable` against what the book may be at that point.
    const inst = makeInstrument("bybit", "linear", "SOLUSDT", 3, 3);
    const seqOf = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset).getUint32(PKT_SEQ_NUM_OFFSET, true);

    async function openAcrossRestart(seed: number) {
      const feed = deltaFeed(inst, seed, 6);
      const requests: { seqNum: number; count: number; port: number }[] = [];
      const server = dgram.createSocket({ type: "udp4" });
      await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", () => resolve()));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      server.on("message", (msg, rinfo) => {
        const req = decodeRetxControl(msg);
        if (typeof req !== "string" && req.kind === RETX_KIND_REQUEST) requests.push({ seqNum: req.seqNum, count: req.count, port: rinfo.port });
      });
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: server.address().port, timeoutMs: 60_000 } });
      await sub.start();
      cleanups.push(() => sub.stop());
      const book = () => sub.book(inst.instrumentId)!;
      for (const d of [...feed.head, feed.deltas[0]!]) sub.ingest(d);
      expect(book().usable).toBe(true);
      sub.ingest(feed.deltas[2]!); // [1] lost: asked for, the book held
      await waitFor(() => requests.length === 1, 5000, "the request received");
      expect(requests[0]).toMatchObject({ seqNum: seqOf(feed.deltas[1]!), count: 1 });
      expect(book().usable).toBe(false);
      await sub.stop();
      expect(book().usable).toBe(false);
      // Answered meanwhile, to the socket it was asked from, which stop() closed: lost.
      server.send(flagged(feed.deltas[1]!), requests[0]!.port, "127.0.0.1");
      await sub.start();
      expect(sub.retransmitsPending).toBe(1);
      expect(book().usable).toBe(false);
      await waitFor(() => requests.length === 2, 5000, "the request asked again after start()");
      expect(requests[1]).toMatchObject({ seqNum: seqOf(feed.deltas[1]!), count: 1 });
      expect(requests[1]!.port).not.toBe(requests[0]!.port);
      expect(sub.counters.retransmitRequests).toBe(1); // the same request, asked again
      return { feed, sub, book, server, requests };
    }

    it("a request opened while start() binds the request socket is asked once, when it is bound", async () => {
      // Before: sent on the socket still binding (queued by the runtime), then again by start()'s resend: the server
      // sent the range twice. Loopback keeps one socket's datagrams in order: a duplicate comes before the next request.
      const feed = deltaFeed(inst, 75, 6);
      const requests: { seqNum: number; port: number }[] = [];
      const server = dgram.createSocket({ type: "udp4" });
      await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", () => resolve()));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      server.on("message", (msg, rinfo) => {
        const req = decodeRetxControl(msg);
        if (typeof req !== "string" && req.kind === RETX_KIND_REQUEST) requests.push({ seqNum: req.seqNum, port: rinfo.port });
      });
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: server.address().port, timeoutMs: 60_000 } });
      for (const d of [...feed.head, feed.deltas[0]!]) sub.ingest(d);
      const starting = sub.start(); // no groups: the request socket is binding from here
      cleanups.push(() => sub.stop());
      sub.ingest(feed.deltas[2]!); // [1] lost: asked for while the socket binds
      await starting;
      await waitFor(() => requests.length >= 1, 5000, "the request received");
      server.send(flagged(feed.deltas[1]!), requests[0]!.port, "127.0.0.1");
      await waitFor(() => sub.retransmitsPending === 0, 5000, "the request answered");
      sub.ingest(feed.deltas[4]!); // [3] lost: the next request, after any duplicate of the first
      await waitFor(() => requests.some((r) => r.seqNum === seqOf(feed.deltas[3]!)), 5000, "the second request received");
      expect(requests.map((r) => r.seqNum)).toEqual([seqOf(feed.deltas[1]!), seqOf(feed.deltas[3]!)]);
      expect(sub.counters.retransmitRecovered).toBe(1);
    });

    it("answered on the new socket after start(): recovered, the book whole without a refresh", async () => {
      const { feed, sub, book, server, requests } = await openAcrossRestart(73);
      server.send(flagged(feed.deltas[1]!), requests[1]!.port, "127.0.0.1");
      await waitFor(() => sub.retransmitsPending === 0, 5000, "the request answered");
      expect(sub.counters.retransmitRecovered).toBe(1);
      expect(sub.counters.retransmitTimeouts).toBe(0);
      for (const d of feed.deltas.slice(3)) sub.ingest(d);
      expect(sub.counters.gaps).toBe(0);
      expect(book().usable).toBe(true);
      expect(levelsOf(book())).toEqual(levelsOf(feed.book));
    });

    it("unanswered, it falls back at its timeout after start(): the book invalid until the refresh", async () => {
      const { feed, sub, book } = await openAcrossRestart(71);
      sub.ingest(feed.deltas[3]!); // heard after start(): held behind the gap
      expect(book().usable).toBe(false);
      sub.checkRecovery(Number.MAX_SAFE_INTEGER); // its timeout, long past
      expect(sub.counters.retransmitTimeouts).toBe(1);
      expect(sub.counters.gaps).toBe(1);
      for (const d of feed.deltas.slice(4)) sub.ingest(d);
      expect(book().usable).toBe(false); // the gap invalidated it: deltas alone do not make it whole
      packBookSnapshot(feed.p, feed.book, 0, false);
      for (const d of take(feed.p)) sub.ingest(d);
      expect(book().usable).toBe(true);
      expect(levelsOf(book())).toEqual(levelsOf(feed.book));
    });

    it("filled after start() by the live datagram itself, a loss while stopped is a new gap, asked for on the new socket", async () => {
      const { feed, sub, book, server, requests } = await openAcrossRestart(72);
      // [3] arrived while stopped (lost); [4] after start(): held behind the open gap.
      sub.ingest(feed.deltas[4]!);
      expect(book().usable).toBe(false);
      // The lost [1] arrives late on the live path: it fills the gap, [2] and [4] are replayed, and [4] reveals [3]'s gap.
      sub.ingest(feed.deltas[1]!);
      expect(sub.counters.retransmitRecovered).toBe(1);
      expect(book().usable).toBe(false);
      await waitFor(() => requests.length === 3, 5000, "the second request received");
      expect(requests[2]).toMatchObject({ seqNum: seqOf(feed.deltas[3]!), count: 1 });
      expect(requests[2]!.port).toBe(requests[1]!.port);
      server.send(flagged(feed.deltas[3]!), requests[2]!.port, "127.0.0.1");
      await waitFor(() => sub.retransmitsPending === 0, 5000, "the second request answered");
      sub.ingest(feed.deltas[5]!);
      expect(sub.counters.gaps).toBe(0);
      expect(book().usable).toBe(true);
      expect(levelsOf(book())).toEqual(levelsOf(feed.book));
    });
  });
});
