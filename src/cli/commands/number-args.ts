/**
 * How every command reads a number from its command line. `Number(text)` took more than a number: "" and " " as 0
 * (`bridge from-nats --source-id ""` ran as source id 0), hex, binary and octal (`sim --port 0x50` served port 80),
 * surrounding spaces, and integers beyond 2^53 rounded to another one. Only an unsigned decimal is a number here
 * (`5`, `0.25`, `.5`, `1e3`); anything else is NaN, which each caller refuses naming its flag (exit 2).
 * @module
 */
import { UsageError } from "../command.ts";

const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** `v` as a number when it is written as an unsigned decimal, else NaN (also for a value that is no string). */
export function decimal(v: unknown): number {
  return typeof v === "string" && DECIMAL.test(v) ? Number(v) : NaN;
}

/** `v` as an integer when it is an unsigned decimal integer that a double holds exactly (≤ 2^53 − 1), else NaN. */
export function decimalInteger(v: unknown): number {
  const n = decimal(v);
  return Number.isSafeInteger(n) ? n : NaN;
}

/** Flag `--name`'s integer in min..max (`fallback` when not given), else a UsageError naming the flag (exit 2). */
export function intIn(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = decimalInteger(v);
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}
