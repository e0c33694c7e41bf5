/**
 * s-subscr, NATS path: a publisher restarted after its host clock stepped back starts a session earlier (by start
 * time) than the dead one. The reader refused every envelope of it as a late one of an older session (`old_session`)
 * for good, so the repacked stream never carried the restarted publisher's books. Now, once every upstream stream
 * of the source has ended (END_OF_SESSION) or gone silent, such a session is taken as the restart it is. Real parts:
 * the ForwardBridge's numbering (its NATS connection replaced by a recorder), the repacker, an unchanged FeedSubscriber.
 */
import { expect, it } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { PKT_FLAG_END_OF_SESSION } from "../../src/wire/layout.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function book(px: number): TestBook {
  const b = new TestBook(X);
  b.load([[px, 10]], [[px + 1, 20]], 1, T0);
  return b;
}

function rig(replay = false) {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "subscr", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, replay });
  const sub = newSubscriber();
  let nowMs = 1_000_000;
  let sendUs = T0;
  const drain = (): Uint8Array[] => {
    const out: Uint8Array[] = [];
    const old: ChannelPacker | undefined = rep.pendingOld;
    rep.pendingOld = undefined;
    if (old !== undefined) out.push(...take(old));
    out.push(...take(rep.packer));
    return out;
  };
  const feed = (p: ChannelPacker, advanceMs = 10) => {
    nowMs += advanceMs;
    for (const d of take(p, (sendUs += advanceMs * 1000))) bridge.onDatagram(d);
    for (const env of published.splice(0)) rep.add(env, nowMs);
    ingestAll(sub, drain());
  };
  // Session A: the host clock was 10 minutes fast. The book, then heartbeats (every session confirmed).
  const a = packer({ sessionId: 500, sessionStartUs: T0 + 600_000_000, heartbeatIntervalMs: 1000 });
  packInstrumentDefinition(a, new EncodedDefinition(X), false);
  packBookSnapshot(a, book(943500), 0, false);
  feed(a);
  a.appendHeartbeat(0);
  feed(a);
  for (let i = 0; i < 2; i++) {
    rep.packer.appendHeartbeat(0);
    ingestAll(sub, drain());
  }
  expect(sub.book(X.instrumentId)!.usable).toBe(true);
  return { rep, sub, a, feed };
}

/** Session B after the clock stepped back 10 minutes: earlier start than A's. */
function restart(feed: (p: ChannelPacker, advanceMs?: number) => void, advanceMs: number): TestBook {
  const b = packer({ sessionId: 600, sessionStartUs: T0 + 1_000_000, heartbeatIntervalMs: 1000 });
  const x = book(944000);
  packInstrumentDefinition(b, new EncodedDefinition(X), false);
  packBookSnapshot(b, x, 0, false);
  feed(b, advanceMs);
  b.appendHeartbeat(0);
  feed(b);
  return x;
}

it("NATS: after END_OF_SESSION, a restart with an earlier session start is repacked, not refused as old_session", () => {
  const { rep, sub, a, feed } = rig();
  a.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
  feed(a);
  const x = restart(feed, 10);
  expect(rep.counters.refused.old_session).toBe(0); // old: 3, and for good
  const sb = sub.book(X.instrumentId)!;
  expect(levelsOf(sb)).toEqual(levelsOf(x));
  expect(sb.usable).toBe(true);
});

it("NATS: after the old session went silent (a crash), a restart with an earlier session start is repacked", () => {
  const { rep, sub, feed } = rig();
  const x = restart(feed, 5000); // 5 s without a word from A (3 heartbeat intervals: silent)
  expect(rep.counters.refused.old_session).toBe(0);
  expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
  expect(sub.book(X.instrumentId)!.usable).toBe(true);
});

it("NATS: while the newest session is alive, an older session's envelopes are still refused", () => {
  const { rep, sub, feed } = rig();
  restart(feed, 10);
  expect(rep.counters.refused.old_session).toBe(3);
  expect(levelsOf(sub.book(X.instrumentId)!).bids[0]![0]).toBe(943500);
});

/**
 * A datagram of session A, late (delayed) on the way to the bridge: the one A sent next (seqNum 3). A copy of one
 * the bridge forwarded already (seqNum 1, as here before) is dropped by the bridge itself now, as a duplicate on A's
 * line (test/bridge/bridge-late-session.test.ts), and would never reach the reader this test is about.
 */
function lateA(): ChannelPacker {
  const a = packer({ sessionId: 500, sessionStartUs: T0 + 600_000_000, heartbeatIntervalMs: 1000 });
  a.nextSeq = 3;
  packBookSnapshot(a, book(943500), 0, false);
  return a;
}

it("NATS (s-rev58): after a clock-step restart, a late envelope of the run it replaced is refused, not a newer session", () => {
  const { rep, sub, feed } = rig();
  const x = restart(feed, 5000);
  feed(lateA());
  expect(rep.counters.refused.old_session).toBe(1); // old: 0, taken as a newer session
  const sb = sub.book(X.instrumentId)!;
  expect(levelsOf(sb)).toEqual(levelsOf(x)); // old: A's 943500, usable
  expect(sb.usable).toBe(true);
});

it("NATS (s-rev58): a dead run's late envelope once the live session went silent a moment (a blip) is refused", () => {
  const { rep, sub, feed } = rig();
  const c = packer({ sessionId: 700, sessionStartUs: T0 + 700_000_000, heartbeatIntervalMs: 1000 }); // a restart, later start
  const x = book(945000);
  packInstrumentDefinition(c, new EncodedDefinition(X), false);
  packBookSnapshot(c, x, 0, false);
  feed(c);
  c.appendHeartbeat(0);
  feed(c);
  feed(lateA(), 5000); // 5 s without a word: C's stream is silent
  expect(rep.counters.refused.old_session).toBe(1); // old: 0, taken as a clock-step restart
  c.appendHeartbeat(0);
  feed(c);
  expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x)); // old: A's 943500
});
