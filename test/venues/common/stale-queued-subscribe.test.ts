/**
 * A topic's stale clock starts when its subscribe goes out, not when it is queued for the pacing budget: under a
 * per-IP budget split between many workers (one message in ~27 s on Deribit) a queue longer than the stale time made
 * topics STALE and resync (queueing more messages) while their subscribe still waited. A topic whose subscribe did go
 * out still goes stale its stale time after that. The common machinery on a fake socket, rounds run by hand.
 */
import { expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState } from "../../../src/core/types.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { SUB_IDLE } from "../../../src/venues/common/connection.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { UpbitRequests } from "../../../src/venues/upbit/requests.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { quietLifecycleOptions, quietProtocol } from "./quiet-lifecycle.ts";

const STALE_MS = 3_000;
const ROUND_MS = 250;
const SLOT_MS = 10_000; // the per-IP window: one message each

function setup() {
  let nowMs = 0;
  const protocol = quietProtocol({
    pacing: { perIp: { count: 1, windowMs: SLOT_MS } },
    maxArgsPerRequest: () => 1, // one message per topic
  });
  const control = new SubscriptionControl(protocol, silentLogger, () => nowMs, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "linear");
  conn.used = true;
  const names = ["book.A", "book.B", "book.C", "book.D", "book.E"];
  const topics = conn.addTopics(names, 10);
  const resyncs: { topic: string; atMs: number }[] = [];
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate: () => undefined, resync: (t) => void resyncs.push({ topic: t.topic, atMs: nowMs }) }, quietLifecycleOptions(() => nowMs, STALE_MS, (seq) => `ping ${seq}`));
  // When each topic's subscribe was written (the fake socket records it).
  const writtenMs = new Map<string, number>();
  const round = (ms: number) => {
    nowMs = ms;
    control.flush(); // the pacing timer's work, by hand
    for (const s of conn.sent) {
      const topic = (JSON.parse(s) as { params: string[] }).params[0]!;
      if (!writtenMs.has(topic)) writtenMs.set(topic, ms);
    }
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  };
  const stop = async () => {
    conn.ws = null;
    await lifecycle.stop();
    control.stop();
  };
  return { control, conn, names, topics, resyncs, writtenMs, round, stop };
}

test("no stale resync while a topic's subscribe waits for the pacing budget; stale its stale time after it goes", async () => {
  const { control, conn, names, topics, resyncs, writtenMs, round, stop } = setup();
  control.sendRequest(conn, "subscribe", topics); // the first goes at once, the rest one a slot
  round(0);
  for (let ms = ROUND_MS; ms <= names.length * SLOT_MS + 2 * STALE_MS; ms += ROUND_MS) round(ms);

  for (const name of names) {
    const sentMs = writtenMs.get(name);
    expect(sentMs, name).toBeDefined();
    const mine = resyncs.filter((r) => r.topic === name);
    // None before its subscribe went (before the fix: B..E at 3 s, their subscribes still queued); the first is its
    // stale time after the write (the silence is "more than" the stale time: the next round), so none escapes.
    expect(mine[0]?.atMs, name).toBe(sentMs! + STALE_MS + ROUND_MS);
  }
  await stop();
});

test("a queued subscribe dropped with its socket, or a LIVE book's, does not hold off the stale rule", async () => {
  const { control, conn, topics, resyncs, round, stop } = setup();
  control.sendRequest(conn, "subscribe", topics);
  topics[1]!.book = BookState.LIVE; // (as if its book were still served): never left LIVE unheard
  round(0);
  for (let ms = ROUND_MS; ms <= STALE_MS + ROUND_MS; ms += ROUND_MS) round(ms);
  expect(resyncs.map((r) => r.topic)).toEqual(["book.A", "book.B"]);
  // The socket goes: its queue with it (the lifecycle's disconnect clears `pending` too, the topics left PENDING
  // here). Nothing waits for those topics now: they are judged again.
  control.dropQueued(conn);
  expect(topics.filter((t) => t.subscribeQueued)).toEqual([]);
  round(2 * STALE_MS + 2 * ROUND_MS);
  expect(new Set(resyncs.map((r) => r.topic))).toEqual(new Set(topics.map((t) => t.topic)));
  await stop();
});

/**
 * Upbit and Bithumb ask with their own request (the connection's whole code list, no ack, no pending entry): a code's
 * stale clock starts when that list is written too, not when it is queued behind the per-connection pacing (1.5 a
 * second, 3 at once). Before, a code asked while the bucket was empty was judged from the queueing and resynced STALE
 * while the list that asks for it still waited.
 */
test("Upbit/Bithumb: a code's stale clock starts when the list asking for it is written, not queued", async () => {
  let nowMs = 0;
  const UPBIT_STALE_MS = 1_000;
  const ROUND = 50;
  const control = new UpbitRequests("upbit", silentLogger, () => nowMs, () => undefined, undefined, 1_000);
  const conn = new SendRecordingConnection(0, "spot");
  conn.used = true;
  const [a, b] = conn.addTopics(["book.KRW-AAA", "book.KRW-BBB"], 15);
  const resyncs: { topic: string; atMs: number }[] = [];
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: (t) => void resyncs.push({ topic: t.topic, atMs: nowMs }) }, quietLifecycleOptions(() => nowMs, UPBIT_STALE_MS, (seq) => `ping ${seq}`));
  control.sendRequest(conn, "subscribe", [a!]); // the bucket's first token: written at once
  for (let i = 0; i < 4; i++) control.send(conn, `filler ${i}`); // two more tokens, then two queued (667, 1334 ms)
  control.sendRequest(conn, "subscribe", [b!]); // queued behind them: written at 2001 ms
  const listsWithB = () => conn.sent.filter((s) => s.includes("KRW-BBB")).length;
  let writtenMs = -1;
  for (let ms = 0; ms <= 4_000; ms += ROUND) {
    nowMs = ms;
    control.flush(); // the pacing timer's work, by hand
    if (writtenMs < 0 && listsWithB() > 0) writtenMs = ms;
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  }
  expect(writtenMs).toBe(2_050);
  const ofB = resyncs.filter((r) => r.topic === b!.topic);
  // Before the fix: at 1 050 ms (its stale time after the queueing), the list naming it still in the outbox.
  expect(ofB[0]?.atMs).toBe(writtenMs + UPBIT_STALE_MS + ROUND);
  expect(resyncs.find((r) => r.topic === a!.topic)?.atMs).toBe(UPBIT_STALE_MS + ROUND);
  // A list queued, then its socket gone (dropQueued): nothing waits for it, the code is judged from its request.
  for (let i = 0; i < 4; i++) control.send(conn, `filler ${i}`);
  b!.sub = SUB_IDLE;
  control.sendRequest(conn, "subscribe", [b!]);
  expect(b!.subscribeQueued).toBe(true);
  control.dropQueued(conn);
  expect(b!.subscribeQueued).toBe(false);
  const askedMs = b!.lastMsgMs;
  nowMs += 5_000;
  control.flush();
  expect(b!.lastMsgMs).toBe(askedMs);
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});
