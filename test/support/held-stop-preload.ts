/**
 * Preloaded into a `feeder` child (bun --preload): Feeder.stop() does its work, says `test: stop held` on stderr, then
 * waits for SIGUSR2, so a test can signal the process again while its stop is under way.
 */
import { Feeder } from "../../src/app/feeder.ts";

const realStop = Feeder.prototype.stop;
Feeder.prototype.stop = async function (this: Feeder): Promise<void> {
  await realStop.call(this);
  process.stderr.write("test: stop held\n");
  await new Promise<void>((resolve) => process.once("SIGUSR2", () => resolve()));
};
