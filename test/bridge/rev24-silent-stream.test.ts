/**
 * One upstream stream going silent at the far side while another goes on (rev24). The reader repacks every upstream
 * (channel, source) stream into its one stream and heartbeats while any of them is alive: when one publisher (or the
 * bridge of its groups) died while another stream went on, the dead one's books stayed usable at the far side for
 * good, frozen while the exchange moved on — a multicast subscriber sees that stream stale. Now a followed stream
 * that goes silent is a gap of the reader's stream: its books stop being usable, the others' recover at their
 * refresh. Silence counts only while the reader listens: a reader held up (load, a pause) takes none of the
 * streams whose envelopes waited meanwhile for silent (the last case: the repacker with explicit clocks).
 * Real parts: nats-server, the ForwardBridge's own connection (its datagrams handed to onDatagram), the
 * reader (attachNats) feeding an unchanged FeedSubscriber with its default stale check.
 */
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { NatsFeedReader, type FeedSubscriber } from "../../src/subscriber/index.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { monoEpochMs, monoEpochUs } from "../../src/subscriber/mono-clock.ts";
import { waitFor } from "../e2e/harness.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { type NatsServer, natsServerMissing } from "./nats-server.ts";
import { bothLive, startSilenceParts, type SilenceParts, upstreamStream } from "./upstream-stream.ts";

const missing = natsServerMissing();
const PREFIX = "rev24s";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const Y = makeInstrument("bybit", "linear", "ETHUSDT", 2, 4);

let nats: NatsServer;
let bridge: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;
const beats: ReturnType<typeof setInterval>[] = [];

beforeAll(async () => {
  if (missing) return;
  const parts: Partial<SilenceParts> = {};
  try {
    await startSilenceParts(PREFIX, parts);
  } finally {
    ({ nats, bridge, sub, reader } = parts as SilenceParts); // whatever started, for afterAll
  }
}, 30_000);

afterAll(async () => {
  for (const b of beats) clearInterval(b);
  await reader?.stop();
  await sub?.stop();
  await bridge?.stop();
  await nats?.stop();
});

const upstream = (channelId: number, sourceId: number, instrument: typeof X) => upstreamStream(() => bridge, channelId, sourceId, 600 + sourceId, instrument);

