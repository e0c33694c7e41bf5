/**
 * s-rd3sub: a third read of the subscriber's provisional sessions (docs/wire-protocol.md §3.4, §6.2). What a flood of
 * older sessions' datagrams costs (passes over the stream table counted, not timed), and the NATS reader's repacker
 * following a clock-step restart upstream while a bogus newer session stays provisional. Driven through ingest() and
 * EnvelopeRepacker.add(): no sockets.
 */
import { describe, expect, it } from "vitest";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

/** Counts passes over the map (values() / iteration) while fn runs. */
function passes(map: Map<number, unknown>, fn: () => void): number {
  let n = 0;
  const values = map.values.bind(map);
  const iter = map[Symbol.iterator].bind(map);
  map.values = () => (n++, values());
  map[Symbol.iterator] = () => (n++, iter());
  try {
    fn();
  } finally {
    delete (map as Partial<Map<number, unknown>>).values;
    delete (map as Partial<Map<number, unknown>>)[Symbol.iterator];
  }
  return n;
}

const streamsOf = (sub: FeedSubscriber) => (sub as unknown as { streamTable: { streams: Map<number, unknown> } }).streamTable.streams;

function heartbeats(p: ReturnType<typeof packer>, n = 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    p.appendHeartbeat(0);
    out.push(...take(p));
  }
  return out;
}

function ingest(sub: FeedSubscriber, datagrams: Uint8Array[]): void {
  for (const d of datagrams) sub.ingest(d, T0 + 50);
}

/** 40 other sources' streams, then source 2: run 10 (start T0) replaced by run 11 (T0 + 1 s), both confirmed. */
function table(): { sub: FeedSubscriber; run10: ReturnType<typeof packer>; run11: ReturnType<typeof packer> } {
  const sub = newSubscriber({ staleAfterMs: 1000 });
  for (let s = 3; s < 43; s++) ingest(sub, heartbeats(packer({ sourceId: s, channelId: 1 }), 2));
  const run10 = packer({ sourceId: 2, channelId: 2, sessionId: 10, sessionStartUs: T0 });
  ingest(sub, heartbeats(run10, 2));
  const run11 = packer({ sourceId: 2, channelId: 2, sessionId: 11, sessionStartUs: T0 + 1_000_000 });
  ingest(sub, heartbeats(run11, 2));
  expect(sub.counters.sessionsReverted).toBe(0);
  expect(sub.streamInfo().find((s) => s.sourceId === 2)!.sessionId).toBe(11);
  return { sub, run10, run11 };
}

/** 100 datagrams, each of another session of source 2 started before run 11 (T0 − 1 s), on channel 4. */
function olderFlood(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) out.push(...heartbeats(packer({ sourceId: 2, channelId: 4, sessionId: 1000 + i, sessionStartUs: T0 - 1_000_000 })));
  return out;
}

describe("a flood of older sessions' datagrams of a source whose streams are alive", () => {
  // The old code: one pass over the stream table per datagram (sessionOver, or mayRestartPending while provisional).
  it("costs no pass over the stream table per datagram (confirmed)", () => {
    const { sub } = table();
    const flood = olderFlood();
    expect(passes(streamsOf(sub), () => ingest(sub, flood))).toBeLessThanOrEqual(1);
    expect(sub.counters.oldSessionDatagrams).toBe(100);
    expect(sub.streamInfo().find((s) => s.sourceId === 2 && s.channelId === 2)!.sessionId).toBe(11);
  });

  it("nor while a bogus newer session is provisional; run 11 then undoes it", () => {
    const { sub, run11 } = table();
    ingest(sub, heartbeats(packer({ sourceId: 2, channelId: 3, sessionId: 99, sessionStartUs: T0 + 5_000_000 })));
    const flood = olderFlood();
    expect(passes(streamsOf(sub), () => ingest(sub, flood))).toBeLessThanOrEqual(1);
    expect(sub.counters.oldSessionDatagrams).toBe(100);
    ingest(sub, heartbeats(run11, 2));
    expect(sub.counters.sessionsReverted).toBe(1);
  });

  it("nor, the source's streams stale, a flood of a run it left behind (retired)", () => {
    const { sub, run10 } = table();
    sub.checkStale(Math.max(...sub.streamInfo().map((s) => s.lastRecvMs)) + 600_000);
    const flood = heartbeats(run10, 100);
    // The old code: sessionOver scanned (finding nothing alive) before the run was found retired, each datagram.
    expect(passes(streamsOf(sub), () => ingest(sub, flood))).toBe(0);
    expect(sub.counters.oldSessionDatagrams).toBe(100);
  });
});
