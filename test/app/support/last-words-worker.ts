/**
 * The feeder worker (src/app/worker-main.ts), unchanged, except that its Feeder's latencySnapshot() logs 100 lines
 * through the worker's own logger ("last words", i = 0…99) and then ends the thread (process.exit), as a worker that
 * dies right after logging why would: a test checks that those lines are written.
 */
import { Feeder } from "../../../src/app/feeder.ts";
import type { Logger } from "../../../src/core/log.ts";
import "../../../src/app/worker-main.ts";

Feeder.prototype.latencySnapshot = function (this: Feeder): never {
  const log = (this as unknown as { opts: { log: Logger } }).opts.log;
  for (let i = 0; i < 100; i++) log.error("last words", { i });
  process.exit(7);
};
