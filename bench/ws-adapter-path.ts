/**
 * The adapter path for venues whose snapshots come on the socket (Bybit, OKX: bench/bybit.bench.ts, bench/okx.bench.ts;
 * docs/performance.md §11), as bench/binance-adapter-path.ts is for Binance's REST-bridged books: the recorded deltas
 * through what the feeder runs per frame after the socket, where the benches' "ours" rows run scanner → BookBuilder →
 * encoder only. A replay-mode Feeder (src/app/feeder.ts) whose adapter takes each frame as its connection does
 * (onFrameAt: scan, the venue's sequence rule and checks (OKX: the checksum when the frame has one) → VenuePipeline:
 * apply, the exchange-to-receipt histogram, publish) and whose publisher seals each datagram and sends none (a
 * dropFilter drops every one). Replay's ingest flushes after every frame; `onFrameUnflushed` + `flush`: several frames
 * in one turn.
 * The live path (`create(…, "live")`, `onLiveFrame`): a Feeder of its own whose adapters run on the monotonic clock, as a
 * live Feeder's do, each frame handed to its connection's onFrameAt with a receipt read for it, then the flush. Its
 * frames' exchange times are moved before each pass (`reset`) so that the frame's first time is 1 ms before the receipt
 * clock and its others as far from it as recorded: the histogram sees what the replayed row's does, not years.
 * A pass starts from the recorded snapshot frames (`reset`, untimed: each book's snapshot fed again, which restarts its
 * sequence), then times the deltas after them: the steady state of LIVE books.
 * @module
 */
import { join } from "node:path";
import { Feeder } from "../src/app/feeder.ts";
import { validateConfig } from "../src/config/load.ts";
import { monoEpochMs, nowUs } from "../src/core/clock.ts";
import { silentLogger } from "../src/core/log.ts";
import type { MarketName } from "../src/core/types.ts";
import { replayConnection } from "../src/venues/common/connection.ts";
import type { VenueSpec } from "../src/venues/registry.ts";
import type { VenueAdapter } from "../src/venues/venue.ts";
import { allocationRow, measureAllocation } from "./alloc-meter.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { benchTempDir, measureRounds, median, printTable } from "./harness.ts";

export interface WsPathInput {
  spec: VenueSpec;
  /** The venue's config (markets with depth and symbols, overrides: no REST). */
  venueConfig: Record<string, unknown>;
  /** Per book (subscription index, in config order): its market and recorded snapshot frame. */
  snapshots: readonly { market: MarketName; frame: string }[];
  /** The timed frames (the deltas after the snapshots), in recording order, with their market. */
  frames: readonly { market: MarketName; frame: string }[];
  /** Every exchange time in a frame (global; group 1: its 13 digits of ms). The first is the one receipt follows. */
  times: RegExp;
}

interface Connection {
  readonly name: string;
  readonly market: MarketName;
  onFrameAt(frame: string, tsRecvUs: number): void;
}

interface Adapter extends VenueAdapter {
  readonly conns: readonly Connection[];
  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean;
  topicInfo(index: number): Record<string, unknown>;
  stats(): Record<string, number>;
}

/** A frame whose exchange times `reset` rewrites in place (the live path): its bytes and where each time's digits start. */
interface Timed {
  bytes: Uint8Array;
  at: number[];
  /** Each time minus the frame's first, ms. */
  offsetMs: number[];
}

const frameDecoder = new TextDecoder();

function writeDigits(bytes: Uint8Array, at: number, value: number): void {
  const text = String(value);
  if (text.length !== 13) throw new Error(`${text}: not a 13-digit ms time`);
  for (let i = 0; i < 13; i++) bytes[at + i] = text.charCodeAt(i);
}

function timed(frame: string, times: RegExp): { timed: Timed; firstMs: number } {
  const at: number[] = [];
  const values: number[] = [];
  for (const m of frame.matchAll(times)) {
    const digits = m[1]!;
    const start = m.index + m[0].lastIndexOf(digits);
    if (digits.length !== 13 || !/^[\x20-\x7e]*$/.test(frame.slice(0, start))) throw new Error(`not a time at ${start} of ${frame.slice(0, 200)}`);
    at.push(start);
    values.push(Number(digits));
  }
  if (at.length === 0) throw new Error(`no exchange time in ${frame.slice(0, 200)}`);
  return { timed: { bytes: new TextEncoder().encode(frame), at, offsetMs: values.map((v) => v - values[0]!) }, firstMs: values[0]! };
}

export class WsAdapterPath {
  /** Per timed frame: its connection (by market), as a socket's handler holds it. */
  private readonly conns: Connection[];
  private readonly snapshotConns: Connection[];
  /** Per timed frame: receive time (its first exchange time + 1 ms), replay's clock. */
  private readonly recvUs: number[] = [];
  private readonly snapshotRecvUs: number[] = [];
  /** The live path's frames and snapshots, their times moved by `reset`. */
  private readonly liveFrames: string[];
  private readonly liveSnapshots: string[];
  private readonly timedFrames: Timed[];
  private readonly timedSnapshots: Timed[];

