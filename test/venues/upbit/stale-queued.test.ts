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
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: () => undefined, resync: (t) => void resyncs.push({ topic: t.topic, atMs: nowMs }) }, {
    log: silentLogger,
    keepalive: { kind: "client_ping", intervalMs: 6_000_000, pongTimeoutMs: 6_000_000, encodePing: () => "PING" },
    deadConnectionMs: 6_000_000,
    ackTimeoutMs: 6_000_000,
    staleAfterMs: () => STALE_MS,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
    now: () => nowMs,
    random: () => 0.5,
  });
  // When a request first named each code (every request carries the whole list).
  const writtenMs = new Map<string, number>();
  let seen = 0;
  const round = (ms: number) => {
    nowMs = ms;
    control.flush(); // the pacing timer's work, by hand
    for (; seen < conn.sent.length; seen++) {
      const codes = (JSON.parse(conn.sent[seen]!) as [unknown, { codes: string[] }])[1].codes;
      for (const c of codes) if (!writtenMs.has(c)) writtenMs.set(c, ms);
    }
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  };
  // One code at a time (late symbols, reloads): the first three go at once, the rest one per 667 ms.
  for (const t of topics) control.sendRequest(conn, "subscribe", [t]);
  round(0);
  for (let ms = ROUND_MS; ms <= 8_000; ms += ROUND_MS) round(ms);
  expect(control.paced).toBeGreaterThanOrEqual(5);
  for (const t of topics) {
    const sentMs = writtenMs.get(`${t.symbol}.30`);
    expect(sentMs, t.topic).toBeDefined();
    // Before: KRW-F..H resynced at 2.25 s, their requests still queued.
    expect(resyncs.find((r) => r.topic === t.topic)?.atMs, t.topic).toBe(sentMs! + STALE_MS + ROUND_MS);
  }
  expect(writtenMs.get("KRW-H.30")).toBeGreaterThan(STALE_MS); // the case: a code asked past the stale time
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
});
