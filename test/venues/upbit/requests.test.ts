/**
 * UpbitRequests on a fake socket (requests paced 3 at once, then 1.5/s): which request an error frame answers; a
 * closed code left out of the list; error frames' text logged cut.
 */
import { expect, test, vi } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, type TopicState } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import { ERROR_MESSAGE_MAX, ERROR_NAME_MAX, errorOf } from "../../../src/venues/upbit/protocol.ts";
import { UpbitRequests } from "../../../src/venues/upbit/requests.ts";
import { SendRecordingConnection } from "../common/fake-connection.ts";
import { quietLifecycleOptions } from "../common/quiet-lifecycle.ts";

const codesOf = (text: string) => (JSON.parse(text) as [unknown, { codes: string[] }])[1].codes.map((c) => c.replace(/\.30$/, ""));

function rig() {
  const clock = { nowMs: 0 };
  const control = new UpbitRequests("upbit", silentLogger, () => clock.nowMs, () => undefined, undefined, 60_000);
  const conn = new SendRecordingConnection(0, "spot");
  const topics = conn.addTopics(["A", "B", "C", "D"].map((c) => `book.KRW-${c}`), 30);
  return { clock, control, conn, topics };
}

/**
 * rig() with a lifecycle whose invalidate sets the book's state: live's, recording its socket events into `records`,
 * or, records absent, a replay's (no socket), its clock at `nowMs`.
 */
function lifecycleRig(records?: { connection: string; url: string; body: string }[], nowMs = 0) {
  const r = rig();
  r.clock.nowMs = nowMs;
  if (!records) {
    r.conn.ws = null;
    r.conn.open = false;
  }
  const opts = { ...quietLifecycleOptions(() => r.clock.nowMs), ...(records ? { onRawRest: (_m: string, connection: string, url: string, body: string) => void records.push({ connection, url, body }) } : {}) };
  const lifecycle = new ConnectionLifecycle("upbit", [r.conn], r.control, { invalidate: (t, state) => void (t.book = state), resync: () => undefined }, opts);
  return { ...r, lifecycle };
}

/**
 * An error frame answers the last request written. Before, the last list *queued* was taken: an error arriving while
 * a list waited for the pacing was bisected against codes the venue had not been asked for (and left the codes of
 * the list it answered out of the bisection).
 */
test("an error frame is bisected against the last list written, not one still waiting for the pacing", () => {
  const { clock, control, conn, topics } = rig();
  control.sendRequest(conn, "subscribe", [topics[0]!]); // written: [A]
  control.send(conn, "PING");
  control.send(conn, "PING"); // the bucket is empty now
  control.sendRequest(conn, "subscribe", topics.slice(1)); // [A, B, C, D] waits
  expect(conn.sent.filter((s) => s !== "PING").map(codesOf)).toEqual([["KRW-A"]]);
  control.onError(conn, "INVALID_PARAM", "bad code");
  // The probe (queued behind the list) names the answered list's codes only: A alone.
  const probe = conn.outbox.at(-1)!;
  expect(probe.reqId).toMatch(/^probe/);
  expect(codesOf(probe.text)).toEqual(["KRW-A"]);
  control.stop();
  // Once the list is written, an error answers it: its first half is probed.
  const r = rig();
  r.control.sendRequest(r.conn, "subscribe", [r.topics[0]!]);
  r.control.send(r.conn, "PING");
  r.control.send(r.conn, "PING");
  r.control.sendRequest(r.conn, "subscribe", r.topics.slice(1));
  r.clock.nowMs += 1_000;
  r.control.flush();
  expect(codesOf(r.conn.sent.at(-1)!)).toEqual(["KRW-A", "KRW-B", "KRW-C", "KRW-D"]);
  r.control.onError(r.conn, "INVALID_PARAM", "bad code");
  expect(codesOf(r.conn.outbox.at(-1)?.text ?? r.conn.sent.at(-1)!)).toEqual(["KRW-A", "KRW-B"]);
  r.control.stop();
});

/**
 * A code closed while PENDING (asked, no book yet) is left out of the list as an ACTIVE one is. Before, the common
 * retire sent its unsubscribe (here: the list without it) only for ACTIVE codes, whose ack-venues unsubscribe a
 * pending one at its ack; Upbit has none, so a closed code stayed in a list waiting for the pacing and was asked for.
 */
test("a code closed while PENDING is left out of a list still waiting, and a written one is replaced", async () => {
  const { clock, control, conn, topics } = rig();
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: () => undefined }, quietLifecycleOptions(() => clock.nowMs));
  const [a, b, c, d] = topics as [(typeof topics)[0], (typeof topics)[0], (typeof topics)[0], (typeof topics)[0]];
  control.sendRequest(conn, "subscribe", [a, b]); // written: [A, B], both PENDING (no book yet)
  lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED);
  expect(b.sub).toBe(SUB_REJECTED);
  expect(codesOf(conn.sent.at(-1)!)).toEqual(["KRW-A"]); // the venue's subscription without B
  control.send(conn, "PING");
  control.send(conn, "PING"); // the bucket is empty now
  control.sendRequest(conn, "subscribe", [c, d]); // [A, C, D] waits
  expect(c.sub).toBe(SUB_PENDING);
  lifecycle.retire(c, StatusReason.INSTRUMENT_CLOSED);
  for (let i = 0; i < 10 && conn.outbox.length > 0; i++) {
    clock.nowMs += 1_000;
    control.flush();
  }
  const lists = conn.sent.filter((s) => s !== "PING").map(codesOf);
  expect(lists.at(-1)).toEqual(["KRW-A", "KRW-D"]);
  for (const l of lists.slice(1)) expect(l).not.toContain("KRW-C");
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});