  private constructor(
    readonly feeder: Feeder,
    readonly adapter: Adapter,
    readonly input: WsPathInput,
    readonly clock: "replay" | "live",
  ) {
    const connOf = (market: MarketName) => {
      const c = replayConnection(adapter.conns as never[], "", market) as Connection | undefined;
      if (c === undefined) throw new Error(`${market}: no connection`);
      return c;
    };
    this.conns = input.frames.map((f) => connOf(f.market));
    this.snapshotConns = input.snapshots.map((f) => connOf(f.market));
    this.timedFrames = input.frames.map((f) => {
      const t = timed(f.frame, input.times);
      this.recvUs.push(t.firstMs * 1000 + 1000);
      return t.timed;
    });
    this.timedSnapshots = input.snapshots.map((f) => {
      const t = timed(f.frame, input.times);
      this.snapshotRecvUs.push(t.firstMs * 1000 + 1000);
      return t.timed;
    });
    this.liveFrames = input.frames.map((f) => f.frame);
    this.liveSnapshots = input.snapshots.map((f) => f.frame);
  }

  get length(): number {
    return this.input.frames.length;
  }

  /** A replay-mode Feeder for the input's books, its publisher open; `clock` "live": the adapters on a live Feeder's clocks. */
  static async create(input: WsPathInput, seed: number, clock: "replay" | "live" = "replay"): Promise<WsAdapterPath> {
    const name = input.spec.venue;
    const config = validateConfig({
      log: { level: "error", format: "json" },
      http: { enabled: false },
      // No periodic refresh: the bench's loop never yields to a timer anyway.
      publish: { snapshot_interval_ms: 0, destinations: [{ name: "bench", ...loopbackDestination(seed), interface: "127.0.0.1", ttl: 1, channel: 1 }] },
      venues: { [name]: { instrument_cache: join(benchTempDir(`${name}-adapter-path-`), "i.json"), ...input.venueConfig } },
    });
    let adapter: Adapter | undefined;
    const spec: VenueSpec = { ...input.spec, create: (c, subs, opts) => (adapter = input.spec.create(c, subs, opts) as Adapter) };
    const adapterOptions = clock === "live" ? { now: monoEpochMs, wallNow: Date.now } : undefined;
    const feeder = new Feeder({ config, log: silentLogger, replay: true, venues: { [name]: spec }, dropFilter: () => true, ...(adapterOptions ? { adapterOptions } : {}) });
    await feeder.start();
    const path = new WsAdapterPath(feeder, adapter!, input, clock);
    path.reset();
    return path;
  }

  /** Every book back to its recorded snapshot (the live path: every frame's exchange times moved to 1 ms before now). */
  reset(): void {
    if (this.clock === "replay") {
      for (let i = 0; i < this.snapshotConns.length; i++) this.adapter.ingestFrame(this.input.snapshots[i]!.market, this.snapshotConns[i]!.name, this.input.snapshots[i]!.frame, this.snapshotRecvUs[i]!);
      this.feeder.publisher.flush();
      return;
    }
    const firstMs = Math.floor(nowUs() / 1000) - 1;
    const move = (t: Timed) => {
      for (let j = 0; j < t.at.length; j++) writeDigits(t.bytes, t.at[j]!, firstMs + t.offsetMs[j]!);
      // Decoded from bytes: a flat string, as a socket's frame is.
      return frameDecoder.decode(t.bytes);
    };
    for (let i = 0; i < this.timedSnapshots.length; i++) {
      this.liveSnapshots[i] = move(this.timedSnapshots[i]!);
      this.snapshotConns[i]!.onFrameAt(this.liveSnapshots[i]!, nowUs());
    }
    this.feeder.publisher.flush();
    for (let k = 0; k < this.timedFrames.length; k++) this.liveFrames[k] = move(this.timedFrames[k]!);
  }

  /** One timed frame through replay's ingest (its clock; the flush after it: one frame per event-loop turn). */
  onFrame(k: number): void {
    this.feeder.ingest(this.input.spec.venue, this.input.frames[k]!.market, this.conns[k]!.name, this.input.frames[k]!.frame, this.recvUs[k]!);
  }

  /** One timed frame as a live socket hands it over (onFrameAt with a receipt read for it), then the turn's flush. */
  onLiveFrame(k: number): void {
    this.conns[k]!.onFrameAt(this.liveFrames[k]!, nowUs());
    this.feeder.publisher.flush();
  }

  /** One timed frame without the flush (`flush()` after several: a turn that read several frames). */
  onFrameUnflushed(k: number): void {
    this.adapter.ingestFrame(this.input.frames[k]!.market, this.conns[k]!.name, this.input.frames[k]!.frame, this.recvUs[k]!);
  }

  flush(): void {
    this.feeder.publisher.flush();
  }

