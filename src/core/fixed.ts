// HOT PATH: no allocation (parseFixedCodes; the throwing and formatting functions are cold)
/**
 * Exact decimal string ↔ fixed-point integer conversion. A mantissa m at exponent e means m × 10^-e; e is the
 * number of decimal places (≥ 0). Mantissas are non-negative integers ≤ Number.MAX_SAFE_INTEGER (2^53 − 1), so
 * a JS number holds them exactly and the wire writes them as i64 (core/i64.ts).
 *
 * No float arithmetic touches a fraction: digits accumulate into an integer, and every step is checked against
 * 2^53 (`Math.round(parseFloat(s) * 10^e)` is off by one in ~1 % of cases above 2^51 and rounds silently when a
 * string has more decimals than e: docs/runtime-costs.md §2).
 *
 * Accepted syntax: `digits [ "." digits ]` — no sign, no exponent, no whitespace, at least one digit on each side
 * of a dot. Trailing zeros beyond e are accepted ("16493.50" at e = 1 → 164935) because venues pad prices to
 * their display precision; a non-zero digit beyond e is rejected, never rounded.
 * @module
 */
import { FixedPointError } from "./errors.ts";

/** Largest exponent accepted. 10^22 is the largest power of ten a double holds exactly. */
export const MAX_FIXED_EXP = 22;

/** Largest mantissa: 2^53 − 1. */
export const MAX_MANTISSA = Number.MAX_SAFE_INTEGER;

/** Exact powers of ten, 10^0 … 10^22. */
export const POW10: Float64Array = new Float64Array(MAX_FIXED_EXP + 1);
for (let i = 0, p = 1; i <= MAX_FIXED_EXP; i++, p *= 10) POW10[i] = p;

const CH_0 = 48;
const CH_9 = 57;
const CH_DOT = 46;
const CH_MINUS = 45;

/**
 * Parses `s.slice(start, end)` as a decimal at exponent `exp` without creating the slice.
 * Returns the mantissa, or **-1** for any error (malformed, too many non-zero decimals, ≥ 2^53, bad exponent):
 * valid mantissas are ≥ 0, so -1 cannot be a value, and unlike NaN it stays an int-typed number in the JIT.
 * Call `parseFixed(s.slice(start, end), exp)` on the cold path to learn the reason.
 */
export function parseFixedCodes(s: string, start: number, end: number, exp: number): number {
  if (!(exp >= 0 && exp <= MAX_FIXED_EXP && (exp | 0) === exp) || start >= end) return -1;
  let mantissa = 0;
  let i = start;
  // Integer part: at least one digit.
  let c = s.charCodeAt(i);
  if (c < CH_0 || c > CH_9) return -1;
  do {
    mantissa = mantissa * 10 + (c - CH_0);
    // A true result > 2^53 − 1 rounds to ≥ 2^53, so this comparison is exact even when the product is not.
    if (mantissa > MAX_MANTISSA) return -1;
    if (++i === end) break;
    c = s.charCodeAt(i);
  } while (c >= CH_0 && c <= CH_9);
  let fracDigits = 0;
  if (i < end) {
    if (c !== CH_DOT || ++i === end) return -1; // "1x", "1."
    do {
      c = s.charCodeAt(i);
      if (c < CH_0 || c > CH_9) return -1; // also rejects "1.2.3"
      if (fracDigits < exp) {
        mantissa = mantissa * 10 + (c - CH_0);
        if (mantissa > MAX_MANTISSA) return -1;
        fracDigits++;
      } else if (c !== CH_0) {
        return -1; // a non-zero digit beyond the exponent would need rounding
      }
    } while (++i < end);
  }
  if (fracDigits < exp) {
    mantissa *= POW10[exp - fracDigits];
    if (mantissa > MAX_MANTISSA) return -1;
  }
  return mantissa;
}

/** Parses a whole decimal string at exponent `exp`; throws FixedPointError naming what was wrong. */
export function parseFixed(s: string, exp: number): number {
  const mantissa = parseFixedCodes(s, 0, s.length, exp);
  if (mantissa >= 0) return mantissa;
  throw diagnose(s, exp);
}

