/**
 * Latency across a step of the wall clock with both real clocks in play: a FeedPublisher's send times (core/clock.ts
 * nowUs, moved at the end of a turn at most a second after the step) and a FeedSubscriber's shown receipt
 * (mono-clock.ts shownUs, moved by its own timer), over multicast on 127.0.0.1 (TTL 1). In one process both hosts
 * step at once; each clock follows on its own, so for up to about a second the two disagree. What is checked: once
 * both have followed, every update's latency is the feed's again (under a second), its receipt and send time on the
 * stepped wall clock, and it stays so. Date.now stubbed (test/support/stepped-wall-clock.ts).
 */
import { expect, test } from "vitest";
import { FeedSubscriber, type UpdateEvent } from "../../src/subscriber/index.ts";
import { checkWallClock } from "../../src/subscriber/mono-clock.ts";
import { checkWallClock as checkPublisherClock } from "../../src/core/clock.ts";
import { startTickingPublisher } from "../cli/ticking-publisher.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { untilMono, useSteppedWallClock } from "../support/stepped-wall-clock.ts";

const HOUR_MS = 3_600_000;
const clock = useSteppedWallClock();

test("after a step either way, latencies from a real publisher are the feed's again once both clocks followed", async () => {
  const { group, port } = uniqueDestination(283);
  let stepMs = 0;
  clock.cleanups.push(async () => {
    clock.step(-stepMs);
    checkWallClock();
    checkPublisherClock();
  });
  const publisherCleanups: (() => unknown)[] = [];
  clock.cleanups.push(async () => {
    while (publisherCleanups.length > 0) await publisherCleanups.pop()!();
  });
  await startTickingPublisher(group, port, 7, publisherCleanups); // a delta every 5 ms
  const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], staleAfterMs: 5_000 });
  clock.cleanups.push(() => sub.stop());
  const events: UpdateEvent[] = [];
  sub.on("update", (e) => void events.push({ ...e }));
  await sub.start();

  /** The update is on the (stubbed) wall clock, as both sides see it, with a latency of the feed's (< 1 s). */
  const right = (e: UpdateEvent): boolean => {
    const wallUs = Date.now() * 1000;
    return Math.abs(e.latencyUs) < 1_000_000 && Math.abs(e.recvTimeUs - wallUs) < 2_000_000 && Math.abs(e.sendTimeUs - wallUs) < 2_000_000;
  };
  const rightFrom = (from: number) => {
    const e = events.at(-1);
    return events.length > from && e !== undefined && right(e);
  };
  await untilMono(() => rightFrom(0), "updates before any step", 10_000);

  for (const ms of [HOUR_MS, -2 * HOUR_MS]) {
    clock.step(ms);
    stepMs += ms;
    const from = events.length;
    await untilMono(() => rightFrom(from), `latencies right again after a step of ${ms / HOUR_MS} h`, 10_000);
    // From then on every update is right: neither clock moves again (nor back).
    const settled = events.length;
    await untilMono(() => events.length >= settled + 20, "20 more updates", 10_000);
    const after = events.slice(settled);
    expect(after.filter((e) => !right(e)), `updates wrong after both clocks followed a step of ${ms / HOUR_MS} h`).toEqual([]);
  }
});
