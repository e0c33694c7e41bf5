/**
 * send-batch.ts, the one resend loop of the publisher's destinations and the retransmission server, against a
 * simple reference model. The socket is a stand-in that behaves as Bun 1.4.5's does (measured in
 * test/app/review-bounds-send.test.ts and test/app/rev12-retransmit-bounce.test.ts): sendMany stops at the first
 * datagram it cannot send, returning the count sent, or throws when that was the first; a datagram to a receiver
 * that has gone is sent but leaves an error pending that fails the next send; an oversized datagram always fails;
 * a full buffer fails every send from then on. Real sockets cannot be made to do each of these on demand.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DestinationConfig, RetransmitConfig } from "../../src/config/types.ts";
import { getU64 } from "../../src/core/i64.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import { MAX_DATAGRAMS_PER_SEND, PublishChannel } from "../../src/net/publish-channel.ts";
import { ROUTE_BACKOFF_FIRST_MS, ROUTE_BACKOFF_MAX_MS } from "../../src/net/route-pause.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { BatchSender, type SendCounters } from "../../src/net/send-batch.ts";
import { PACKET_HEADER_BYTES, PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { decodeRetxControl, encodeRetxControl, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { rng } from "../wire/helpers.ts";

/** What happens to a datagram: sent; sent but bounces (error pending); always refused (EMSGSIZE); buffer full from here. */
type Fate = "ok" | "bounce" | "too_big" | "full";

/** Datagram i is i + 1 bytes long, its first byte its number: what was delivered can be told apart. */
function datagrams(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new Uint8Array(i + 1).fill(i & 0xff));
}

function standInSocket(fates: Fate[], lags: number[], per: number) {
  const delivered: number[] = [];
  // The socket's one error slot: -1 empty, else how many more send attempts pass before the bounce's error is
  // pending (an ICMP reply arrives a little later: the error can meet the next call's first datagram).
  let armed = -1;
  let full = false;
  let calls = 0;
  let thrownPending = 0;
  const fail = (k: number, code: string): number => {
    if (k > 0) return k;
    if (code === "ECONNREFUSED") thrownPending++;
    throw Object.assign(new Error(`${code}: send`), { code });
  };
  return {
    delivered,
    calls: () => calls,
    /** Calls that met a pending error on their first datagram (they throw: the case the retry is for). */
    thrownPending: () => thrownPending,
    sendMany(args: never): number {
      calls++;
      const a = args as unknown as (Uint8Array | number | string)[];
      for (let k = 0; k < a.length / per; k++) {
        const id = (a[k * per] as Uint8Array).length - 1;
        if (per === 3) expect([a[k * 3 + 1], a[k * 3 + 2]]).toEqual([7000 + id, "127.0.0.1"]);
        if (armed === 0) {
          armed = -1;
          return fail(k, "ECONNREFUSED");
        }
        if (armed > 0) armed--;
        if (full || fates[id] === "full") {
          full = true;
          return fail(k, k % 2 === 0 ? "EAGAIN" : "ENOBUFS");
        }
        if (fates[id] === "too_big") return fail(k, "EMSGSIZE");
        delivered.push(id);
        if (fates[id] === "bounce" && armed < 0) armed = lags[id]!;
      }
      return a.length / per;
    },
  };
}

/** The model: every datagram before the first full-buffer one is delivered once, in order, unless it is too big. */
function expected(fates: Fate[]) {
  const firstFull = fates.indexOf("full");
  const end = firstFull < 0 ? fates.length : firstFull;
  const delivered: number[] = [];
  for (let i = 0; i < end; i++) if (fates[i] !== "too_big") delivered.push(i);
  return { delivered, refused: fates.length - delivered.length };
}

