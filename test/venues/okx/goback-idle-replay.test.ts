/**
 * Replay of a go-back (`ws:back`) leaving a book idle on the old socket: its resync waits out its backoff, and the old
 * socket still streams its channel (its closure's unsubscribe refused 60014 and taken off by its reopening's subscribe,
 * TopicState.streamedOn). Live ignores every frame of that stream until its resync's subscribe (OkxAdapter.onBook,
 * SUB_IDLE); replay must too: a snapshot there must not make the book LIVE in replay where live had it RESYNCING.
 * And one whose go-back resubscribe is held for the hour's count: live takes the old socket's frames of it meanwhile (its
 * subscribe pending), so replay does from the recorded `ws:back-held` (a capture without it keeps the book held).
 * Recorded through the adapter's taps (as `feeder record`) on fake sockets, then replayed record by record.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason } from "../../../src/core/types.ts";
import type { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { OkxConnection, OkxTopic } from "../../../src/venues/okx/connection.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { FakeWs } from "../common/fake-ws.ts";
import { offlineVenue } from "../common/offline-venue.ts";
import { recordingTaps, replayer } from "../common/record-replay.ts";

afterEach(() => void vi.unstubAllGlobals());

type Req = { id: string; op: string; args: { channel: string; instId: string }[] };
const book = (instId: string, action: string, prev: number, seq: number) =>
  `{"arg":{"channel":"books","instId":"${instId}"},"action":"${action}","data":[{"asks":[["200.1","1","0","1"]],"bids":[["200","1","0","1"]],"ts":"1700000000000","checksum":0,"prevSeqId":${prev},"seqId":${seq}}]}`;

function adapterOf(options: ConstructorParameters<typeof OkxAdapter>[2]): OkxAdapter {
  const o = offlineVenue("okx", "spot", 400, ["A-USDT", "B-USDT"], "/ws/v5/public");
  return new OkxAdapter(o.config, o.subscriptions, { ...o.options, random: () => 0.5, ...options });
}

/**
 * Live (recorded through its taps, `requestsPerHour` a socket, on a clock the test sets) and its replay, of A-USDT and
 * B-USDT on fake sockets: the old socket open and subscribed, both books LIVE from its snapshots.
 */
async function liveOnOldSocket(requestsPerHour: number) {
  vi.stubGlobal("WebSocket", FakeWs);
  FakeWs.made = [];
  let nowMs = 1_000_000;
  const rec = recordingTaps();
  const live = adapterOf({ log: silentLogger, now: () => nowMs, wallNow: () => nowMs, requestsPerHour, ...rec.taps });
  const replay = adapterOf({ log: silentLogger });
  await live.loadInstruments();
  await replay.loadInstruments();
  const replayed = replayer(replay, rec.records);
  const internals = live as unknown as { conns: OkxConnection[]; lifecycle: ConnectionLifecycle; bind(s: BookSink, replay: boolean): void };
  internals.bind(rec.sink, false); // as start(), without its timers: the test is the clock
  const lifecycle = internals.lifecycle;
  const conn = internals.conns[0]!;
  const [a] = conn.topics as [OkxTopic, OkxTopic];
  (lifecycle as unknown as { connect(c: OkxConnection): void }).connect(conn);
  const old = FakeWs.made[0]!;
  old.onopen!();
  const frame = (ws: FakeWs, text: string) => ws.onmessage!({ data: text });
  const sent = (ws: FakeWs) => ws.sent.map((x) => JSON.parse(x) as Req);
  const answer = (ws: FakeWs, r: Req, code?: string) => {
    if (code !== undefined) frame(ws, JSON.stringify({ id: r.id, event: "error", code, msg: "Requests too frequent.", connId: "x" }));
    else for (const arg of r.args) frame(ws, JSON.stringify({ id: r.id, event: r.op, arg, connId: "x" }));
  };
  answer(old, sent(old).at(-1)!);
  frame(old, book("A-USDT", "snapshot", -1, 10));
  frame(old, book("B-USDT", "snapshot", -1, 10));
  /** A closes, its unsubscribe refused 60014; listed again, its subscribe refused too: its channel stays streamed. */
  const closedRelistedRefused = async () => {
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
    answer(old, sent(old).at(-1)!, "60014");
    lifecycle.activateAll([a]);
    await Promise.resolve();
    await Promise.resolve();
    answer(old, sent(old).at(-1)!, "60014");
  };
  /** A planned reconnect: the replacement opens, both subscribed there, LIVE from its snapshots. */
  const liveOnReplacement = () => {
    lifecycle.onPlannedClose(conn, "test");
    const replacement = FakeWs.made[1]!;
    replacement.onopen!();
    expect(conn.ws).toBe(replacement as unknown as WebSocket);
    answer(replacement, sent(replacement).at(-1)!);
    frame(replacement, book("A-USDT", "snapshot", -1, 20));
    frame(replacement, book("B-USDT", "snapshot", -1, 20));
    return replacement;
  };
  const clock = { get ms() { return nowMs; }, set ms(v: number) { nowMs = v; } };
  return { rec, live, replay, replayed, lifecycle, conn, a, old, frame, sent, answer, closedRelistedRefused, liveOnReplacement, clock };
}

