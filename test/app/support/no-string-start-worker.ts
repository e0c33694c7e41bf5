/**
 * The feeder worker (src/app/worker-main.ts), unchanged, except that its Feeder's start throws a value with no string
 * form (Object.create(null)): a test checks that the worker still answers `start-failed`, naming it.
 */
import { Feeder } from "../../../src/app/feeder.ts";
import "../../../src/app/worker-main.ts";

Feeder.prototype.start = function (): Promise<void> {
  return Promise.reject(Object.create(null));
};
