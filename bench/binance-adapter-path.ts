/**
 * The Binance adapter path for bench/binance.bench.ts (docs/performance.md §10): the recorded diff frames through what
 * the feeder runs per frame after the socket, where the bench's "ours" rows run scanner → BookBuilder → encoder only.
 * A replay-mode Feeder (src/app/feeder.ts) whose BinanceAdapter takes each frame as its connection does
 * (BinanceConnection.onFrameAt: scan → BinanceAdapter.onDiff: the sequence rule, the depth clip of a bounded side,
 * apply → VenuePipeline.onBookUpdate: applyDelta, the exchange-to-receipt histogram, the adapter's per-diff verify(),
 * publishDelta) and whose publisher seals each datagram (send time, CRC-32) and sends none: a dropFilter drops every
 * one, so no syscall, as in the "ours" rows. Replay's ingest flushes after every frame; a live feeder flushes once per
 * event-loop turn, so at most as often (`onFrameUnflushed` + `flush`: several frames in one turn). `onLiveFrame`: the
 * same frame through the live socket's entry instead (onFrameAt at turnReceiptUs(), no replay clock), then the flush. Replay differs from a live connection only in how a depth refresh gets its
 * snapshot, and none starts here (checked: `check()`).
 * A pass starts from the recorded REST snapshots (`reset`, untimed: every book resynced, then bridged again by its
 * snapshot and the diff that bridges it, as the recording did), then times the diffs after each book's bridging diff,
 * each continuing the chain: the steady state of a LIVE book.
 * @module
 */
import { join } from "node:path";
import { Feeder } from "../src/app/feeder.ts";
import { validateConfig } from "../src/config/load.ts";
import { turnReceiptUs } from "../src/core/clock.ts";
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

const step = (places: number) => (places === 0 ? "1" : "0." + "0".repeat(places - 1) + "1");

export class AdapterPath {
  /** The frames a pass times: each book's diffs after its bridging diff, in recording order. */
  readonly frames: string[] = [];
  /** Per timed frame: its receive time (the frame's event time + 1 ms: the exchange-to-receipt histogram sees ~1 ms). */
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

  private constructor(
    readonly feeder: Feeder,
    readonly adapter: BinanceAdapter,
    readonly input: AdapterPathInput,
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
  }

  /** A replay-mode Feeder for the recording's symbols (tick and lot as overrides: no REST), its publisher open. */
  static async create(input: AdapterPathInput, seed: number): Promise<AdapterPath> {
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
    const feeder = new Feeder({ config, log: silentLogger, replay: true, venues: { binance: spec }, dropFilter: () => true });
    await feeder.start();
    const path = new AdapterPath(feeder, adapter!, input);
    path.reset();
    return path;
  }

  /** Every book back to its recorded REST snapshot and bridging diff: resynced, then bridged again (cold). */
  reset(): void {
    for (let i = 0; i < this.bodies.length; i++) {
      this.adapter.requestResync(i, StatusReason.SEQUENCE_GAP);
      this.feeder.ingest("binance", this.input.market, this.conn, this.bridging[i]!, this.bridgingUs[i]!);
      this.feeder.ingestRest("binance", this.input.market, this.conn, this.urls[i]!, this.bodies[i]!, this.bridgingUs[i]!);
    }
  }

  /** One timed frame, as a connection hands it over, then the publisher's flush: one frame per event-loop turn. */
  onFrame(k: number): void {
    this.feeder.ingest("binance", this.input.market, this.conn, this.frames[k]!, this.recvUs[k]!);
  }

  /**
   * One timed frame as a live socket hands it over (BinanceConnection.bindMessages: onFrameAt at turnReceiptUs()),
   * then the publisher's flush: no Feeder.ingest, so no replay clock (its advance and each adapter's replayClockAt)
   * and no connection lookup by name. The books' stale clock stays where the last replayed record left it.
   */
  onLiveFrame(k: number): void {
    this.liveConn.onFrameAt(this.frames[k]!, turnReceiptUs());
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