describe("okx replay of a go-back", () => {
  test("a book idle on the old socket at the go-back (its resync waiting out its backoff) takes none of that socket's frames in replay either: RESYNCING until its resync's subscribe, as live", async () => {
    // Room for every request: the 60014s are the venue's.
    const { rec, live, replay, replayed, conn, a, old, frame, sent, answer, closedRelistedRefused, liveOnReplacement } = await liveOnOldSocket(10);
    expect(live.topicInfo(0).state).toBe("live");
    await closedRelistedRefused();
    const replacement = liveOnReplacement();
    // A gap on the replacement, A's second resync in a row: its unsubscribe, then a backoff before its subscribe.
    a.resyncAttempt = 1; // live's count (replay waits out no backoff: it follows the recorded requests)
    frame(replacement, book("A-USDT", "update", 25, 26));
    answer(replacement, sent(replacement).at(-1)!);
    expect([live.topicInfo(0).state, a.resyncDelayed]).toEqual(["resyncing", true]);
    // The replacement fails: back to the old socket, which streams A's channel; live ignores those frames.
    replacement.onclose!({ code: 1006, reason: "gone" });
    await Promise.resolve();
    expect([conn.ws, a.streamedOn]).toEqual([old, conn.generation]);
    frame(old, book("A-USDT", "update", 10, 11));
    frame(old, book("A-USDT", "snapshot", -1, 30));
    expect(live.topicInfo(0).state).toBe("resyncing");
    // Its backoff over: subscribed on the old socket, LIVE from the answer's snapshot.
    a.resyncDelayed = false;
    live.restart(a);
    answer(old, sent(old).at(-1)!);
    frame(old, book("A-USDT", "snapshot", -1, 40));
    expect(live.topicInfo(0).state).toBe("live");
    // Before s-backreplay replay had one event more: '25: 0 snapshot 30', A LIVE from the old socket's snapshot.
    expect(replayed.feed()).toEqual(rec.events);
    expect(replay.topicInfo(0).state).toBe("live");
    conn.ws = null;
    await live.stop();
    await replay.stop();
  });

  test("a book whose go-back resubscribe is held for the hour's room takes the old socket's frames in replay too: LIVE there as live (ws:back-held)", async () => {
    // 3 requests an hour a socket: the old socket's subscribe, A's closure's unsubscribe and its reopening's subscribe.
    const { rec, live, replay, replayed, lifecycle, conn, a, old, frame, sent, answer, closedRelistedRefused, liveOnReplacement, clock } = await liveOnOldSocket(3);
    await closedRelistedRefused();
    expect(sent(old).length).toBe(3); // the old socket's hour is used up
    const replacement = liveOnReplacement();
    // A gap on the replacement, its first resync (no backoff): its unsubscribe, unanswered when the replacement fails.
    frame(replacement, book("A-USDT", "update", 25, 26));
    expect([live.topicInfo(0).state, a.resyncDelayed, sent(replacement).at(-1)!.op]).toEqual(["resyncing", false, "unsubscribe"]);
    replacement.onclose!({ code: 1006, reason: "gone" });
    await Promise.resolve();
    // Back on the old socket, which streams A's channel: goBack's subscribe of A waits for the hour (nothing written).
    expect([conn.ws, a.streamedOn, a.subscribeQueued, sent(old).length]).toEqual([old, conn.generation, true, 3]);
    frame(old, book("A-USDT", "update", 10, 11));
    frame(old, book("A-USDT", "update", 11, 12).replace('"200.1"', '"2x0.1"')); // garbled: no resync, its fresh start is on its way
    frame(old, book("A-USDT", "snapshot", -1, 30));
    frame(old, book("A-USDT", "update", 30, 31));
    expect(live.topicInfo(0).state).toBe("live");
    expect(rec.records.filter((r) => r.url === "ws:back-held").map((r) => r.body)).toEqual(["books:A-USDT"]);
    const [recordsHeld, eventsHeld] = [rec.records.slice(), rec.events.slice()];
    expect(replayed.feed()).toEqual(rec.events); // before the fix replay held A until a request of it recorded: RESYNCING
    expect(replay.topicInfo(0).state).toBe("live");
    // The garbled frame resynced A in neither (its subscribe held as live's): without that mark replay counted one more.
    const replayA = (replay as unknown as { conns: OkxConnection[] }).conns[0]!.topics[0]!;
    expect(replayA.resyncs).toBe(a.resyncs);
    // An hour on, the held subscribe goes (its ws:req): from then on a garbled frame resyncs A, in replay too.
    clock.ms += 3_600_000;
    (lifecycle as unknown as { control: { retriesDue(nowMs: number): void } }).control.retriesDue(clock.ms);
    expect([sent(old).at(-1)!.op, a.subscribeQueued]).toEqual(["subscribe", false]);
    frame(old, book("A-USDT", "update", 31, 32).replace('"200.1"', '"2x0.1"')); // before its answer
    expect(live.topicInfo(0).state).toBe("resyncing");
    expect(replayed.feed()).toEqual(rec.events);
    // A capture from before ws:back-held replays as it did: A held (RESYNCING) until its subscribe's ws:req.
    const older = adapterOf({ log: silentLogger });
    await older.loadInstruments();
    const olderEvents = replayer(older, recordsHeld.filter((r) => r.url !== "ws:back-held")).feed();
    const untimed = (events: string[]) => events.map((e) => e.replace(/^\d+: /, ""));
    expect(untimed(olderEvents)).toEqual(untimed(eventsHeld.slice(0, -2)));
    expect(older.topicInfo(0).state).toBe("resyncing");
    conn.ws = null;
    await live.stop();
    await replay.stop();
    await older.stop();
  });
});