describe("BatchSender", () => {
  it("random batches: what is delivered, counted and named matches the model, in at most 2n calls", () => {
    const random = rng(20261205);
    let thrownFirst = 0;
    for (let round = 0; round < 400; round++) {
      const n = 1 + Math.floor(random() * 150);
      const per = random() < 0.5 ? 1 : 3;
      const fates: Fate[] = Array.from({ length: n }, () => {
        const x = random();
        return x < 0.7 ? "ok" : x < 0.88 ? "bounce" : x < 0.97 ? "too_big" : "full";
      });
      const lags = fates.map(() => Math.floor(random() * 3));
      const data = datagrams(n);
      const socket = standInSocket(fates, lags, per);
      const counters: SendCounters = { datagrams: 0, bytes: 0, sendErrors: 0 };
      let named = 0;
      const errors: string[] = [];
      const sender = new BatchSender(counters, (error, count) => {
        named += count;
        errors.push(error);
      });
      // Consecutive batches of 1..64 datagrams through one sender and socket, as a destination sends them.
      for (let from = 0; from < n; ) {
        const to = Math.min(n, from + 1 + Math.floor(random() * 64));
        const batch = data.slice(from, to);
        sender.send(socket, per === 1 ? batch : batch.flatMap((d) => [d, 7000 + d.length - 1, "127.0.0.1"]), per);
        from = to;
      }
      const want = expected(fates);
      const context = `round ${round}, per ${per}, fates ${fates.join(",")}`;
      expect(socket.delivered, context).toEqual(want.delivered);
      expect(counters.datagrams, context).toBe(want.delivered.length);
      expect(counters.bytes, context).toBe(want.delivered.reduce((sum, id) => sum + id + 1, 0));
      expect(counters.sendErrors, context).toBe(want.refused);
      expect(named, context).toBe(want.refused);
      // (a too-big datagram may be named by the pending error its second try met: lost either way)
      for (const e of errors) expect(e, context).toMatch(/^(EMSGSIZE|EAGAIN|ENOBUFS|ECONNREFUSED): send$/);
      expect(socket.calls(), context).toBeLessThanOrEqual(2 * n);
      thrownFirst += socket.thrownPending();
    }
    expect(thrownFirst).toBeGreaterThan(50); // the model reached the retry of a call's first datagram
  });

  it("a bounce reported by the socket's error handler moves one datagram from sent to refused, naming it", () => {
    const counters: SendCounters = { datagrams: 0, bytes: 0, sendErrors: 0 };
    const named: string[] = [];
    const sender = new BatchSender(counters, (error, count) => named.push(`${count} ${error}`));
    sender.send(standInSocket(["ok", "ok"], [0, 0], 1), datagrams(2), 1);
    sender.bounced("port unreachable");
    expect(counters).toEqual({ datagrams: 1, bytes: 1, sendErrors: 1 }); // 2 B off: the mean of 1 and 2, rounded
    expect(named).toEqual(["1 port unreachable"]);
  });

  it("a bounce takes its bytes off with its datagram: sent bytes stay those of the datagrams counted sent", () => {
    // Before, only the datagram was taken off: feeder_sent_bytes_total counted the bounced ones, feeder_datagrams_sent_total did not.
    const counters: SendCounters = { datagrams: 0, bytes: 0, sendErrors: 0 };
    const sender = new BatchSender(counters, () => undefined);
    const tenBytes = Array.from({ length: 4 }, () => new Uint8Array(10));
    sender.send({ sendMany: (args: unknown[]) => args.length } as never, tenBytes, 1);
    sender.bounced("port unreachable");
    sender.bounced("port unreachable");
    expect(counters).toEqual({ datagrams: 2, bytes: 20, sendErrors: 2 });
  });
});

describe("RetransmitServer through BatchSender", () => {
  it("a full socket buffer drops the rest of an answer at once, counted, without two calls per datagram", () => {
    const config: RetransmitConfig = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: 1 << 24, totalBytesPerSec: 1 << 24 };
    const ring = new RetransmitRing(config.ringBytes, 1400);
    for (let i = 0; i < 100; i++) ring.push(new Uint8Array(PACKET_HEADER_BYTES + 8), PACKET_HEADER_BYTES + 8, i + 1, 1);
    const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: 77, auth: undefined });
    let calls = 0;
    let taken = 0;
    const told: unknown[] = [];
    (server as unknown as { socket: unknown }).socket = {
      sendMany(args: unknown[]) {
        calls++;
        if (taken === 0) return (taken = Math.min(10, args.length / 3));
        throw Object.assign(new Error("EAGAIN: the socket buffer is full, send"), { code: "EAGAIN" });
      },
      send: (reply: Uint8Array) => {
        told.push(decodeRetxControl(reply.slice()));
        return true;
      },
    };
    const req = new Uint8Array(64);
    const n = encodeRetxControl(req, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: 77, seqNum: 1, count: 100, firstAvailable: 0, nextSeq: 0 });
    server.onRequest(req.subarray(0, n), 40000, "127.0.0.1");
    expect(server.counters.answered).toBe(1);
    expect(server.counters.datagrams).toBe(10);
    expect(server.counters.sendErrors).toBe(90);
    // Batch of 64: one call took 10, one found the buffer full (54 dropped); the answer ends there (s-rdretx): the batch
    // of 36 is not tried, counted dropped, and the requester is told OUT_OF_RANGE at once (one control datagram).
    expect(calls).toBe(2);
    expect(told).toEqual([expect.objectContaining({ kind: RETX_KIND_OUT_OF_RANGE, channelId: 3, seqNum: 1, count: 100 })]);
  });
});