/** Cold path: says why parseFixedCodes rejected `s`. */
function diagnose(s: string, exp: number): FixedPointError {
  if (!(exp >= 0 && exp <= MAX_FIXED_EXP && (exp | 0) === exp)) {
    return new FixedPointError(s, "bad_exponent", `exponent ${exp} is not an integer in 0..${MAX_FIXED_EXP}`);
  }
  if (s.charCodeAt(0) === CH_MINUS && /^-\d+(\.\d+)?$/.test(s)) {
    return new FixedPointError(s, "out_of_range", "negative values are not allowed");
  }
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (m === null) return new FixedPointError(s, "malformed", "expected digits with an optional '.' and digits");
  const frac = m[2] ?? "";
  if (/[1-9]/.test(frac.slice(exp))) {
    return new FixedPointError(s, "too_many_decimals", `more than ${exp} significant decimals`);
  }
  return new FixedPointError(s, "out_of_range", `value × 10^${exp} exceeds 2^53 − 1`);
}

/**
 * Formats a mantissa exactly with `exp` decimals (always exactly `exp` of them): (19531, 4) → "1.9531",
 * (100, 2) → "1.00". Negative mantissas get a leading "-". Throws RangeError for a non-integer or unsafe value.
 */
export function formatFixed(mantissa: number, exp: number): string {
  if (!Number.isSafeInteger(mantissa)) throw new RangeError(`formatFixed: ${mantissa} is not a safe integer`);
  if (!(exp >= 0 && exp <= MAX_FIXED_EXP && (exp | 0) === exp)) throw new RangeError(`formatFixed: bad exponent ${exp}`);
  const negative = mantissa < 0;
  // Integers below 2^53 print as plain digits (no exponent notation below 1e21).
  let digits = String(negative ? -mantissa : mantissa);
  if (exp > 0) {
    if (digits.length <= exp) digits = "0".repeat(exp - digits.length + 1) + digits;
    digits = digits.slice(0, digits.length - exp) + "." + digits.slice(digits.length - exp);
  }
  return negative ? "-" + digits : digits;
}

/**
 * Decimal places needed to write every multiple of a tick or lot step exactly, ignoring trailing zeros:
 * "0.10" → 1, "0.0001" → 4, "5" → 0, "0.5" → 1, "10" → 0, "1e-8" → 8 (some venues print steps in exponent form).
 * Throws FixedPointError for a malformed, zero or negative step.
 */
export function exponentOf(step: string): number {
  const m = /^(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(step);
  if (m === null) throw new FixedPointError(step, "malformed", "a step must be a positive decimal like 0.01");
  const intDigits = m[1]!;
  const frac = (m[2] ?? "").replace(/0+$/, "");
  const e10 = m[3] === undefined ? 0 : Number(m[3]);
  if (!/[1-9]/.test(intDigits + frac)) throw new FixedPointError(step, "out_of_range", "a step must be > 0");
  // step = digits × 10^-scale; the integer part's trailing zeros count too when the exponent moves them behind the
  // point ("10e-1" is 1: 0 decimals; "100e-24" is 1e-22: 22). Until 2026-12-06 only the fraction's were dropped.
  let scale = frac.length - e10;
  for (let i = intDigits.length - 1; frac.length === 0 && scale > 0 && i > 0 && intDigits[i] === "0"; i--) scale--;
  const exp = Math.max(0, scale);
  if (exp > MAX_FIXED_EXP) throw new FixedPointError(step, "bad_exponent", `needs ${exp} decimals (max ${MAX_FIXED_EXP})`);
  return exp;
}

/**
 * Whether two step texts (a tick or lot size) are one value, compared as exact decimals: venues pad steps to their
 * display precision, so "0.10" and "0.1" (or "1e-1") are the same step. A text exponentOf refuses equals only itself
 * (never throws). Cold.
 */
export function sameStep(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    const exp = exponentOf(a);
    return exp === exponentOf(b) && parseJsonNumber(a, exp) === parseJsonNumber(b, exp);
  } catch {
    return false;
  }
}

const CH_E = 101;
const CH_UPPER_E = 69;
const CH_PLUS = 43;
/** Exponent digits beyond this are refused (no value of interest needs 10^±9999). */
const MAX_JSON_EXP_DIGITS = 4;

