/**
 * Replay's bounded stale rounds (ConnectionLifecycle.replayUntil: after a round that made no book STALE, the next runs
 * only when a book not STALE comes due, or just before the record) against a naive loop that runs a round at every due
 * time (each STALE book's re-verdict too), over random captures: the same books go STALE at the same times. The rounds
 * the bounded loop skips only judge STALE books again, which must change nothing a later verdict depends on.
 */
import { expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, TopicState } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { TopicResync } from "../../../src/venues/common/topic-resync.ts";
import { rng } from "../../support/mulberry32.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

const HOUSEKEEPING_MS = 100;
const PAST_MS = 0.001;

/**
 * A record at `atMs`: book `i` got a message (`live`: a snapshot, LIVE again), or (no message) the connection closed
 * (`close`: its LIVE and STALE books RESYNCING) or the capture lost records (`gap`: the same, through a resync).
 */
type Rec = { atMs: number; i: number; kind: "msg" | "live" | "close" | "gap" };

/** The naive loop: a round at every due time, the next an interval after one that made a book STALE. */
function naive(staleMs: number[], recs: Rec[], quietMs = 0): string[] {
  const verdicts: string[] = [];
  const quietUntil = staleMs.map(() => 0);
  const last = staleMs.map(() => recs[0]!.atMs);
  const state = staleMs.map(() => "live");
  let nextRoundMs = -Infinity;
  const round = (atMs: number): number => {
    let due = Infinity;
    let made = false;
    for (let i = 0; i < staleMs.length; i++) {
      if (atMs - last[i]! <= staleMs[i]!) {
        due = Math.min(due, last[i]! + staleMs[i]!);
        continue;
      }
      if (quietMs > 0 && state[i] === "live") {
        // Upbit's quiet rule (replay): asked again at the first round past the stale time, STALE if still silent by then.
        if (quietUntil[i] === 0) quietUntil[i] = atMs + quietMs;
        if (atMs < quietUntil[i]!) {
          due = Math.min(due, quietUntil[i]!);
          continue;
        }
        quietUntil[i] = 0;
      }
      if (state[i] !== "stale") {
        made = true;
        verdicts.push(`${i}@${atMs.toFixed(3)}`);
      }
      state[i] = "stale";
      last[i] = atMs;
      due = Math.min(due, atMs + staleMs[i]!);
    }
    if (made) nextRoundMs = atMs + HOUSEKEEPING_MS;
    return due;
  };
  let dueMs = round(recs[0]!.atMs);
  for (const r of recs) {
    while (dueMs < r.atMs) {
      const atMs = Math.max(dueMs + PAST_MS, nextRoundMs);
      if (atMs > r.atMs) break;
      dueMs = round(atMs);
    }
    if (r.kind === "close" || r.kind === "gap") {
      for (let i = 0; i < staleMs.length; i++) {
        // A STALE book's silence counts from where it leaves STALE (live's last round before it re-judged it).
        if (state[i] === "stale") last[i] = r.atMs;
        if (state[i] !== "resyncing") state[i] = "resyncing";
      }
      continue;
    }
    last[r.i] = r.atMs;
    quietUntil[r.i] = 0;
    if (r.kind === "live") state[r.i] = "live";
  }
  return verdicts;
}

