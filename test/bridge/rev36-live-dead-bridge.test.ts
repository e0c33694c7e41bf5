/**
 * A live NATS reader (no replay rule, s-flake3) whose thread was held up while the bridge it follows died: the burst
 * after the stall brings the other bridge's upstream time over the dead one's silence, which a live reader does not
 * judge (a bridge that only paused sends its late envelopes in the same burst). The dead bridge is found on the
 * reader's clock once it listens again: its stream silent for 3 of the reader's heartbeat intervals is a gap
 * (streamsSilent), never missed. Until then its book stays usable as the dead bridge's last envelope left it: what
 * docs/nats.md says. Real parts: ForwardBridge.onDatagram (its client a recorder), EnvelopeRepacker, a subscriber.
 */
import { expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const Y = makeInstrument("bybit", "linear", "ETHUSDT", 1, 3);

function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "rev36d", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

test("a live reader held up while its followed bridge died: the silence is a gap on its clock once it listens again", () => {
  const a = recordingBridge(); // follows X's stream, dies during the stall
  const b = recordingBridge(); // the other bridge of X's stream
  const c = recordingBridge(); // Y's stream: alive throughout
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 }); // live: no replay
  const sub = newSubscriber();
  let nowMs = 1_000_000;
  const deliver = (...lists: Uint8Array[][]) => {
    for (const l of lists) for (const env of l.splice(0)) rep.add(env, nowMs);
    ingestAll(sub, take(rep.packer));
  };
  const tick = () => {
    // The reader's timer, on time: its heartbeat while upstream is alive (NatsFeedReader.heartbeat).
    if (rep.checkUpstream(nowMs)) rep.packer.appendHeartbeat(0);
    ingestAll(sub, take(rep.packer));
  };
  const px = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
  const py = packer({ channelId: 4, sourceId: 8, sessionId: 600, sessionStartUs: T0, heartbeatIntervalMs: 100 });
  const x = new TestBook(X);
  const y = new TestBook(Y);
  x.load([[943500, 10]], [[943501, 20]], 1, T0);
  y.load([[33500, 10]], [[33501, 20]], 1, T0);
  let sendUs = T0;
  // One upstream step of 100 ms: X changes (through a while it lives, and b), Y's stream heartbeats (through c).
  const step = (aAlive: boolean) => {
    sendUs += 100_000;
    const cs = new ChangeSet();
    cs.addBid(943400 - (sendUs - T0) / 100_000, 7);
    x.apply(cs, x.venueSeq + 1, T0);
    packBookDelta(px, x, cs);
    for (const d of take(px, sendUs)) {
      if (aAlive) a.bridge.onDatagram(d);
      b.bridge.onDatagram(d);
    }
    py.appendHeartbeat(0);
    for (const d of take(py, sendUs)) c.bridge.onDatagram(d);
  };
  for (const [p, book, inst] of [[px, x, X], [py, y, Y]] as const) {
    packInstrumentDefinition(p, new EncodedDefinition(inst), false);
    packBookSnapshot(p, book, 0, false);
  }
  sendUs += 1000;
  for (const d of take(px, sendUs)) {
    a.bridge.onDatagram(d);
    b.bridge.onDatagram(d);
  }
  for (const d of take(py, sendUs)) c.bridge.onDatagram(d);
  deliver(a.published, c.published); // a followed for X's stream
  deliver(b.published); // b reported: a gap once; the refresh below makes X usable again
  packBookSnapshot(px, x, 0, true);
  packBookSnapshot(py, y, 0, true);
  sendUs += 1000;
  for (const d of take(px, sendUs)) {
    a.bridge.onDatagram(d);
    b.bridge.onDatagram(d);
  }
  for (const d of take(py, sendUs)) c.bridge.onDatagram(d);
  deliver(a.published, b.published, c.published);
  for (let i = 0; i < 5; i++) {
    step(true);
    nowMs += 100;
    deliver(a.published, b.published, c.published);
    tick();
  }
  const book = sub.book(X.instrumentId)!;
  expect(book.usable).toBe(true);
  const silentBefore = rep.counters.streamsSilent;

  // The reader's thread is held up for 2 s; a dies after the first second of it. Then the burst, a's envelopes first.
  for (let i = 0; i < 20; i++) step(i < 10);
  nowMs += 2000;
  deliver(a.published, b.published, c.published);
  expect(rep.counters.bridgeFailovers).toBe(0);
  expect(rep.counters.streamsSilent).toBe(silentBefore); // live: the burst judges nothing
  expect(book.usable).toBe(true); // as a's last envelope left it: the second b alone brought is missing
  expect(levelsOf(book)).not.toEqual(levelsOf(x));

  // Listening again (b's copies dropped, c alive): within 3 of the reader's heartbeat intervals and a check, a gap.
  let ms = 0;
  while (rep.counters.streamsSilent === silentBefore && ms < 2000) {
    step(false);
    nowMs += 100;
    ms += 100;
    deliver(a.published, b.published, c.published);
    tick();
  }
  expect(rep.counters.streamsSilent).toBe(silentBefore + 1);
  expect(ms).toBeLessThanOrEqual(3 * 200 + 2 * 100);
  expect(book.usable).toBe(false);
});