describe.skipIf(missing !== undefined)(`one upstream stream silent while another goes on${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("the silent stream's books stop being usable; the other's recover at their refresh", async () => {
    const s1 = upstream(3, 7, X);
    const s2 = upstream(4, 8, Y);
    const { b1 } = await bothLive(sub, s1, s2, X.instrumentId, Y.instrumentId, beats, "X and Y usable while both publishers are alive");

    clearInterval(b1); // X's publisher dies; Y's goes on
    await waitFor(() => sub.book(X.instrumentId)!.usable === false, "X not usable once its stream went silent", 10_000);
    expect(reader.counters.streamsSilent).toBe(1);
    s2.refresh();
    await waitFor(() => sub.book(Y.instrumentId)!.usable === true, "Y usable again at its refresh", 10_000);
    expect(sub.book(X.instrumentId)!.usable).toBe(false);
  });

  test("both silent (stale), then only one back: the other's books stay unusable", async () => {
    for (const b of beats.splice(0)) clearInterval(b);
    const s1 = upstream(5, 9, X);
    const s2 = upstream(6, 10, Y);
    const live = await bothLive(sub, s1, s2, X.instrumentId, Y.instrumentId, beats, "X and Y usable on their new streams");
    const b1 = live.b1;
    let b2 = live.b2;
    const silent = reader.counters.streamsSilent;
    clearInterval(b1);
    clearInterval(b2); // both silent: the reader stops heartbeating, the books go stale (no gap)
    await waitFor(() => !sub.book(X.instrumentId)!.usable && !sub.book(Y.instrumentId)!.usable, "X and Y stale", 10_000);
    b2 = setInterval(() => s2.heartbeat(), 50); // only Y's publisher comes back
    beats.push(b2);
    // Its first envelope back finds X's stream silent: a gap before it, so Y too needs its refresh.
    await waitFor(() => sub.book(Y.instrumentId)!.usable, "Y usable again (at a refresh)", 10_000, () => s2.refresh());
    expect(sub.book(X.instrumentId)!.usable).toBe(false);
    expect(reader.counters.streamsSilent).toBeGreaterThan(silent); // X's stream (and the first test's Y stream, stopped)
  });
});

describe("a reader whose own thread was held up", () => {
  test("takes no stream for silent: the envelopes that came meanwhile wait behind the first one taken", () => {
    const { bridge, published } = recordingBridge();
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const streams = [packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0, heartbeatIntervalMs: 100 }), packer({ channelId: 4, sourceId: 8, sessionId: 2, sessionStartUs: T0, heartbeatIntervalMs: 100 })];
    let sendUs = T0;
    /** Each stream's heartbeat (or stream `only`'s), taken in by the reader at `nowMs`. */
    const heartbeats = (nowMs: number, only?: number) => {
      streams.forEach((p, i) => {
        if (only !== undefined && i !== only) return;
        p.appendHeartbeat(0);
        for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
      });
      for (const env of published.splice(0)) rep.add(env, nowMs);
    };
    let now = 1_000_000;
    for (let i = 0; i < 10; i++, now += 100) {
      heartbeats(now);
      if (i % 2 === 0) rep.checkUpstream(now);
    }
    // Held up for 2 s (both streams went on meanwhile); the socket's data is taken in before the late timer runs.
    now += 2000;
    heartbeats(now);
    rep.checkUpstream(now);
    // And the other order: the late timer first, then what waited.
    now += 2000;
    rep.checkUpstream(now);
    heartbeats(now);
    for (let i = 0; i < 10; i++, now += 100) {
      heartbeats(now);
      if (i % 2 === 0) rep.checkUpstream(now);
    }
    expect(rep.counters.streamsSilent).toBe(0);
    // A real silence of one stream, the reader listening: one gap.
    for (let i = 0; i < 10; i++, now += 100) {
      heartbeats(now, 1);
      if (i % 2 === 0) rep.checkUpstream(now);
    }
    expect(rep.counters.streamsSilent).toBe(1);
  });
});

describe("an upstream stream that ended (END_OF_SESSION) while its heartbeats go on", () => {
  test("ends once: a gap while another stream is alive, no heartbeats of the reader when alone; alive again at its next session", () => {
    // A publisher whose channel sequence ran out (docs/wire-protocol.md §5.1) keeps heartbeating, each with
    // END_OF_SESSION, and sends nothing else. Before, every such heartbeat kept its stream alive at the reader: no gap,
    // the reader's own heartbeats went on, and its books stayed usable at the far side (a multicast subscriber ends
    // the stream at the first END, its books invalid).
    const { bridge, published } = recordingBridge();
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const sub = newSubscriber();
    const ended = packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    ended.nextSeq = 2 ** 53 - 3; // two messages left: its definition and snapshot; then END on every heartbeat
    const other = packer({ channelId: 4, sourceId: 8, sessionId: 2, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    const books = [new TestBook(X), new TestBook(Y)];
    books.forEach((b) => b.load([[943500, 10]], [[943501, 20]], 1, T0));
    let now = 1_000_000;
    let sendUs = T0;
    /** The reader's turn: the envelopes taken in, its timer's check, a heartbeat while upstream is alive, the lot to sub. */
    const turn = (ps: ChannelPacker[]): boolean => {
      for (const p of ps) for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
      for (const env of published.splice(0)) rep.add(env, now);
      const alive = rep.checkUpstream(now);
      if (alive) rep.packer.appendHeartbeat(0); // NatsFeedReader.heartbeat
      const old = rep.pendingOld; // NatsFeedReader.flush: the replaced session's datagrams first
      rep.pendingOld = undefined;
      for (const p of old === undefined ? [rep.packer] : [old, rep.packer]) for (const d of take(p, sendUs)) sub.ingest(d, sendUs + 50);
      now += 100;
      return alive;
    };
    const refresh = (p: ChannelPacker, i: number) => {
      packInstrumentDefinition(p, new EncodedDefinition(i === 0 ? X : Y), true);
      packBookSnapshot(p, books[i]!, 0, true);
    };
    const heartbeats = (ps: ChannelPacker[]) => ps.map((p) => (p.appendHeartbeat(0), p));
    refresh(ended, 0);
    refresh(other, 1);
    turn([ended, other]);
    expect([sub.book(X.instrumentId)?.usable, sub.book(Y.instrumentId)?.usable]).toEqual([true, true]);
    expect(ended.nextSeq).toBe(2 ** 53 - 1);

    for (let i = 0; i < 10; i++) expect(turn(heartbeats([ended, other]))).toBe(true);
    // One gap for the ended stream (not one per END heartbeat): X is not usable; Y is again at its refresh.
    expect(rep.counters.streamsSilent).toBe(1);
    expect(sub.book(X.instrumentId)!.usable).toBe(false);
    refresh(other, 1);
    turn([other]);
    expect([sub.book(X.instrumentId)!.usable, sub.book(Y.instrumentId)!.usable]).toEqual([false, true]);

    // The other publisher gone: the ended stream's heartbeats alone keep nothing alive (the local books go stale).
    let alive = true;
    for (let i = 0; i < 10; i++) alive = turn(heartbeats([ended]));
    expect(alive).toBe(false);
    expect(rep.counters.streamsSilent).toBe(1);

    // Its publisher restarted: a new session of the stream, alive again (the other stream's silence, noticed now
    // that something is alive, is the second gap); its books usable at their refresh.
    const restarted = packer({ channelId: 3, sourceId: 7, sessionId: 3, sessionStartUs: T0 + 60_000_000, heartbeatIntervalMs: 100 });
    refresh(restarted, 0);
    expect(turn([restarted])).toBe(true);
    for (let i = 0; i < 3; i++) expect(turn(heartbeats([restarted]))).toBe(true);
    expect(rep.counters.streamsSilent).toBe(2);
    refresh(restarted, 0);
    expect(turn([restarted])).toBe(true);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
  });
});

describe("a gap the reader makes while no upstream stream is alive", () => {
  // A publisher alone on the feed stopping (END_OF_SESSION): a multicast subscriber ends its stream at once, its books
  // invalid. The reader made the gap at that END (endLine), but the gap is seen at its next datagram, and with no
  // stream alive it sends none (no heartbeats): before, the far side showed the books usable until its stale limit
  // (here 60 s; 600 ms by default). Now the reader's flush sends a heartbeat carrying a gap nothing else carries.
  test("is sent at once: an ended stream's books are not usable at the far side, as on multicast", async () => {
    const { reader, sub, mc, book, send } = throughReader({ multicast: true });
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    p.nextSeq = 2 ** 53 - 3; // its definition and snapshot, then END on every heartbeat (a publisher stopping sends one)
    packInstrumentDefinition(p, new EncodedDefinition(X), true);
    packBookSnapshot(p, book, 0, true);
    await send(p);
    expect([mc.book(X.instrumentId)?.usable, sub.book(X.instrumentId)?.usable]).toEqual([true, true]);
    p.appendHeartbeat(0);
    await send(p);
    expect(reader.counters.streamsSilent).toBe(1);
    expect([mc.book(X.instrumentId)!.usable, sub.book(X.instrumentId)!.usable]).toEqual([false, false]); // before: [false, true]
    await reader.stop();
  });

  // Envelopes lost between bridge and reader (its reconnect), the next one taken the first of the publisher's
  // restart: the gap was made in the old session's packer, which sent nothing after it, and the restart's first
  // envelope, a heartbeat, packed nothing of the new session either: the books the loss left behind showed usable
  // until the reader's next datagram. Found by a randomized model of outages, silences, ends and restarts (s-rdnats3);
  // since s-rdnats4 the new session's heartbeat alone would end them too (the next describe).
  test("a gap of the old session before a restart is sent in it: its books are not usable meanwhile", async () => {
    const { reader, sub, book, send } = throughReader({ multicast: false });
    const run1 = packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    packInstrumentDefinition(run1, new EncodedDefinition(X), true);
    packBookSnapshot(run1, book, 0, true);
    await send(run1);
    expect(sub.book(X.instrumentId)?.usable).toBe(true);
    packBookSnapshot(run1, book, 0, true); // lost on the way to the reader (a delta would leave the book wrong)
    await send(run1, true);
    const run2 = packer({ channelId: 3, sourceId: 7, sessionId: 2, sessionStartUs: T0 + 60_000_000, heartbeatIntervalMs: 100 });
    run2.appendHeartbeat(0);
    await send(run2);
    expect([reader.counters.upstreamGaps, reader.counters.sessions]).toEqual([1, 2]);
    expect(sub.book(X.instrumentId)!.usable).toBe(false); // before: true
    await reader.stop();
  });
});

describe("an upstream restart whose first envelope is a heartbeat", () => {
  // A multicast subscriber ends the old run's books at the restart's first datagram, a heartbeat too. The reader's
  // new session packed nothing (a heartbeat is no message) and its timer sends one only when nothing went for its
  // interval: the far side showed the old run's books usable until the reader's next datagram. Found by the random
  // model below once it stopped adding a heartbeat after every flush (s-rdnats4).
  test("is sent at once: the old run's books are not usable at the far side, as on multicast", async () => {
    const { reader, sub, mc, book, send } = throughReader({ multicast: true });
    const run1 = packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    packInstrumentDefinition(run1, new EncodedDefinition(X), true);
    packBookSnapshot(run1, book, 0, true);
    await send(run1);
    expect([mc.book(X.instrumentId)?.usable, sub.book(X.instrumentId)?.usable]).toEqual([true, true]);
    const run2 = packer({ channelId: 3, sourceId: 7, sessionId: 2, sessionStartUs: T0 + 60_000_000, heartbeatIntervalMs: 100 });
    run2.appendHeartbeat(0);
    await send(run2);
    expect(reader.counters.sessions).toBe(2);
    expect([mc.book(X.instrumentId)!.usable, sub.book(X.instrumentId)!.usable]).toEqual([false, false]); // before: [false, true]
    await reader.stop();
  });
});

describe("two upstream restarts before one flush of the reader", () => {
  // The reader flushes once per turn of the event loop (setImmediate): a second new session before it replaced the
  // packer of the first (pendingOld) and the session before both lost what it held since the last flush, never sent.
  // The far side showed X's book usable at its state before that refresh (until the reader's next datagram, the
  // restart's; with the new session's own heartbeat, the fix above, that ends it, but the refresh, or a
  // definition, is still lost: a replay running through restarts in one burst lost such messages between them).
  // Now each new session is sent at once (its first envelope's flush), in order.
  test("the session before them is sent whole, first", async () => {
    const { bridge, published } = recordingBridge();
    const datagrams: Uint8Array[] = [];
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: PREFIX }, (d) => datagrams.push(d.slice())); // never started
    const sub = newSubscriber({ staleAfterMs: 60_000 });
    const onData = (reader as unknown as { onData(e: Uint8Array): void }).onData;
    let sendUs = T0;
    const envelopes = (p: ChannelPacker) => {
      for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
      for (const env of published.splice(0)) onData(env);
    };
    const toFarSide = async () => {
      await new Promise((r) => setImmediate(r)); // the reader's flush
      for (const d of datagrams.splice(0)) sub.ingest(d);
    };
    const runX = packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    const book = new TestBook(X);
    book.load([[943500, 10]], [[943501, 20]], 1, T0);
    packInstrumentDefinition(runX, new EncodedDefinition(X), true);
    packBookSnapshot(runX, book, 0, true);
    envelopes(runX);
    for (const sourceId of [8, 9]) {
      const first = packer({ channelId: 3, sourceId, sessionId: sourceId, sessionStartUs: T0, heartbeatIntervalMs: 100 });
      first.appendHeartbeat(0);
      envelopes(first);
    }
    await toFarSide();
    expect([sub.book(X.instrumentId)?.usable, reader.counters.sessions]).toEqual([true, 1]);
    book.load([[943400, 10]], [[943401, 20]], 2, T0 + 1000); // the market moved: X's refresh, then two restarts
    packBookSnapshot(runX, book, 0, true);
    envelopes(runX);
    for (const [sourceId, sessionId] of [[8, 10], [9, 11]] as const) {
      const restart = packer({ channelId: 3, sourceId, sessionId, sessionStartUs: T0 + sessionId * 1_000_000, heartbeatIntervalMs: 100 });
      restart.appendHeartbeat(0);
      envelopes(restart);
    }
    await toFarSide();
    expect(reader.counters.sessions).toBe(3);
    const farX = sub.book(X.instrumentId)!;
    // Usable at its old price (943500) before: the refresh the reader took was never sent.
    expect(farX.usable && farX.bids.priceAt(0) !== 943400).toBe(false);
    expect(sub.counters.messages).toBe(3); // before: 2 (the refresh never sent)
    await reader.stop();
  });
});

describe("a replay running through 100 upstream restarts in one burst", () => {
  // JetStream hands the reader a burst of stored envelopes in one turn (no flush between them): each restart's new
  // session is flushed at its first envelope, so every run's books reach the far side whole and in order, each new
  // session ending the run before's, and the work stays in proportion (a datagram per run's refresh and what follows).
  // Before s-rdnats4's flush at a new session, only the last two runs' datagrams were sent (12 datagrams).
  test("every run's books reach the far side whole, never one run's shown in another's session", () => {
    const { bridge, published } = recordingBridge();
    const sub = newSubscriber({ staleAfterMs: 0 });
    const books: TestBook[] = [];
    const shownWhole = new Set<number>();
    let runOf = -1; // the run of the last envelope the reader took
    const wrong: string[] = [];
    let datagrams = 0;
    const runOfPrice = (px: number) => Math.floor((px - 900_000) / 100);
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: PREFIX, stream: "S", from: "all" }, (d) => {
      datagrams++;
      sub.ingest(d.slice());
      const far = sub.book(X.instrumentId);
      if (far?.usable !== true) return;
      const run = runOfPrice(far.bids.priceAt(0));
      const b = books[run]!;
      if (far.bids.priceAt(0) === b.bidPriceAt(0) && far.bidCount === b.bidCount) shownWhole.add(run);
    }); // never started
    let sendUs = T0;
    for (let run = 0; run < 100; run++) {
      const p = packer({ channelId: 3, sourceId: 7, sessionId: 100 + run, sessionStartUs: T0 + run * 1_000_000, heartbeatIntervalMs: 100 });
      const x = new TestBook(X);
      x.load([[900_000 + run * 100, 10]], [[990_000, 20]], 1, T0);
      books.push(x);
      if (run % 3 === 0) p.appendHeartbeat(0); // a heartbeat-first restart
      packInstrumentDefinition(p, new EncodedDefinition(X), true);
      packBookSnapshot(p, x, 0, true);
      for (let i = 0; i < 98; i++) {
        if (i % 5 === 4) p.appendHeartbeat(0);
        else {
          const cs = new ChangeSet();
          cs.addBid(900_000 + run * 100 + i + 1, 7);
          x.apply(cs, x.venueSeq + 1, T0);
          packBookDelta(p, x, cs);
        }
        for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
      }
    }
    expect(published.length).toBeGreaterThan(9_900);
    const onData = (reader as unknown as { onData(e: Uint8Array): void }).onData;
    for (const env of published) {
      runOf = (env[8]! | (env[9]! << 8)) - 100; // ENV_SESSION_ID_OFFSET (u32, below 2^16 here)
      onData(env);
      const far = sub.book(X.instrumentId);
      if (far?.usable === true && runOfPrice(far.bids.priceAt(0)) !== runOf) wrong.push(`run ${runOf}: the far side shows run ${runOfPrice(far.bids.priceAt(0))}'s book`);
    }
    (reader as unknown as { flush(): void }).flush(); // the burst's scheduled flush
    expect(wrong.slice(0, 3)).toEqual([]);
    expect([reader.counters.sessions, shownWhole.size]).toEqual([100, 100]); // before: [100, 2]
    expect(datagrams).toBeLessThanOrEqual(100 * 10);
  });
});

