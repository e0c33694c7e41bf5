/**
 * What the table-eviction tests (rev74-eviction, rev82-eviction) share: one instrument, a stale limit, a datagram per
 * call from a packer, and the latest receipt of any stream (to run checkStale past it).
 */
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { packer, T0, take } from "./feed-harness.ts";

export const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
export const STALE_MS = 60_000;

// Each call's datagram its own send time (1 µs apart): two heartbeats are two datagrams, not a copy of one.
let snapSendUs = T0;

/** One datagram per call: a snapshot of `id` (or a heartbeat when id < 0) from the packer. */
export function snap(p: ReturnType<typeof packer>, id: number, refresh = false): Uint8Array[] {
  if (id < 0) p.appendHeartbeat(0);
  else {
    const b = new TestBook({ ...inst, instrumentId: id });
    b.load([[100, 2]], [[101, 3]], 1, T0);
    packBookSnapshot(p, b, 0, refresh);
  }
  return take(p, ++snapSendUs);
}

/** The latest receipt of any stream, monotonic ms. */
export function lastRecvMs(sub: FeedSubscriber): number {
  return Math.max(...sub.streamInfo().map((s) => s.lastRecvMs));
}
