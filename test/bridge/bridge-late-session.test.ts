/**
 * The forward bridge kept one sequence line per upstream stream: a datagram of another session reset it. A late
 * datagram of the session a restart replaced (or a recorded signed one sent again) therefore reset the line to the
 * old session, and the new session's next datagram reset it back, unchecked: a loss of the new session right then
 * skipped no number (every reader kept that book usable and wrong), and a copy of one of its snapshot datagrams sent
 * after the old one went on as news (the duplicate drop of netsec-bridge-duplicate bypassed). Now the line of the
 * session before is kept and taken up again when that session comes back.
 * Real parts: the ForwardBridge (its NATS client a recorder), the reader's repacker, an unchanged FeedSubscriber.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { RecordedBridge } from "./recorded-bridge.ts";

const P = makeInstrument("bybit", "linear", "SOLUSDT", 2, 1);

async function rig() {
  const bridge = new RecordedBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "late", log: silentLogger });
  await bridge.start();
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
  const sub = newSubscriber();
  let nowMs = 0;
  const through = (ds: Uint8Array[]) => {
    for (const d of ds) bridge.onDatagram(d);
    for (const env of bridge.client.published.splice(0)) rep.add(env, nowMs);
    ingestAll(sub, take(rep.packer));
    nowMs += 10;
  };
  return { bridge, rep, sub, through };
}

/** One publisher run: its packer and book, a refresh and a delta, each sealed at its own send time. */
function run(sessionId: number, startUs: number) {
  const p = packer({ channelId: 5, sourceId: 3, sessionId, sessionStartUs: startUs });
  const b = new TestBook(P);
  b.load([[15000, 10]], [[15001, 20]], 1, startUs);
  let sendUs = startUs;
  const sealed = (): Uint8Array[] => take(p, (sendUs += 1000));
  const refresh = (): Uint8Array[] => {
    packInstrumentDefinition(p, new EncodedDefinition(P), false);
    packBookSnapshot(p, b, 0, false);
    return sealed();
  };
  const delta = (px: number): Uint8Array[] => {
    const cs = new ChangeSet();
    cs.addBid(px, 99);
    b.apply(cs, b.venueSeq + 1, startUs);
    packBookDelta(p, b, cs);
    return sealed();
  };
  const heartbeat = (): Uint8Array[] => (p.appendHeartbeat(0), sealed());
  return { p, b, refresh, delta, heartbeat };
}

describe("forward bridge: a late datagram of the session before", () => {
  it("does not hide a loss of the new session", async () => {
    const { bridge, rep, sub, through } = await rig();
    const old = run(900, T0);
    through(old.refresh());
    const late = old.heartbeat(); // still on its way when the publisher restarts
    const cur = run(901, T0 + 60_000_000);
    through(cur.refresh());
    through(cur.delta(14990)); // the new session confirmed at the reader (a second send time)
    expect(sub.book(P.instrumentId)!.usable).toBe(true);

    through(late);
    const gaps = bridge.counters.upstreamGaps;
    cur.delta(14980); // lost before the bridge
    through(cur.heartbeat()); // the publisher's next heartbeat shows the gap
    rep.packer.appendHeartbeat(0); // the reader's own heartbeat (NatsFeedReader's timer) carries it
    through([]);
    expect(bridge.counters.upstreamGaps).toBe(gaps + 1);
    expect(sub.book(P.instrumentId)!.usable).toBe(false); // it missed its last event
    await bridge.stop();
  });

  it("does not forward a copy of the new session's snapshot sent after it", async () => {
    const { bridge, through } = await rig();
    const old = run(900, T0);
    const recordedOld = old.refresh();
    through(recordedOld);
    const cur = run(901, T0 + 60_000_000);
    const snapshot = cur.refresh();
    through(snapshot);
    through(cur.delta(14990));
    const published = bridge.counters.published;
    const dups = bridge.counters.duplicates;
    // Someone sends recorded datagrams again (signed ones verify like the originals): the old session's, then the
    // new session's snapshot, which the delta since made stale.
    through(recordedOld);
    through(snapshot);
    expect(bridge.counters.duplicates).toBe(dups + 2);
    expect(bridge.counters.published).toBe(published); // neither went on as news
    await bridge.stop();
  });

  // s-rev65: one line kept for the session before was not enough. Datagrams of two other sessions in a row (late ones
  // of a publisher that restarted twice, recorded signed ones of two old runs sent again) made the first of them "the
  // session before", and the current session's line was gone: its next datagram started a line unchecked.
  it("does not hide a loss of the new session after late datagrams of two older sessions", async () => {
    const { bridge, rep, sub, through } = await rig();
    const first = run(900, T0);
    through(first.refresh());
    const lateFirst = first.heartbeat();
    const second = run(901, T0 + 30_000_000);
    through(second.refresh());
    const lateSecond = second.heartbeat();
    const cur = run(902, T0 + 60_000_000);
    through(cur.refresh());
    through(cur.delta(14990));
    expect(sub.book(P.instrumentId)!.usable).toBe(true);

    through(lateFirst);
    through(lateSecond);
    const gaps = bridge.counters.upstreamGaps;
    cur.delta(14980); // lost before the bridge
    through(cur.heartbeat());
    rep.packer.appendHeartbeat(0);
    through([]);
    expect(bridge.counters.upstreamGaps).toBe(gaps + 1);
    expect(sub.book(P.instrumentId)!.usable).toBe(false);
    await bridge.stop();
  });

  it("does not forward a copy of the new session's snapshot sent after two older sessions' datagrams", async () => {
    const { bridge, through } = await rig();
    const first = run(900, T0);
    const recordedFirst = first.refresh();
    through(recordedFirst);
    const second = run(901, T0 + 30_000_000);
    const recordedSecond = second.refresh();
    through(recordedSecond);
    const cur = run(902, T0 + 60_000_000);
    const snapshot = cur.refresh();
    through(snapshot);
    through(cur.delta(14990));
    const published = bridge.counters.published;
    const dups = bridge.counters.duplicates;
    through(recordedFirst);
    through(recordedSecond);
    through(snapshot);
    expect(bridge.counters.duplicates).toBe(dups + 3);
    expect(bridge.counters.published).toBe(published);
    await bridge.stop();
  });

  it("keeps the newest session's line while more older sessions than it remembers come by", async () => {
    const { bridge, through } = await rig();
    const olds = [900, 901, 902, 903, 904, 905].map((id, i) => run(id, T0 + i * 1_000_000));
    const recorded = olds.map((o) => o.refresh());
    for (const r of recorded) through(r);
    const cur = run(999, T0 + 60_000_000);
    const snapshot = cur.refresh();
    through(snapshot);
    through(cur.delta(14990));
    for (const r of recorded) through(r); // more sessions than the bridge keeps lines for: the oldest ones forgotten
    const published = bridge.counters.published;
    const dups = bridge.counters.duplicates;
    through(snapshot);
    expect(bridge.counters.duplicates).toBe(dups + 1); // the newest session's line is never the one dropped
    expect(bridge.counters.published).toBe(published);
    await bridge.stop();
  });
});