/**
 * An error frame's `name` and `message` are the venue's text, of any length: logged cut (as a rejected frame's values
 * are), also in a refused code's reason. Before, whole: a 100 kB message went into every warning.
 */
test("an error frame's name and message are logged cut", () => {
  const lines: Record<string, unknown>[] = [];
  const capture: Logger = { debug() {}, info() {}, warn: (_m, f) => void lines.push(f ?? {}), error: (_m, f) => void lines.push(f ?? {}), child: () => capture };
  const control = new UpbitRequests("upbit", capture, () => 0, () => undefined, undefined, 60_000);
  const conn = new SendRecordingConnection(0, "spot");
  const [a] = conn.addTopics(["book.KRW-A"], 30);
  control.sendRequest(conn, "subscribe", [a!]);
  const frame = JSON.stringify({ error: { name: "N".repeat(5_000), message: "M".repeat(100_000) } });
  const err = errorOf(JSON.parse(frame))!;
  expect(err.name).toBe(`${"N".repeat(ERROR_NAME_MAX)}…`);
  expect(err.message).toBe(`${"M".repeat(ERROR_MESSAGE_MAX)}…`);
  expect(errorOf({ error: "E".repeat(1_000) })!.message.length).toBe(ERROR_MESSAGE_MAX + 1);
  // Through the bisection to the refusal: the list [A], then A probed alone twice.
  for (let i = 0; i < 3; i++) control.onError(conn, err.name, err.message);
  expect(a!.sub).toBe(SUB_REJECTED);
  expect(lines.length).toBeGreaterThanOrEqual(3);
  for (const f of lines) expect(JSON.stringify(f).length).toBeLessThan(400);
  control.stop();
});

/**
 * A code subscribed while a bisection is out is asked by the list that follows it (a probe is the subscription), so
 * its stale clock starts when that list is written. Before, it started at the subscribe: a bisection longer than the
 * stale time made the code STALE (reported as never sending data) before the venue was asked for it.
 */
test("a code subscribed during a bisection: its stale clock starts when the list after it is written", async () => {
  const STALE_MS = 2_000;
  const { clock, control, conn, topics } = rig(); // probes pass after 60 s without an error
  const resyncs: { topic: string; atMs: number }[] = [];
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: (t) => void resyncs.push({ topic: t.topic, atMs: clock.nowMs }) }, quietLifecycleOptions(() => clock.nowMs, STALE_MS));
  conn.used = true;
  const [a, b] = topics as [(typeof topics)[0], (typeof topics)[0]];
  control.sendRequest(conn, "subscribe", [a]);
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A] out
  control.sendRequest(conn, "subscribe", [b]); // waits for the bisection
  expect(conn.sent.map(codesOf).flat()).not.toContain("KRW-B");
  let bAskedMs = -1;
  const housekeeping = (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping.bind(lifecycle);
  for (let ms = 250; ms <= 70_000; ms += 250) {
    clock.nowMs = ms;
    control.flush();
    if (bAskedMs < 0 && conn.sent.some((s) => codesOf(s).includes("KRW-B"))) bAskedMs = ms;
    housekeeping();
    if (ms === 10_000) expect(resyncs.filter((r) => r.topic === b.topic), "B, not yet asked").toEqual([]);
  }
  // Let the probe's timer (60 s, real time) be: end the bisection by hand as it would.
  expect(bAskedMs).toBe(-1);
  const askedMs = clock.nowMs;
  (control as unknown as { onProbePassed(c: unknown, b: unknown): void }).onProbePassed(conn, (control as unknown as { bisects: Map<unknown, unknown> }).bisects.get(conn));
  expect(codesOf(conn.sent.at(-1)!)).toEqual(["KRW-A", "KRW-B"]); // written at once (the bucket is full)
  expect(b.lastMsgMs).toBe(askedMs);
  for (let ms = askedMs + 250; ms <= askedMs + STALE_MS + 250; ms += 250) {
    clock.nowMs = ms;
    control.flush();
    housekeeping();
  }
  expect(resyncs.filter((r) => r.topic === b.topic).map((r) => r.atMs)).toEqual([askedMs + STALE_MS + 250]);
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});

