/**
 * The Binance adapter path for bench/binance.bench.ts (docs/performance.md §10): the recorded diff frames through what
 * the feeder runs per frame after the socket, where the bench's "ours" rows run scanner → BookBuilder → encoder only.
 * A replay-mode Feeder (src/app/feeder.ts) whose BinanceAdapter takes each frame as its connection does
 * (BinanceConnection.onFrameAt: scan → BinanceAdapter.onDiff: the sequence rule, the depth clip of a bounded side,
 * apply → VenuePipeline.onBookUpdate: applyDelta, the exchange-to-receipt histogram, the adapter's per-diff verify(),
 * publishDelta) and whose publisher seals each datagram (send time, CRC-32) and sends none: a dropFilter drops every
 * one, so no syscall, as in the "ours" rows. Replay's ingest flushes after every frame; a live feeder flushes once per
 * event-loop turn, so at most as often (`onFrameUnflushed` + `flush`: several frames in one turn).
 * The live path (`create(…, "live")`, `onLiveFrame`): a Feeder of its own whose adapters run on the monotonic clock,
 * as a live Feeder's do (replay's clock stands at the recording's receive times: no read a frame), each frame handed
 * to the connection's onFrameAt as its socket's handler does, stamped with the receipt read for it (a live turn that
 * reads one frame reads nowUs() in turnReceiptUs; turnReceiptUs itself would give every frame of the timed loop, one
 * turn, the pass's first stamp), then the flush. Its frames' event times (E) are moved before each pass to 1 ms before
 * the receipt clock, their transaction times (T, USD-M) as far before E as recorded (`reset`), so the exchange →
 * receipt histogram sees what the replayed row's does (receipt = E + 1 ms; the histogram takes T: 1 ms + E − T, 5–200
 * ms on USD-M) and of the order a live feed's does, not years. Not timed: the turn's end (its setImmediate, the hooks), the
 * event loop's. Replay differs from a live connection only in how a depth refresh gets its snapshot, and none starts
 * here (checked: `check()`).
 * A pass starts from the recorded REST snapshots (`reset`, untimed: every book resynced, then bridged again by its
 * snapshot and the diff that bridges it, as the recording did), then times the diffs after each book's bridging diff,
 * each continuing the chain: the steady state of a LIVE book.
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Feeder } from "../src/app/feeder.ts";
import { validateConfig } from "../src/config/load.ts";
import { monoEpochMs, nowUs } from "../src/core/clock.ts";
import { silentLogger } from "../src/core/log.ts";
import { StatusReason, type MarketName } from "../src/core/types.ts";
import { BINANCE_VENUE, type BinanceAdapter } from "../src/venues/binance/index.ts";
import type { BinanceConnection } from "../src/venues/binance/connection.ts";
import { replayConnection } from "../src/venues/common/connection.ts";
import type { VenueSpec } from "../src/venues/registry.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { benchTempDir } from "./harness.ts";

export interface AdapterPathInput {
  market: MarketName;
  /** The recording's symbols, in order: REST depth body (limit 1000) and the exponents that fit every number. */
  symbols: Map<string, { body: string; priceExp: number; qtyExp: number }>;
  /** Every recorded diff frame (combined-stream text), in order. */
  diffs: readonly string[];
}

interface DiffIds {
  symbol: string;
  first: number;
  last: number;
  prev: number;
  eventMs: number;
}

/** A level as Binance sends it: [price, quantity]. */
export type Lvl = [string, string];

/** A genuine recording (test/fixtures/cryptofeed): its diffs and REST snapshots (bench/binance.bench.ts, its tests). */
export interface BinanceRecording {
  market: MarketName;
  /** Diff frames (combined-stream text) in order. */
  diffs: string[];
  /** Per symbol: REST depth body, exponents. */
  symbols: Map<string, { body: string; priceExp: number; qtyExp: number; stream: string }>;
}

function places(s: string): number {
  return (s.split(".")[1] ?? "").replace(/0+$/, "").length;
}

