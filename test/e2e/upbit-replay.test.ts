/**
 * The genuine Upbit recording through `feeder replay`: its frames as a capture (market spot, connection conn0.spot,
 * recorded receive times), exponents from config overrides, multicast on loopback. Every book the subscriber saw
 * valid equals the independent reference (regex + BigInt on the frame text) of the message with that timestamp,
 * and after the replay every book equals the reference of its last message.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { main } from "../../src/cli/main.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { exponentOf } from "../../src/core/fixed.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { referenceBook, UPBIT_RECORDING_CODES, UPBIT_RECORDING_SPECS, upbitFrames } from "../venues/upbit/recording.ts";
import { levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor, type Levels } from "./harness.ts";

function levelsOfRef(r: { bids: Map<number, number>; asks: Map<number, number> }): Levels {
  return { bids: [...r.bids].sort((a, b) => b[0] - a[0]), asks: [...r.asks].sort((a, b) => a[0] - b[0]) };
}

describe("feeder replay of the Upbit recording", { timeout: 30_000 }, () => {
  test("every valid book equals the reference of its message; the last books equal the last messages", async () => {
    const dir = tempDir("feeder-upbit-replay-");
    const frames = upbitFrames();
    const w = new CaptureWriter({ dir, prefix: "upbit", compression: "none", flushBytes: 50_000 });
    for (const f of frames) w.write(f.tsRecvUs, "upbit", "spot", "conn0.spot", f.text);
    w.close();
    const dest = uniqueDestination(47);
    const config = join(dir, "upbit.toml");
    writeFileSync(
      config,
      [
        'log = { level = "warn", format = "json" }',
        "http = { enabled = false }",
        "[publish]",
        "snapshot_interval_ms = 0",
        "[[publish.destinations]]",
        `group = "${dest.group}"`,
        `port = ${dest.port}`,
        'interface = "127.0.0.1"',
        "ttl = 1",
        "[venues.upbit]",
        'ws_url = "ws://127.0.0.1:9/websocket/v1"',
        'rest_url = "http://127.0.0.1:9"',
        `instrument_cache = "${join(dir, "instruments.json")}"`,
        "[venues.upbit.spot]",
        "depth = 15",
        `symbols = [${UPBIT_RECORDING_CODES.map((c) => JSON.stringify(c)).join(", ")}]`,
        ...UPBIT_RECORDING_CODES.flatMap((c) => [`[venues.upbit.overrides."spot:${c}"]`, `tick_size = "${UPBIT_RECORDING_SPECS[c]!.tickSize}"`, `lot_size = "${UPBIT_RECORDING_SPECS[c]!.lotSize}"`]),
      ].join("\n") + "\n",
    );
    // Reference per code: timestamp → levels.
    const pe = (c: string) => exponentOf(UPBIT_RECORDING_SPECS[c]!.tickSize);
    const refs = new Map<string, Map<number, Levels>>();
    const last = new Map<string, Levels>();
    for (const f of frames) {
      const r = referenceBook(f.text, pe, 8);
      if (!r) continue;
      if (!refs.has(r.code)) refs.set(r.code, new Map());
      refs.get(r.code)!.set(r.timestamp, levelsOfRef(r));
      last.set(r.code, levelsOfRef(r));
    }
    const sub = new FeedSubscriber({ groups: [{ ...dest, iface: "127.0.0.1" }] });
    const violations: string[] = [];
    let checked = 0;
    /** The last valid book per code (stop() then halts every book). */
    const lastValid = new Map<string, Levels>();
    sub.on("update", (e) => {
      if (!e.book.usable) return;
      const want = refs.get(e.book.instrument.symbol)?.get(e.book.venueSeq);
      if (!want) violations.push(`${e.book.instrument.symbol} valid at ts ${e.book.venueSeq}, not a recorded timestamp`);
      else if (!sameLevels(levelsOfView(e.book), want)) violations.push(`${e.book.instrument.symbol} ts ${e.book.venueSeq} differs`);
      else {
        checked++;
        lastValid.set(e.book.instrument.symbol, levelsOfView(e.book));
      }
    });
    let received = 0;
    sub.on("update", () => received++);
    await sub.start();
    // The pipeline `feeder replay` runs (app/replay.ts), in process so its datagrams reach this socket.
    const feeder = new Feeder({ config: loadConfigFile(config), log: silentLogger, replay: true });
    await feeder.start();
    const result = await replayCaptures(feeder, w.files, { pace: "fast" });
    expect(result).toMatchObject({ ingested: frames.length, skipped: 0, truncated: [] });
    await feeder.stop();
    await waitFor(() => UPBIT_RECORDING_CODES.every((c) => lastValid.has(c) && sameLevels(lastValid.get(c)!, last.get(c)!)), "the last book of every code", 10_000);
    expect(UPBIT_RECORDING_CODES.every((c) => sub.books.has(instrumentIdOf("upbit", "spot", c)))).toBe(true);
    await sub.stop();
    expect(received).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(UPBIT_RECORDING_CODES.length);
    // And the command itself: every frame ingested, datagrams published, nothing logged as an error.
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(["replay", "--config", config, ...w.files], { out: (t) => out.push(t), err: (t) => err.push(t) })).toBe(0);
    expect(err).toEqual([]);
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ frames: frames.length, ingested: frames.length, skipped: 0 });
    expect(JSON.parse(out.at(-1)!).datagrams).toBeGreaterThan(145);
  });
});
