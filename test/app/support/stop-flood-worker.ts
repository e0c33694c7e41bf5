/**
 * The feeder worker (src/app/worker-main.ts), unchanged, except that its Feeder's stop() first logs FLOOD_LINES
 * lines of ~1 KiB ("flood", i = 0…) through the worker's own logger: more than the 1 MiB a worker may have on the way
 * to stderr, so with a stderr that takes nothing the last of them are dropped as the worker stops (a test checks that
 * the count is still reported).
 */
import { Feeder } from "../../../src/app/feeder.ts";
import type { Logger } from "../../../src/core/log.ts";
import "../../../src/app/worker-main.ts";

export const FLOOD_LINES = 1500;
const stop = Feeder.prototype.stop;
Feeder.prototype.stop = function (this: Feeder): Promise<void> {
  const log = (this as unknown as { opts: { log: Logger } }).opts.log;
  for (let i = 0; i < FLOOD_LINES; i++) log.info("flood", { i, pad: "p".repeat(1000) });
  return stop.call(this);
};