/**
 * Parses the JSON number `s[start, end)` exactly at exponent `exp`, exponent form included ("4714.0", "1e-4",
 * "2.571E-5", "1.16539E8"), without a double and without creating a slice. The grammar is JSON's
 * (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`) minus the sign: a leading zero before more digits ("01") is refused
 * as JSON.parse refuses it, and a negative value is refused as a book cannot hold it. The value × 10^exp must be an
 * integer (digits beyond it must be zeros, never rounded) ≤ 2^53 − 1. Returns the mantissa, or **-1** for any error,
 * like parseFixedCodes. Venues that send bare JSON numbers (Deribit; another venue's parser may add its own
 * equivalent) use it; the plain form ("123.45") gives the same result as parseFixedCodes. HOT PATH: no allocation.
 */
export function parseJsonNumberCodes(s: string, start: number, end: number, exp: number): number {
  if (!(exp >= 0 && exp <= MAX_FIXED_EXP && (exp | 0) === exp) || start >= end) return -1;
  // Integer part: "0" or [1-9]digits.
  let i = start;
  let c = s.charCodeAt(i);
  if (c < CH_0 || c > CH_9) return -1;
  const intStart = i;
  if (c === CH_0) {
    i++;
    if (i < end) {
      c = s.charCodeAt(i);
      if (c >= CH_0 && c <= CH_9) return -1; // "01": not JSON
    }
  } else {
    do {
      i++;
      if (i === end) break;
      c = s.charCodeAt(i);
    } while (c >= CH_0 && c <= CH_9);
  }
  const intEnd = i;
  let fracStart = i;
  let fracEnd = i;
  if (i < end && s.charCodeAt(i) === CH_DOT) {
    i++;
    fracStart = i;
    while (i < end) {
      c = s.charCodeAt(i);
      if (c < CH_0 || c > CH_9) break;
      i++;
    }
    fracEnd = i;
    if (fracEnd === fracStart) return -1; // "1.", "1.e5"
  }
  let e10 = 0;
  if (i < end) {
    c = s.charCodeAt(i);
    if (c !== CH_E && c !== CH_UPPER_E) return -1;
    i++;
    if (i === end) return -1;
    let negative = false;
    c = s.charCodeAt(i);
    if (c === CH_MINUS || c === CH_PLUS) {
      negative = c === CH_MINUS;
      i++;
      if (i === end) return -1;
    }
    const expStart = i;
    while (i < end) {
      c = s.charCodeAt(i);
      if (c < CH_0 || c > CH_9) return -1;
      // Leading zeros of the exponent are valid JSON ("1e-05") and do not count against its size.
      if (e10 === 0 && c === CH_0) {
        i++;
        continue;
      }
      e10 = e10 * 10 + (c - CH_0);
      i++;
      if (i - expStart > MAX_JSON_EXP_DIGITS + 16) return -1;
    }
    if (i === expStart) return -1;
    if (e10 >= 10 ** MAX_JSON_EXP_DIGITS) return -1;
    if (negative) e10 = -e10;
  }
  // The digits D = int digits ++ frac digits; value × 10^exp = D × 10^shift.
  const intLen = intEnd - intStart;
  const total = intLen + (fracEnd - fracStart);
  const shift = exp + e10 - (fracEnd - fracStart);
  // Digits kept: all of them when shift ≥ 0, else all but the last -shift, which must be zeros.
  const keep = shift >= 0 ? total : total + shift;
  let mantissa = 0;
  for (let k = 0; k < total; k++) {
    const d = s.charCodeAt(k < intLen ? intStart + k : fracStart + (k - intLen)) - CH_0;
    if (k < keep) {
      mantissa = mantissa * 10 + d;
      if (mantissa > MAX_MANTISSA) return -1;
    } else if (d !== 0) {
      return -1; // a non-zero digit below 10^-exp would need rounding
    }
  }
  if (shift > 0 && mantissa !== 0) {
    if (shift > MAX_FIXED_EXP) return -1;
    mantissa *= POW10[shift]!;
    if (mantissa > MAX_MANTISSA) return -1;
  }
  return mantissa;
}

/**
 * Exponents beyond this are not read further: it exceeds the digit count of any string or frame, so no fraction or
 * integer part can bring such a value back into range (any non-zero one overflows or needs rounding), and e10 × 10 + 9
 * stays exact. It was 100,000 until 2026-12-06, which a 100,001-digit fraction did offset: "0.0…01e1000010" read as 1.
 */