/**
 * s-subst: the lines kept were the newest session's and the least recently left others. A live run whose host clock
 * stepped back (it starts before the dead run D it replaced, so D is "the newest") had its line pushed out by
 * datagrams of three old sessions sent again (recorded, signed: no key needed to replay them); its own recorded
 * snapshot then started a line unchecked and went on as news. Now the oldest session's line is the one dropped:
 * only sessions newer than the live run (which a replay cannot make up) can push its line out.
 */
it("forward bridge: recorded datagrams of three old sessions do not push out a clock-stepped live session's line", async () => {
  const { bridge, through } = await rig();
  const olds = [900, 901, 902].map((id, i) => run(id, T0 + i * 1_000_000));
  const recorded = olds.map((o) => o.refresh());
  for (const r of recorded) through(r);
  const dead = run(950, T0 + 60_000_000); // the run before the step: died
  through(dead.refresh());
  const live = run(951, T0 + 30_000_000); // restarted on a host whose clock stepped back: an earlier start
  const snapshot = live.refresh();
  through(snapshot);
  through(live.delta(14990));
  for (const r of recorded) through(r); // sent again, one old session after another
  const published = bridge.counters.published;
  const dups = bridge.counters.duplicates;
  through(snapshot); // the live run's snapshot sent again, after its delta
  expect(bridge.counters.duplicates).toBe(dups + 1); // before: 0, its line gone, a line started unchecked
  expect(bridge.counters.published).toBe(published); // before: published again, news to every reader
  await bridge.stop();
});

/**
 * s-subst: while NATS was down the bridge dropped a delta (a number skipped) and the heartbeat after it. The publisher
 * then died, and its last heartbeat replayed onto the group (a copy: no key needed) was forwarded at the next number:
 * after that gap the reader took it as news (a heartbeat past the line) and upstream as alive, where a multicast
 * subscriber, which had heard the original, called it a copy. Now the bridge judges a heartbeat at its line as a
 * subscriber does (sent within what the line brought: a copy) also while it drops, and drops the copy.
 */
it("forward bridge: a copy of a heartbeat it saw while NATS was down is dropped, no sign of upstream after the gap", async () => {
  const bridge = new RecordedBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "late", log: silentLogger });
  await bridge.start();
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
  let nowMs = 1_000_000;
  const through = (ds: Uint8Array[], advanceMs: number): string[] => {
    nowMs += advanceMs;
    for (const d of ds) bridge.onDatagram(d);
    return bridge.client.published.splice(0).map((env) => rep.add(env, nowMs));
  };
  const old = run(800, T0 - 60_000_000);
  const recordedOld = old.heartbeat();
  through(recordedOld, 10);
  const a = run(900, T0);
  through(a.refresh(), 10);
  through(a.heartbeat(), 1000);
  expect(rep.checkUpstream(nowMs)).toBe(true);
  bridge.client.protocol.connected = false; // NATS down at the bridge: dropped, the delta's number skipped
  through(a.delta(14990), 1000);
  const beat = a.heartbeat();
  through(beat, 1000);
  bridge.client.protocol.connected = true;
  nowMs += 5000; // the publisher died
  expect(rep.checkUpstream(nowMs)).toBe(false);
  const dups = bridge.counters.duplicates;
  expect(through(beat, 10)).toEqual([]); // its last heartbeat replayed onto the group; before: forwarded ("ok")
  expect(bridge.counters.duplicates).toBe(dups + 1);
  expect(rep.checkUpstream(nowMs)).toBe(false); // before: true, a dead publisher alive again
  through(recordedOld, 10); // a datagram of an older session replayed between: the session's window is kept with its line
  expect(through(beat, 10)).toEqual([]);
  expect(rep.checkUpstream(nowMs)).toBe(false);
  expect(through(a.heartbeat(), 10)).toEqual(["ok"]); // it speaks again: a gap (the delta), heard
  expect(rep.checkUpstream(nowMs)).toBe(true);
  await bridge.stop();
});
