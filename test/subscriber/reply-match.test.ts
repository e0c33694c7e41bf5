/**
 * The request socket's replies (docs/wire-protocol.md §11.4), over real loopback UDP:
 * - A refusal (OUT_OF_RANGE, THROTTLED) was matched to the open request by its first seqNum alone: one of another
 *   count (an older request's, late) ended the open request, which fell back (books invalid until a refresh) though
 *   its answer was on the way. It must name the request's first seqNum and count; another is counted and ignored.
 * - Replies were taken from any address: on an unkeyed feed anyone reaching the request socket forced fallbacks or
 *   filled the gap with datagrams of its own. Only the address the requests go to is heard; others are counted, and
 *   said in an 'error' (rate-limited) naming the address and the one asked.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { decodeRetxControl, markRetransmit, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST, type RetxControl } from "../../src/wire/retransmit.ts";
import { forgedControl, levelsOf, makeInstrument, TestBook, waitFor } from "../wire/helpers.ts";
import { snapshotAndDeltas, T0 } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function socketOn(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve) => s.bind(0, address, () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

/** A started subscriber asking `server` (at `host`), fed snapshotAndDeltas(inst, 10) but the third after the snapshot (lost). */
async function rig(server: dgram.Socket, host = "127.0.0.1"): Promise<{ sub: FeedSubscriber; b: TestBook; lost: Uint8Array; feed: () => void }> {
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host, port: (server.address() as { port: number }).port, timeoutMs: 10_000 } });
  await sub.start();
  cleanups.push(() => sub.stop());
  const { b, ds } = snapshotAndDeltas(inst, 10);
  const lost = ds[3]!;
  return { sub, b, lost, feed: () => ds.forEach((d) => d !== lost && sub.ingest(d, T0)) };
}

function refusal(req: RetxControl, count: number): Uint8Array {
  const o = { channelId: req.channelId, sourceId: req.sourceId, sessionId: req.sessionId, count };
  return forgedControl(RETX_KIND_OUT_OF_RANGE, [BigInt(req.seqNum), 0n, 0n], undefined, o);
}

function retransmitted(d: Uint8Array): Uint8Array {
  const copy = d.slice();
  markRetransmit(copy, copy.length, undefined);
  return copy;
}