/**
 * A code subscribed while a bisection is out waits for the list after it, also when a withdrawn probe left the outbox
 * empty and the next probe was written at once. Before, the pacing's flush took the emptied outbox for a socket gone
 * (dropQueued): the code's hold was cleared, its stale clock ran from the subscribe, and it went STALE (reported as
 * never sending data) while the bisection went on, never asked.
 */
test("a code subscribed during a bisection stays held when a withdrawn probe empties the outbox", async () => {
  const STALE_MS = 2_000;
  const { clock, control, conn, topics } = rig(); // probes pass after 60 s without an error
  const [e] = conn.addTopics(["book.KRW-E"], 30) as unknown as [TopicState];
  const resyncs: string[] = [];
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: (t) => void resyncs.push(t.topic) }, quietLifecycleOptions(() => clock.nowMs, STALE_MS));
  conn.used = true;
  const [a, b] = topics as [(typeof topics)[0], (typeof topics)[0]];
  control.sendRequest(conn, "subscribe", topics); // written: [A, B, C, D]
  control.send(conn, "PING");
  control.send(conn, "PING"); // the bucket is empty now
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A, B] waits
  control.sendRequest(conn, "subscribe", [e]); // waits for the list after the bisection
  clock.nowMs = 1_000; // a token back, the flush not yet run
  lifecycle.retireAll([a, b], StatusReason.INSTRUMENT_CLOSED); // the probe withdrawn; probe [C] written at once
  expect(conn.outbox).toEqual([]);
  expect(codesOf(conn.sent.at(-1)!)).toEqual(["KRW-C"]);
  const housekeeping = (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping.bind(lifecycle);
  for (let ms = 1_250; ms <= 10_000; ms += 250) {
    clock.nowMs = ms;
    control.flush();
    housekeeping();
  }
  expect(resyncs.filter((t) => t === e.topic), "E, not yet asked").toEqual([]);
  expect(e.subscribeQueued).toBe(true);
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});

/**
 * A probe that waited for the pacing passes only once errorWaitMs has gone by since its write. Before, its wait was
 * counted from its queueing when it was written before its timer first looked: written 667 ms into a 1 s wait, it
 * passed 333 ms later, and its error, still on the way, was taken for the next probe's answer (or ignored while that
 * one waited), the bisection going astray.
 */
test("a probe queued for the pacing gets errorWaitMs from its write before it passes", () => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: 0 });
  try {
    const control = new UpbitRequests("upbit", silentLogger, () => Date.now(), () => undefined, undefined, 1_000);
    const conn = new SendRecordingConnection(0, "spot");
    const topics = conn.addTopics(["A", "B", "C", "D"].map((c) => `book.KRW-${c}`), 30);
    control.sendRequest(conn, "subscribe", topics); // written: [A, B, C, D]
    control.send(conn, "PING");
    control.send(conn, "PING"); // the bucket is empty now
    control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A, B] waits for the pacing
    vi.advanceTimersByTime(700); // the pacing's flush wrote it (a token each 667 ms)
    expect(conn.outbox).toEqual([]);
    const lists = () => conn.sent.filter((s) => s !== "PING").map(codesOf);
    expect(lists().at(-1)).toEqual(["KRW-A", "KRW-B"]);
    vi.advanceTimersByTime(900); // 1.6 s in: less than errorWaitMs since the write
    expect(lists().at(-1), "the probe [A, B] still out").toEqual(["KRW-A", "KRW-B"]);
    vi.advanceTimersByTime(500); // at most twice errorWaitMs from its queueing (the timer looks each errorWaitMs)
    expect(lists().at(-1), "passed: the next probe").toEqual(["KRW-C"]);
    control.stop();
  } finally {
    vi.useRealTimers();
  }
});

/**
 * A code closed while requests naming it wait for the pacing behind a bisection's probe is taken out of them: of a
 * list queued before the probe, and of the probe itself (one naming only closed codes is not sent: it passes). Before,
 * only the latest list was rewritten (none while a probe waited after it), so these went out naming the closed code.
 */
test("a code closed while a list and a probe wait is named by neither when they go", async () => {
  const { clock, control, conn, topics } = rig();
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: () => undefined }, quietLifecycleOptions(() => clock.nowMs));
  const [a, b, c] = topics as [(typeof topics)[0], (typeof topics)[0], (typeof topics)[0]];
  control.sendRequest(conn, "subscribe", [a]);
  control.sendRequest(conn, "subscribe", [b]); // written: [A], [A, B]
  control.send(conn, "PING"); // the bucket is empty now
  control.sendRequest(conn, "subscribe", [c]); // [A, B, C] waits
  control.onError(conn, "INVALID_PARAM", "bad code"); // answers [A, B]: probe [A] waits behind the list
  expect(conn.outbox.map((m) => codesOf(m.text))).toEqual([["KRW-A", "KRW-B", "KRW-C"], ["KRW-A"]]);
  const written = conn.sent.length;
  lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED);
  lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
  for (let i = 0; i < 10 && conn.outbox.length > 0; i++) {
    clock.nowMs += 1_000;
    control.flush();
  }
  // The list without A and B; the probe of A alone not sent.
  expect(conn.sent.slice(written).map(codesOf)).toEqual([["KRW-C"]]);
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});

