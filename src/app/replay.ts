/**
 * Feeds capture files through a Feeder started with `replay: true`, as fast as possible or at the recorded pace.
 * @module
 */
import { readCapture } from "../record/capture.ts";
import type { Feeder } from "./feeder.ts";

export interface ReplayOptions {
  /** "fast": back to back; "recorded": the gaps between receive times, divided by `speed`. */
  pace: "fast" | "recorded";
  speed?: number;
  /** Stops early when it resolves (SIGINT). */
  stopSignal?: Promise<unknown>;
}

export interface ReplayResult {
  frames: number;
  ingested: number;
  /** Frames whose venue or market has no subscription in the configuration. */
  skipped: number;
  /** Per file, why reading stopped early (truncated or corrupt tail), if it did. */
  truncated: { file: string; why: string }[];
  stoppedEarly: boolean;
}

/** Frames between yields to the event loop in fast mode, so timers and the HTTP server stay responsive. */
const YIELD_EVERY_FRAMES = 512;

export async function replayCaptures(feeder: Feeder, files: readonly string[], opts: ReplayOptions): Promise<ReplayResult> {
  const result: ReplayResult = { frames: 0, ingested: 0, skipped: 0, truncated: [], stoppedEarly: false };
  let stop = false;
  opts.stopSignal?.then(() => (stop = true));
  const speed = opts.speed ?? 1;
  const decoder = new TextDecoder();
  let firstRecUs = -1;
  let firstWallMs = 0;
  for (const file of files) {
    const { records, truncated } = readCapture(file);
    if (truncated) result.truncated.push({ file, why: truncated });
    for (const r of records) {
      if (stop) {
        result.stoppedEarly = true;
        return result;
      }
      result.frames++;
      if (opts.pace === "recorded") {
        if (firstRecUs < 0) {
          firstRecUs = r.tsRecvUs;
          firstWallMs = performance.now();
        }
        const dueMs = firstWallMs + (r.tsRecvUs - firstRecUs) / 1000 / speed;
        const waitMs = dueMs - performance.now();
        if (waitMs > 1) await Bun.sleep(waitMs);
      } else if (result.frames % YIELD_EVERY_FRAMES === 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const frame = typeof r.frame === "string" ? r.frame : decoder.decode(r.frame);
      const ok = r.url !== undefined ? feeder.ingestRest(r.venue, r.market, r.connection, r.url, frame, r.tsRecvUs) : feeder.ingest(r.venue, r.market, r.connection, frame, r.tsRecvUs);
      if (ok) result.ingested++;
      else result.skipped++;
    }
  }
  return result;
}