describe("a reply is taken only for the request it answers, from the address asked", () => {
  it("a refusal at the request's first seqNum but of another count (an older request's) ends nothing: the answer still fills the gap", async () => {
    const server = await socketOn("127.0.0.1");
    const { sub, b, lost, feed } = await rig(server);
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      server.send(refusal(req, req.count + 5), rinfo.port, rinfo.address, () => server.send(retransmitted(lost), rinfo.port, rinfo.address));
    });
    feed();
    expect(sub.counters.retransmitRequests).toBe(1);
    await waitFor(() => sub.retransmitsPending === 0, 5000, "the request ended");
    await waitFor(() => sub.counters.retransmitRejected === 1, 5000, "the refusal of another count counted");
    expect([sub.counters.retransmitRefused, sub.counters.retransmitFallbacks, sub.counters.retransmitRecovered, sub.counters.gaps]).toEqual([0, 0, 1, 0]);
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.usable).toBe(true);
  });

  it("the request's own refusal still ends it at once (the match is exact, not off)", async () => {
    const server = await socketOn("127.0.0.1");
    const { sub, feed } = await rig(server);
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      server.send(refusal(req, req.count), rinfo.port, rinfo.address);
    });
    feed();
    await waitFor(() => sub.retransmitsPending === 0, 5000, "the request refused");
    expect([sub.counters.retransmitRefused, sub.counters.retransmitFallbacks, sub.counters.retransmitRejected, sub.counters.gaps]).toEqual([1, 1, 0, 1]);
    expect(sub.book(inst.instrumentId)!.usable).toBe(false);
  });

  it("a refusal and a RETRANSMIT datagram from another address are counted and ignored: the server's answer fills the gap", async () => {
    const server = await socketOn("127.0.0.1");
    const stranger = await socketOn("127.0.0.2"); // loopback too, but not the address the requests go to
    const { sub, b, lost, feed } = await rig(server);
    const forged = snapshotAndDeltas(inst, 500).ds[3]!; // the lost one's seqNum, other levels
    expect(forged).not.toEqual(lost);
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      stranger.send(refusal(req, req.count), rinfo.port, rinfo.address);
      stranger.send(retransmitted(forged), rinfo.port, rinfo.address);
      // The answer once both were read (each counted, as rejected or, before, as the refusal of the open request).
      void waitFor(() => sub.counters.retransmitRejected + sub.counters.retransmitRefused >= 2, 5000, "the stranger's two read").then(() =>
        server.send(retransmitted(lost), rinfo.port, rinfo.address),
      );
    });
    feed();
    await waitFor(() => sub.retransmitsPending === 0, 5000, "the request ended");
    expect([sub.counters.retransmitRefused, sub.counters.retransmitFallbacks, sub.counters.retransmitRecovered, sub.counters.gaps]).toEqual([0, 0, 1, 0]);
    expect(sub.counters.retransmitRejected).toBe(2);
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.usable).toBe(true);
  });

  it("asked at a loopback address other than 127.0.0.1 (a host name on 127.0.1.1), the answer from 127.0.0.1 fills the gap", async () => {
    // A server on 0.0.0.0 answers a request to any 127.x.y.z from 127.0.0.1 (the kernel's source for the requester,
    // itself 127.0.0.1): taken for a stranger's, every gap fell back. Played here by a socket on 127.0.0.1 answering
    // what the one on 127.0.0.2 heard (no test binds 0.0.0.0).
    const asked = await socketOn("127.0.0.2");
    const answering = await socketOn("127.0.0.1");
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.2", port: (asked.address() as { port: number }).port, timeoutMs: 10_000 } });
    await sub.start();
    cleanups.push(() => sub.stop());
    const { b, ds } = snapshotAndDeltas(inst, 10);
    const lost = ds[3]!;
    asked.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      answering.send(retransmitted(lost), rinfo.port, rinfo.address);
    });
    ds.forEach((d) => d !== lost && sub.ingest(d, T0));
    await waitFor(() => sub.retransmitsPending === 0, 5000, "the request answered");
    expect([sub.counters.retransmitRecovered, sub.counters.retransmitRejected, sub.counters.gaps]).toEqual([1, 0, 0]);
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.usable).toBe(true);
  });

  it("asked at 0.0.0.0 (this host, as a listen address reads), the answer from 127.0.0.1 fills the gap", async () => {
    // A request to 0.0.0.0 goes to this host over loopback and its answer comes from 127.0.0.1: taken for a
    // stranger's, every gap fell back.
    const server = await socketOn("127.0.0.1");
    const { sub, b, lost, feed } = await rig(server, "0.0.0.0");
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      server.send(retransmitted(lost), rinfo.port, rinfo.address);
    });
    feed();
    await waitFor(() => sub.retransmitsPending === 0, 5000, "the request answered");
    expect([sub.counters.retransmitRecovered, sub.counters.retransmitRejected, sub.counters.gaps]).toEqual([1, 0, 0]);
    expect(levelsOf(sub.book(inst.instrumentId)!)).toEqual(levelsOf(b));
  });

  it("a reply from another address is said in an 'error' naming it and the address asked, not once per packet", async () => {
    // Before: only counted, so a server answering from another address (0.0.0.0 on a host of several) made every gap
    // fall back with nothing saying why.
    const server = await socketOn("127.0.0.1");
    const stranger = await socketOn("127.0.0.2");
    const { sub, feed } = await rig(server);
    const errors: { message: string; from: string }[] = [];
    sub.on("error", (e) => errors.push({ message: e.error.message, from: e.from }));
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      for (let i = 0; i < 3; i++) stranger.send(refusal(req, req.count), rinfo.port, rinfo.address);
    });
    feed();
    await waitFor(() => sub.counters.retransmitRejected === 3, 5000, "the stranger's three read");
    const strangerPort = (stranger.address() as { port: number }).port;
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThan(3); // the first at once, then at most one per 5 s
    expect(errors[0]!.from).toBe(`127.0.0.2:${strangerPort}`);
    expect(errors[0]!.message).toMatch(/^retransmission reply from 127\.0\.0\.2:\d+ dropped: .*127\.0\.0\.1/);
    expect(errors[0]!.message).toContain("; the first such report. "); // before: "1 dropped since the last such report"
    expect(sub.counters.retransmitRefused).toBe(0);
  });
});