/**
 * An error frame that lands while the bisection's probe still waits for the pacing cannot be the probe's answer: the
 * bisection already covers the request it answers. Before, the waiting probe's codes were taken for the suspects and
 * halved again, so the culprit, if in the other half, was dropped from the bisection.
 */
test("an error frame while the probe still waits for the pacing does not narrow the bisection", () => {
  const { control, conn, topics } = rig();
  control.sendRequest(conn, "subscribe", [topics[0]!]);
  control.sendRequest(conn, "subscribe", [topics[1]!]);
  control.sendRequest(conn, "subscribe", topics.slice(2)); // written: [A], [A, B], [A, B, C, D]; the bucket is empty
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A, B] waits
  control.onError(conn, "INVALID_PARAM", "bad code");
  expect(conn.outbox.map((m) => [m.reqId?.replace(/\d+$/, ""), codesOf(m.text)])).toEqual([["probe", ["KRW-A", "KRW-B"]]]);
  expect(control.errorFrames).toBe(2);
  control.stop();
});

/**
 * An error frame answers the last list written on the socket it came on. Before, the last list written on the
 * connection was taken, whichever socket it went on: after a planned reconnect's swap (the replacement's list still
 * waiting for the pacing) an error on the replacement was bisected against the old socket's list, and after going back
 * to the old socket one there was bisected against the replacement's.
 */
test("an error frame is bisected against the last list written on its own socket (a swap, a going back)", () => {
  const { clock, control, conn, topics } = rig();
  const [a, b, c, d] = topics as [(typeof topics)[0], (typeof topics)[0], (typeof topics)[0], (typeof topics)[0]];
  const old = conn.ws!;
  const onReplacement: string[] = [];
  const replacement = { send: (t: string) => void onReplacement.push(t) } as unknown as WebSocket;
  const emptyBucket = () => {
    for (let i = 0; i < 4 && conn.outbox.length === 0; i++) control.send(conn, "PING");
  };
  const outbox = () => conn.outbox.filter((m) => m.reqId !== undefined).map((m) => [m.reqId!.replace(/\d+$/, ""), codesOf(m.text)]);
  control.sendRequest(conn, "subscribe", [a]); // written on the old socket: [A]
  emptyBucket();
  // The swap (planned-reconnect.ts swapWhenSettled): the replacement is the connection's socket, A served by the old one.
  conn.retiringWs = old;
  conn.ws = replacement;
  control.dropQueued(conn);
  a.onRetiring = true;
  a.sub = SUB_IDLE;
  emptyBucket();
  control.sendRequest(conn, "subscribe", [a, b, c, d]); // waits for the pacing: nothing written on the replacement
  control.onError(conn, "INVALID_PARAM", "bad code");
  expect(outbox(), "an error on the replacement answers none of its lists").toEqual([["list", ["KRW-A", "KRW-B", "KRW-C", "KRW-D"]]]);
  clock.nowMs += 10_000;
  control.flush();
  expect(onReplacement.filter((s) => s !== "PING").map(codesOf)).toEqual([["KRW-A", "KRW-B", "KRW-C", "KRW-D"]]);
  // Gone back (planned-reconnect.ts goBack): the old socket is the connection's again, its last list [A].
  conn.ws = old;
  conn.retiringWs = null;
  control.dropQueued(conn);
  a.onRetiring = false;
  a.sub = SUB_ACTIVE;
  for (const t of [b, c, d]) t.sub = SUB_IDLE;
  emptyBucket();
  control.sendRequest(conn, "subscribe", [b, c, d]); // waits for the pacing
  control.onError(conn, "INVALID_PARAM", "bad code");
  expect(outbox(), "an error on the old socket answers its own last list, [A]").toEqual([
    ["list", ["KRW-A", "KRW-B", "KRW-C", "KRW-D"]],
    ["probe", ["KRW-A"]],
  ]);
  control.stop();
});

/**
 * A probe whose codes all close while it waits for the pacing is withdrawn unsent: no error can answer it, so it
 * passes at once and the bisection goes on with the codes still subscribed (never a code closed with it). Before, it
 * passed only at its errorWaitMs timer (here 60 s), the codes it left out kept off their books that long.
 */
test("a probe withdrawn unsent because its codes closed passes at once, the bisection going on without them", async () => {
  const { control, conn, topics } = rig(); // probes pass after 60 s without an error
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: () => undefined }, quietLifecycleOptions(() => 0));
  const [a, b, c, d] = topics as [(typeof topics)[0], (typeof topics)[0], (typeof topics)[0], (typeof topics)[0]];
  control.sendRequest(conn, "subscribe", topics); // written: [A, B, C, D]
  control.send(conn, "PING");
  control.send(conn, "PING"); // the bucket is empty now
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A, B] waits
  expect(conn.outbox.map((m) => m.reqId?.replace(/\d+$/, ""))).toEqual(["probe"]);
  lifecycle.retireAll([a, b, c], StatusReason.INSTRUMENT_CLOSED); // C closes with them: not a suspect now
  // The next probe at once: D, the one suspect still subscribed.
  expect(conn.outbox.map((m) => [m.reqId?.replace(/\d+$/, ""), codesOf(m.text)])).toEqual([["probe", ["KRW-D"]]]);
  expect(d.offRequest).toBe(false);
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});

