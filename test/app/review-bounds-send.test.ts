/**
 * The send path when datagrams do not get through, over real sockets on 127.0.0.1: a unicast receiver whose port
 * has nothing bound (a desk's subscriber that is down). Each datagram to it comes back as ICMP port unreachable,
 * which Bun reports by failing the socket's next send (ECONNREFUSED) and calling its error handler with no error.
 * Ports 47xxx are private to this file.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, uniqueDestination, waitFor as waitUntil, type Markets } from "../e2e/harness.ts";
import { levelsOf, makeInstrument, randomBookSides, randomChanges, rng, TestBook, waitFor } from "../wire/helpers.ts";
import { captureLog } from "../support/capture-log.ts";

const BASE_PORT = uniqueDestination(471).port; // + up to 2; below the ephemeral ports (test/support/destination.ts)
const T0 = 1_764_000_000_000_000;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function unicastConfig(ports: number[]): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 200,
    snapshotIntervalMs: 0,
    snapshotDepth: 0,
    destinations: [
      {
        name: "uni",
        port: 0,
        receivers: ports.map((port) => ({ host: "127.0.0.1", port })),
        iface: "127.0.0.1",
        ttl: 1,
        channelId: 5,
        match: { venue: "*", market: "*", symbols: ["*"] },
      },
    ],
  };
}

function identical(sub: FeedSubscriber, books: TestBook[]): boolean {
  return books.every((b) => {
    const sb = sub.book(b.instrument.instrumentId);
    return sb !== undefined && sb.valid && sb.instrSeq === b.instrSeq && JSON.stringify(levelsOf(sb)) === JSON.stringify(levelsOf(b));
  });
}

describe("send failures: a unicast receiver that is down", { timeout: 20_000 }, () => {
  it("costs the destination's other receiver nothing; every bounced datagram is counted, and the destination named", async () => {
    const [bad, good] = [BASE_PORT, BASE_PORT + 1]; // nothing is bound to `bad`
    const sub = new FeedSubscriber({ groups: [{ bind: "127.0.0.1", port: good }], staleAfterMs: 0 });
    await sub.start();
    cleanups.push(() => sub.stop());
    const { log, lines } = captureLog();
    // The receiver that is down first: each datagram goes to it just before the good one, in the same sendMany.
    const pub = new FeedPublisher({ publish: unicastConfig([bad, good]), log });
    await pub.start();
    cleanups.push(() => pub.stop());
    const r = rng(11);
    const books = [makeInstrument("bybit", "spot", "BTCUSDT", 2, 6), makeInstrument("bybit", "linear", "ETHUSDT", 1, 3)].map((inst) => {
      const b = new TestBook(inst);
      const s = randomBookSides(r, 200, 300_000);
      b.load(s.bids, s.asks, 1, T0);
      return b;
    });
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    const cs = new ChangeSet();
    for (let e = 0; e < 200; e++) {
      const k = e % 2;
      randomChanges(r, books[k]!, cs, e % 13 === 0 ? 120 : 6, 300_000);
      books[k]!.apply(cs, 100 + e, T0 + e);
      pub.publishDelta(handles[k]!, books[k]!, cs);
      if (e % 5 === 4) await nextTurn();
    }
    await nextTurn();
    await waitFor(() => identical(sub, books), 5000, "identical books at the receiver that is not refused");
    expect(sub.counters.gaps).toBe(0);
    // Each datagram went to both receivers: the good one took every one, and every one to the other bounced.
    await waitFor(() => pub.counters.datagrams === sub.counters.datagrams && pub.counters.sendErrors === sub.counters.datagrams, 5000, "exact counts");
    const warned = lines.filter((l) => l.level === "warn");
    expect(warned.length).toBeGreaterThan(0);
    expect(String(warned[0]!.fields.detail)).toContain(`destination uni (127.0.0.1:${bad},127.0.0.1:${good})`);
    expect(pub.sendFailures().map((f) => f.destination)).toEqual(["uni"]);
  });
});

describe("send failures in the running feeder", { timeout: 60_000 }, () => {
  it("a destination whose receiver is down is named in /readyz while it is; the other destination's subscribers get every book", async () => {
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
    const topics = markets[0]!.symbols.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: markets[0]!.symbols }], seed: 21, messagesPerSecond: 0 });
    cleanups.push(() => sim.stop());
    const bad = BASE_PORT + 2; // nothing bound until the receiver comes up below
    const { group, port } = uniqueDestination(139);
    const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
    await sub.start();
    cleanups.push(() => sub.stop());
    const raw = rawConfig({ sim, markets, group, port, heartbeatIntervalMs: 100 });
    const publish = raw.publish as { destinations: Record<string, unknown>[] };
    publish.destinations.push({ name: "desk-b", receivers: [`127.0.0.1:${bad}`], interface: "127.0.0.1", channel: 8 });
    const feeder = new Feeder({ config: validateConfig(raw), log: silentLogger });
    cleanups.push(() => feeder.stop());
    await feeder.start();
    await waitUntil(() => allBooksEqual(sub, sim, topics), "books over the multicast destination", 15_000);
    for (let i = 0; i < 5; i++) {
      sim.step(1);
      await waitUntil(() => allBooksEqual(sub, sim, topics), `books after step ${i}`);
    }
    expect(sub.counters.gaps).toBe(0);
    const failing = () => evaluateReadiness(feeder.readinessInput()).reasons.filter((r) => r.check === "publish_send_failing");
    const reasons = failing();
    expect(reasons.map((r) => [r.destination, r.target])).toEqual([["desk-b", `127.0.0.1:${bad}`]]);
    expect(reasons[0]!.detail).toContain("publish destination desk-b");
    expect(evaluateReadiness(feeder.readinessInput()).ready).toBe(false);
    expect(feeder.publisher.counters.sendErrors).toBeGreaterThan(0);
    // Once the receiver is up, the destination is no longer reported (after its heartbeats went through).
    const receiver = await Bun.udpSocket({ hostname: "127.0.0.1", port: bad });
    cleanups.push(() => receiver.close());
    await waitUntil(() => failing().length === 0, "the destination no longer failing", 10_000);
    expect(evaluateReadiness(feeder.readinessInput()).ready).toBe(true);
  });
});

describe("send failures of the retransmission server", { timeout: 20_000 }, () => {
  it("an answer to a requester that has gone bounces: counted as a send error, and the server keeps answering others", async () => {
    const ring = new RetransmitRing(1 << 16, 1400);
    for (let i = 0; i < 20; i++) ring.push(new Uint8Array(PACKET_HEADER_BYTES + 8), PACKET_HEADER_BYTES + 8, i + 1, 1);
    const config = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: 1 << 24, totalBytesPerSec: 1 << 24 };
    const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: 77, auth: undefined });
    await server.start();
    cleanups.push(() => server.stop());
    const req = new Uint8Array(64);
    const n = encodeRetxControl(req, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: 77, seqNum: 1, count: 5, firstAvailable: 0, nextSeq: 0 });
    // A requester that asks and goes away before the answer arrives.
    const gone = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    gone.send(req.subarray(0, n), server.port, "127.0.0.1");
    gone.close();
    // Each of its 5 answer datagrams is sent (the error a bounce leaves pending fails the next send, which is tried
    // once more: rev12-retransmit-bounce.test.ts) and bounces; Bun reports each bounce to the error handler once
    // (test/net/review-bounce.test.ts), which counts it a send error; `datagrams` counts the 5 the kernel took.
    await waitFor(() => server.counters.answered === 1 && server.counters.sendErrors >= 5 && server.counters.datagrams === 5, 5000, "the bounced answer counted");
    // Another requester is answered in full.
    let got = 0;
    const other = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void got++ } });
    cleanups.push(() => other.close());
    other.send(req.subarray(0, n), server.port, "127.0.0.1");
    await waitFor(() => got === 5, 5000, "the other requester's 5 datagrams");
  });
});
