/**
 * An error frame whose sequence_num is out of sequence (a gap, or the sequence gone back) resyncs the connection as
 * any such frame does, and is still counted (`error_frames_total`) and logged with its text: the venue's word must not
 * vanish because its number was wrong. A repeat of one already taken is a duplicate, not counted again. Until
 * s-sr18 the sequence check returned first and such a frame was neither counted nor logged. Offline replay, no socket.
 */
import { describe, expect, test } from "vitest";
import { type Logger, silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { offlineVenue } from "../common/offline-venue.ts";
import { Sink } from "./helpers.ts";

const TS = "2026-12-07T00:00:00.000000Z";
const l2 = (seq: number, product: string) =>
  `{"channel":"l2_data","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"type":"snapshot","product_id":"${product}","updates":[{"side":"bid","event_time":"${TS}","price_level":"100.0","new_quantity":"1.5"}]}]}`;
const error = (seq: number) => `{"type":"error","timestamp":"${TS}","sequence_num":${seq},"message":"boom (test)"}`;

async function rig() {
  const o = offlineVenue("coinbase", "spot", 0, ["BTC-USD", "ETH-USD"], "");
  const warned: string[] = [];
  const log: Logger = { ...silentLogger, warn: (msg: string, f?: Record<string, unknown>) => void warned.push(`${msg} ${JSON.stringify(f ?? {})}`), child: () => log };
  const adapter = createCoinbaseAdapter(o.config, o.subscriptions, { ...o.options, log });
  adapter.startReplay(new Sink((await adapter.loadInstruments()) as Instrument[]));
  const feed = (frame: string) => adapter.ingestFrame("spot", "conn0.spot", frame, 1);
  feed(l2(0, "BTC-USD"));
  feed(l2(1, "ETH-USD"));
  return { adapter, feed, warned };
}

describe("coinbase: an error frame out of sequence", () => {
  test("past a gap: counted and logged, the connection resynced", async () => {
    const { adapter, feed, warned } = await rig();
    feed(error(5));
    const s = adapter.stats();
    expect([s.errorFrames, s.gaps, s.connectionResyncs]).toEqual([1, 1, 1]);
    expect(warned.some((w) => w.startsWith("coinbase: error frames") && w.includes("boom (test)"))).toBe(true);
  });

  test("the sequence gone back: counted and logged, the connection resynced", async () => {
    const { adapter, feed, warned } = await rig();
    feed(error(1)); // not 0: replay reads sequence_num 0 again as the next socket
    const s = adapter.stats();
    expect([s.errorFrames, s.gaps, s.connectionResyncs]).toEqual([1, 1, 1]);
    expect(warned.some((w) => w.startsWith("coinbase: error frames") && w.includes("boom (test)"))).toBe(true);
  });

  test("a repeat of one taken in sequence: a duplicate, counted once", async () => {
    const { adapter, feed } = await rig();
    feed(error(2));
    feed(error(2));
    const s = adapter.stats();
    expect([s.errorFrames, s.duplicates, s.gaps]).toEqual([1, 1, 0]);
  });
});
