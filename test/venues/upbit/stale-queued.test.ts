/**
 * A code's stale clock starts when a request naming it is written, not when the pacing (1.5 requests/s per
 * connection) queues it: before, codes behind a queue longer than their stale time went STALE (and were asked again,
 * queuing more) before the venue was asked. UpbitRequests on a fake socket, the lifecycle's rounds run by hand.
 */
import { expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { UpbitRequests } from "../../../src/venues/upbit/requests.ts";
import { SendRecordingConnection } from "../common/fake-connection.ts";
import { quietLifecycleOptions } from "../common/quiet-lifecycle.ts";

const STALE_MS = 2_000; // the floor
const ROUND_MS = 250;

test("no stale resync while a code's request waits for the pacing; stale its stale time after it is written", async () => {
  let nowMs = 0;
  const control = new UpbitRequests("upbit", silentLogger, () => nowMs, () => undefined, undefined, 1_000);
  const conn = new SendRecordingConnection(0, "spot");
  conn.used = true;
  const names = ["A", "B", "C", "D", "E", "F", "G", "H"].map((c) => `book.KRW-${c}`);
  const topics = conn.addTopics(names, 30);
  const resyncs: { topic: string; atMs: number }[] = [];
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: (t) => void resyncs.push({ topic: t.topic, atMs: nowMs }) }, quietLifecycleOptions(() => nowMs, STALE_MS));
  // When a request first named each code (every request carries the whole list).
  const writtenMs = new Map<string, number>();
  let seen = 0;
  const round = (ms: number) => {
    nowMs = ms;
    control.flush(); // the pacing timer's work, by hand
    for (; seen < conn.sent.length; seen++) {
      if (conn.sent[seen] === "PING") continue;
      const codes = (JSON.parse(conn.sent[seen]!) as [unknown, { codes: string[] }])[1].codes;
      for (const c of codes) if (!writtenMs.has(c)) writtenMs.set(c, ms);
    }
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  };
  // One code at a time (late symbols, reloads): the first three go at once, four pings wait then (one per 667 ms),
  // D..G wait behind them in one list (a list replaces a waiting one), H asked after it went waits for its own.
  const askAtMs = new Map([[0, [0, 1, 2, 3, 4]], [1_000, [5]], [3_000, [6]], [4_500, [7]]]);
  const ask = (ms: number) => {
    for (const i of askAtMs.get(ms) ?? []) {
      control.sendRequest(conn, "subscribe", [topics[i]!]);
      if (i === 2) for (let p = 0; p < 4; p++) control.send(conn, "PING");
    }
  };
  ask(0);
  round(0);
  for (let ms = ROUND_MS; ms <= 8_000; ms += ROUND_MS) {
    nowMs = ms;
    ask(ms);
    round(ms);
  }
  expect(control.paced).toBeGreaterThanOrEqual(5);
  for (const t of topics) {
    const sentMs = writtenMs.get(`${t.symbol}.30`);
    expect(sentMs, t.topic).toBeDefined();
    // Before: KRW-F..H resynced at 2.25 s, their requests still queued.
    expect(resyncs.find((r) => r.topic === t.topic)?.atMs, t.topic).toBe(sentMs! + STALE_MS + ROUND_MS);
  }
  expect(writtenMs.get("KRW-D.30")).toBeGreaterThan(STALE_MS); // the case: a code asked past the stale time
  expect(writtenMs.get("KRW-G.30")).toBe(writtenMs.get("KRW-D.30")); // asked while D's list waited: in it
  expect(writtenMs.get("KRW-H.30")).toBeGreaterThan(writtenMs.get("KRW-D.30")!);
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});

/**
 * Each request replaces the whole subscription, so only the last list matters: a new one replaces a list still waiting
 * for the pacing in its place (pings stay behind it, their order kept). Random subscribes (one code or several),
 * unsubscribes (the last code too), pings and pacing rounds against a model: at most one list waits; each list written
 * names exactly the codes subscribed then (never a code unsubscribed while it waited, none at all when no code is
 * left); pings go in order; a code asked waits (subscribeQueued) until a list goes, and its clock starts then.
 * Before: one list queued per subscribe, each written stale, the pings behind them all.
 */
