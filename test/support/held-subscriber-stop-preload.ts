/**
 * Preloaded into a `feeder listen` child (bun --preload): FeedSubscriber.stop() does its work, says `test: stop held`
 * on stderr, then never ends, so a test can signal the process again while its stop is under way.
 */
import { FeedSubscriber } from "../../src/subscriber/feed-subscriber.ts";

const realStop = FeedSubscriber.prototype.stop;
FeedSubscriber.prototype.stop = async function (this: FeedSubscriber): Promise<void> {
  await realStop.call(this);
  process.stderr.write("test: stop held\n");
  await new Promise<void>(() => undefined);
};