/** `name`: the recording's file prefix (BINANCE, BINANCE_FUTURES). */
export function loadBinanceRecording(name: string, market: MarketName): BinanceRecording {
  const dir = fileURLToPath(new URL("../test/fixtures/cryptofeed/", import.meta.url));
  const symbols: BinanceRecording["symbols"] = new Map();
  for (const line of readFileSync(dir + `${name}.http.0.0`, "utf8").split("\n")) {
    const m = /^\S+symbol=([A-Z0-9]+)\S* -> [\d.]+: (.*)$/.exec(line);
    if (m) symbols.set(m[1]!, { body: m[2]!, priceExp: 0, qtyExp: 0, stream: `${m[1]!.toLowerCase()}@depth@100ms` });
  }
  const diffs: string[] = [];
  const widen = (sym: string, l: Lvl[]) => {
    const e = symbols.get(sym)!;
    for (const [p, q] of l) {
      e.priceExp = Math.max(e.priceExp, places(p));
      e.qtyExp = Math.max(e.qtyExp, places(q));
    }
  };
  for (const line of readFileSync(dir + `${name}.ws.1.0`, "utf8").split("\n")) {
    const m = /^[\d.]+: (\{.*\})$/.exec(line);
    if (!m || !m[1]!.includes('"depthUpdate"')) continue;
    const d = (JSON.parse(m[1]!) as { data: { s: string; b: Lvl[]; a: Lvl[] } }).data;
    widen(d.s, d.b);
    widen(d.s, d.a);
    diffs.push(m[1]!);
  }
  for (const [sym, e] of symbols) {
    const b = JSON.parse(e.body) as { bids: Lvl[]; asks: Lvl[] };
    widen(sym, b.bids);
    widen(sym, b.asks);
  }
  return { market, diffs, symbols };
}

/** A diff's event time and (USD-M) transaction time: `"E":1700000000000,"T":1700000000000`. */
const EVENT_TIMES = /"E":(\d+)(?:,"T":(\d+))?/;

const frameDecoder = new TextDecoder();

/** Writes `value` over the decimal digits at `at` (as many as it has: a time of 13 digits for another). */
function writeDigits(bytes: Uint8Array, at: number, value: number): void {
  const text = String(value);
  for (let i = 0; i < text.length; i++) {
    if (bytes[at + i]! < 0x30 || bytes[at + i]! > 0x39) throw new Error(`${text}: not as many digits as the time it replaces`);
    bytes[at + i] = text.charCodeAt(i);
  }
  if (bytes[at + text.length]! >= 0x30 && bytes[at + text.length]! <= 0x39) throw new Error(`${text}: fewer digits than the time it replaces`);
}

const step = (places: number) => (places === 0 ? "1" : "0." + "0".repeat(places - 1) + "1");

export class AdapterPath {
  /** The frames a pass times: each book's diffs after its bridging diff, in recording order. */
  readonly frames: string[] = [];
  get length(): number {
    return this.frames.length;
  }
  /**
   * Per timed frame: its receive time, the frame's event time (E) + 1 ms: the exchange-to-receipt histogram, which
   * takes the transaction time (T) where there is one (USD-M), sees 1 ms + E − T.
   */
  readonly recvUs: number[] = [];
  /** Per book (subscription index): the recorded diff that bridges its snapshot. */
  readonly bridging: string[] = [];
  /**
   * Per book: the bridging diff's receive time, as the timed frames' (its event time + 1 ms), for it and its REST
   * snapshot: replay's stale clock runs on receive times (before, 0: the first timed frame moved the clock 55 years
   * on, and its stale rounds ran for minutes, leaving the books STALE).
   */
  private readonly bridgingUs: number[] = [];
  /** Per book: the update id a pass leaves it at (its last diff's u). */
  private readonly lastU: number[] = [];
  private readonly urls: string[] = [];
  private readonly bodies: string[] = [];
  private readonly conn: string;
  /** The connection the frames are the socket of (`onLiveFrame`): looked up once, as a socket's handler holds it. */
  private readonly liveConn: BinanceConnection;
  /** The live path's frames (`onLiveFrame`): `frames` with their exchange times moved by `reset` (the live path only). */
  private readonly liveFrames: string[];
  /** Per timed frame, for `reset` to move its times: its bytes, where its E and T digits start (-1: no T), E - T. */
  private readonly liveTimes: { bytes: Uint8Array; eAt: number; tAt: number; eventToTransactionMs: number }[];