describe("every stream silent while the reader listened, then one back while its timer is late", () => {
  // Live, the reader's timer ran on time through the silence (its heartbeats stopped, the subscribers' books went
  // stale), then under load the first envelope back came before a late round (or after it): the other stream was
  // not measured silent (the timer late: "not listening"), no gap was made, and that envelope's datagram made the
  // dead stream's stale books usable again (rev24 'both silent' at a load of 20).
  for (const order of ["envelope first", "late timer first"] as const) {
    test(`the others are a gap before its envelope (${order})`, () => {
      const { bridge, published } = recordingBridge();
      const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
      const streams = [packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0, heartbeatIntervalMs: 100 }), packer({ channelId: 4, sourceId: 8, sessionId: 2, sessionStartUs: T0, heartbeatIntervalMs: 100 })];
      let sendUs = T0;
      const heartbeats = (nowMs: number, only?: number) => {
        streams.forEach((p, i) => {
          if (only !== undefined && i !== only) return;
          p.appendHeartbeat(0);
          for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
        });
        for (const env of published.splice(0)) rep.add(env, nowMs);
      };
      let now = 1_000_000;
      for (let i = 0; i < 10; i++, now += 100) {
        heartbeats(now);
        rep.checkUpstream(now);
      }
      let alive = true;
      for (let i = 0; i < 10; i++, now += 100) alive = rep.checkUpstream(now); // both silent, the timer on time
      expect(alive).toBe(false);
      expect(rep.counters.streamsSilent).toBe(0); // every stream silent: the books go stale, no gap
      now += 1000; // the thread held up; stream 1 is back
      if (order === "late timer first") rep.checkUpstream(now);
      heartbeats(now, 1);
      expect(rep.counters.streamsSilent).toBe(1);
    });
  }
});

