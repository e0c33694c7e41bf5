/**
 * The genuine Binance recordings through `feeder replay`'s pipeline: each cryptofeed pair converted to a capture
 * file (frames and REST depth snapshots merged by receive time; tick and step as config overrides), replayed by
 * replayCaptures through a replay-mode Feeder → real multicast on 127.0.0.1 → the subscriber. Every valid book the
 * subscriber sees equals the independent reference (test/venues/binance/recordings.ts) at that update id, and at the
 * end every book is valid and equal: spot 4 symbols / 177 diffs, USD-M 4 / 764, each bridging once, 0 breaks.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { loadRecording, ReferenceBook, stepOf } from "../venues/binance/recordings.ts";
import { levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor, type Levels } from "./harness.ts";
import { readdirSync } from "node:fs";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("Binance recordings through feeder replay → multicast → subscriber", { timeout: 60_000 }, () => {
  for (const [name, seed] of [["BINANCE", 71], ["BINANCE_FUTURES", 72]] as const) {
    test(`${name}: converted capture replayed; books equal the reference whenever valid, all valid and equal at the end`, async () => {
      const rec = loadRecording(name);
      const market = rec.market;
      const conn = `conn0.${market}`;
      // Convert: frames and REST answers into one capture, in receive-time order.
      const dir = tempDir("binance-replay-");
      const writer = new CaptureWriter({ dir, flushBytes: 1 << 20 });
      for (const r of rec.records) {
        if (r.url) writer.writeRest(r.tsRecvUs, "binance", market, conn, r.url, r.text);
        else writer.write(r.tsRecvUs, "binance", market, conn, r.text);
      }
      writer.close();
      const files = readdirSync(dir).map((f) => join(dir, f));
      // The reference, after every record: its book by update id while live.
      const refs = rec.symbols.map((s) => new ReferenceBook(market, 1000, rec.exps.get(s)!.price, rec.exps.get(s)!.qty));
      const history = rec.symbols.map(() => new Map<number, Levels>());
      const lastId = rec.symbols.map(() => 0);
      refs.forEach((ref, k) => {
        ref.onState = (id, bids, asks) => {
          history[k]!.set(id, { bids: [...bids].sort((a, b) => b[0] - a[0]), asks: [...asks].sort((a, b) => a[0] - b[0]) });
          lastId[k] = id;
        };
      });
      for (const r of rec.records) {
        if (r.url) refs[rec.symbols.indexOf(/symbol=([A-Z0-9]+)/.exec(r.url)![1]!)]!.onSnapshot(JSON.parse(r.text));
        else {
          const m = JSON.parse(r.text) as { data: { e: string; s: string; u: number } & Parameters<ReferenceBook["onDiff"]>[0] };
          if (m.data.e !== "depthUpdate") continue;
          refs[rec.symbols.indexOf(m.data.s)]!.onDiff(m.data);
        }
      }
      const { group, port } = uniqueDestination(seed);
      const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
      const ids = rec.symbols.map((s) => instrumentIdOf("binance", market, s));
      const violations: string[] = [];
      let validSeen = 0;
      sub.on("update", (e) => {
        const k = ids.indexOf(e.book.instrumentId);
        if (k < 0 || !e.book.usable) return;
        validSeen++;
        const want = history[k]!.get(e.book.venueSeq);
        if (!want) violations.push(`${rec.symbols[k]} valid at ${e.book.venueSeq}, never the reference's`);
        else if (!sameLevels(levelsOfView(e.book), want)) violations.push(`${rec.symbols[k]} valid at ${e.book.venueSeq} but different`);
      });
      await sub.start();
      cleanups.push(() => sub.stop());
      const overrides: Record<string, { tick_size: string; lot_size: string }> = {};
      for (const s of rec.symbols) overrides[`${market}:${s}`] = { tick_size: stepOf(rec.exps.get(s)!.price), lot_size: stepOf(rec.exps.get(s)!.qty) };
      const config = validateConfig({
        log: { level: "warn", format: "json" },
        http: { enabled: false },
        publish: { snapshot_interval_ms: 0, destinations: [{ name: "replay", group, port, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
        venues: { binance: { instrument_cache: join(tempDir("feeder-binance-replay-"), "instruments.json"), [market]: { depth: 1000, symbols: rec.symbols }, overrides } },
      });
      const feeder = new Feeder({ config, log: silentLogger, replay: true });
      await feeder.start();
      cleanups.push(() => feeder.stop());
      const result = await replayCaptures(feeder, files, { pace: "fast" });
      expect(result.skipped).toBe(0);
      expect(result.frames).toBe(rec.records.length);
      await waitFor(
        () => ids.every((id, k) => sub.books.get(id)?.usable === true && sub.books.get(id)!.venueSeq === lastId[k]),
        "every book valid at the recording's last update id",
      );
      ids.forEach((id, k) => expect(sameLevels(levelsOfView(sub.books.get(id)!), history[k]!.get(lastId[k]!)!)).toBe(true));
      expect(violations).toEqual([]);
      expect(validSeen).toBeGreaterThan(rec.symbols.length);
      expect(refs.map((r) => r.bridged)).toEqual([1, 1, 1, 1]);
      expect(refs.map((r) => r.breaks)).toEqual([0, 0, 0, 0]);
      const v = feeder.stats().venues.binance!;
      expect([v.snapshots, v.gaps, v.parseErrors]).toEqual([4, 0, 0]);
    });
  }
});
