/**
 * The simulators' `malformed` fault (Bybit, OKX, Deribit) garbles a frame one way.
 * @module
 */
import type { Rng } from "./rng.ts";

/**
 * `frame` garbled after its `"data"` (so a reader can tell whose frame was hit): half the time truncated, else the
 * first match of `level` in its data replaced by `broken` (a level's price made no number), truncated when the data
 * has no such level (a frame of empty sides would otherwise go out intact).
 */
export function garbleFrame(frame: string, rng: Rng, level: RegExp, broken: string): string {
  const dataAt = frame.indexOf('"data"');
  const truncated = () => frame.slice(0, Math.max(dataAt + 12, Math.floor(frame.length * 0.6)));
  if (rng.next() < 0.5 || dataAt < 0) return truncated();
  const data = frame.slice(dataAt);
  const garbled = data.replace(level, broken);
  return garbled === data ? truncated() : frame.slice(0, dataAt) + garbled;
}