describe("an ended stream while every other is silent, then another back while the reader's timer is late", () => {
  // The far side must never show a book usable that a multicast subscriber fed the same upstream datagrams does not.
  // "others silent": X ended (its END heartbeats go on), then Y and Z went silent together: the reader stopped
  // heartbeating (the books stale) but took X for "heard while listening", so upstreamDead was never set, and Y back
  // while the timer was late made no gap: Z's stale books came back usable, frozen (multicast: Z stale).
  // "END first back": every stream silent, X's first envelope back an END: before, X's gap waited for the timer's
  // next on-time round, and Y's envelope with the timer late showed X's stale books usable again (multicast: ended).
  for (const variant of ["others silent", "END first back"] as const) {
    test(`no stale book comes back usable (${variant})`, () => {
      const { bridge, published } = recordingBridge();
      const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
      const sub = newSubscriber({ staleAfterMs: 1000 });
      const mc = newSubscriber({ staleAfterMs: 1000 }); // the multicast subscriber: upstream's datagrams as they are
      const Z = makeInstrument("bybit", "linear", "SOLUSDT", 3, 5);
      const instruments = [X, Y, Z];
      const ps = instruments.map((_, i) => packer({ channelId: 3 + i, sourceId: 7 + i, sessionId: 1 + i, sessionStartUs: T0, heartbeatIntervalMs: 100 }));
      const [ended, other, third] = ps as [ChannelPacker, ChannelPacker, ChannelPacker];
      ended.nextSeq = 2 ** 53 - 5; // two refreshes left, then END on every heartbeat
      const books = instruments.map((ins) => new TestBook(ins));
      books.forEach((b) => b.load([[943500, 10]], [[943501, 20]], 1, T0));
      let now = 1_000_000;
      let sendUs = T0;
      const turn = (sending: ChannelPacker[], check = true): boolean => {
        for (const p of sending)
          for (const d of take(p, (sendUs += 1000))) {
            mc.ingest(d, sendUs + 50);
            bridge.onDatagram(d);
          }
        for (const env of published.splice(0)) rep.add(env, now);
        const alive = check && rep.checkUpstream(now);
        if (alive) rep.packer.appendHeartbeat(0);
        const old = rep.pendingOld;
        rep.pendingOld = undefined;
        for (const p of old === undefined ? [rep.packer] : [old, rep.packer]) for (const d of take(p, sendUs)) sub.ingest(d, sendUs + 50);
        now += 100;
        return alive;
      };
      const refresh = (i: number) => {
        packInstrumentDefinition(ps[i]!, new EncodedDefinition(instruments[i]!), true);
        packBookSnapshot(ps[i]!, books[i]!, 0, true);
      };
      const heartbeats = (list: ChannelPacker[]) => list.map((p) => (p.appendHeartbeat(0), p));
      const usable = (s: typeof sub) => instruments.map((ins) => s.book(ins.instrumentId)?.usable ?? false);
      ps.forEach((_, i) => refresh(i));
      turn(ps);
      expect(usable(sub)).toEqual([true, true, true]);
      for (let i = 0; i < 5; i++) turn(heartbeats(ps));
      refresh(0); // X's last refresh
      if (variant === "others silent") {
        turn(heartbeats(ps)); // and its first END: a gap
        expect(ended.nextSeq).toBe(2 ** 53 - 1);
        for (let i = 0; i < 3; i++) turn(heartbeats(ps));
        refresh(1);
        refresh(2);
        turn(heartbeats(ps));
        expect(usable(sub)).toEqual([false, true, true]);
        let alive = true;
        for (let i = 0; i < 10; i++) alive = turn(heartbeats([ended])); // Y and Z silent, X's END heartbeats go on
        expect(alive).toBe(false);
      } else {
        turn(ps); // X's refresh, without its END yet
        expect(usable(sub)).toEqual([true, true, true]);
        for (let i = 0; i < 10; i++) turn([]); // every stream silent, the timer on time
        turn(heartbeats([ended]), false); // X's first envelope back is an END, no round of the timer after it
      }
      for (const s of [sub, mc]) s.checkStale(Math.max(...s.streamInfo().map((i) => i.lastRecvMs)) + 600_000);
      expect(usable(sub)).toEqual([false, false, false]);
      // Y's publisher back while the reader's thread was held up (its timer late): Y's envelope is taken first.
      now += 1000;
      refresh(1);
      turn(heartbeats([other]), false);
      expect(usable(mc)).toEqual([false, true, false]);
      expect(usable(sub)).toEqual(usable(mc));
      turn(heartbeats([other])); // the late timer's round
      expect(usable(sub)).toEqual(usable(mc));
      expect(third.nextSeq).toBeGreaterThan(0);
    });
  }
});