const MAX_E10_DIGITS_VALUE = 100_000_000_000_000;

/**
 * Parses the JSON number `b[start, end)` (UTF-8 bytes) at exponent `exp`, exactly: `int [ "." digits ] [ (e|E)
 * [+|-] digits ]` with JSON's rules (no leading zeros, no sign, digits on both sides of a dot), so "1.16539E8" at
 * exp 0 → 116539000 and "2.571E-5" at exp 8 → 2571. The value is never formed as a double: its digits accumulate
 * into an integer and the exponent only moves the decimal point, so every result is exact or refused.
 * Returns the mantissa, or -1 for anything malformed, negative, needing rounding (a non-zero digit beyond `exp`
 * decimals) or ≥ 2^53. HOT PATH: no allocation.
 */
export function parseJsonNumberBytes(b: Uint8Array, start: number, end: number, exp: number): number {
  if (!(exp >= 0 && exp <= MAX_FIXED_EXP && (exp | 0) === exp) || start >= end) return -1;
  // Pass 1: the shape, digit counts and the decimal exponent.
  let i = start;
  let c = b[i]!;
  if (c < CH_0 || c > CH_9) return -1;
  if (c === CH_0 && i + 1 < end && b[i + 1]! >= CH_0 && b[i + 1]! <= CH_9) return -1; // "01": not JSON
  while (i < end && b[i]! >= CH_0 && b[i]! <= CH_9) i++;
  const intEnd = i;
  let fracStart = i;
  let fracEnd = i;
  if (i < end && b[i] === CH_DOT) {
    fracStart = ++i;
    while (i < end && b[i]! >= CH_0 && b[i]! <= CH_9) i++;
    fracEnd = i;
    if (fracEnd === fracStart) return -1; // "1." or "1.e5"
  }
  let e10 = 0;
  if (i < end && (b[i] === CH_E || b[i] === CH_UPPER_E)) {
    i++;
    let negative = false;
    if (i < end && (b[i] === CH_PLUS || b[i] === CH_MINUS)) negative = b[i++] === CH_MINUS;
    const eStart = i;
    while (i < end && b[i]! >= CH_0 && b[i]! <= CH_9) {
      if (e10 < MAX_E10_DIGITS_VALUE) e10 = e10 * 10 + (b[i]! - CH_0);
      i++;
    }
    if (i === eStart) return -1;
    if (negative) e10 = -e10;
  }
  if (i !== end) return -1;
  // Value = D × 10^(e10 − fracDigits) for the digit string D; mantissa = D × 10^shift.
  const fracDigits = fracEnd - fracStart;
  const shift = exp + e10 - fracDigits;
  const nDigits = intEnd - start + fracDigits;
  // Digits at index ≥ keep would need a negative power: they must be zero and are dropped.
  const keep = shift < 0 ? nDigits + shift : nDigits;
  let mantissa = 0;
  let k = 0;
  for (let j = start; j < fracEnd; j++) {
    if (j === intEnd) {
      j = fracStart - 1; // skip the dot
      continue;
    }
    const d = b[j]! - CH_0;
    if (k++ < keep) {
      mantissa = mantissa * 10 + d;
      if (mantissa > MAX_MANTISSA) return -1;
    } else if (d !== 0) return -1;
  }
  if (shift > 0 && mantissa !== 0) {
    if (shift > MAX_FIXED_EXP) return -1;
    mantissa *= POW10[shift]!;
    if (mantissa > MAX_MANTISSA) return -1;
  }
  return mantissa;
}

const numberEncoder = new TextEncoder();

/** parseJsonNumberBytes for a string (cold paths: JSON fallback, tests); throws FixedPointError naming the problem. */
export function parseJsonNumber(s: string, exp: number): number {
  const m = parseJsonNumberBytes(numberEncoder.encode(s), 0, s.length, exp);
  if (m >= 0 && /^[\x20-\x7e]*$/.test(s)) return m;
  if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(s)) throw new FixedPointError(s, "malformed", "expected a JSON number");
  if (s.startsWith("-")) throw new FixedPointError(s, "out_of_range", "negative values are not allowed");
  throw new FixedPointError(s, "out_of_range", `not exact at ${exp} decimals, or × 10^${exp} exceeds 2^53 − 1`);
}
