/**
 * A book refused for good (halted / subscribe_rejected) that its listing then closes goes halted /
 * instrument_closed live (ConnectionLifecycle.retireAll, since s-rdstatus). A replay learning that closure from a
 * capture file's head (ws:closedset: the ws:closed record before it lost, capture:lost) must say so too: the head's
 * filter took every halted, given-up book for one replay had closed, and left this one subscribe_rejected where live
 * had it closed. The common machinery on a fake socket, with the real TopicResync (TopicState.haltedFor).
 */
import { expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { SUB_REJECTED } from "../../../src/venues/common/connection.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { TopicResync } from "../../../src/venues/common/topic-resync.ts";
import { INSTRUMENTS_CLOSED_SET_URL } from "../../../src/venues/venue.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { quietLifecycleOptions, quietProtocol } from "./quiet-lifecycle.ts";

function rig() {
  const opts = quietLifecycleOptions(() => 0);
  const control = new SubscriptionControl(quietProtocol(), opts.log, () => 0, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "linear");
  const [a, b] = conn.addTopics(["book.A", "book.B"], 10);
  const told: string[] = [];
  const resync = new TopicResync({ venue: "fake", log: opts.log, now: () => 0, random: () => 0.5, restart: () => undefined });
  resync.sink = { onBookInvalid: (index: number, state: BookState, reason: StatusReason) => void told.push(`${index} ${state} ${reason}`) } as never;
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate: (t, state, reason) => resync.invalidate(t, state, reason), resync: () => undefined }, opts);
  // Both refused for good; B's listing then closed it (as live's retireAll did).
  for (const t of [a!, b!]) {
    t.sub = SUB_REJECTED;
    resync.invalidate(t, BookState.HALTED, StatusReason.SUBSCRIBE_REJECTED);
  }
  lifecycle.retireAll([b!], StatusReason.INSTRUMENT_CLOSED);
  told.length = 0;
  return { conn, a: a!, b: b!, lifecycle, control, told };
}

test("a file head naming a refused book closed closes it (halted / instrument_closed), as live; one replay has closed is left as it is", async () => {
  const r = rig();
  expect(r.b.haltedFor).toBe(StatusReason.INSTRUMENT_CLOSED);
  expect(r.lifecycle.replaySocketEvent(r.conn.name, INSTRUMENTS_CLOSED_SET_URL, "book.A book.B")).toBe(true);
  // Before: nothing told, A kept subscribe_rejected. B, closed already, is no news.
  expect(r.told).toEqual([`${r.a.index} ${BookState.HALTED} ${StatusReason.INSTRUMENT_CLOSED}`]);
  expect(r.a.haltedFor).toBe(StatusReason.INSTRUMENT_CLOSED);
  r.conn.ws = null;
  await r.lifecycle.stop();
  r.control.stop();
});
