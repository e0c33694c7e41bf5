/**
 * The shared case of a venue's book frame for a channel not on its connection (a garbled topic: onUnknownTopic, Upbit's
 * onUnknownCode): counted once, in unknown_topic_total, not as a parse error too, and lost as a frame unreadable down to
 * its topic (every book of the connection resyncs). Until s-rd19d Bybit, OKX, Deribit and Upbit went on through
 * onParseError: the one frame counted in unknown_topic_total and parse_errors_total, in parseErrors.<code> and in
 * unattributedParseErrors (Binance's was fixed in s-binleft). Each venue's test gives its offline adapter (two books on
 * one connection), such a frame and the call.
 */
import { describe, expect, test } from "vitest";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";

interface OfflineAdapter {
  stats(): Record<string, number>;
  metrics(): readonly { name: string; value: number }[];
}

export function unknownTopicRuleTests<A extends OfflineAdapter>(venue: string, offlineAdapter: () => A, unknownFrame: string, onUnknown: (adapter: A, conn: unknown, frame: string) => void): void {
  describe(`${venue}: a book frame for a channel not on the connection`, () => {
    test("is counted once, as an unknown topic (not a parse error too), and resyncs the connection's books", () => {
      const adapter = offlineAdapter();
      const topics = (adapter as unknown as { topics: TopicState[] }).topics;
      expect(topics.length).toBe(2);
      expect(topics[1]!.conn).toBe(topics[0]!.conn);
      for (const t of topics) {
        t.sub = SUB_ACTIVE;
        t.book = BookState.LIVE;
      }
      (topics[0]!.conn as unknown as { used: boolean }).used = true; // as start() marks it: stats() and metrics() count only those
      onUnknown(adapter, topics[0]!.conn, unknownFrame);
      const s = adapter.stats();
      const byCode = Object.entries(s).filter(([k, v]) => k.startsWith("parseErrors.") && v !== 0);
      expect({ unknownTopic: s.unknownTopic, parseErrors: s.parseErrors, byCode, unattributed: s.unattributedParseErrors }).toEqual({ unknownTopic: 1, parseErrors: 0, byCode: [], unattributed: 0 });
      const metric = (name: string) => adapter.metrics().filter((m) => m.name === name).reduce((n, m) => n + m.value, 0);
      expect([metric("unknown_topic_total"), metric("parse_errors_total")]).toEqual([1, 0]);
      // Lost as before: its message may have been any book's of the connection.
      expect(topics.map((t) => t.resyncs)).toEqual([1, 1]);
    });
  });
}
