/**
 * The feeder worker (src/app/worker-main.ts), unchanged, except that its Feeder's latencySnapshot() throws, as a
 * bug in a status path would, and its metricsSnapshot() throws a value with no string form (Object.create(null)): a
 * test checks that answering a status request cannot end the worker, and that the failure is named.
 */
import { Feeder } from "../../../src/app/feeder.ts";
import "../../../src/app/worker-main.ts";

Feeder.prototype.latencySnapshot = function (): never {
  throw new Error("test: latencySnapshot fails");
};
Feeder.prototype.metricsSnapshot = function (): never {
  throw Object.create(null);
};
