/**
 * One generated Upbit / Bithumb book for the simulator (cold): a random walk at the code's tick, 30 units of ask i /
 * bid i, integer mantissas, and the frame text in DEFAULT or SIMPLE keys with numbers written as JSON numbers, some
 * in exponent form (`1.16539E8`, `2.571E-5`) as Upbit sends them.
 * @module
 */
import { exponentOf, formatFixed } from "../core/fixed.ts";
import type { Rng } from "./rng.ts";

export const SIM_UNITS = 30;

export interface CodeSpec {
  /** Last trade price the ticker reports (a double: only for bands). */
  readonly price: number;
  readonly tick: string;
}

export function defaultCodeSpec(code: string): CodeSpec {
  const [quote, base] = code.split("-");
  if (quote === "KRW") return base === "BTC" ? { price: 100_000_000, tick: "1000" } : { price: 3_000, tick: "1" };
  if (quote === "BTC") return { price: 0.03, tick: "0.00000001" };
  return base === "BTC" ? { price: 100_000, tick: "0.01" } : { price: 2.5, tick: "0.001" };
}

/** A decimal mantissa m × 10^-exp as a JSON number: plain, or (expForm) d.dddE±k with the same exact value. */
export function jsonNumber(m: number, exp: number, expForm: boolean): string {
  const plain = formatFixed(m, exp).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, ".0");
  if (!expForm || m === 0) return plain;
  const digits = String(m).replace(/0+$/, "");
  const e10 = String(m).length - 1 - exp;
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${mant}E${e10}`;
}

export interface Unit {
  ap: number;
  bp: number;
  as: number;
  bs: number;
}

export class CodeBook {
  readonly pe: number;
  /** Mid in ticks. */
  private mid: number;
  readonly tickM: number;
  units: Unit[] = [];
  ts: number;
  /** Size 0 on one ask unit in the next frame (the Bithumb / thin-book case). */
  zeroNext = false;

  constructor(
    readonly code: string,
    readonly spec: CodeSpec,
    readonly qe: number,
    startTs: number,
    private readonly rng: Rng,
  ) {
    this.pe = exponentOf(spec.tick);
    this.tickM = Math.round(Number(spec.tick) * 10 ** this.pe);
    this.mid = Math.round(spec.price / Number(spec.tick));
    this.ts = startTs;
    this.regenerate();
  }

  /** A new book (the next message). */
  regenerate(): void {
    this.mid = Math.max(SIM_UNITS * 3, this.mid + this.rng.int(-2, 2));
    let a = this.mid + 1;
    let b = this.mid - 1;
    const units: Unit[] = [];
    for (let i = 0; i < SIM_UNITS; i++) {
      units.push({ ap: a * this.tickM, bp: b * this.tickM, as: this.size(), bs: this.size() });
      a += this.rng.int(1, 2);
      b -= this.rng.int(1, 2);
    }
    if (this.zeroNext) {
      units[this.rng.int(0, SIM_UNITS - 1)]!.as = 0;
      this.zeroNext = false;
    }
    this.units = units;
  }

  private size(): number {
    return this.rng.int(1, 10 ** Math.min(this.qe + 3, 12));
  }

  /**
   * The units grouped into price units of `level` (Upbit's grouped KRW books; 0 = as generated): bids merged down
   * and asks up to a multiple of the level, sizes summed, then paired best first again (a side with fewer groups
   * pads with price 0 / size 0, which a client leaves out).
   */
  grouped(level: number, units = this.units): Unit[] {
    if (level === 0) return units;
    const step = Math.round(level * 10 ** this.pe);
    const merge = (pick: (u: Unit) => [number, number], round: (p: number) => number): [number, number][] => {
      const out: [number, number][] = [];
      for (const u of units) {
        const [p, q] = pick(u);
        if (p <= 0 || q <= 0) continue;
        const g = round(p / step) * step;
        const last = out[out.length - 1];
        if (last !== undefined && last[0] === g) last[1] += q;
        else out.push([g, q]);
      }
      return out;
    };
    const asks = merge((u) => [u.ap, u.as], Math.ceil);
    const bids = merge((u) => [u.bp, u.bs], Math.floor);
    const n = Math.max(asks.length, bids.length);
    const out: Unit[] = [];
    for (let i = 0; i < n; i++) out.push({ ap: asks[i]?.[0] ?? 0, as: asks[i]?.[1] ?? 0, bp: bids[i]?.[0] ?? 0, bs: bids[i]?.[1] ?? 0 });
    return out;
  }

  /** The frame for the top `depth` units. */
  frame(depth: number, simple: boolean, streamType: "SNAPSHOT" | "REALTIME", level: number, units = this.units, ts = this.ts): string {
    const n = (m: number, exp: number) => jsonNumber(m, exp, this.rng.next() < 0.2);
    const top = units.slice(0, depth);
    const tas = top.reduce((s, u) => s + u.as, 0);
    const tbs = top.reduce((s, u) => s + u.bs, 0);
    const k = simple
      ? { ty: "ty", cd: "cd", tms: "tms", tas: "tas", tbs: "tbs", obu: "obu", ap: "ap", bp: "bp", as: "as", bs: "bs", st: "st", lv: "lv" }
      : { ty: "type", cd: "code", tms: "timestamp", tas: "total_ask_size", tbs: "total_bid_size", obu: "orderbook_units", ap: "ask_price", bp: "bid_price", as: "ask_size", bs: "bid_size", st: "stream_type", lv: "level" };
    const obu = top.map((u) => `{"${k.ap}":${n(u.ap, this.pe)},"${k.bp}":${n(u.bp, this.pe)},"${k.as}":${n(u.as, this.qe)},"${k.bs}":${n(u.bs, this.qe)}}`).join(",");
    const head = `"${k.cd}":"${this.code}","${k.tms}":${ts}`;
    const body = `"${k.tas}":${n(tas, this.qe)},"${k.tbs}":${n(tbs, this.qe)},"${k.obu}":[${obu}],"${k.st}":"${streamType}","${k.lv}":${level}`;
    // Keys in any order: now and then the code comes after the units.
    return this.rng.next() < 0.1 ? `{"${k.ty}":"orderbook",${body},${head}}` : `{"${k.ty}":"orderbook",${head},${body}}`;
  }

  /** What a client should hold after the top `depth` units: sides with price and size > 0, as decimal strings. */
  book(depth: number, units = this.units): { bids: Map<string, string>; asks: Map<string, string> } {
    const bids = new Map<string, string>();
    const asks = new Map<string, string>();
    for (const u of units.slice(0, depth)) {
      if (u.ap > 0 && u.as > 0) asks.set(formatFixed(u.ap, this.pe), formatFixed(u.as, this.qe));
      if (u.bp > 0 && u.bs > 0) bids.set(formatFixed(u.bp, this.pe), formatFixed(u.bs, this.qe));
    }
    return { bids, asks };
  }
}
