/**
 * A capture built from the genuine Bybit XRPUSDT recording (test/fixtures/bybit), for the record/replay/export
 * CLI tests: topic rewritten in memory to `orderbook.1000` (a depth a config accepts; the recording's 500
 * levels fit), frames `spacingUs` apart, plus a subscribe ack and a pong as a live capture has them.
 * The config resolves XRPUSDT from overrides, so nothing is fetched.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import { CaptureWriter } from "../../src/record/capture.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { withCacheLock } from "../../src/venues/common/instrument-cache.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "./config-toml.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
export const XRP_LINES = readFileSync(FIXTURE, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => l.replace('"topic":"orderbook.500.XRPUSDT"', '"topic":"orderbook.1000.XRPUSDT"'));
export const XRP_T0_US = 1_733_011_200_700_000;
export const ACK = '{"success":true,"ret_msg":"","conn_id":"c1","req_id":"1","op":"subscribe"}';
export const PONG = '{"success":true,"ret_msg":"pong","conn_id":"c1","req_id":"2","op":"ping"}';

/** Every frame written, in order, with its receive time. */
export interface CapturedFrame {
  tsRecvUs: number;
  connection: string;
  frame: string;
}

export function writeXrpCapture(dir: string, opts: { compression?: "none" | "gzip" | "zstd"; spacingUs?: number } = {}): { file: string; frames: CapturedFrame[] } {
  const spacing = opts.spacingUs ?? 1000;
  const frames: CapturedFrame[] = [{ tsRecvUs: XRP_T0_US - 500, connection: "linear-0", frame: ACK }];
  XRP_LINES.forEach((frame, i) => frames.push({ tsRecvUs: XRP_T0_US + i * spacing, connection: "linear-0", frame }));
  frames.splice(20, 0, { tsRecvUs: frames[19]!.tsRecvUs, connection: "linear-0", frame: PONG });
  const w = new CaptureWriter({ dir, prefix: "feeder", compression: opts.compression ?? "none", flushBytes: 20_000 });
  for (const f of frames) w.write(f.tsRecvUs, "bybit", "linear", f.connection, f.frame);
  w.close();
  return { file: w.files[0]!, frames };
}

/** A config for XRPUSDT linear depth 1000 with tick/lot overrides and one loopback destination. */
export function writeXrpConfig(dir: string, dest: { group: string; port: number }): string {
  const path = join(dir, "xrp.toml");
  writeFileSync(
    path,
    [
      'log = { level = "warn", format = "json" }',
      "http = { enabled = false }",
      "[publish]",
      "snapshot_interval_ms = 0",
      ...loopbackDestinationToml(dest),
      ...unreachableBybitToml(dir),
      "[venues.bybit.linear]",
      "depth = 1000",
      'symbols = ["XRPUSDT"]',
      '[venues.bybit.overrides."linear:XRPUSDT"]',
      'tick_size = "0.0001"',
      'lot_size = "1"',
    ].join("\n") + "\n",
  );
  return path;
}

/**
 * A Bybit simulator serving XRPUSDT's spec and a config (`dir/<configName>`) that resolves it by REST and merges it
 * into the instrument cache `dir/instruments.json`: for the tests of that merge. `topToml` goes before [publish],
 * `publishToml` into it.
 */
export async function startXrpCacheRig(
  dir: string,
  dest: { group: string; port: number },
  opts: { seed: number; configName: string; topToml?: string[]; publishToml?: string[] },
): Promise<{ sim: BybitSim; cache: string; config: string }> {
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], specs: { "linear:XRPUSDT": { tickSize: "0.0001", lotSize: "1" } }, seed: opts.seed });
  const cache = join(dir, "instruments.json");
  const config = join(dir, opts.configName);
  writeFileSync(config, [...(opts.topToml ?? []), "http = { enabled = false }", "[publish]", ...(opts.publishToml ?? []), ...loopbackDestinationToml(dest), "[venues.bybit]", `ws_url = "${sim.wsUrl}"`, `rest_url = "${sim.restUrl}"`, `instrument_cache = "${cache}"`, "[venues.bybit.linear]", "depth = 1000", 'symbols = ["XRPUSDT"]', ""].join("\n"));
  return { sim, cache, config };
}

/**
 * Another writer (a feeder merging into the same cache) holding the cache's lock from when this resolves until
 * release(); `held` settles once it has let go.
 */
export async function holdCacheLock(cache: string): Promise<{ release: () => void; held: Promise<void> }> {
  let release = () => {};
  let taken = () => {};
  const lockTaken = new Promise<void>((r) => (taken = r));
  const held = withCacheLock(cache, () => {
    taken();
    return new Promise<void>((r) => (release = r));
  });
  await lockTaken;
  return { release: () => release(), held };
}

/** The merge wrote the cache, with XRPUSDT's spec as startXrpCacheRig's simulator serves it. */
export function expectXrpCached(cache: string): void {
  expect(existsSync(cache)).toBe(true);
  expect(JSON.parse(readFileSync(cache, "utf8")).instruments["linear:XRPUSDT"]).toEqual({ tickSize: "0.0001", lotSize: "1" });
}
