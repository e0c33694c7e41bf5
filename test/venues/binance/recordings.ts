/**
 * The genuine Binance recordings (test/fixtures/cryptofeed, provenance in test/fixtures/README.md) as records in
 * receive-time order: every WebSocket frame, and every REST depth snapshot at the time its answer arrived.
 * Also an independent reference book that follows Binance's documented procedure on decimal strings.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { MarketName } from "../../../src/core/types.ts";

const DIR = join(import.meta.dirname, "../../fixtures/cryptofeed");

export interface Recorded {
  tsRecvUs: number;
  /** Set for a REST answer: the URL it answered. */
  url?: string;
  text: string;
}

export interface Recording {
  market: MarketName;
  symbols: string[];
  records: Recorded[];
  /** Per symbol, decimal places for prices and sizes that fit every number in the file (instrument overrides). */
  exps: Map<string, { price: number; qty: number }>;
}

/** Significant decimal places of a decimal string ("0.35130000" → 4). */
function places(s: string): number {
  const f = (s.split(".")[1] ?? "").replace(/0+$/, "");
  return f.length;
}

function us(secs: string): number {
  const [i, f = ""] = secs.split(".");
  return Number(i) * 1_000_000 + Number((f + "000000").slice(0, 6));
}

/** Reads `<name>.ws.1.0` + `<name>.http.0.0` merged by receive time (a REST answer before a frame on a tie). */
export function loadRecording(name: "BINANCE" | "BINANCE_FUTURES"): Recording {
  const ws = readFileSync(join(DIR, `${name}.ws.1.0`), "utf8").split("\n");
  const http = readFileSync(join(DIR, `${name}.http.0.0`), "utf8").split("\n");
  const records: Recorded[] = [];
  for (const line of ws) {
    const m = /^(\d+\.\d+): (.*)$/.exec(line);
    if (m) records.push({ tsRecvUs: us(m[1]!), text: m[2]! });
  }
  for (const line of http) {
    const m = /^(\S+) -> (\d+\.\d+): (.*)$/.exec(line);
    if (m) records.push({ tsRecvUs: us(m[2]!), url: m[1]!, text: m[3]! });
  }
  records.sort((a, b) => a.tsRecvUs - b.tsRecvUs || (a.url ? -1 : 0) - (b.url ? -1 : 0));
  const symbols = [...new Set(records.filter((r) => r.url).map((r) => /symbol=([A-Z0-9]+)/.exec(r.url!)![1]!))];
  const exps = new Map(symbols.map((s) => [s, { price: 0, qty: 0 }]));
  const widen = (sym: string, levels: [string, string][]) => {
    const e = exps.get(sym);
    if (!e) return;
    for (const [p, q] of levels) {
      e.price = Math.max(e.price, places(p));
      e.qty = Math.max(e.qty, places(q));
    }
  };
  for (const r of records) {
    const m = JSON.parse(r.text) as { bids?: [string, string][]; asks?: [string, string][]; data?: { e?: string; s: string; b: [string, string][]; a: [string, string][] } };
    if (r.url) {
      const sym = /symbol=([A-Z0-9]+)/.exec(r.url)![1]!;
      widen(sym, m.bids!);
      widen(sym, m.asks!);
    } else if (m.data?.e === "depthUpdate") {
      widen(m.data.s, m.data.b);
      widen(m.data.s, m.data.a);
    }
  }
  return { market: name === "BINANCE" ? "spot" : "linear", symbols, records, exps };
}

/** A step string for `places` decimals ("0.0001", or "1"). */
export function stepOf(places: number): string {
  return places === 0 ? "1" : "0." + "0".repeat(places - 1) + "1";
}

/** Exact decimal string → integer at `exp` places, by BigInt (independent of core/fixed.ts). */
export function mantissa(s: string, exp: number): number {
  const [i, f = ""] = s.split(".");
  if (f.length > exp && /[1-9]/.test(f.slice(exp))) throw new Error(`${s} has more than ${exp} decimals`);
  return Number(BigInt(i! + (f + "0".repeat(exp)).slice(0, exp)));
}

