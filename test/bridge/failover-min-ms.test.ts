/**
 * RepackerOptions.failoverMinMs (attachNats' too): the least silence of a followed bridge before the reader switches
 * to another, 5 s (FAILOVER_MIN_MS) by default. The chaos run over NATS (test/support/chaos-nats.ts) shortens it: each
 * bridge restart cost it a 5 s wait. Real parts: ForwardBridge.onDatagram (its client a recorder), EnvelopeRepacker,
 * on a clock the test moves (the reader's timer on time every 100 ms).
 */
import { expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker, FAILOVER_MIN_MS, type RepackerOptions } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "failovermin", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

/**
 * Bridge a followed, then stopped; bridge b goes on alone, a step every 100 ms (upstream heartbeats of 100 ms). Returns
 * the reader's failovers after each half second of b alone, for `halves` half seconds.
 */
function failoversByHalfSecond(opts: Partial<RepackerOptions>, halves: number): number[] {
  const a = recordingBridge();
  const b = recordingBridge();
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, ...opts });
  let nowMs = 1_000_000;
  const px = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
  const x = new TestBook(X);
  x.load([[943500, 10]], [[943501, 20]], 1, T0);
  let sendUs = T0;
  const deliver = (...lists: Uint8Array[][]) => {
    for (const l of lists) for (const env of l.splice(0)) rep.add(env, nowMs);
    take(rep.packer); // the repacked datagrams: not what this test looks at
  };
  const step = (aAlive: boolean) => {
    sendUs += 100_000;
    nowMs += 100;
    const cs = new ChangeSet();
    cs.addBid(943400 - (sendUs - T0) / 100_000, 7);
    x.apply(cs, x.venueSeq + 1, T0);
    packBookDelta(px, x, cs);
    for (const d of take(px, sendUs)) {
      if (aAlive) a.bridge.onDatagram(d);
      b.bridge.onDatagram(d);
    }
    deliver(a.published, b.published);
    rep.checkUpstream(nowMs); // the reader's timer, on time: it listens
  };
  packInstrumentDefinition(px, new EncodedDefinition(X), false);
  packBookSnapshot(px, x, 0, false);
  sendUs += 1000;
  for (const d of take(px, sendUs)) {
    a.bridge.onDatagram(d);
    b.bridge.onDatagram(d);
  }
  deliver(a.published); // a is followed
  deliver(b.published); // b is the other bridge
  for (let i = 0; i < 5; i++) step(true);
  expect(rep.followedBridge(3, 7)).toBe(a.bridge.bridgeId);
  const out: number[] = [];
  for (let h = 0; h < halves; h++) {
    for (let i = 0; i < 5; i++) step(false); // a stopped
    out.push(rep.counters.bridgeFailovers);
  }
  expect(rep.followedBridge(3, 7)).toBe(out.at(-1) === 1 ? b.bridge.bridgeId : a.bridge.bridgeId);
  return out;
}

test("by default the reader switches to the other bridge once the followed one was silent 5 s, not before", () => {
  expect(FAILOVER_MIN_MS).toBe(5000);
  const got = failoversByHalfSecond({}, 12);
  expect(got.slice(0, 9)).toEqual(Array(9).fill(0)); // 4.5 s
  expect(got.slice(10)).toEqual([1, 1]); // 5.5 s and 6 s: one switch
});

test("failoverMinMs 1000: the switch comes after 1 s of silence, once", () => {
  const got = failoversByHalfSecond({ failoverMinMs: 1000 }, 4);
  expect(got[0]).toBe(0); // 0.5 s
  expect(got.slice(2)).toEqual([1, 1]); // 1.5 s and 2 s: one switch
});

test("a failoverMinMs that is not a finite number of ms ≥ 0 is refused, named", () => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(() => new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, failoverMinMs: bad })).toThrow(/failoverMinMs/);
  }
});
