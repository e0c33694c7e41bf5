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
import { SUB_ACTIVE, type TopicState, type VenueConnection } from "../../../src/venues/common/connection.ts";
import { CONNECTION_OPENED_URL, SOCKET_REQUEST_URL_PREFIX, type BookSink, type VenueAdapter } from "../../../src/venues/venue.ts";

interface OfflineAdapter {
  loadInstruments(): Promise<unknown>;
  stats(): Record<string, number>;
  metrics(): readonly { name: string; value: number }[];
}

/** Replay's case: a frame of `leftOutTopic` (TopicState.topic's form), a topic of the venue the offline adapter's config leaves out. */
export interface LeftOut {
  topic: string;
  frame: string;
}

export function unknownTopicRuleTests<A extends OfflineAdapter>(venue: string, offlineAdapter: () => A, unknownFrame: string, onUnknown: (adapter: A, conn: unknown, frame: string) => void, leftOut?: LeftOut): void {
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

    if (leftOut) {
      // Until s-unkreplay replay ignored every such frame (a capture may hold topics its config leaves out): books live
      // resynced stayed LIVE in replay. Now the capture's requests (ws:req) say which topics live asked for.
      test("replay: resyncs as live when no recorded request named its topic; ignores a topic a recorded request named that the config leaves out", async () => {
        const adapter = offlineAdapter();
        // From the config's overrides: no network. Every book resolved, so replay runs as on a capture of its own (until
        // s-fr3d Deribit's rig keyed its overrides by another market: nothing resolved, unseen).
        expect(await adapter.loadInstruments(), "instruments resolved from the overrides").not.toContain(undefined);
        const topics = (adapter as unknown as { topics: TopicState[] }).topics;
        const conn = topics[0]!.conn as VenueConnection;
        const sink: BookSink = { onBookUpdate: () => undefined, onBookInvalid: () => undefined, onInstrumentChanged: () => undefined };
        (adapter as unknown as VenueAdapter).startReplay(sink);
        for (const t of topics) {
          t.sub = SUB_ACTIVE;
          t.book = BookState.LIVE;
        }
        const event = (url: string) => expect((adapter as unknown as VenueAdapter).ingestConnectionEvent!(conn.market, conn.name, url, 1)).toBe(true);
        // Begun after the connection's open (a later capture file): its requests are not known, the frame is ignored.
        onUnknown(adapter, conn, unknownFrame);
        expect(topics.map((t) => t.resyncs), "requests not known").toEqual([0, 0]);
        // Replay's counters are live's: a frame it ignores is one live may not have counted (until s-unkcount counted
        // before the decision: a narrower config's left-out topics in unknown_topic_total, which live never counted).
        expect(conn.unknownTopic, "requests not known: not counted").toBe(0);
        event(CONNECTION_OPENED_URL); // the socket's own open (its books leave LIVE there, as live's close left them)
        event(SOCKET_REQUEST_URL_PREFIX + JSON.stringify(["list1", "subscribe", [...topics.map((t) => t.topic), leftOut.topic]]));
        for (const t of topics) t.book = BookState.LIVE; // their snapshots since
        const before = topics.map((t) => t.resyncs);
        const resyncs = () => topics.map((t, i) => t.resyncs - before[i]!);
        onUnknown(adapter, conn, leftOut.frame);
        expect(resyncs(), "a topic live asked for").toEqual([0, 0]);
        // Its name written with an escape (a letter as \u00XX): live's JSON path read it as the name. Until s-rd21a
        // replay looked for the name in the raw text only, took it for one live never asked for and resynced.
        const tail = leftOut.topic.slice(-3);
        const at = leftOut.frame.indexOf(tail);
        expect(at).toBeGreaterThan(0);
        onUnknown(adapter, conn, `${leftOut.frame.slice(0, at)}\\u${tail.charCodeAt(0).toString(16).padStart(4, "0")}${leftOut.frame.slice(at + 1)}`);
        expect(resyncs(), "a topic live asked for, an escape in its name").toEqual([0, 0]);
        expect(topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.LIVE]);
        expect(conn.unknownTopic, "a topic live asked for: not counted").toBe(0);
        onUnknown(adapter, conn, unknownFrame);
        expect(resyncs(), "a topic live never asked for").toEqual([1, 1]);
        expect(conn.unknownTopic, "a topic live never asked for: counted, as live counted it").toBe(1);
        expect(topics.map((t) => t.book)).not.toContain(BookState.LIVE);
      });
    }
  });
}