/** A rig whose invalidations set the book's state, with a planned reconnect's swap and old socket's end done by hand. */
function overlapRig() {
  const clock = { nowMs: 0 };
  const control = new UpbitRequests("upbit", silentLogger, () => clock.nowMs, (t, state) => void (t.book = state), undefined, 60_000);
  const conn = new SendRecordingConnection(0, "spot");
  const [a, b] = conn.addTopics(["book.KRW-A", "book.KRW-B"], 30) as unknown as [TopicState, TopicState];
  const live = (...ts: TopicState[]) => {
    for (const t of ts) (t.sub = SUB_ACTIVE), (t.book = BookState.LIVE); // a book came (adapter.ts onBook)
  };
  // planned-reconnect.ts swapWhenSettled: the replacement is the connection's socket and is asked for every code.
  const swap = () => {
    conn.retiringWs = conn.ws;
    conn.ws = { send: () => undefined } as unknown as WebSocket;
    control.dropQueued(conn);
    for (const t of conn.topics) (t.onRetiring = t.sub === SUB_ACTIVE), (t.sub = SUB_IDLE);
    control.sendRequest(conn, "subscribe", conn.topics);
  };
  // planned-reconnect.ts retiringGone: the old socket is gone, the replacement carries on.
  const oldGone = () => {
    conn.retiringWs = null;
    for (const t of conn.topics) t.onRetiring = false;
    control.overlapOver(conn, "replacement");
  };
  return { clock, control, conn, a, b, live, swap, oldGone };
}

/**
 * A code the old socket's bisection had left out at a planned reconnect's swap (ACTIVE, its book not LIVE) may not be
 * streamed there: a probe on the replacement that leaves it out does not spare it. Before, it was spared as one the
 * old socket feeds (onRetiring), and stayed LIVE by the replacement's earlier books with neither socket streaming it.
 */
test("a code the old socket's probe left out is not spared by a probe on the replacement", () => {
  const { control, conn, a, b, live, swap } = overlapRig();
  control.sendRequest(conn, "subscribe", [a, b]); // [A, B] on the old socket
  live(a, b);
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A] written: B left out there
  expect(b.book).toBe(BookState.RESYNCING);
  swap(); // [A, B] written on the replacement
  live(a, b);
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A] on the replacement: B left out
  expect(b.offRequest).toBe(true);
  expect(b.book).toBe(BookState.RESYNCING);
  control.stop();
});

/**
 * A code a probe on the replacement left out while the old socket fed it (spared) is not known to be streamed by the
 * replacement when the old socket goes after the bisection is over (the list after it waits for the pacing): it
 * leaves LIVE. Before, only a probe still out at that moment made the codes it left out leave LIVE.
 */
test("the old socket gone after a bisection on the replacement: a code a probe there spared leaves LIVE", () => {
  const { clock, control, conn, a, b, live, swap, oldGone } = overlapRig();
  control.sendRequest(conn, "subscribe", [a, b]);
  live(a, b);
  swap();
  live(a, b);
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A] written: B spared (the old socket feeds it)
  expect(b.book).toBe(BookState.LIVE);
  control.onError(conn, "INVALID_PARAM", "bad code"); // A alone: probed once more, waiting for the pacing
  clock.nowMs += 1_000;
  control.flush();
  control.onError(conn, "INVALID_PARAM", "bad code"); // A refused; the list [B] waits for the pacing
  expect(a.sub).toBe(SUB_REJECTED);
  expect(conn.outbox.map((m) => codesOf(m.text))).toEqual([["KRW-B"]]);
  oldGone();
  expect(b.book).toBe(BookState.RESYNCING);
  control.stop();
});

/** No bisection during the overlap: the old socket's end takes no book out of LIVE, one not LIVE at the swap included. */
test("the old socket gone with no probe on the replacement: a book LIVE there stays LIVE", () => {
  const { control, conn, a, b, live, swap, oldGone } = overlapRig();
  control.sendRequest(conn, "subscribe", [a, b]);
  live(a, b);
  b.book = BookState.RESYNCING; // e.g. a frame it could not read
  swap();
  live(a, b);
  oldGone();
  expect([a.book, b.book]).toEqual([BookState.LIVE, BookState.LIVE]);
  control.stop();
});

/**
 * A code still PENDING (asked, no first book) that the old socket's probe left out when a planned reconnect swaps: its
 * first book may still come on the old socket, sent before the venue took the probe (no ack orders them), and marks it
 * served there (adapter.ts onBook: onRetiring) though that socket's subscription, the probe, does not name it. Gone
 * back, it is one the old socket may not stream (oldMayNotStream: it leaves LIVE until the list the going back sends
 * is answered). Before, only ACTIVE codes were taken at the swap, and it stayed LIVE with the old socket not streaming
 * it. By the same rule an ACTIVE code not LIVE at the swap stays unsure whatever the old socket delivers of it during
 * the overlap: a book of it there proves nothing for the same reason (the flap at a going back is the safe side).
 */
