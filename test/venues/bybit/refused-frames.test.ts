/**
 * Bad input from the venue refused with a named parse error through the adapter (offline, replay rig): a `u` below 1
 * (0 is how the adapter marks "no sequence", so a book at u = 0 made `lastSeq || seqBeforeInvalid` read an older u),
 * and a snapshot deeper than its topic (Bybit deletes only levels it sent: the extra ones stayed for good). Before
 * 2026-12-07 both were taken as books.
 */
import { describe, expect, test } from "vitest";
import { captureLog } from "../../support/capture-log.ts";
import { replayedBybit } from "./replayed-rig.ts";

describe("Bybit frames refused by the adapter's frame entry", () => {
  test('a snapshot at "u":0 (or -0) is bad_number: nothing published, the book resyncs', async () => {
    for (const u of ["0", "-0"]) {
      const { adapter, sink, conn, feed } = await replayedBybit(50);
      feed("snapshot", 5, "100.0");
      expect(adapter.topicInfo(0).state).toBe("live");
      conn.onFrameAt(`{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["99.0","1.000"]],"a":[],"u":${u},"seq":1},"cts":1}`, 1);
      expect(adapter.stats()["parseErrors.bad_number"], u).toBe(1);
      expect(sink.snapshots[0], u).toBe(1); // the u = 0 snapshot reached no book
      expect(adapter.topicInfo(0).state, u).not.toBe("live");
      await adapter.stop();
    }
  });

  test("a snapshot with more levels than the topic's depth is over_depth, logged naming topic, side, count and depth", async () => {
    const { log, lines } = captureLog();
    const { adapter, sink, conn, feed } = await replayedBybit(50, { log });
    const levels = (n: number, from: number) => Array.from({ length: n }, (_, i) => `["${(from - i).toFixed(1)}","1.000"]`).join(",");
    const snapshot = (bids: number) => `{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[${levels(bids, 150)}],"a":[["200.0","1.000"]],"u":9,"seq":1},"cts":1}`;
    conn.onFrameAt(snapshot(51), 1);
    expect(adapter.stats()["parseErrors.over_depth"]).toBe(1);
    expect(sink.snapshots[0]).toBe(0);
    expect(adapter.topicInfo(0).state).not.toBe("live");
    const detail = lines.map((l) => String(l.fields.detail ?? "")).find((d) => d.startsWith("over_depth"));
    expect(detail).toContain("snapshot with 51 bids, depth 50 (linear orderbook.50.BTCUSDT)");
    // 50 a side is the topic's whole window: taken.
    conn.onFrameAt(snapshot(50), 1);
    expect(sink.snapshots[0]).toBe(1);
    expect(sink.bids[0]!.size).toBe(50);
    feed("delta", 10, "100.0");
    expect(adapter.topicInfo(0).state).toBe("live");
    await adapter.stop();
  });

  test("a refused frame's log shows the scanner's offset only when the scanner decided its code", async () => {
    const frame = (topic: string, b: string) => `{"topic":"${topic}","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[${b}],"a":[],"u":9,"seq":1},"cts":1}`;
    const escaped = "orderbook.50.BTC\\u0055SDT"; // the scanner hands it over at the backslash (offset 26)
    const cases: [string, string][] = [
      // Decided by the JSON path. Before (until s-small2): "bad_level at 26", "syntax at 26".
      [frame(escaped, `["99.0"]`), "bad_level (linear orderbook.50.BTCUSDT)"],
      [frame(escaped, "").slice(0, -2), "syntax (linear)"],
      // Decided by the scanner: not JSON, its own code.
      [frame("orderbook.50.BTCUSDT", "").slice(0, -2), "syntax at 114 (linear orderbook.50.BTCUSDT)"],
    ];
    const seen: string[] = [];
    for (const [text] of cases) {
      const { log, lines } = captureLog(); // a fresh adapter a frame: the rate-limited log writes each one's first line
      const { adapter, conn } = await replayedBybit(50, { log });
      conn.onFrameAt(text, 1);
      await adapter.stop();
      seen.push(String(lines.find((l) => typeof l.fields.detail === "string")?.fields.detail ?? "").split(": {")[0]!);
    }
    expect(seen).toEqual(cases.map(([, line]) => line));
  });
});
