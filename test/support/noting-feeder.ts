/** A fake feeder for replayCaptures that notes, in order, what a replay does to the books. */
import type { Feeder } from "../../src/app/feeder.ts";

/**
 * Each frame fed (as `frameLabel` names it; the frame itself by default), each REST answer as `rest <url>` when
 * `rests`, each capture gap as "gap" and each time jump as "jump".
 */
export function notingFeeder(opts: { frameLabel?: (frame: string) => string; rests?: boolean } = {}): { feeder: Feeder; calls: string[] } {
  const calls: string[] = [];
  const label = opts.frameLabel ?? ((frame: string) => frame);
  const feeder = {
    ingest: (_v: string, _m: string, _c: string, frame: string) => (calls.push(label(frame)), true),
    ingestRest: (_v: string, _m: string, _c: string, url: string) => (opts.rests === true && calls.push(`rest ${url}`), true),
    captureGap: () => void calls.push("gap"),
    replayTimeJump: () => void calls.push("jump"),
    replayClockAt: () => undefined,
  } as unknown as Feeder;
  return { feeder, calls };
}

/** An OKX books frame's instrument, e.g. "SOL-USDT". */
export function okxInstId(frame: string): string {
  return (JSON.parse(frame) as { arg: { instId: string } }).arg.instId;
}