test("a code pending at the swap that the old socket's probe left out is one that socket may not stream, its book there notwithstanding", () => {
  const { control, conn, a, b, live, swap } = overlapRig();
  const [c, d] = conn.addTopics(["book.KRW-C", "book.KRW-D"], 30) as unknown as [TopicState, TopicState];
  control.sendRequest(conn, "subscribe", [a, b, c, d]); // [A, B, C, D] on the old socket
  live(a, b, d);
  d.book = BookState.RESYNCING; // a frame it could not read; no probe leaves it out
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A, B] written: C (PENDING) and D left out there
  expect([c.sub, c.offRequest]).toEqual([SUB_PENDING, true]);
  swap(); // C not served by the old socket (PENDING); D served (ACTIVE)
  expect([c.onRetiring, d.onRetiring]).toEqual([false, true]);
  // The old socket's books of C and D, sent before the venue took the probe (adapter.ts onBook).
  c.onRetiring = true;
  c.book = BookState.LIVE;
  d.book = BookState.LIVE;
  const unsure = control.oldMayNotStream(conn);
  expect([a, b, c, d].map((t) => unsure?.has(t) ?? false)).toEqual([false, false, true, true]);
  control.stop();
});

/**
 * A live-like planned reconnect by hand, with the lifecycle's own goBack (planned-reconnect.ts): the old socket and the
 * replacement record what each is sent; A, B, C subscribed on the old socket and LIVE, the overlap begun (the swap as
 * swapWhenSettled makes it), the replacement asked for every code and streaming them. The clock moves 10 s before each
 * step, so the pacing always has a token (a list queued behind another would only replace it in place).
 */
async function goBackRig() {
  const clock = { nowMs: 0 };
  const control = new UpbitRequests("upbit", silentLogger, () => clock.nowMs, (t, state) => void (t.book = state), undefined, 60_000);
  const conn = new SendRecordingConnection(0, "spot");
  const [a, b, c] = conn.addTopics(["book.KRW-A", "book.KRW-B", "book.KRW-C"], 30) as unknown as [TopicState, TopicState, TopicState];
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: (t, state) => void (t.book = state), resync: () => undefined }, quietLifecycleOptions(() => clock.nowMs));
  const planned = (lifecycle as unknown as { planned: PlannedReconnects }).planned;
  const socket = () => {
    const sent: string[] = [];
    return { sent, ws: { readyState: 1, send: (t: string) => void sent.push(t), close() {} } as unknown as WebSocket };
  };
  const [old, replacement] = [socket(), socket()];
  const lists = (s: { sent: string[] }) => s.sent.filter((t) => t !== "PING").map(codesOf);
  const live = () => {
    for (const t of conn.topics) if (t.sub === SUB_PENDING || t.sub === SUB_ACTIVE) (t.sub = SUB_ACTIVE), (t.book = BookState.LIVE); // adapter.ts onBook
  };
  const step = () => void (clock.nowMs += 10_000);
  conn.ws = old.ws;
  control.sendRequest(conn, "subscribe", [a, b, c]);
  live();
  step();
  conn.retiringWs = old.ws;
  conn.retiringGeneration = conn.generation;
  conn.generation = ++conn.genSeq;
  conn.ws = replacement.ws;
  control.dropQueued(conn);
  for (const t of conn.topics) (t.onRetiring = t.sub === SUB_ACTIVE), (t.sub = SUB_IDLE);
  control.sendRequest(conn, "subscribe", conn.topics);
  live();
  step();
  const stop = async () => {
    conn.ws = null;
    await lifecycle.stop();
    control.stop();
  };
  return { control, clock, conn, a, b, c, lifecycle, planned, old, replacement, lists, step, stop };
}

/**
 * Going back to the old socket with a code closed during the overlap: one list goes there, without that code. Before,
 * two in a row (goBack's unsubscribe of the closed code, the list without it; then its subscribe of the rest, the same
 * list again): one request wasted from Upbit's budget at every such going back.
 */
test("going back with a code closed during the overlap writes one list on the old socket", async () => {
  const { c, lifecycle, planned, conn, old, replacement, lists, step, stop } = await goBackRig();
  expect(lists(old)).toEqual([["KRW-A", "KRW-B", "KRW-C"]]);
  lifecycle.retire(c, StatusReason.INSTRUMENT_CLOSED);
  expect(lists(replacement).at(-1)).toEqual(["KRW-A", "KRW-B"]);
  step();
  planned.goBack(conn, "test");
  expect(conn.ws).toBe(old.ws);
  expect(lists(old)).toEqual([
    ["KRW-A", "KRW-B", "KRW-C"],
    ["KRW-A", "KRW-B"],
  ]);
  await stop();
});

