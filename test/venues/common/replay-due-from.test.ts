/**
 * Replay's stale rounds run in time order, each at its due time, never before a record already fed. A recorded request
 * (`ws:req`) sets the next round no later than the stale time of its connection's books (replayDueFrom: a closed book
 * subscribed again starts a silence the rounds did not know of). Until s-rd15a it also took a book whose stale time had
 * passed already, judged quiet by the rounds before (a resync's unsubscribe held: its frames ignored), and the next
 * record ran a round at that past time, behind the records fed since: one more round over every book per such request,
 * a book's verdict in it stamped earlier than records already replayed. The common machinery, the clock by hand.
 */
import { expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { SUB_ACTIVE } from "../../../src/venues/common/connection.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { quietLifecycleOptions, quietProtocol } from "./quiet-lifecycle.ts";

const STALE_MS = 3_000;

test("a recorded request while a book's unsubscribe is held past its stale time runs no round before that request", async () => {
  let nowMs = 0;
  const control = new SubscriptionControl(quietProtocol({ replayHoldsUnsubscribed: true }), silentLogger, () => nowMs, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "linear");
  conn.used = true;
  const [a, b] = conn.addTopics(["book.A", "book.B"], 10);
  for (const t of [a!, b!]) t.sub = SUB_ACTIVE; // as replay keeps its topics
  const rounds: number[] = [];
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate: () => undefined, resync: () => undefined }, { ...quietLifecycleOptions(() => nowMs, STALE_MS), replayRoundAt: (atMs) => void rounds.push(atMs) });
  let lastFedMs = -Infinity;
  const behind: string[] = []; // rounds run before a record already fed
  const record = (atMs: number, what: () => void) => {
    nowMs = atMs;
    const from = rounds.length;
    lifecycle.replayUntil(atMs);
    for (const r of rounds.slice(from)) if (r < lastFedMs) behind.push(`${r} (run at ${atMs}, after ${lastFedMs})`);
    what();
    lastFedMs = atMs;
  };
  const frameOfB = () => void (b!.lastMsgMs = nowMs);
  record(0, frameOfB);
  record(1_000, () => expect(lifecycle.replaySocketEvent(conn.name, `ws:req ["u1","unsubscribe",["book.A"]]`)).toBe(true)); // A held
  record(2_000, frameOfB);
  record(3_500, frameOfB); // the round at 3 s found A quiet (held), B heard
  record(4_000, frameOfB);
  record(4_500, () => expect(lifecycle.replaySocketEvent(conn.name, `ws:req ["s2","subscribe",["book.B"]]`)).toBe(true));
  record(4_600, frameOfB);
  record(9_000, frameOfB);
  // Until s-rd15a: a round at 3 s (A's stale time, found quiet there), run at 4.6 s after the records to 4.5 s.
  expect(behind).toEqual([]);
  expect(rounds.length).toBeGreaterThan(1); // the rounds ran (A quiet at 3 s, B past its stale time by 9 s)
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});