test("a new whole list replaces one still waiting for the pacing, in its place; randomized against a model", () => {
  for (let seed = 1; seed <= 25; seed++) {
    let rnd = seed * 7919;
    const random = (n: number) => ((rnd = (rnd * 1103515245 + 12345) % 2147483648), Math.floor((rnd / 2147483648) * n));
    let nowMs = 0;
    const control = new UpbitRequests("upbit", silentLogger, () => nowMs, () => undefined, undefined, 1_000);
    const conn = new SendRecordingConnection(0, "spot");
    const topics = conn.addTopics(["A", "B", "C", "D", "E", "F", "G", "H"].map((c) => `book.KRW-${c}`), 30);
    const subscribed = new Set<string>(); // the model: codes subscribed now
    const waitingAsk = new Set<string>(); // codes asked for whose list has not gone yet
    let pings = 0;
    let seen = 0;
    let pingsSeen = 0;
    const check = (what: string) => {
      for (; seen < conn.sent.length; seen++) {
        const s = conn.sent[seen]!;
        if (s.startsWith("PING")) {
          expect(s, what).toBe(`PING ${pingsSeen++}`);
          continue;
        }
        const codes = (JSON.parse(s) as [unknown, { codes: string[] }])[1].codes.map((c) => c.replace(/\.30$/, ""));
        expect(new Set(codes), `${what}: a list written`).toEqual(subscribed);
        waitingAsk.clear();
        for (const t of topics) if (codes.includes(t.symbol)) expect(t.lastMsgMs, `${what}: ${t.symbol}'s clock`).toBeLessThanOrEqual(nowMs);
      }
      expect(conn.outbox.filter((m) => m.reqId !== undefined).length, `${what}: lists waiting`).toBeLessThanOrEqual(1);
      for (const t of topics) if (subscribed.has(t.symbol)) expect(t.subscribeQueued, `${what}: ${t.symbol} waits`).toBe(waitingAsk.has(t.symbol));
    };
    for (let step = 0; step < 60; step++) {
      const op = random(10);
      const idle = topics.filter((t) => !subscribed.has(t.symbol));
      const subs = topics.filter((t) => subscribed.has(t.symbol));
      let what: string;
      if (op < 4 && idle.length > 0) {
        const ask = idle.filter(() => random(3) === 0);
        if (ask.length === 0) ask.push(idle[random(idle.length)]!);
        for (const t of ask) subscribed.add(t.symbol), waitingAsk.add(t.symbol);
        control.sendRequest(conn, "subscribe", ask);
        what = `seed ${seed} step ${step}: subscribe ${ask.map((t) => t.symbol)}`;
        if (conn.sent.length === seen + 1 && !conn.sent[seen]!.startsWith("PING")) {
          for (const t of ask) expect(t.lastMsgMs, what).toBe(nowMs); // written at once: its clock from now
        }
      } else if (op < 6 && subs.length > 0) {
        const t = subs[random(subs.length)]!;
        subscribed.delete(t.symbol);
        waitingAsk.delete(t.symbol);
        control.sendRequest(conn, "unsubscribe", [t]);
        what = `seed ${seed} step ${step}: unsubscribe ${t.symbol}`;
      } else if (op < 8) {
        control.send(conn, `PING ${pings++}`);
        what = `seed ${seed} step ${step}: ping`;
      } else {
        nowMs += 100 + random(1_500);
        control.flush(); // the pacing timer's work, by hand
        what = `seed ${seed} step ${step}: flush at ${nowMs}`;
        // A list written here starts its codes' clocks now.
        for (let i = seen; i < conn.sent.length; i++) {
          if (conn.sent[i]!.startsWith("PING")) continue;
          for (const t of topics) if (waitingAsk.has(t.symbol)) expect(t.lastMsgMs, what).toBe(nowMs);
          break;
        }
      }
      check(what);
    }
    // Everything queued goes in the end, in order.
    for (let i = 0; i < 100 && conn.outbox.length > 0; i++) {
      nowMs += 10_000;
      control.flush();
    }
    check(`seed ${seed}: drained`);
    expect(pingsSeen).toBe(pings);
    control.stop();
  }
  // The reader's case: codes asked one at a time while the bucket is empty make one list, and a ping behind it goes next.
  let nowMs = 0;
  const control = new UpbitRequests("upbit", silentLogger, () => nowMs, () => undefined, undefined, 1_000);
  const conn = new SendRecordingConnection(0, "spot");
  const topics = conn.addTopics(["A", "B", "C", "D", "E", "F", "G", "H"].map((c) => `book.KRW-${c}`), 30);
  for (const t of topics) control.sendRequest(conn, "subscribe", [t]); // 3 at once, the rest wait
  control.send(conn, "PING 0");
  expect(conn.outbox.map((m) => (m.reqId === undefined ? m.text : "list"))).toEqual(["list", "PING 0"]);
  // Every code unsubscribed while that list waits: it is withdrawn (it names them), no empty list goes (NO_CODES).
  control.sendRequest(conn, "unsubscribe", topics);
  expect(conn.outbox.map((m) => m.text)).toEqual(["PING 0"]);
  expect(topics.filter((t) => t.subscribeQueued)).toEqual([]);
  const written = conn.sent.length;
  nowMs += 10_000;
  control.flush();
  expect(conn.sent.slice(written)).toEqual(["PING 0"]);
  control.stop();
});