/** The lifecycle's replayUntil before each record, books kept by a replaying TopicResync as the adapters' are. */
function bounded(staleMs: number[], recs: Rec[], quietMs = 0): string[] {
  let nowMs = 0;
  const quietUntil = staleMs.map(() => 0);
  // As the Upbit adapter's quiet hook in replay: a LIVE book silent past its stale time is taken as asked again then.
  const quiet = (t: TopicState, now: number): number => {
    if (t.book !== BookState.LIVE) return 0;
    if (quietUntil[t.index]! > 0) {
      if (now < quietUntil[t.index]!) return quietUntil[t.index]!;
      quietUntil[t.index] = 0;
      return 0;
    }
    quietUntil[t.index] = now + quietMs;
    return quietUntil[t.index]!;
  };
  const verdicts: string[] = [];
  const protocol = { encodeRequest: () => "", classifyControl: () => ({ kind: "other" }), parseAckError: () => ({ kind: "other" }), rejectHint: () => "" };
  const control = new SubscriptionControl(protocol as never, silentLogger, () => nowMs, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "spot");
  conn.used = true;
  conn.open = false;
  conn.ws = null;
  // Book i at depth i: its stale time by depth.
  const topics = staleMs.map((_, i) => new TopicState(i, "spot", `S${i}`, i, `book.S${i}`, conn));
  for (const t of topics) {
    conn.topics.push(t);
    t.sub = SUB_ACTIVE;
    t.book = BookState.LIVE;
  }
  const books = new TopicResync({ venue: "fake", log: silentLogger, now: () => nowMs, random: () => 0.5, restart: () => undefined });
  books.replaying = true;
  const resync = (t: TopicState, state: BookState, reason: StatusReason): void => {
    if (state === BookState.STALE && t.book !== BookState.STALE) verdicts.push(`${t.index}@${nowMs.toFixed(3)}`);
    books.resync(t, state, reason);
  };
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate: (t, s, r) => books.invalidate(t, s, r), resync, ...(quietMs > 0 ? { quiet } : {}) }, {
    log: silentLogger,
    keepalive: { kind: "ws_ping" },
    housekeepingMs: HOUSEKEEPING_MS,
    staleAfterMs: (depth) => staleMs[depth]!,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
    now: () => nowMs,
    random: () => 0.5,
  });
  // A round's verdicts at the round's time: the adapters' clock there (replay moves it to each round's time too).
  const inner = lifecycle as unknown as { judgeStale(c: unknown, now: number, replaying: boolean): number };
  const judge = inner.judgeStale.bind(lifecycle);
  inner.judgeStale = (c, now, replaying) => {
    const recordMs = nowMs;
    nowMs = now;
    const due = judge(c, now, replaying);
    nowMs = recordMs;
    return due;
  };
  for (const r of recs) {
    nowMs = r.atMs;
    lifecycle.replayUntil(r.atMs);
    const t = topics[r.i]!;
    if (r.kind === "close") lifecycle.replayDisconnected(conn.name);
    else if (r.kind === "gap") {
      for (const b of topics) if (b.book === BookState.LIVE || b.book === BookState.STALE) books.resync(b, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
    } else {
      t.lastMsgMs = r.atMs;
      quietUntil[r.i] = 0;
      if (r.kind === "live") books.onLive(t, r.atMs);
    }
  }
  return verdicts;
}

/** 300 random captures of up to 4 books with stale times of 150–400 ms, quiet stretches of up to 3 s among them. */
function captures(leaveStale: boolean): { staleMs: number[]; recs: Rec[] }[] {
  const out: { staleMs: number[]; recs: Rec[] }[] = [];
  for (let seed = 1; seed <= 300; seed++) {
    const rnd = rng(seed);
    const n = 1 + Math.floor(rnd() * 4);
    const staleMs = Array.from({ length: n }, () => 150 + Math.floor(rnd() * 6) * 50);
    const recs: Rec[] = [];
    let atMs = 1_000_000;
    for (let k = 0; k < 60; k++) {
      atMs += rnd() < 0.15 ? rnd() * 3_000 : rnd() * 120;
      const x = rnd();
      const kind = leaveStale && x < 0.05 ? "close" : leaveStale && x < 0.1 ? "gap" : x < 0.55 ? "live" : "msg";
      recs.push({ atMs: Math.round(atMs * 1000) / 1000, i: Math.floor(rnd() * n), kind });
    }
    out.push({ staleMs, recs });
  }
  return out;
}

// Before: a round that only judged STALE books again spaced the next an interval, so a book coming due within it was
// judged at another time than with a round per due time, or not at all (its next message first).
test("bounded replay rounds make the same books STALE at the same times as a round at every due time", () => {
  captures(false).forEach(({ staleMs, recs }, k) => expect(bounded(staleMs, recs), `capture ${k}`).toEqual(naive(staleMs, recs)));
});

// Before: a STALE book made RESYNCING without a message (a recorded close, a capture gap) counted its silence from its
// last re-verdict, a time the bounded rounds leave elsewhere than a round per due time does.
test("with recorded closes and capture gaps: a book leaving STALE without a message counts its silence from there", () => {
  captures(true).forEach(({ staleMs, recs }, k) => expect(bounded(staleMs, recs), `capture ${k}`).toEqual(naive(staleMs, recs)));
});

// The answer time is off the captures' µs grid: a round at exactly a quiet deadline makes the book STALE (Upbit's
// `now < deadline` keeps it), while the deadline's own round is 1 µs past it; the naive loop's re-verdict of another
// book landing exactly there would judge it 1 µs earlier.
test("with Upbit's quiet rule too: a LIVE book silent past its stale time is asked again and STALE only if still silent", () => {
  captures(true).forEach(({ staleMs, recs }, k) => expect(bounded(staleMs, recs, 75.0003), `capture ${k}`).toEqual(naive(staleMs, recs, 75.0003)));
});
