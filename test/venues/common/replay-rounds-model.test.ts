/**
 * Replay's bounded stale rounds (ConnectionLifecycle.replayUntil: after a round that made no book STALE, the next runs
 * only when a book not STALE comes due) against a naive model that runs every round one is due (each STALE book's
 * re-verdict too), over random captures: the same books go STALE at the same times.
 */
import { expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { rng as mulberry32 } from "../../support/mulberry32.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

const HOUSEKEEPING_MS = 100;
const PAST_MS = 0.001;

/** A record at `atMs`: topic `i` got a message (`live`: a snapshot, the book LIVE again), or the connection closed (`close`: every book RESYNCING). */
type Rec = { atMs: number; i: number; live: boolean; close: boolean };

/** The naive loop: a round at every due time (STALE books' re-verdicts included), the next an interval after one that made a book STALE. */
function naive(staleMs: number[], recs: Rec[]): string[] {
  const verdicts: string[] = [];
  const last = staleMs.map(() => recs[0]!.atMs);
  const stale = staleMs.map(() => false);
  let nextRoundMs = -Infinity;
  const round = (atMs: number): number => {
    let due = Infinity;
    let resynced = false;
    for (let i = 0; i < staleMs.length; i++) {
      if (atMs - last[i]! <= staleMs[i]!) {
        due = Math.min(due, last[i]! + staleMs[i]!);
        continue;
      }
      if (!stale[i]) resynced = true;
      if (!stale[i]) verdicts.push(`${i}@${atMs.toFixed(3)}`);
      stale[i] = true;
      last[i] = atMs;
      due = Math.min(due, atMs + staleMs[i]!);
    }
    if (resynced) nextRoundMs = atMs + HOUSEKEEPING_MS;
    return due;
  };
  let dueMs = round(recs[0]!.atMs);
  for (const r of recs) {
    while (dueMs < r.atMs) {
      const atMs = Math.max(dueMs + PAST_MS, nextRoundMs);
      if (atMs > r.atMs) break;
      dueMs = round(atMs);
    }
    if (r.close) {
      // Every book of the connection RESYNCING, its silence counted from the close.
      stale.fill(false);
      last.fill(r.atMs);
      continue;
    }
    last[r.i] = r.atMs;
    if (r.live) stale[r.i] = false;
  }
  return verdicts;
}

function bounded(staleMs: number[], recs: Rec[]): string[] {
  let nowMs = 0;
  const verdicts: string[] = [];
  const control = new SubscriptionControl(
    { encodeRequest: () => "", classifyControl: () => ({ kind: "other" }), parseAckError: () => ({ kind: "other" }), rejectHint: () => "" } as never,
    silentLogger,
    () => nowMs,
    undefined,
    () => undefined,
  );
  const conn = new SendRecordingConnection(0, "spot");
  conn.used = true;
  conn.open = false;
  conn.ws = null;
  const topics = conn.addTopics(staleMs.map((_, i) => `book.S${i}`), 1);
  topics.forEach((t, i) => {
    t.depth = i; // staleAfterMs by depth
    t.sub = SUB_ACTIVE;
    t.book = BookState.LIVE;
  });
  const invalidate = (t: TopicState, state: BookState): void => {
    t.book = state;
  };
  const resync = (t: TopicState, state: BookState, _reason: StatusReason): void => {
    if (t.book !== state) verdicts.push(`${t.index}@${nowMs.toFixed(3)}`);
    t.book = state;
  };
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate, resync }, {
    log: silentLogger,
    keepalive: { kind: "none" } as never,
    housekeepingMs: HOUSEKEEPING_MS,
    staleAfterMs: (depth) => staleMs[depth]!,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
    now: () => nowMs,
    random: () => 0.5,
  });
  // The verdict's time is the round's: the hook reads it from the lifecycle's judgeStale `now` via the clock below.
  const judge = (lifecycle as unknown as { judgeStale(c: unknown, now: number, r: boolean): number }).judgeStale.bind(lifecycle);
  (lifecycle as unknown as { judgeStale(c: unknown, now: number, r: boolean): number }).judgeStale = (c, now, r) => {
    const saved = nowMs;
    nowMs = now;
    const due = judge(c, now, r);
    nowMs = saved;
    return due;
  };
  for (const r of recs) {
    nowMs = r.atMs;
    lifecycle.replayUntil(r.atMs);
    const t = topics[r.i]!;
    if (r.close) {
      lifecycle.replayDisconnected(conn.name);
      continue;
    }
    t.lastMsgMs = r.atMs;
    if (r.live) t.book = BookState.LIVE;
  }
  return verdicts;
}

/** Random captures of up to 4 books with stale times of 150–400 ms, quiet stretches of up to 3 s among them. */
function captures(closes: boolean): { staleMs: number[]; recs: Rec[] }[] {
  const out: { staleMs: number[]; recs: Rec[] }[] = [];
  for (let seed = 1; seed <= 300; seed++) {
    const rnd = mulberry32(seed);
    const books = 1 + Math.floor(rnd() * 4);
    const staleMs = Array.from({ length: books }, () => 150 + Math.floor(rnd() * 6) * 50);
    const recs: Rec[] = [];
    let atMs = 1_000_000;
    for (let k = 0; k < 60; k++) {
      atMs += rnd() < 0.15 ? rnd() * 3_000 : rnd() * 120;
      recs.push({ atMs: Math.round(atMs * 1000) / 1000, i: Math.floor(rnd() * books), live: rnd() < 0.5, close: closes && rnd() < 0.1 });
    }
    out.push({ staleMs, recs });
  }
  return out;
}

// Before: a round that only judged STALE books again spaced the next an interval, so a book coming due within it was
// judged later than with a round per due time (or not at all, its next message first).
test("bounded replay rounds make the same books STALE at the same times as a round at every due time", () => {
  captures(false).forEach(({ staleMs, recs }, k) => expect(bounded(staleMs, recs), `capture ${k}`).toEqual(naive(staleMs, recs)));
});

// Before: a book STALE at a recorded close counted its silence from its last re-verdict, a time the bounded rounds
// leave elsewhere than a round per due time does.
test("with recorded closes too: every book's silence counts from the close, not from a skipped round's re-verdict", () => {
  captures(true).forEach(({ staleMs, recs }, k) => expect(bounded(staleMs, recs), `capture ${k}`).toEqual(naive(staleMs, recs)));
});
