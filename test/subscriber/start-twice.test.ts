/**
 * FeedSubscriber.start() called a second time without stop(). Before, it bound every group again and started a
 * second set of timers and a second request socket; stop() closed only the last ones, so the first timers ran on
 * and the first request socket stayed open (the process could not exit). Now the second call rejects, opening
 * nothing; after stop() it starts again.
 */
import { afterEach, expect, test } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { uniqueDestination } from "../e2e/harness.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

test("a second start() is refused; after stop() the subscriber starts again", async () => {
  const { group, port } = uniqueDestination(253);
  const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], retransmit: { host: "127.0.0.1", port: 9 } });
  stops.push(() => sub.stop());
  await sub.start();
  const sockets = (sub as unknown as { sockets: unknown[] }).sockets;
  await expect(sub.start()).rejects.toThrow("subscriber: start() called twice (stop() first)");
  expect(sockets).toHaveLength(1); // the group's; the request socket is kept apart until stop()
  await sub.stop();
  expect(sockets).toHaveLength(0);
  await sub.start();
  expect(sub.recvBufferSizes()).toHaveLength(1);
});
