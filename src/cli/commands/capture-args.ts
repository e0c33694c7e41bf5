/**
 * Argument checks shared by `record`, `replay`, `export` and `bridge`: numbers (number-args.ts), byte sizes and
 * capture files, each refused with a usage error naming the flag or the file before anything starts.
 * @module
 */
import { statSync } from "node:fs";
import { captureFileProblem } from "../../record/capture.ts";
import { UsageError } from "../command.ts";
import { decimal, decimalInteger } from "./number-args.ts";

/** A positive number for `--name`, or `dflt` when the flag is absent. */
export function positiveNumber(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = decimal(v);
  if (!Number.isFinite(n) || !(n > 0)) throw new UsageError(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

/** A number ≥ 0 (0 = off) for `--name`. */
export function nonNegativeNumber(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = decimal(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number ≥ 0, got ${JSON.stringify(v)}`);
  return n;
}

/** A positive integer for `--name`. */
export function positiveInteger(v: unknown, name: string, dflt: number): number {
  const n = positiveNumber(v, name, dflt);
  if (v !== undefined && Number.isNaN(decimalInteger(v))) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Bytes from `123`, `500M`, `20G`, `1.5T`, `1e9` (the number as every other flag's, number-args.ts; binary units,
 * optional trailing B, or iB after a unit), a whole number of them a double holds exactly (at most 8191T): a size of
 * 400 digits was Infinity and reached JetStream so.
 */
export function byteSize(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  // Until 2026-12-06 a size had a grammar of its own: `1e9` and `.5G` were refused though README gives `1e3`, `.5` as numbers.
  const m = typeof v === "string" ? /^(.*?)(?:([KMGT])i?)?B?$/i.exec(v) : null;
  const bytes = m ? Math.floor(decimal(m[1]) * SIZE_UNITS[(m[2] ?? "").toUpperCase()]!) : NaN;
  if (!(bytes > 0)) throw new UsageError(`--${name} must be a size such as 500M, 20G or a number of bytes, got ${JSON.stringify(v)}`);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--${name} must be at most 8191T, got ${JSON.stringify(v)}`);
  return bytes;
}

/**
 * Every named capture must exist and carry a capture header, and be named once (by any path: the same device and
 * inode): one named twice was exported twice, every row repeated, without a word, and replayed twice (its second pass
 * all out of order). All problems are reported together.
 */
export function checkCaptureFiles(files: readonly string[]): void {
  if (files.length === 0) throw new UsageError("name at least one capture file");
  const problems = files.map(captureFileProblem).filter((p): p is string => p !== undefined);
  const firstName = new Map<string, string>();
  for (const f of files) {
    let key: string;
    try {
      const st = statSync(f);
      key = `${st.dev}:${st.ino}`;
    } catch {
      continue; // named by captureFileProblem
    }
    const earlier = firstName.get(key);
    if (earlier === undefined) firstName.set(key, f);
    else problems.push(earlier === f ? `${f}: named more than once` : `${f}: the same file as ${earlier}, named before it`);
  }
  if (problems.length === 1) throw new UsageError(`capture file ${problems[0]}`);
  if (problems.length > 1) throw new UsageError(`capture files unusable:\n  ${problems.join("\n  ")}`);
}