/**
 * A destination whose route is gone (interface down, route removed) is paused: 2 throwing calls per try, not per
 * datagram, and no call for ROUTE_BACKOFF_FIRST_MS doubling to ROUTE_BACKOFF_MAX_MS. Neither the publisher's
 * namespace nor loopback can lose a route without changing the host's network (refused in tests), so the sockets are
 * stand-ins that throw ENETUNREACH as Bun 1.4.5 does (measured: sendMany to a network with no route, inside
 * `unshare -n`: `ENETUNREACH: network is unreachable, send`, code ENETUNREACH). The monotonic clock is stubbed.
 * A full buffer (ENOBUFS, EAGAIN: transient) must neither pause a destination nor end a pause, and what a pause
 * skips must still reach the retransmit ring and /readyz's failure window (each of these passed the first test
 * mutated away).
 */
describe("PublishChannel: a destination whose route is gone", () => {
  afterEach(() => vi.restoreAllMocks());

  const T0 = 1_764_000_000_000_000;
  const match = { venue: "*", market: "*", symbols: ["*"] };
  function channel(dest: DestinationConfig, counters: { datagrams: number; bytes: number; sendErrors: number; droppedOnPurpose: number }, log: Logger, ring?: RetransmitRing) {
    return new PublishChannel(dest, new ChannelPacker(1400, dest.channelId, 0, 77, { sessionStartUs: T0, heartbeatIntervalMs: 100 }), ring, counters, undefined, log);
  }
  /** A socket whose route is up (every datagram taken, its seqNum noted) or gone (every call throws ENETUNREACH). */
  function routeSocket(per: number, goneFor: (entry: (Uint8Array | number | string)[], k: number) => boolean) {
    const s = {
      calls: 0,
      delivered: [] as string[],
      sendMany(args: never): number {
        s.calls++;
        const a = args as unknown as (Uint8Array | number | string)[];
        for (let k = 0; k < a.length / per; k++) {
          if (goneFor(a, k)) {
            if (k > 0) return k;
            throw Object.assign(new Error("ENETUNREACH: network is unreachable, send"), { code: "ENETUNREACH" });
          }
          const seq = getU64(new DataView((a[k * per] as Uint8Array).buffer, (a[k * per] as Uint8Array).byteOffset), PKT_SEQ_NUM_OFFSET);
          s.delivered.push(per === 1 ? String(seq) : `${seq}@${a[k * 3 + 2]}`);
        }
        return a.length / per;
      },
      close() {},
    };
    return s;
  }
  /** A unicast destination's route pause per receiver (ms; 0: sending). */
  const receiverBackoffMs = (u: PublishChannel) => (u as unknown as { receiverPauses: { backoffMs: number }[] }).receiverPauses.map((p) => p.backoffMs);
  /** n datagrams of one message each (seqNum = the message's), as a flush finds them. */
  function pack(ch: PublishChannel, n: number) {
    for (let i = 0; i < n; i++) {
      ch.packer.beginMessage(8, 1, 8, 1, 0);
      ch.packer.closeDatagram();
    }
  }

  it("random route losses: tries, skips, counts and sequences match the model; the other destinations lose nothing", () => {
    let nowMs = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    const random = rng(20261207);
    const counters = { datagrams: 0, bytes: 0, sendErrors: 0, droppedOnPurpose: 0 };
    const resumedLines: unknown[] = [];
    const receiverResumedLines: unknown[] = [];
    const log: Logger = {
      ...silentLogger,
      info: (msg, fields) => void (msg.startsWith("destination sends again") ? resumedLines.push(fields) : msg.startsWith("unicast receiver sent to again") && receiverResumedLines.push(fields)),
    };
    const gone = { a: false, u: false };
    // a: multicast, its route lost and back at random; b: multicast, always fine; u: unicast, receiver 10.0.0.9's
    // route lost and back at random (paused on its own: its other receiver must still get everything, u is never
    // paused as a whole).
    const a = channel({ name: "a", group: "239.255.49.1", port: 49001, iface: "127.0.0.1", ttl: 1, channelId: 1, match }, counters, log);
    const b = channel({ name: "b", group: "239.255.49.2", port: 49002, iface: "127.0.0.1", ttl: 1, channelId: 2, match }, counters, log);
    const receivers = [{ host: "127.0.0.1", port: 49003 }, { host: "10.0.0.9", port: 49003 }];
    const u = channel({ name: "u", port: 0, receivers, iface: "127.0.0.1", ttl: 1, channelId: 3, match }, counters, log);
    const sa = routeSocket(1, () => gone.a);
    const sb = routeSocket(1, () => false);
    const su = routeSocket(3, (args, k) => gone.u && args[k * 3 + 2] === "10.0.0.9");
    a.socket = sa as never;
    b.socket = sb as never;
    u.socket = su as never;
    // The model of a: its pause (0: none) and its end; what it should have delivered, refused, and called.
    const model = { backoffMs: 0, untilMs: 0, delivered: [] as string[], refused: 0, calls: 0, resumed: 0 };
    // The same of u's receiver 10.0.0.9 (its datagrams to 127.0.0.1 are all delivered, in u's calls).
    const modelU = { backoffMs: 0, untilMs: 0, delivered: [] as string[], refused: 0, calls: 0, resumed: 0 };
    let goneTriesU = 0;
    let longestPauseUMs = 0;
    let sent = 0; // datagrams packed per channel so far (each channel's seqNums are 1..sent)
    let goneTries = 0;
    let longestPauseMs = 0;
    for (let step = 0; step < 600; step++) {
      const x = random();
      if (random() < 0.04) gone.u = !gone.u;
      if (x < 0.04) gone.a = !gone.a;
      else if (x < 0.5) nowMs += Math.floor(random() * (random() < 0.2 ? 2500 : 150));
      const n = 1 + Math.floor(random() * (random() < 0.1 ? 3 * MAX_DATAGRAMS_PER_SEND : 8));
      for (const ch of [a, b, u]) pack(ch, n);
      for (let from = 0; from < n; from += MAX_DATAGRAMS_PER_SEND) {
        const size = Math.min(MAX_DATAGRAMS_PER_SEND, n - from);
        if (model.backoffMs !== 0 && nowMs < model.untilMs) {
          model.refused += size;
        } else if (gone.a) {
          goneTries++;
          model.calls += 2; // the first failure may be an error left pending: tried once more, then the batch dropped
          model.refused += size;
          model.backoffMs = model.backoffMs === 0 ? ROUTE_BACKOFF_FIRST_MS : Math.min(2 * model.backoffMs, ROUTE_BACKOFF_MAX_MS);
          model.untilMs = nowMs + model.backoffMs;
          longestPauseMs = Math.max(longestPauseMs, model.backoffMs);
        } else {
          model.calls++;
          for (let i = 1; i <= size; i++) model.delivered.push(String(sent + from + i));
          if (model.backoffMs !== 0) model.resumed++;
          model.backoffMs = 0;
        }
        if (modelU.backoffMs !== 0 && nowMs < modelU.untilMs) {
          modelU.calls++; // 127.0.0.1 only
          modelU.refused += size;
        } else if (gone.u) {
          goneTriesU++;
          // stops at 10.0.0.9's first datagram, throws twice on it (dropping its datagrams of the batch), sends the rest
          modelU.calls += size > 1 ? 4 : 3;
          modelU.refused += size;
          modelU.backoffMs = modelU.backoffMs === 0 ? ROUTE_BACKOFF_FIRST_MS : Math.min(2 * modelU.backoffMs, ROUTE_BACKOFF_MAX_MS);
          modelU.untilMs = nowMs + modelU.backoffMs;
          longestPauseUMs = Math.max(longestPauseUMs, modelU.backoffMs);
        } else {
          modelU.calls++;
          for (let i = 1; i <= size; i++) modelU.delivered.push(`${sent + from + i}@10.0.0.9`);
          if (modelU.backoffMs !== 0) modelU.resumed++;
          modelU.backoffMs = 0;
        }
      }
      for (const ch of [a, b, u]) ch.flush(T0);
      sent += n;
      const context = `step ${step}, now ${nowMs}, gone ${gone.a} ${gone.u}`;
      expect(sa.calls, context).toBe(model.calls);
      expect(a.sendErrors, context).toBe(model.refused);
      expect(a.routeBackoffMs, context).toBe(model.backoffMs);
      expect(resumedLines.length, context).toBe(model.resumed);
      expect(b.sendErrors + b.routeBackoffMs + u.routeBackoffMs, context).toBe(0);
      expect(su.calls, context).toBe(modelU.calls);
      expect(u.sendErrors, context).toBe(modelU.refused); // each datagram's copy to 10.0.0.9 not sent
      expect(receiverBackoffMs(u), context).toEqual([0, modelU.backoffMs]);
      expect(receiverResumedLines.length, context).toBe(modelU.resumed);
    }
    // a's delivered sequence numbers: in order, each once, the skipped ones missing (its subscribers see gaps).
    expect(sa.delivered).toEqual(model.delivered);
    expect(model.delivered.length + model.refused).toBe(sent);
    const all = Array.from({ length: sent }, (_, i) => String(i + 1));
    expect(sb.delivered).toEqual(all);
    expect(su.delivered.filter((d) => d.endsWith("@127.0.0.1"))).toEqual(all.map((s) => `${s}@127.0.0.1`));
    expect(su.delivered.filter((d) => d.endsWith("@10.0.0.9"))).toEqual(modelU.delivered);
    expect(modelU.delivered.length + modelU.refused).toBe(sent);
    expect(counters.sendErrors).toBe(a.sendErrors + u.sendErrors);
    expect(counters.datagrams).toBe(model.delivered.length + 2 * sent + modelU.delivered.length);
    // The model met each case: pauses at their cap, skips, and routes coming back.
    expect(goneTries).toBeGreaterThan(20);
    expect(longestPauseMs).toBe(ROUTE_BACKOFF_MAX_MS);
    expect(model.resumed).toBeGreaterThan(3);
    expect(sa.calls).toBeLessThan(sent);
    expect(goneTriesU).toBeGreaterThan(20);
    expect(longestPauseUMs).toBe(ROUTE_BACKOFF_MAX_MS);
    expect(modelU.resumed).toBeGreaterThan(3);
    expect(su.calls).toBeLessThan(2 * sent);
  });

  it("a unicast receiver whose route is gone costs a few failing calls per try, not per datagram, and is left out while paused", () => {
    let nowMs = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    const counters = { datagrams: 0, bytes: 0, sendErrors: 0, droppedOnPurpose: 0 };
    const receivers = [{ host: "127.0.0.1", port: 49003 }, { host: "10.0.0.9", port: 49003 }, { host: "127.0.0.2", port: 49003 }];
    const u = channel({ name: "u", port: 0, receivers, iface: "127.0.0.1", ttl: 1, channelId: 3, match }, counters, silentLogger);
    let entries = 0; // sendMany argument entries handed to the socket: the copying the resend does
    let routeUp = false;
    const su = routeSocket(3, (args, k) => (k === 0 && (entries += args.length), !routeUp && args[k * 3 + 2] === "10.0.0.9"));
    u.socket = su as never;
    const n = MAX_DATAGRAMS_PER_SEND;
    pack(u, n);
    u.flush(T0);
    // Before: 3 calls per datagram (stops at 10.0.0.9, then throws twice), each copying the rest: 192 calls, ~18000 entries.
    expect(su.calls).toBeLessThanOrEqual(4);
    expect(entries).toBeLessThanOrEqual(4 * n * 3 * receivers.length);
    const all = Array.from({ length: n }, (_, i) => String(i + 1));
    expect(su.delivered.filter((d) => d.endsWith("@127.0.0.1"))).toEqual(all.map((s) => `${s}@127.0.0.1`));
    expect(su.delivered.filter((d) => d.endsWith("@127.0.0.2"))).toEqual(all.map((s) => `${s}@127.0.0.2`));
    expect(u.sendErrors).toBe(n);
    // Within the pause: one call, without 10.0.0.9's entries; its datagrams counted as not sent.
    const callsBefore = su.calls;
    pack(u, n);
    u.flush(T0);
    expect(su.calls - callsBefore).toBe(1);
    expect(u.sendErrors).toBe(2 * n);
    expect(counters.sendErrors).toBe(2 * n);
    expect(su.delivered.length).toBe(4 * n);
    // The pause over, a full buffer (after the kernel took a datagram to 127.0.0.1) shows nothing of its route:
    // still paused (not doubled), tried at the next send.
    const backoffMs = () => receiverBackoffMs(u);
    const fault = { full: false, closed: false, tookOne: false };
    u.socket = {
      sendMany(args: never): number {
        const a = args as unknown as (Uint8Array | number | string)[];
        if (fault.full && !fault.tookOne) return (fault.tookOne = true), su.sendMany(a.slice(0, 3) as never);
        if (fault.full) throw Object.assign(new Error("ENOBUFS: send"), { code: "ENOBUFS" });
        const closedAt = fault.closed ? a.indexOf("127.0.0.2") : -1;
        if (closedAt < 0) return su.sendMany(args);
        if (closedAt > 2) return su.sendMany(a.slice(0, closedAt - 2) as never);
        throw Object.assign(new Error("ECONNREFUSED: connection refused, send"), { code: "ECONNREFUSED" });
      },
      close() {},
    } as never;
    nowMs += ROUTE_BACKOFF_FIRST_MS;
    fault.full = true;
    pack(u, 2);
    u.flush(T0);
    expect(backoffMs()).toEqual([0, ROUTE_BACKOFF_FIRST_MS, 0]);
    fault.full = false;
    pack(u, 2);
    u.flush(T0);
    expect(backoffMs()).toEqual([0, 2 * ROUTE_BACKOFF_FIRST_MS, 0]);
    // A closed port (ECONNREFUSED) is not a lost route: that receiver is not paused, its datagrams tried each send.
    nowMs += 2 * ROUTE_BACKOFF_FIRST_MS;
    fault.closed = true;
    pack(u, 2);
    u.flush(T0);
    pack(u, 2);
    u.flush(T0);
    expect(backoffMs()).toEqual([0, 4 * ROUTE_BACKOFF_FIRST_MS, 0]);
    expect(su.delivered.filter((d) => d.endsWith("@127.0.0.2")).length).toBe(2 * n + 2);
    // Its route back, the receiver is sent to again from the first send after its pause.
    nowMs += 4 * ROUTE_BACKOFF_FIRST_MS;
    fault.closed = false;
    routeUp = true;
    pack(u, 2);
    u.flush(T0);
    expect(backoffMs()).toEqual([0, 0, 0]);
    expect(su.delivered.slice(-6)).toEqual([2 * n + 9, 2 * n + 10].flatMap((seq) => receivers.map((rc) => `${seq}@${rc.host}`)));
    // A stop (tryNextSend) tries a paused receiver at once, pause or not: its END_OF_SESSION.
    routeUp = false;
    pack(u, 1);
    u.flush(T0);
    expect(backoffMs()).toEqual([0, ROUTE_BACKOFF_FIRST_MS, 0]);
    routeUp = true;
    u.tryNextSend();
    pack(u, 1);
    u.flush(T0);
    expect(backoffMs()).toEqual([0, 0, 0]);
    expect(su.delivered.slice(-3)).toEqual(receivers.map((rc) => `${2 * n + 12}@${rc.host}`));
  });

  it("a paused receiver tried after its pause resumes only once the kernel takes one of its own datagrams, not another receiver's", () => {
    let nowMs = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    const counters = { datagrams: 0, bytes: 0, sendErrors: 0, droppedOnPurpose: 0 };
    const resumed: unknown[] = [];
    const log: Logger = { ...silentLogger, info: (msg, fields) => void (msg.startsWith("unicast receiver sent to again") && resumed.push(fields)) };
    const receivers = [{ host: "127.0.0.1", port: 49003 }, { host: "10.0.0.9", port: 49003 }];
    const u = channel({ name: "u", port: 0, receivers, iface: "127.0.0.1", ttl: 1, channelId: 3, match }, counters, log);
    // 10.0.0.9: its route gone (ENETUNREACH), or a firewall refusing its datagrams (EPERM: not a lost route), or fine.
    let fault = "ENETUNREACH";
    const delivered: string[] = [];
    u.socket = {
      sendMany(args: never): number {
        const a = args as unknown as (Uint8Array | number | string)[];
        for (let k = 0; k < a.length / 3; k++) {
          if (fault !== "" && a[k * 3 + 2] === "10.0.0.9") {
            if (k > 0) return k;
            throw Object.assign(new Error(`${fault}: send`), { code: fault });
          }
          const data = a[k * 3] as Uint8Array;
          delivered.push(`${getU64(new DataView(data.buffer, data.byteOffset), PKT_SEQ_NUM_OFFSET)}@${a[k * 3 + 2]}`);
        }
        return a.length / 3;
      },
      close() {},
    } as never;
    const send = (n: number) => (pack(u, n), u.flush(T0));
    send(2);
    expect(receiverBackoffMs(u)).toEqual([0, ROUTE_BACKOFF_FIRST_MS]);
    send(2); // within the pause: skipped
    // The pause over, 10.0.0.9's route is back but a firewall refuses its datagrams: 127.0.0.1 takes its own, so the
    // kernel took datagrams of the send. Before, that ended 10.0.0.9's pause ("its route is back") though none of its own went.
    nowMs += ROUTE_BACKOFF_FIRST_MS;
    fault = "EPERM";
    send(2);
    expect(delivered.filter((d) => d.endsWith("@10.0.0.9"))).toEqual([]);
    expect(delivered.filter((d) => d.endsWith("@127.0.0.1")).length).toBe(6);
    expect(receiverBackoffMs(u)).toEqual([0, ROUTE_BACKOFF_FIRST_MS]);
    expect(resumed).toEqual([]);
    // Still paused, not skipped: tried at each send (its datagrams offered, refused); a route refusal then doubles the pause.
    send(2);
    expect(receiverBackoffMs(u)).toEqual([0, ROUTE_BACKOFF_FIRST_MS]);
    expect(u.sendErrors).toBe(8);
    fault = "ENETUNREACH";
    send(2);
    expect(receiverBackoffMs(u)).toEqual([0, 2 * ROUTE_BACKOFF_FIRST_MS]);
    // Its datagrams taken after the pause: sent to as before, the skipped ones told.
    nowMs += 2 * ROUTE_BACKOFF_FIRST_MS;
    fault = "";
    send(2);
    expect(receiverBackoffMs(u)).toEqual([0, 0]);
    expect(delivered.slice(-4)).toEqual(["11@127.0.0.1", "11@10.0.0.9", "12@127.0.0.1", "12@10.0.0.9"]);
    expect(resumed).toEqual([expect.objectContaining({ receiver: "10.0.0.9:49003", skipped: 2 })]);
  });

  it("several unicast receivers paused at once, any of them: sends, skips, pauses and the failure window match the model", () => {
    let nowMs = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    const random = rng(20261209);
    // 1 to 4 receivers (two of them on one host, other ports), each losing and getting back its route at random.
    for (let r = 1; r <= 4; r++) {
      const receivers = Array.from({ length: r }, (_, j) => ({ host: `10.0.0.${1 + (j >> 1)}`, port: 49003 + j }));
      const at = (host: unknown, port: unknown) => receivers.findIndex((rc) => rc.host === host && rc.port === port);
      const counters = { datagrams: 0, bytes: 0, sendErrors: 0, droppedOnPurpose: 0 };
      const u = channel({ name: "u", port: 0, receivers, iface: "127.0.0.1", ttl: 1, channelId: 3, match }, counters, silentLogger);
      const gone = receivers.map(() => false);
      const delivered: string[][] = receivers.map(() => []); // by receiver: the seqNums it was sent
      const su = routeSocket(3, (args, k) => {
        const j = at(args[k * 3 + 2], args[k * 3 + 1]);
        if (gone[j]) return true;
        const data = args[k * 3] as Uint8Array;
        delivered[j]!.push(String(getU64(new DataView(data.buffer, data.byteOffset), PKT_SEQ_NUM_OFFSET)));
        return false;
      });
      u.socket = su as never;
      // Per receiver: its pause (0: none), its end, whether it is sent to, what it should have been delivered.
      const model = receivers.map(() => ({ backoffMs: 0, untilMs: 0, sentTo: true, delivered: [] as string[] }));
      let refused = 0;
      let lastErrorMs = -1;
      let sent = 0;
      let mostPaused = 0;
      for (let step = 0; step < 150; step++) {
        for (let j = 0; j < r; j++) if (random() < 0.08) gone[j] = !gone[j];
        if (random() < 0.5) nowMs += Math.floor(random() * (random() < 0.2 ? 2500 : 150));
        const n = 1 + Math.floor(random() * (random() < 0.1 ? 2 * MAX_DATAGRAMS_PER_SEND : 6));
        pack(u, n);
        for (let from = 0; from < n; from += MAX_DATAGRAMS_PER_SEND) {
          const size = Math.min(MAX_DATAGRAMS_PER_SEND, n - from);
          for (const m of model) {
            if (m.sentTo) continue;
            if (nowMs >= m.untilMs) m.sentTo = true;
            else (refused += size), (lastErrorMs = nowMs);
          }
          let tried = 0;
          for (let j = 0; j < r; j++) {
            const m = model[j]!;
            if (!m.sentTo) continue;
            if (gone[j]) {
              refused += size;
              lastErrorMs = nowMs;
              m.backoffMs = m.backoffMs === 0 ? ROUTE_BACKOFF_FIRST_MS : Math.min(2 * m.backoffMs, ROUTE_BACKOFF_MAX_MS);
              m.untilMs = nowMs + m.backoffMs;
              m.sentTo = false;
            } else {
              tried++;
              for (let i = 1; i <= size; i++) m.delivered.push(String(sent + from + i));
            }
          }
          if (tried > 0) for (const m of model) if (m.sentTo) m.backoffMs = 0;
        }
        u.flush(T0);
        sent += n;
        mostPaused = Math.max(mostPaused, model.filter((m) => m.backoffMs !== 0).length);
        const context = `${r} receivers, step ${step}, now ${nowMs}, gone ${gone.join()}`;
        expect(u.sendErrors, context).toBe(refused);
        expect(receiverBackoffMs(u), context).toEqual(model.map((m) => m.backoffMs));
        expect(u.failure(nowMs, 1e9)?.lastErrorAgoMs, context).toBe(lastErrorMs < 0 ? undefined : nowMs - lastErrorMs);
        expect(counters.datagrams + counters.sendErrors, context).toBe(sent * r);
      }
      // Each receiver got its datagrams in order, each once, the skipped ones missing; every receiver was paused at once.
      expect(delivered, `${r} receivers`).toEqual(model.map((m) => m.delivered));
      expect(mostPaused).toBe(r);
    }
  });

  it("a full buffer does not pause; skipped datagrams stay in the ring; the failure window counts from the last skip; a healthy flush reads the clock once", () => {
    let nowMs = 1000;
    let clockReads = 0;
    vi.spyOn(performance, "now").mockImplementation(() => (clockReads++, nowMs));
    const random = rng(20261208);
    const counters = { datagrams: 0, bytes: 0, sendErrors: 0, droppedOnPurpose: 0 };
    const resumedLines: unknown[] = [];
    const log: Logger = { ...silentLogger, info: (msg, fields) => void (msg.startsWith("destination sends again") && resumedLines.push(fields)) };
    const ring = new RetransmitRing(1 << 20, 1400);
    const a = channel({ name: "a", group: "239.255.49.1", port: 49001, iface: "127.0.0.1", ttl: 1, channelId: 1, match }, counters, log, ring);
    const b = channel({ name: "b", group: "239.255.49.2", port: 49002, iface: "127.0.0.1", ttl: 1, channelId: 2, match }, counters, log);
    // a's socket: every call taken ("") or thrown with the code of the moment (a route gone, or a full buffer).
    let code = "";
    const sa = {
      calls: 0,
      sendMany(args: never): number {
        sa.calls++;
        if (code !== "") throw Object.assign(new Error(`${code}: send`), { code });
        return (args as unknown as unknown[]).length;
      },
      close() {},
    };
    a.socket = sa as never;
    b.socket = routeSocket(1, () => false) as never;
    const model = { backoffMs: 0, untilMs: 0, refused: 0, calls: 0, resumed: 0, lastErrorMs: -1 };
    let sent = 0;
    let fullTriesPaused = 0; // tries that met a full buffer while a pause was on (it must stay as it was)
    for (let step = 0; step < 300; step++) {
      const x = random();
      if (x < 0.15) code = ["", "", "ENETUNREACH", "ENETUNREACH", "ENOBUFS", "EAGAIN"][Math.floor(random() * 6)]!;
      else if (x < 0.5) nowMs += Math.floor(random() * (random() < 0.2 ? 2500 : 150));
      const n = 1 + Math.floor(random() * (random() < 0.1 ? 3 * MAX_DATAGRAMS_PER_SEND : 8));
      pack(a, n);
      pack(b, n);
      for (let from = 0; from < n; from += MAX_DATAGRAMS_PER_SEND) {
        const size = Math.min(MAX_DATAGRAMS_PER_SEND, n - from);
        if (model.backoffMs !== 0 && nowMs < model.untilMs) {
          model.refused += size;
          model.lastErrorMs = nowMs;
        } else if (code === "ENETUNREACH") {
          model.calls += 2;
          model.refused += size;
          model.lastErrorMs = nowMs;
          model.backoffMs = model.backoffMs === 0 ? ROUTE_BACKOFF_FIRST_MS : Math.min(2 * model.backoffMs, ROUTE_BACKOFF_MAX_MS);
          model.untilMs = nowMs + model.backoffMs;
        } else if (code !== "") {
          model.calls += 1; // a full buffer: the batch dropped at once, no pause (nor the end of one)
          model.refused += size;
          model.lastErrorMs = nowMs;
          if (model.backoffMs !== 0) fullTriesPaused++;
        } else {
          model.calls++;
          if (model.backoffMs !== 0) model.resumed++;
          model.backoffMs = 0;
        }
      }
      a.flush(T0);
      const readsBefore = clockReads;
      b.flush(T0);
      sent += n;
      const context = `step ${step}, now ${nowMs}, code ${code}`;
      expect(clockReads - readsBefore, `${context}: clock reads of a flush with nothing paused`).toBe(1);
      expect(sa.calls, context).toBe(model.calls);
      expect(a.sendErrors, context).toBe(model.refused);
      expect(a.routeBackoffMs, context).toBe(model.backoffMs);
      expect(resumedLines.length, context).toBe(model.resumed);
      // /readyz (publish_send_failing) counts its window from the last datagram not sent, a skipped one included.
      expect(a.failure(nowMs, 1e9)?.lastErrorAgoMs, context).toBe(model.lastErrorMs < 0 ? undefined : nowMs - model.lastErrorMs);
      // Every datagram, sent, refused or skipped, is in the retransmit ring: the only way a gap can be repaired.
      expect([ring.size, ring.firstSeq, ring.nextSeq], context).toEqual([sent, 1, sent + 1]);
    }
    expect(b.sendErrors + b.routeBackoffMs).toBe(0);
    expect(fullTriesPaused).toBeGreaterThan(3);
    expect(model.resumed).toBeGreaterThan(3);
  });
});
