/**
 * Feeder.stop() sends its END_OF_SESSION as soon as its books are HALTED and its venues told to stop, not after
 * their sockets have closed (each waited for up to 1 s): the callers bound the stop (`feeder run`'s 1.5 s, a worker's
 * failed start 1.5 s: worker-main.ts), and a stop cut off there used to end with the books HALTED but no END, so
 * subscribers saw that stream go quiet instead of end. Here the venue's stop never finishes at all.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { writeXrpConfig } from "../support/xrp-capture.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

test("stop(): HALTED and END_OF_SESSION go out while the venue's stop is still under way (here: never done)", async () => {
  const dest = uniqueDestination(917);
  const config = loadConfigFile(writeXrpConfig(tempDir("feeder-stop-end-"), dest));
  const feeder = new Feeder({ config, log: silentLogger, replay: true });
  const subscriber = new FeedSubscriber({ groups: [{ ...dest, iface: "127.0.0.1" }], staleAfterMs: 0 });
  stops.push(() => subscriber.stop());
  const ended: number[] = [];
  const halted: number[] = [];
  subscriber.on("session", (e) => e.kind === "ended" && ended.push(e.sourceId));
  subscriber.on("status", (e) => e.state === BookState.HALTED && e.reason === StatusReason.SHUTDOWN && halted.push(e.book.instrumentId));
  await subscriber.start();
  await feeder.start();
  const ids = feeder.books().map((b) => b.instrument.instrumentId);
  expect(ids.length).toBe(1);
  await waitFor(() => subscriber.book(ids[0]!) !== undefined, "the book's definition received");
  // The venue's stop runs (its sockets close) but never says it is done: a close the venue does not answer.
  const pipelines = (feeder as unknown as { pipelines: { adapter: { stop(): Promise<void> } }[] }).pipelines;
  for (const p of pipelines) {
    const stop = p.adapter.stop.bind(p.adapter);
    p.adapter.stop = () => stop().then(() => new Promise<void>(() => undefined));
  }
  let stopped = false;
  void feeder.stop().then(() => void (stopped = true));
  // Before, the END waited for the venue's stop: never sent here (cut off at 1.5 s by `feeder run` or a worker).
  await waitFor(() => ended.includes(feeder.publisher.sourceId), "END_OF_SESSION while the venue's stop is under way");
  expect(halted).toEqual(ids);
  expect(stopped).toBe(false);
});
