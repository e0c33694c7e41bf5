/**
 * A `feeder record` stop leaves its mark in the capture (since s-recstop): live, the stop halts every book (HALTED /
 * shutdown), but its socket closes are planned and recorded nothing, so a capture ended with the books LIVE and a
 * next run's capture replayed or exported after it kept them LIVE at the old run's levels across the time the
 * recorder was down (until the new run's `ws:open`, or the books' stale time). Now the recorder writes a `ws:close`
 * (RECORDER_STOPPED_WHY) per open connection before its venues stop, and replay and export halt every book there, one
 * status each, until the next run's snapshot. Two short recorder runs in process against the Bybit simulator, into one
 * DIR, then replayed and exported.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { recordCommand } from "../../src/cli/commands/record.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../src/core/types.ts";
import { readCapture, type CaptureRecord } from "../../src/record/capture.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, RECORDER_STOPPED_WHY } from "../../src/venues/venue.ts";
import { rawConfig, tempDir, toToml, uniqueDestination, type Markets } from "../e2e/harness.ts";
import { freePort } from "../support/free-port.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
];

let sim: BybitSim;
let out: string;
let configPath: string;
/** Each run's files, in order. */
const runs: string[][] = [];

/** One recorder run into `out`: started, LIVE on every book (its /readyz), stopped as by SIGTERM. */
async function recordOnce(): Promise<void> {
  const before = new Set(readdirSync(out).filter((f) => f.endsWith(".fcap")));
  let signal!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (signal = r));
  const running = recordCommand.run({ values: { config: configPath, out }, positionals: [], log: silentLogger, out: () => undefined, stopSignal });
  try {
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(toml)![1]);
    const untilMs = Date.now() + 20_000;
    while ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status !== 200) {
      if (Date.now() > untilMs) throw new Error("recorder not ready within 20 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 5; i++) sim.step(1);
    await new Promise((r) => setTimeout(r, 50)); // the steps' frames received (what the books are is not judged)
  } finally {
    signal("SIGTERM");
  }
  expect(await running).toBe(0);
  runs.push(readdirSync(out).filter((f) => f.endsWith(".fcap") && !before.has(f)).sort().map((f) => join(out, f)));
}

let toml: string;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 11, messagesPerSecond: 0 });
  const dir = tempDir("feeder-record-stop-");
  out = join(dir, "captures");
  mkdirSync(out);
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(77), http: true, snapshotIntervalMs: 0 });
  (raw.http as Record<string, unknown>).listen = `127.0.0.1:${await freePort()}`;
  (raw.publish as Record<string, unknown>).startup_listen_ms = 0;
  toml = toToml(raw);
  configPath = join(dir, "feeder.toml");
  writeFileSync(configPath, toml);
  await recordOnce();
  for (let i = 0; i < 5; i++) sim.step(1); // the venue moves on while the recorder is down
  await recordOnce();
}, 60_000);

afterAll(async () => {
  await sim?.stop();
});

const recordsOf = (files: readonly string[]): CaptureRecord[] => files.flatMap((f) => readCapture(f).records);

/** The replay config: the recording's, no refresh, its instruments from the recording's cache (no REST). */
function replayConfig(seed: number) {
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(seed), snapshotIntervalMs: 0, heartbeatIntervalMs: 60_000 });
  (raw.venues as any).bybit.instrument_cache = /instrument_cache = "([^"]+)"/.exec(toml)![1];
  return validateConfig(raw);
}

/** Feeder in replay mode noting every book's "state/reason/instrSeq" after each recorded connection event. */
class Probe extends Feeder {
  readonly events: { url: string; body: string; before: string[]; books: string[] }[] = [];
  override ingestRest(venue: string, market: string, connection: string, url: string, body: string, tsRecvUs: number): boolean {
    const before = this.states();
    const ok = super.ingestRest(venue, market, connection, url, body, tsRecvUs);
    this.events.push({ url, body, before, books: this.states() });
    return ok;
  }
  private states(): string[] {
    return this.books().map((b) => `${BOOK_STATE_NAMES[b.state]}/${STATUS_REASON_NAMES[b.reason]}/${b.instrSeq}`);
  }
}

