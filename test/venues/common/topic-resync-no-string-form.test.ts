/**
 * A sink that throws a value with no string form (Object.create(null)) while a book is marked invalid: logged, and the
 * topic's resync goes on. Until 2026-12-07 the catch's line described it with String(err), which throws for such a
 * value: the throw left resync() before the fresh start (the topic stayed marked, never subscribed again; from
 * housekeeping's timer, the process's end).
 */
import { expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { TopicResync } from "../../../src/venues/common/topic-resync.ts";
import { captureLog } from "../../support/capture-log.ts";

test("a sink's throw with no string form while a book is marked invalid: logged, the fresh start still asked for", () => {
  const { log, lines } = captureLog();
  const restarted: string[] = [];
  const books = new TopicResync({ venue: "fake", log, now: () => 0, random: () => 0.5, restart: (t) => void restarted.push(t.topic) });
  books.sink = {
    onBookUpdate: () => undefined,
    onBookInvalid: () => {
      throw Object.create(null);
    },
    onInstrumentChanged: () => undefined,
  };
  const t = { index: 0, market: "linear", topic: "book.A", book: BookState.LIVE, lastSeq: 5, hasSeq: true, liveSinceMs: -1, resyncDelayed: false, resyncs: 0, resyncAttempt: 0 } as unknown as TopicState;
  books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  expect(restarted).toEqual(["book.A"]);
  expect(lines.map((l) => [l.msg, l.fields.detail])).toEqual([["fake: exception while a book was marked invalid; its resync goes on", "linear book.A: a thrown [object Object] with no string form"]]);
});