  private constructor(
    readonly feeder: Feeder,
    readonly adapter: BinanceAdapter,
    readonly input: AdapterPathInput,
    readonly clock: "replay" | "live",
  ) {
    const { market, symbols, diffs } = input;
    this.conn = `conn0.${market}`;
    // The adapter's connections are private: a live socket's handler is bound to its own (bindMessages).
    const live = replayConnection((adapter as unknown as { conns: readonly BinanceConnection[] }).conns, this.conn, market);
    if (live === undefined) throw new Error(`${market}: no connection for ${this.conn}`);
    this.liveConn = live;
    const names = [...symbols.keys()];
    const ids: DiffIds[] = diffs.map((f) => {
      const d = (JSON.parse(f) as { data: { s: string; U: number; u: number; pu?: number; E: number } }).data;
      return { symbol: d.s, first: d.U, last: d.u, prev: d.pu ?? -1, eventMs: d.E };
    });
    const host = market === "spot" ? "https://api.binance.com/api/v3" : "https://fapi.binance.com/fapi/v1";
    const bridgeAt = names.map((sym) => {
      const lastUpdateId = (JSON.parse(symbols.get(sym)!.body) as { lastUpdateId: number }).lastUpdateId;
      // The market's rule (docs/venues/binance.md, "Bridging"): the first diff not covered by the snapshot bridges it.
      const k = ids.findIndex((d) => d.symbol === sym && (market === "spot" ? d.last > lastUpdateId : d.last >= lastUpdateId));
      const d = ids[k];
      if (d === undefined || !(market === "spot" ? d.first <= lastUpdateId + 1 : d.first <= lastUpdateId)) throw new Error(`${market} ${sym}: no recorded diff bridges the snapshot`);
      this.urls.push(`${host}/depth?symbol=${sym}&limit=1000`);
      this.bodies.push(symbols.get(sym)!.body);
      this.bridging.push(diffs[k]!);
      this.bridgingUs.push(d.eventMs * 1000 + 1000);
      this.lastU.push(d.last);
      return k;
    });
    ids.forEach((d, k) => {
      const i = names.indexOf(d.symbol);
      if (k <= bridgeAt[i]!) return;
      this.frames.push(diffs[k]!);
      this.recvUs.push(d.eventMs * 1000 + 1000);
      this.lastU[i] = d.last;
    });
    this.liveFrames = [...this.frames];
    this.liveTimes = this.frames.map((f) => {
      const m = EVENT_TIMES.exec(f);
      // ASCII up to the times (the stream name): a character's index is its byte's.
      if (m === null || !/^[\x20-\x7e]*$/.test(f.slice(0, m.index + m[0].length))) throw new Error(`no event time in ${f.slice(0, 200)}`);
      const eAt = m.index + '"E":'.length;
      const tAt = m[2] === undefined ? -1 : eAt + m[1]!.length + ',"T":'.length;
      return { bytes: new TextEncoder().encode(f), eAt, tAt, eventToTransactionMs: m[2] === undefined ? 0 : Number(m[1]) - Number(m[2]) };
    });
  }

  /**
   * A replay-mode Feeder for the recording's symbols (tick and lot as overrides: no REST), its publisher open.
   * `clock`: "replay", the adapters on replay's clock (the recording's receive times; `onFrame`); "live", on the
   * monotonic clock a live Feeder gives them (`onLiveFrame`).
   */
  static async create(input: AdapterPathInput, seed: number, clock: "replay" | "live" = "replay"): Promise<AdapterPath> {
    const { market } = input;
    const overrides: Record<string, { tick_size: string; lot_size: string }> = {};
    for (const [sym, e] of input.symbols) overrides[`${market}:${sym}`] = { tick_size: step(e.priceExp), lot_size: step(e.qtyExp) };
    const config = validateConfig({
      log: { level: "error", format: "json" },
      http: { enabled: false },
      // No periodic refresh: the bench's loop never yields to a timer anyway.
      publish: { snapshot_interval_ms: 0, destinations: [{ name: "bench", ...loopbackDestination(seed), interface: "127.0.0.1", ttl: 1, channel: 1 }] },
      venues: { binance: { instrument_cache: join(benchTempDir("binance-adapter-path-"), "i.json"), [market]: { depth: 1000, symbols: [...input.symbols.keys()] }, overrides } },
    });
    let adapter: BinanceAdapter | undefined;
    const spec: VenueSpec = { ...BINANCE_VENUE, create: (c, subs, opts) => (adapter = BINANCE_VENUE.create(c, subs, opts) as BinanceAdapter) };
    // Replay mode either way (no socket, no REST: ingest feeds the snapshots); live, the adapters' clocks are a live
    // Feeder's (venue.ts adapterClocks' defaults), which Feeder's adapterOptions put over replay's.
    const adapterOptions = clock === "live" ? { now: monoEpochMs, wallNow: Date.now } : undefined;
    const feeder = new Feeder({ config, log: silentLogger, replay: true, venues: { binance: spec }, dropFilter: () => true, ...(adapterOptions ? { adapterOptions } : {}) });
    await feeder.start();
    const path = new AdapterPath(feeder, adapter!, input, clock);
    path.reset();
    return path;
  }