describe("random upstream streams (silent, ended, restarted), the reader's timer on time or late", () => {
  // The far side's books, whenever the reader's stream speaks, are never valid where a multicast subscriber fed the
  // same upstream datagrams has them invalid (ended, a gap, a new session not yet refreshed); and every stream back
  // and refreshed, the timer on time, every book is usable again.
  test("the far side never shows a book valid that multicast does not; all usable again once upstream is back", () => {
    const instruments = [X, Y, makeInstrument("bybit", "linear", "SOLUSDT", 3, 5)];
    for (let seed = 1; seed <= 40; seed++) {
      let rnd = seed * 0x9e3779b1;
      const random = () => ((rnd = (Math.imul(rnd ^ (rnd >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0), (rnd >>> 0) / 2 ** 32);
      const { bridge, published } = recordingBridge();
      const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
      const sub = newSubscriber();
      const mc = newSubscriber();
      let sessionId = 1;
      let startUs = T0;
      const newRun = (i: number) => {
        const p = packer({ channelId: 3 + i, sourceId: 7 + i, sessionId: sessionId++, sessionStartUs: (startUs += 1_000_000), heartbeatIntervalMs: 100 });
        p.nextSeq = 2 ** 53 - 1 - 2 * (1 + Math.floor(random() * 6)); // a few refreshes, then END on every heartbeat
        return p;
      };
      const runs = instruments.map((_, i) => newRun(i));
      const modes: ("live" | "silent")[] = instruments.map(() => "live");
      const books = instruments.map((ins) => new TestBook(ins));
      books.forEach((b) => b.load([[943500, 10]], [[943501, 20]], 1, T0));
      const refresh = (i: number) => {
        if (runs[i]!.nextSeq > 2 ** 53 - 3) return; // its sequence runs out: nothing but END from here
        packInstrumentDefinition(runs[i]!, new EncodedDefinition(instruments[i]!), true);
        packBookSnapshot(runs[i]!, books[i]!, 0, true);
      };
      let now = 1_000_000;
      let sendUs = T0 + 60_000_000;
      const valid = (s: typeof sub, i: number) => {
        const b = s.book(instruments[i]!.instrumentId);
        return b !== undefined && b.valid && b.state === BookState.LIVE;
      };
      let lastSendMs = -Infinity;
      /**
       * NatsFeedReader.flush: the replaced session's datagrams, the gap carried (carryGap), the packer's. After each
       * with every envelope multicast had taken in (not the one at a new session's first envelope), sent or not, the far
       * side's books valid must be valid on multicast too. (Until s-rdnats4 the model added a heartbeat after every flush
       * that sent anything, which showed every gap the reader itself left unsent.)
       */
      const flush = (inStep = true) => {
        const old = rep.pendingOld;
        rep.pendingOld = undefined;
        rep.carryGap();
        for (const p of old === undefined ? [rep.packer] : [old, rep.packer]) {
          for (const d of take(p, sendUs)) {
            sub.ingest(d, sendUs + 50);
            lastSendMs = now;
          }
        }
        if (inStep) for (let i = 0; i < instruments.length; i++) if (valid(sub, i)) expect(valid(mc, i), `seed ${seed}, instrument ${i}`).toBe(true);
      };
      /** NatsFeedReader.onData: a new session flushed at once, else at the flush after the batch. */
      const onData = (env: Uint8Array) => {
        if (rep.add(env, now) === "new_session") flush(false);
      };
      /** The reader's timer: its check, and its heartbeat while upstream is alive, nothing sent for its interval. */
      const timer = () => {
        if (rep.checkUpstream(now) && now - lastSendMs >= 200) rep.packer.appendHeartbeat(0);
        flush();
      };
      const turn = (late: boolean, lastPhase: boolean) => {
        if (late) now += 1000;
        const order = instruments.map((_, i) => i).sort(() => random() - 0.5);
        const timerFirst = random() < 0.5;
        if (timerFirst) timer();
        for (const i of order) {
          if (modes[i] !== "live") continue;
          if (random() < (lastPhase ? 0.5 : 0.2)) refresh(i);
          runs[i]!.appendHeartbeat(0);
          for (const d of take(runs[i]!, (sendUs += 1000))) {
            mc.ingest(d, sendUs + 50);
            bridge.onDatagram(d);
          }
          for (const env of published.splice(0)) onData(env);
          if (random() < 0.5) flush(); // else batched with the next streams' envelopes (one turn of the event loop)
        }
        flush();
        if (!timerFirst) timer();
        now += 100;
      };
      for (let step = 0; step < 80; step++) {
        for (let i = 0; i < instruments.length; i++) {
          const r = random();
          if (modes[i] === "live" && r < 0.08) modes[i] = "silent";
          else if (modes[i] === "silent" && r < 0.15) modes[i] = "live";
          else if (r > 0.96) runs[i] = newRun(i); // a restart (the old run's end unsent)
        }
        turn(random() < 0.15, false);
      }
      // Upstream back: every stream restarted and live, the timer on time; every book usable at its refresh.
      for (let i = 0; i < instruments.length; i++) {
        runs[i] = newRun(i);
        runs[i]!.nextSeq = 1;
        modes[i] = "live";
      }
      for (let step = 0; step < 20; step++) turn(false, true);
      for (let i = 0; i < instruments.length; i++) refresh(i);
      turn(false, true);
      expect(instruments.map((ins) => sub.book(ins.instrumentId)?.usable), `seed ${seed}`).toEqual(instruments.map(() => true));
    }
  });
});

describe("random reader outages with silent, ended and restarted streams, on the far side's own clock", () => {
  // The far side's staleness too (its monotonic clock mocked to the model's): a book the reader knows it lost data of
  // (an envelope of its stream taken after the loss, no refresh since) is never usable; nor one whose stream has
  // been silent for 1.4 s (the reader's silence limit, 600 ms, and the subscriber's stale limit, 600 ms, with room)
  // while the reader's timer ran on time; nor one whose run ended (the reader took the restart's envelopes, no refresh
  // of the new run). This model found the old session's gap left unsent before a restart. It flushes as the reader
  // does (envelopes batched, a new session at once, the timer's heartbeat only after its interval): until s-rdnats5 it
  // flushed after every stream and heartbeated every turn, which sent what the reader leaves unsent (a heartbeat-first
  // restart: caught now, without EnvelopeRepacker.add's gapAtCount = 0).
  test("no book usable after a loss the reader knows of, nor long after its stream went silent, nor once its run ended", () => {
    const instruments = [X, Y, makeInstrument("bybit", "linear", "SOLUSDT", 3, 5)];
    const SILENT_TURNS = 14; // of 100 ms
    let perfMs = 10_000;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => perfMs);
    const wrong: string[] = [];
    try {
      for (let seed = 1; seed <= 50; seed++) {
        let rnd = seed * 0x9e3779b1;
        const random = () => ((rnd = (Math.imul(rnd ^ (rnd >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0), (rnd >>> 0) / 2 ** 32);
        const { bridge, published } = recordingBridge();
        const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
        const sub = newSubscriber({ staleAfterMs: 600 });
        let sessionId = 1;
        let startUs = T0;
        const newRun = (i: number) => {
          const p = packer({ channelId: 3 + i, sourceId: 7 + i, sessionId: sessionId++, sessionStartUs: (startUs += 1_000_000), heartbeatIntervalMs: 100 });
          if (random() < 0.5) p.nextSeq = 2 ** 53 - 1 - 2 * (1 + Math.floor(random() * 6)); // a few refreshes, then END
          return p;
        };
        const runs = instruments.map((_, i) => newRun(i));
        const silent = instruments.map(() => false);
        const silentTurns = instruments.map(() => 0);
        const lost = instruments.map(() => false);
        const lossKnown = instruments.map(() => false);
        // The reader took the current run's envelopes but none of its refreshes: the book the far side holds is the
        // ended run's, which multicast ends at the restart's first datagram.
        const refreshedInRun = instruments.map(() => false);
        const endedRunKnown = instruments.map(() => false);
        let outage = 0; // turns left of the reader's (its envelopes lost)
        let onTime = 0;
        const books = instruments.map((ins) => new TestBook(ins));
        books.forEach((b) => b.load([[943500, 10]], [[943501, 20]], 1, T0));
        let now = 1_000_000;
        let sendUs = T0 + 60_000_000;
        let readerUs = 0;
        let ticks = 0;
        const clockAt = () => (perfMs = 10_000 + (now - 1_000_000) + 0.001 * ++ticks); // the far side's, after `now`
        let lastSendMs = -Infinity;
        /** NatsFeedReader.flush: the replaced session's datagrams first, the gap carried, sealed on its clock. */
        const flush = () => {
          const old = rep.pendingOld;
          rep.pendingOld = undefined;
          rep.carryGap();
          for (const p of old === undefined ? [rep.packer] : [old, rep.packer]) {
            if (p.count === 0) continue;
            clockAt();
            readerUs = Math.max(readerUs + 1, monoEpochUs());
            for (const d of take(p, readerUs)) sub.ingest(d, readerUs + 50);
            lastSendMs = now;
          }
        };
        /** NatsFeedReader.onData: a new session flushed at once, else at the flush after the batch. */
        const onData = (env: Uint8Array) => {
          if (rep.add(env, now) === "new_session") flush();
        };
        /** The reader's timer: its heartbeat only while upstream is alive and nothing was sent for its interval. */
        const timer = () => {
          if (rep.checkUpstream(now) && now - lastSendMs >= 200) rep.packer.appendHeartbeat(0);
          flush();
        };
        for (let step = 0; step < 150; step++) {
          for (let i = 0; i < instruments.length; i++) {
            const r = random();
            if (r < 0.06) silent[i] = !silent[i];
            else if (r > 0.97) {
              runs[i] = newRun(i); // a restart (the old run's end unsent)
              refreshedInRun[i] = false;
            }
            silentTurns[i] = silent[i] ? silentTurns[i]! + 1 : 0;
          }
          const late = random() < 0.05;
          onTime = late ? 0 : onTime + 1;
          if (outage > 0) outage--;
          else if (random() < 0.1) outage = 1 + Math.floor(random() * 12);
          if (late) now += 1000;
          const order = instruments.map((_, i) => i).sort(() => random() - 0.5);
          const timerFirst = random() < 0.5;
          if (timerFirst) timer();
          for (const i of order) {
            if (silent[i]) continue;
            const refreshed = random() < 0.2 && runs[i]!.nextSeq <= 2 ** 53 - 3;
            if (refreshed) {
              packInstrumentDefinition(runs[i]!, new EncodedDefinition(instruments[i]!), true);
              packBookSnapshot(runs[i]!, books[i]!, 0, true);
            }
            runs[i]!.appendHeartbeat(0);
            for (const d of take(runs[i]!, (sendUs += 1000))) bridge.onDatagram(d);
            if (outage > 0) {
              published.splice(0);
              lost[i] ||= refreshed;
              continue;
            }
            lost[i] &&= !refreshed;
            lossKnown[i] = lost[i]!;
            refreshedInRun[i] ||= refreshed;
            endedRunKnown[i] = !refreshedInRun[i];
            for (const env of published.splice(0)) onData(env);
            if (random() < 0.5) flush(); // else batched with the next streams' envelopes (one turn of the event loop)
          }
          flush();
          if (!timerFirst) timer();
          now += 100;
          clockAt();
          sub.checkStale(monoEpochMs());
          for (let i = 0; i < instruments.length; i++) {
            if (sub.book(instruments[i]!.instrumentId)?.usable !== true) continue;
            if (lossKnown[i]) wrong.push(`seed ${seed} step ${step} instrument ${i}: usable after a loss`);
            if (endedRunKnown[i]) wrong.push(`seed ${seed} step ${step} instrument ${i}: usable, its run ended`);
            if (silentTurns[i]! >= SILENT_TURNS && onTime >= SILENT_TURNS) wrong.push(`seed ${seed} step ${step} instrument ${i}: usable, silent`);
          }
        }
      }
    } finally {
      clock.mockRestore();
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});

/** A ForwardBridge whose NATS connection is a recorder (its onDatagram as is). */
function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: PREFIX, log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

/**
 * A bridge into a never-started reader (its flush alone), a far-side subscriber of the reader's datagrams, with
 * `multicast` one of the publisher's datagrams too, and X's book. send(p, lost) takes p's datagrams (1 ms apart) to
 * them and the bridge, hands its envelopes to the reader unless lost, and waits out the reader's flush to the far side.
 */
function throughReader(o: { multicast: boolean }) {
  const { bridge, published } = recordingBridge();
  const datagrams: Uint8Array[] = [];
  const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: PREFIX }, (d) => datagrams.push(d.slice()));
  const sub = newSubscriber({ staleAfterMs: 60_000 });
  const mc = newSubscriber({ staleAfterMs: 60_000 });
  const book = new TestBook(X);
  book.load([[943500, 10]], [[943501, 20]], 1, T0);
  let sendUs = T0;
  const send = async (p: ChannelPacker, lost = false) => {
    for (const d of take(p, (sendUs += 1000))) {
      if (o.multicast) mc.ingest(d);
      bridge.onDatagram(d);
    }
    for (const env of published.splice(0)) if (!lost) (reader as unknown as { onData(e: Uint8Array): void }).onData(env);
    await new Promise((r) => setImmediate(r)); // the reader's flush
    for (const d of datagrams.splice(0)) sub.ingest(d);
  };
  return { reader, sub, mc, book, send };
}