/**
 * The replacement refusing a code the old socket serves (bisected to it) fails the planned reconnect: the old socket is
 * gone back to (in a microtask: the lifecycle's onReplacementRefused) and given its list. Before, the bisection's end
 * also sent the whole list on the replacement, which is closed a moment later: one request wasted.
 */
test("a code refused by the replacement that the old socket serves: no list more on the replacement, one on the old socket", async () => {
  const { control, a, conn, old, replacement, lists, step, stop } = await goBackRig();
  const before = lists(replacement).length;
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A, B]
  step();
  control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A]
  step();
  control.onError(conn, "INVALID_PARAM", "bad code"); // A alone once more
  step();
  expect(lists(replacement).slice(before)).toEqual([["KRW-A", "KRW-B"], ["KRW-A"], ["KRW-A"]]);
  control.onError(conn, "INVALID_PARAM", "bad code"); // A refused there: the replacement failed
  expect(a.sub).not.toBe(SUB_REJECTED);
  expect(lists(replacement).slice(before + 3), "nothing more on the failing replacement").toEqual([]);
  await Promise.resolve(); // the going back (queued in a microtask)
  expect(conn.ws).toBe(old.ws);
  expect(lists(old)).toEqual([
    ["KRW-A", "KRW-B", "KRW-C"],
    ["KRW-A", "KRW-B", "KRW-C"],
  ]);
  await stop();
});

/**
 * A code closed and listed again during the overlap (restartWanted) whose book went STALE on the replacement: going
 * back redoes it on the old socket (restartTopics → restartTopic → askAgain), but the list going back writes there
 * already asks every code again, its SNAPSHOT among the answers. Until 2026-12-07 askAgain wrote the same list once
 * more right after it: one request of Upbit's budget, and every code's snapshot sent twice.
 */
test("going back with a stale code to redo: the going-back list is its ask, no second list", async () => {
  const { control, clock, c, lifecycle, planned, conn, old, lists, step, stop } = await goBackRig();
  lifecycle.retire(c, StatusReason.INSTRUMENT_CLOSED);
  step();
  lifecycle.activate(c);
  await Promise.resolve(); // activateAll's subscribe (a microtask)
  expect(c.restartWanted).toBe(true);
  c.sub = SUB_ACTIVE;
  c.book = BookState.STALE; // its first book came on the replacement, then it went silent
  step();
  planned.goBack(conn, "test");
  expect(conn.ws).toBe(old.ws);
  expect(lists(old)).toEqual([
    ["KRW-A", "KRW-B", "KRW-C"],
    ["KRW-A", "KRW-B", "KRW-C"],
  ]);
  // The quiet rule's ask (adapter.ts quiet) is the going-back list's too, not a new one.
  expect(control.askAgain(conn)).toBe(clock.nowMs);
  expect(lists(old)).toHaveLength(2);
  await stop();
});

/**
 * A confirming probe that passed on the old socket, its list then dropped by a planned reconnect's swap: after going
 * back, an error frame on the old socket is no answer to that probe (the whole overlap went by; replay forgets the
 * last request at ws:back and ignores it). Before, live kept lastConfirming across the swap and going back and halted
 * the code where replay did not.
 */
test("a confirming probe passed before a swap does not refuse its code at an error after going back", () => {
  const { clock, control, conn, topics } = rig();
  const [a, b, c, d] = topics as [(typeof topics)[0], (typeof topics)[0], (typeof topics)[0], (typeof topics)[0]];
  const old = conn.ws!;
  const replacement = { send: () => undefined } as unknown as WebSocket;
  const emptyBucket = () => {
    for (let i = 0; i < 4 && conn.outbox.length === 0; i++) control.send(conn, "PING");
  };
  vi.useFakeTimers();
  try {
    control.sendRequest(conn, "subscribe", [a]); // written: [A]
    control.onError(conn, "INVALID_PARAM", "bad code"); // probe [A]
    control.onError(conn, "INVALID_PARAM", "bad code"); // the confirming probe [A]
    expect(conn.sent.filter((s) => s !== "PING").map(codesOf)).toEqual([["KRW-A"], ["KRW-A"], ["KRW-A"]]);
    clock.nowMs += 60_000;
    emptyBucket();
    vi.advanceTimersByTime(60_000); // passed: the list after it waits for the pacing
    expect(a.sub).not.toBe(SUB_REJECTED);
    // The swap: the old socket's waiting list dropped, the replacement's written.
    conn.retiringWs = old;
    conn.ws = replacement;
    control.dropQueued(conn);
    a.onRetiring = true;
    a.sub = SUB_IDLE;
    clock.nowMs += 10_000;
    control.flush();
    control.sendRequest(conn, "subscribe", [a, b, c, d]);
    // Gone back: the old socket is the connection's again, its list waiting for the pacing.
    conn.ws = old;
    conn.retiringWs = null;
    control.dropQueued(conn);
    a.onRetiring = false;
    a.sub = SUB_ACTIVE;
    for (const t of [b, c, d]) t.sub = SUB_IDLE;
    emptyBucket();
    control.sendRequest(conn, "subscribe", [b, c, d]);
    control.onError(conn, "INVALID_PARAM", "bad code");
    expect(a.sub, "an error long after the confirming probe refuses nothing").not.toBe(SUB_REJECTED);
  } finally {
    control.stop();
    vi.useRealTimers();
  }
});