  /**
   * Every book back to its recorded REST snapshot and bridging diff: resynced, then bridged again (cold). The live
   * path: its frames' event times (E) moved to 1 ms before now (each frame's transaction time T as far before it as
   * recorded), so the pass after this sees exchange → receipt as the replayed row does (1 ms + E − T, and the pass's
   * own time).
   */
  reset(): void {
    for (let i = 0; i < this.bodies.length; i++) {
      this.adapter.requestResync(i, StatusReason.SEQUENCE_GAP);
      this.feeder.ingest("binance", this.input.market, this.conn, this.bridging[i]!, this.bridgingUs[i]!);
      this.feeder.ingestRest("binance", this.input.market, this.conn, this.urls[i]!, this.bodies[i]!, this.bridgingUs[i]!);
    }
    if (this.clock !== "live") return;
    const eventMs = Math.floor(nowUs() / 1000) - 1;
    for (let k = 0; k < this.frames.length; k++) {
      const { bytes, eAt, tAt, eventToTransactionMs } = this.liveTimes[k]!;
      writeDigits(bytes, eAt, eventMs);
      if (tAt >= 0) writeDigits(bytes, tAt, eventMs - eventToTransactionMs);
      // Decoded from bytes: a flat string, as a socket's frame is (a replace() made a string whose first read in the
      // timed pass grew the heap, ~230 B a frame).
      this.liveFrames[k] = frameDecoder.decode(bytes);
    }
  }

  /** One timed frame, as a connection hands it over, then the publisher's flush: one frame per event-loop turn. */
  onFrame(k: number): void {
    this.feeder.ingest("binance", this.input.market, this.conn, this.frames[k]!, this.recvUs[k]!);
  }

  /**
   * One timed frame as a live socket hands it over in a turn of its own (BinanceConnection.bindMessages: onFrameAt at
   * turnReceiptUs(), which reads nowUs() at a turn's first frame), then the publisher's flush (the turn-end hook's):
   * no Feeder.ingest, so no replay clock and no connection lookup by name. A path made with `create(…, "live")`.
   */
  onLiveFrame(k: number): void {
    this.liveConn.onFrameAt(this.liveFrames[k]!, nowUs());
    this.feeder.publisher.flush();
  }

  /** One timed frame without the flush (`flush()` after several: a turn that read several frames). */
  onFrameUnflushed(k: number): void {
    this.adapter.ingestFrame(this.input.market, this.conn, this.frames[k]!, this.recvUs[k]!);
  }

  flush(): void {
    this.feeder.publisher.flush();
  }

  /**
   * After a pass: "" when every book is LIVE at its last diff's id, with no break, repeat, side exhausted or refresh
   * (the pass measured the steady state of LIVE books), else what is wrong.
   */
  check(): string {
    const v = this.adapter.stats();
    const bad = ["gaps", "duplicates", "parseErrors", "depthExhausted", "depthRefreshes"].filter((k) => (v[k] ?? 0) !== 0);
    if (bad.length > 0) return bad.map((k) => `${k} ${v[k]}`).join(", ");
    for (let i = 0; i < this.lastU.length; i++) {
      const t = this.adapter.topicInfo(i);
      if (t.state !== "live" || t.lastU !== this.lastU[i] || t.refreshing) return `book ${i}: ${JSON.stringify(t)}, expected live at ${this.lastU[i]}`;
    }
    return "";
  }

  stop(): Promise<void> {
    return this.feeder.stop();
  }
}