/**
 * Binance's documented local-book procedure for one symbol, written from the docs (docs/venues/binance.md),
 * without the adapter's code: buffer diffs, bridge the snapshot by the market's rule, then chain; levels past a full
 * snapshot side's worst price are not kept. `live` is false until bridged; `breaks` counts chain breaks.
 */
export class ReferenceBook {
  bids = new Map<number, number>();
  asks = new Map<number, number>();
  live = false;
  breaks = 0;
  bridged = 0;
  applied = 0;
  private id = 0;
  private buffered: { U: number; u: number; pu: number; b: [string, string][]; a: [string, string][] }[] = [];
  private snapshot: { id: number; bids: [string, string][]; asks: [string, string][] } | null = null;
  private floor = -1;
  private ceiling = Infinity;
  /** Hears every state the book takes: the snapshot at lastUpdateId, then after each applied diff. */
  onState?: (id: number, bids: Map<number, number>, asks: Map<number, number>) => void;

  constructor(
    readonly market: MarketName,
    readonly depth: number,
    readonly priceExp: number,
    readonly qtyExp: number,
  ) {}

  onSnapshot(body: { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] }): void {
    if (this.live) return;
    this.snapshot = { id: body.lastUpdateId, bids: body.bids, asks: body.asks };
    this.tryBridge();
  }

  onDiff(d: { U: number; u: number; pu?: number; b: [string, string][]; a: [string, string][] }): void {
    const diff = { U: d.U, u: d.u, pu: d.pu ?? -1, b: d.b, a: d.a };
    if (!this.live) {
      this.buffered.push(diff);
      this.tryBridge();
      return;
    }
    if (diff.u <= this.id) return;
    const continues = this.market === "spot" ? diff.U === this.id + 1 : diff.pu === this.id;
    if (!continues) {
      this.breaks++;
      this.live = false;
      this.buffered = [diff];
      this.snapshot = null;
      return;
    }
    this.apply(diff);
  }

  private tryBridge(): void {
    const s = this.snapshot;
    if (!s) return;
    const spot = this.market === "spot";
    this.buffered = this.buffered.filter((d) => (spot ? d.u > s.id : d.u >= s.id));
    if (this.buffered.length === 0) return;
    const f = this.buffered[0]!;
    if (!(spot ? f.U <= s.id + 1 && s.id + 1 <= f.u : f.U <= s.id && s.id <= f.u)) {
      this.snapshot = null; // fetch again
      return;
    }
    this.bids = new Map(s.bids.map(([p, q]) => [mantissa(p, this.priceExp), mantissa(q, this.qtyExp)]));
    this.asks = new Map(s.asks.map(([p, q]) => [mantissa(p, this.priceExp), mantissa(q, this.qtyExp)]));
    this.floor = s.bids.length >= this.depth ? Math.min(...this.bids.keys()) : -1;
    this.ceiling = s.asks.length >= this.depth ? Math.max(...this.asks.keys()) : Infinity;
    this.id = s.id;
    this.live = true;
    this.bridged++;
    this.onState?.(this.id, this.bids, this.asks);
    const rest = this.buffered;
    this.buffered = [];
    this.snapshot = null;
    this.apply(rest[0]!);
    for (const d of rest.slice(1)) this.onDiff(d);
  }

  private apply(d: { u: number; b: [string, string][]; a: [string, string][] }): void {
    for (const [p, q] of d.b) {
      const px = mantissa(p, this.priceExp);
      if (px < this.floor) continue;
      const qty = mantissa(q, this.qtyExp);
      if (qty === 0) this.bids.delete(px);
      else this.bids.set(px, qty);
    }
    for (const [p, q] of d.a) {
      const px = mantissa(p, this.priceExp);
      if (px > this.ceiling) continue;
      const qty = mantissa(q, this.qtyExp);
      if (qty === 0) this.asks.delete(px);
      else this.asks.set(px, qty);
    }
    this.id = d.u;
    this.applied++;
    this.onState?.(this.id, this.bids, this.asks);
  }
}
