/**
 * The simulated market's fair price for one symbol: an Ornstein–Uhlenbeck process on the log price around the
 * symbol's reference price. It moves like a market over seconds and minutes (volatility per √s) and is pulled back
 * towards the reference (reversion time), so a book that follows it stays near that price for any run length.
 * Exact discretisation, so any step length gives the same statistics:
 * x' = x·e^(−dt/τ) + σ·√(τ/2·(1 − e^(−2dt/τ)))·N(0,1), with x = log(price / reference).
 * @module
 */
import type { Rng } from "./rng.ts";

export interface FairValueSpec {
  /** Reference price the fair price reverts to. */
  readonly mid: number;
  /** Standard deviation of log-price changes per √second (1e-4 ≈ 0.01 % in a second, ≈ 56 % a year). */
  readonly volPerSqrtS: number;
  /** Mean-reversion time τ in seconds: a deviation decays as e^(−t/τ). */
  readonly reversionS: number;
}

/** Standard deviation of log(price / reference) once the process is stationary: σ·√(τ/2). */
export function stationaryLogStd(spec: FairValueSpec): number {
  return spec.volPerSqrtS * Math.sqrt(spec.reversionS / 2);
}

export class FairValue {
  /** log(price / reference); starts at the reference. */
  x = 0;

  price(spec: FairValueSpec): number {
    return spec.mid * Math.exp(this.x);
  }

  /** Advances the process by `dtS` seconds of market time. */
  advance(spec: FairValueSpec, dtS: number, rng: Rng): void {
    if (!(dtS > 0)) return;
    const decay = Math.exp(-dtS / spec.reversionS);
    const sd = spec.volPerSqrtS * Math.sqrt((spec.reversionS / 2) * (1 - decay * decay));
    this.x = this.x * decay + sd * rng.normal();
  }
}
