/**
 * Random number texts for the WebAssembly side reader's differential tests (test/venues/binance and okx
 * levels-wasm.test.ts): a seeded generator, and numbers of every shape the reader takes or must decline. `noise`
 * (per body or frame): 0 = only numbers a venue could send, else 1 in `noise` numbers is unusual; `longInts`: some
 * numbers get long integer parts, past the module's 8-digit lane and across the 15-digit rule.
 */
export interface NumberShape {
  /** Fraction digits: 1 … maxFracDigits. */
  maxFracDigits: number;
  /** Long integer parts (when `longInts`): longIntFrom … 16 digits, for 1 in longIntOneIn numbers. */
  longIntFrom: number;
  longIntOneIn: number;
}

export class RandomLevelText {
  noise = 0;
  longInts = false;

  constructor(
    private seed: number,
    private readonly shape: NumberShape,
  ) {}

  /** 0 … n − 1 (a linear congruential generator: the same sequence for a seed on every run). */
  rnd(n: number): number {
    this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
    return (this.seed >>> 8) % n;
  }

  digits(n: number, first1to9 = false): string {
    let s = "";
    for (let i = 0; i < n; i++) s += String(i === 0 && first1to9 ? 1 + this.rnd(9) : this.rnd(10));
    return s;
  }

  /** A number string, plain for `exp` (zeros beyond it) unless `noise` says otherwise. */
  number(exp: number): string {
    const rnd = (n: number) => this.rnd(n);
    const noise = this.noise;
    const r = noise === 0 ? 8 + rnd(92) : rnd(noise);
    if (r === 0) return "-1.5";
    if (r === 1) return "1e5";
    if (r === 2) return ".5";
    if (r === 3) return "1.";
    if (r === 4) return "1.2.3";
    if (r === 5) return "";
    if (r === 6) return "1\\u0030";
    if (r === 7) return "1é";
    const { longIntFrom, longIntOneIn, maxFracDigits } = this.shape;
    const intLen = this.longInts && rnd(longIntOneIn) === 0 ? longIntFrom + rnd(17 - longIntFrom) : r < 20 ? 7 + rnd(4) : 1 + rnd(6);
    const s = r < 25 ? "0" + this.digits(intLen - 1) : this.digits(intLen, rnd(4) !== 0);
    if (rnd(3) === 0) return s;
    const fracLen = 1 + rnd(maxFracDigits);
    let frac = "";
    for (let i = 0; i < fracLen; i++) frac += i < exp || (noise !== 0 && rnd(noise) === 0) ? String(rnd(10)) : "0";
    return s + "." + frac;
  }
}
