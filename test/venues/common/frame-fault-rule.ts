/**
 * The shared cases of a venue whose thrown frames take its own rule for a refused frame (the lifecycle's frameLost hook):
 * a book replay holds (a recorded unsubscribe, its subscribe not yet) is spared by both ways, a book not held resyncs by
 * both, whether the frame names it or none. Each venue's test gives its offline adapter and a frame naming its book.
 */
import { describe, expect, test } from "vitest";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";

type Internals = { topics: TopicState[]; lifecycle: { frameFaultBound(conn: unknown, frame: string, err: unknown): void } };

interface OfflineAdapter {
  stats(): Record<string, number>;
}
type RefusesFrames = { onParseError(conn: unknown, entry: number, code: number, frame: string): void };

export function frameFaultRuleTests(venue: string, offlineAdapter: () => OfflineAdapter, frameNaming: (t: TopicState) => string, syntaxCode: number): void {
  /** Resyncs counted for [a refused frame, a thrown frame], the book held by replay or not; `named`: the frame names it. */
  const resyncs = (held: boolean, named: boolean) =>
    [false, true].map((thrown) => {
      const adapter = offlineAdapter();
      const t = (adapter as unknown as Internals).topics[0]!;
      t.sub = SUB_ACTIVE;
      t.replayUnsubscribing = held;
      const frame = named ? frameNaming(t) : thrown ? "{}" : "{";
      if (thrown) (adapter as unknown as Internals).lifecycle.frameFaultBound(t.conn, frame, new Error("thrown"));
      else (adapter as unknown as RefusesFrames).onParseError(t.conn, -1, syntaxCode, frame);
      return adapter.stats().resyncs;
    });

  describe(`${venue}: a frame whose handling threw follows the rule for a refused frame`, () => {
    test("naming a book replay holds (a recorded unsubscribe, its subscribe not yet): spared as a refused frame of it is", () => {
      // Replay keeps a held book subscribed (live's is SUB_UNSUBSCRIBING, its frames ignored): onParseError spares it,
      // the lifecycle's default resynced it on a thrown frame (until s-faulthook2: resyncs 1 for 0), replay then
      // diverging from live. Held or not, each way's count: [refused, thrown].
      expect(resyncs(true, true)).toEqual([0, 0]);
      expect(resyncs(false, true)).toEqual([1, 1]); // not held: both resync it
    });

    test("naming none: every book of the connection resyncs but one replay holds (live's is unsubscribing, spared)", () => {
      // Until s-faulthook2 resyncAll resynced the held book in replay, refused frame or thrown (resyncs [1,1] for [0,0]),
      // where live spares its unsubscribing one.
      expect(resyncs(true, false)).toEqual([0, 0]);
      expect(resyncs(false, false)).toEqual([1, 1]);
    });
  });
}