describe("feeder record's stop in the capture", { timeout: 60_000 }, () => {
  test("the first run's capture ends with a ws:close per open connection, saying the recorder stopped, and nothing after it", () => {
    const recs = recordsOf(runs[0]!);
    const stopAt = recs.findIndex((r) => r.url === CONNECTION_CLOSED_URL && r.frame === RECORDER_STOPPED_WHY);
    expect(stopAt).toBeGreaterThan(0);
    const tail = recs.slice(stopAt);
    // One per connection (one per market here), every one the capture had opened.
    const opened = new Set(recs.filter((r) => r.url === CONNECTION_OPENED_URL).map((r) => r.connection));
    expect(tail.map((r) => [r.url, r.frame])).toEqual([...opened].map(() => [CONNECTION_CLOSED_URL, RECORDER_STOPPED_WHY]));
    expect(new Set(tail.map((r) => r.connection))).toEqual(opened);
    expect(opened.size).toBe(2);
  });

  test("replay: every book HALTED / shutdown at the stop, one status each (as live's stop), LIVE again on the next run's snapshots", async () => {
    const feeder = new Probe({ config: replayConfig(78), log: silentLogger, replay: true });
    await feeder.start();
    const result = await replayCaptures(feeder, [...runs[0]!, ...runs[1]!], { pace: "fast" });
    expect(result).toMatchObject({ skipped: 0, truncated: [] });
    const live = feeder.books().map((b) => `${BOOK_STATE_NAMES[b.state]}`);
    await feeder.stop();
    const allStops = feeder.events.flatMap((e, i) => (e.url === CONNECTION_CLOSED_URL && e.body === RECORDER_STOPPED_WHY ? [i] : []));
    expect(allStops.length).toBe(4); // two connections, two runs
    const stops = allStops.slice(0, 2); // the first run's
    const beforeStop = feeder.events[stops[0]!]!.before;
    expect(beforeStop.every((b) => b.startsWith("live/"))).toBe(true);
    // Halted at the first stop record, each book's one status (instrSeq + 1); the second changes nothing.
    const seqOf = (b: string) => Number(b.split("/")[2]);
    for (const i of stops) {
      expect(feeder.events[i]!.books.map((b) => b.split("/").slice(0, 2).join("/"))).toEqual(beforeStop.map(() => "halted/shutdown"));
      expect(feeder.events[i]!.books.map(seqOf)).toEqual(beforeStop.map((b) => seqOf(b) + 1));
    }
    // Still halted at the next run's open (the gap), LIVE again by the end on its snapshots.
    const nextOpen = feeder.events.findIndex((e, i) => i > stops[1]! && e.url === CONNECTION_OPENED_URL);
    expect(feeder.events[nextOpen]!.books.every((b) => b.startsWith("halted/shutdown/"))).toBe(true);
    expect(feeder.events[allStops[2]!]!.before.every((b) => b.startsWith("live/"))).toBe(true);
    expect(live).toEqual(beforeStop.map(() => "halted")); // the second run's stop
  });

  test("export --books: the rows at a time between the runs say halted / shutdown (change mode and --every-ms)", async () => {
    const first = recordsOf(runs[0]!);
    const second = recordsOf(runs[1]!);
    const gapFromUs = first.at(-1)!.tsRecvUs;
    const gapToUs = second[0]!.tsRecvUs;
    expect(gapToUs).toBeGreaterThan(gapFromUs + 2_000);
    const files = [...runs[0]!, ...runs[1]!];
    const rowsOf = async (everyMs: number) => {
      let text = "";
      await exportCaptures(files, { write: (c) => void (text += c), flush: () => undefined }, { format: "jsonl", books: { config: replayConfig(79), depth: 1, everyMs }, log: silentLogger });
      return text.trim().split("\n").map((l) => JSON.parse(l) as { tsUs: number; market: string; symbol: string; state: string; reason: string });
    };
    const books = MARKETS.flatMap((m) => m.symbols.map((s) => `${m.market}/${s}`));
    // Change mode: each book's row as of the middle of the gap (its last row at or before it).
    const changes = await rowsOf(0);
    const midUs = (gapFromUs + gapToUs) / 2;
    const asOf = books.map((k) => changes.filter((r) => `${r.market}/${r.symbol}` === k && r.tsUs <= midUs).at(-1));
    expect(asOf.map((r) => `${r?.state}/${r?.reason}`)).toEqual(books.map(() => "halted/shutdown"));
    // Grid: every row of a grid point in the gap.
    const grid = (await rowsOf(1)).filter((r) => r.tsUs > gapFromUs && r.tsUs < gapToUs);
    expect(grid.length).toBeGreaterThanOrEqual(books.length);
    expect(new Set(grid.map((r) => `${r.state}/${r.reason}`))).toEqual(new Set(["halted/shutdown"]));
  });
});