  /** "" when every book is LIVE and no frame was a gap, a parse error or a checksum mismatch, else what is wrong. */
  check(): string {
    const v = this.adapter.stats();
    const bad = Object.keys(v).filter((k) => /gap|parseError|mismatch|duplicate|crossed/i.test(k) && v[k] !== 0);
    if (bad.length > 0) return bad.map((k) => `${k} ${v[k]}`).join(", ");
    for (let i = 0; i < this.input.snapshots.length; i++) {
      const t = this.adapter.topicInfo(i);
      if (t.state !== "live") return `book ${i}: ${JSON.stringify(t)}, expected live`;
    }
    return "";
  }

  stop(): Promise<void> {
    return this.feeder.stop();
  }
}

/** Ours on the same frames as the paths: the books back to their snapshots (`reset`), then frame `k` (scan → apply → encode → seal). */
export interface OursOnFrames {
  reset(): void;
  onFrame(k: number): void;
}

/** What adapterPathRows times of a path: WsAdapterPath, or binance's AdapterPath (bench/binance-adapter-path.ts). */
export type TimedPath = Pick<WsAdapterPath, "length" | "reset" | "onFrame" | "onLiveFrame" | "onFrameUnflushed" | "flush" | "check">;

/**
 * The adapter path, the live path and one flush per pass against ours on exactly their frames, in interleaved rounds;
 * prints the rows and the ratios to ours (median of per-round p50 ratios). Both paths must end each pass LIVE.
 */
export function adapterPathRows(label: string, oursName: string, ours: OursOnFrames, path: TimedPath, live: TimedPath, rounds: { rounds: number; roundMs: number }): void {
  const n = path.length;
  for (let k = 0; k < n; k++) path.onFrame(k);
  for (let k = 0; k < n; k++) live.onLiveFrame(k);
  const checkBoth = (when: string) => {
    for (const [p, name] of [[path, "adapter"], [live, "live"]] as const) {
      const wrong = p.check();
      if (wrong !== "") throw new Error(`${label}: the ${name} path ${when}: ${wrong}`);
    }
  };
  checkBoth("did not end LIVE");
  const opts = { inner: 1, opsPerCall: n, setup: () => path.reset() };
  const { rows, perRound } = measureRounds(
    [
      { name: oursName, fn: () => { for (let i = 0; i < n; i++) ours.onFrame(i); }, opts: { ...opts, setup: () => ours.reset() } },
      { name: "adapter path: onFrameAt → sequence rule, checks → VenuePipeline → publisher flush (sealed, no send)", fn: () => { for (let i = 0; i < n; i++) path.onFrame(i); }, opts },
      {
        name: "live path: the socket's onFrameAt (a receipt read a frame, live clocks) → … → publisher flush, no replay clock",
        fn: () => { for (let i = 0; i < n; i++) live.onLiveFrame(i); },
        opts: { ...opts, setup: () => live.reset() },
      },
      {
        name: "same, one flush per pass (every frame in one turn)",
        fn: () => {
          for (let i = 0; i < n; i++) path.onFrameUnflushed(i);
          path.flush();
        },
        opts,
      },
    ],
    rounds,
  );
  checkBoth("left the steady state");
  console.log(`== adapter path: ${label}, ${n} recorded frames after the snapshots, every sample from the snapshots ==`);
  printTable(rows);
  const ratio = (k: number) => median(perRound.map((r) => r[k]!.p50Ns / r[0]!.p50Ns));
  const addedNs = (k: number) => median(perRound.map((r) => r[k]!.p50Ns - r[0]!.p50Ns));
  console.log(
    `adapter path / ours, p50: ${ratio(1).toFixed(2)}× (+${addedNs(1).toFixed(0)} ns a frame); live path: ${ratio(2).toFixed(2)}× ` +
      `(+${addedNs(2).toFixed(0)} ns); one flush per pass: ${ratio(3).toFixed(2)}× (+${addedNs(3).toFixed(0)} ns) (median of per-round figures)\n`,
  );
}

/**
 * Allocation rows of the adapter and live paths: one pass over the frames per chunk, the books reset to their snapshots
 * before it (not counted, nor the live path's frames made anew), so a chunk is LIVE books only.
 */
export function adapterPathAllocationRows(label: string, path: WsAdapterPath, live: WsAdapterPath, passes: number): Record<string, unknown>[] {
  const n = path.length;
  for (let i = 0; i < 3 * n; i++) {
    if (i % n === 0) path.reset(), live.reset();
    path.onFrame(i % n);
    live.onLiveFrame(i % n);
  }
  const adapterAlloc = measureAllocation(0, passes * n, (i) => path.onFrame(i % n), { chunkSteps: n, beforeChunk: () => path.reset() });
  const liveAlloc = measureAllocation(0, passes * n, (i) => live.onLiveFrame(i % n), { chunkSteps: n, beforeChunk: () => live.reset() });
  for (const [p, name] of [[path, "adapter"], [live, "live"]] as const) {
    const wrong = p.check();
    if (wrong !== "") throw new Error(`${label}: the ${name} path left the steady state: ${wrong}`);
  }
  return [
    allocationRow(`adapter path: ${label} (${n} a pass, reset between passes)`, adapterAlloc),
    allocationRow("live path: the same frames through the socket's onFrameAt, live clocks", liveAlloc),
  ];
}