/**
 * Live's run for the reopening tests below, recorded: A and B subscribed (their first books came), the pacing bucket
 * emptied, then A closed: the list leaving it out, [B], waits, so the venue still streams A.
 */
function closedWhileListWaits() {
  const records: { connection: string; url: string; body: string }[] = [];
  const r = lifecycleRig(records);
  const [a, b] = r.topics as [(typeof r.topics)[0], (typeof r.topics)[0]];
  r.conn.used = true;
  r.control.sendRequest(r.conn, "subscribe", [a, b]); // written: [A, B]
  a.sub = SUB_ACTIVE;
  b.sub = SUB_ACTIVE;
  r.control.send(r.conn, "PING");
  r.control.send(r.conn, "PING"); // the bucket is empty now
  r.lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
  return { ...r, records, a, b };
}

/** Live's records replayed: A's frames taken from where live took them (awaiting its snapshot, not closed); both stopped. */
async function expectReplayTakesA(records: { connection: string; url: string; body: string }[], nowMs: number, live: [ConnectionLifecycle, UpbitRequests, SendRecordingConnection]) {
  const replay = lifecycleRig(undefined, nowMs);
  for (const r of records) expect(replay.lifecycle.replaySocketEvent(r.connection, r.url, r.body), r.url).toBe(true);
  expect(replay.topics[0]!.sub, `replay takes A's frames from here too: ${records.map((r) => r.url).join(" | ")}`).not.toBe(SUB_REJECTED);
  expect(replay.topics[0]!.book).toBe(BookState.AWAITING_SNAPSHOT);
  for (const [l, c, x] of [live, [replay.lifecycle, replay.control, replay.conn]] as const) {
    x.ws = null;
    x.retiringWs = null;
    await l.stop();
    c.stop();
  }
}

/**
 * A code closed while the list without it waits for the pacing: the venue still streams it (its last list written
 * names it). Listed again before that list goes, live asks for it in that waiting list (SUB_PENDING: its frames
 * taken, each a whole book, so LIVE at the next). Recorded as a reopening (`ws:reopened`, as the common venues' closure
 * whose unsubscribe waits), so replay takes its frames from there too: until s-rd20d nothing was recorded until
 * that list was written, and replay kept the code closed (its full books ignored) where live had it LIVE.
 */
test("a code reopened while the list leaving it out waits for the pacing: replay takes its frames from the reopening, as live", async () => {
  const { records, clock, control, conn, lifecycle, a } = closedWhileListWaits();
  expect(codesOf(conn.outbox.at(-1)!.text)).toEqual(["KRW-B"]);
  lifecycle.activate(a);
  await Promise.resolve(); // the turn's activations: the waiting list names A again
  expect(a.sub).toBe(SUB_PENDING); // live: A's frames taken from here
  expect(codesOf(conn.outbox.at(-1)!.text)).toEqual(["KRW-A", "KRW-B"]);

  await expectReplayTakesA(records, clock.nowMs, [lifecycle, control, conn]);
});

/**
 * The same during a planned reconnect's overlap: A closed while the old socket's list leaving it out waited, that list
 * dropped at the swap (the old socket's outbox goes with it), so the old socket still streams A (its last list names
 * it) while the replacement's list does not. Listed again in the overlap, live takes A's books from the old socket
 * (adapter.ts onBook: SUB_PENDING, fromRetiring), so the reopening is recorded. Until s-rd21a only the connection's
 * current socket's last list was looked at (the replacement's), nothing was recorded, and replay kept A closed until
 * the replacement's list naming it was written.
 */
test("a code reopened in an overlap whose old socket's last list names it: recorded as reopened, replay takes its frames from there", async () => {
  const { records, clock, control, conn, topics, lifecycle, a, b } = closedWhileListWaits(); // on the old socket
  // planned-reconnect.ts swapWhenSettled, by hand: the old socket's queued [B] dropped, the replacement asked for B.
  conn.retiringWs = conn.ws;
  conn.ws = { send: (t: string) => void conn.sent.push(t) } as unknown as WebSocket;
  control.dropQueued(conn);
  for (const t of conn.topics) {
    t.onRetiring = t.sub === SUB_ACTIVE;
    if (t.sub !== SUB_REJECTED) t.sub = SUB_IDLE;
  }
  control.sendRequest(conn, "subscribe", [b, ...topics.slice(2)]);
  lifecycle.activate(a);
  await Promise.resolve();
  expect(a.sub).toBe(SUB_PENDING); // live: A's books from the old socket taken from here
  expect(records.map((r) => r.url), "the reopening recorded").toContain("ws:reopened");

  await expectReplayTakesA(records, clock.nowMs, [lifecycle, control, conn]);
});
