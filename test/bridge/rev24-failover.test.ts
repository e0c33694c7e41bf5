/**
 * A reader that switched from a lagging bridge to the other one (rev24). The switch is a gap, and the books are
 * rebuilt from their refresh; the bridge left behind is alive, only late, and its copies keep coming (dropped).
 * Before, the first of them was reported as a new "second bridge" (a warning that two bridges forward the stream,
 * known since the first one) and made one more gap at once, as if it could be a restart: the books rebuilt after
 * the switch became untrusted again until the next refresh, at every switch. Now the bridge left behind is known:
 * its copies are dropped and counted, no event, no gap. Real parts: ForwardBridge.onDatagram (its client a
 * recorder), EnvelopeRepacker, an unchanged subscriber fed the repacked datagrams.
 */
import { describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker, type BridgeEvent } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

/** A ForwardBridge whose NATS connection is a recorder (its onDatagram as is). */
function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "rev24f", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

describe("a reader that switched away from a lagging bridge", () => {
  test("the late copies of the bridge left behind are dropped: no new report, no new gap", () => {
    const a = recordingBridge();
    const b = recordingBridge();
    const events: BridgeEvent[] = [];
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, onBridgeEvent: (e) => events.push(e) });
    const sub = newSubscriber();
    const deliver = (envs: Uint8Array[]) => {
      for (const env of envs) rep.add(env, 0);
      rep.packer.appendHeartbeat(0); // the reader's own heartbeat (NatsFeedReader's timer)
      ingestAll(sub, take(rep.packer));
    };
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    let sendUs = T0;
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    const both = (stepUs: number) => {
      for (const d of take(p, (sendUs += stepUs))) {
        a.bridge.onDatagram(d);
        b.bridge.onDatagram(d);
      }
    };
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    both(1000);
    deliver(a.published.splice(0)); // a first: followed
    deliver(b.published.splice(0)); // b reported: a gap at once (it could be a's restart)
    packBookSnapshot(p, x, 0, true);
    both(1000);
    deliver(a.published.splice(0));
    deliver(b.published.splice(0));
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    expect(events.map((e) => e.kind)).toEqual(["second_bridge"]);

    // a lags: b's copies lead by more than 3 upstream heartbeats, the reader switches to b (a gap) and X is rebuilt
    // from the refresh that b brings.
    for (let i = 0; i < 5; i++) {
      const cs = new ChangeSet();
      cs.addBid(943490 - i, 7);
      x.apply(cs, x.venueSeq + 1, T0);
      packBookDelta(p, x, cs);
      both(100_000);
    }
    packBookSnapshot(p, x, 0, true);
    both(1000);
    deliver(b.published.splice(0));
    expect(events.map((e) => e.kind)).toEqual(["second_bridge", "failover"]);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    const gaps = sub.counters.gaps;

    // a's late copies of the same datagrams arrive: dropped, counted, nothing else.
    const otherBefore = rep.counters.otherBridge;
    deliver(a.published.splice(0));
    expect(rep.counters.otherBridge).toBeGreaterThan(otherBefore);
    expect(events.map((e) => e.kind)).toEqual(["second_bridge", "failover"]);
    expect(sub.counters.gaps).toBe(gaps);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
  });
});
