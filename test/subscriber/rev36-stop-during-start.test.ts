/**
 * FeedSubscriber.stop() while start() is still binding (a signal during start-up, an owner giving up). Before,
 * start() never settled: the socket stop() closed mid-bind never called back, so an owner awaiting start() hung
 * (and had start() gone on, it would have bound the groups left, opened the request socket and started both timers
 * after the stop). Now start() rejects, saying so, with nothing of it left open or running; a later start() runs as
 * after any stop().
 */
import { afterEach, expect, test } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { uniqueDestination } from "../e2e/harness.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

interface Internals {
  sockets: unknown[];
  requestSocket: unknown;
  staleTimer: unknown;
  recoveryTimer: unknown;
}

test("stop() during start(): nothing is left open or running; start() rejects; a later start() works", async () => {
  const a = uniqueDestination(251);
  const b = uniqueDestination(252);
  const sub = new FeedSubscriber({
    groups: [{ group: a.group, port: a.port, iface: "127.0.0.1" }, { group: b.group, port: b.port, iface: "127.0.0.1" }],
    retransmit: { host: "127.0.0.1", port: 9 },
    staleAfterMs: 1000,
  });
  stops.push(() => sub.stop());
  const started = sub.start();
  // Old: it never settled (a socket closed while binding never calls back); bounded here, no fixed sleep.
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const outcome = Promise.race([
    started.then(
      () => "resolved",
      (e: Error) => e.message,
    ),
    new Promise<string>((res) => (deadline = setTimeout(() => res("still pending after 5 s"), 5000))),
  ]).finally(() => clearTimeout(deadline));
  await sub.stop(); // the first group's bind is under way
  const i = sub as unknown as Internals;
  expect(await outcome).toBe("subscriber: stop() called while start() was under way");
  expect(i.sockets).toHaveLength(0);
  expect(i.requestSocket).toBeUndefined();
  expect(i.staleTimer).toBeUndefined();
  expect(i.recoveryTimer).toBeUndefined();

  await sub.start();
  expect(sub.recvBufferSizes()).toHaveLength(2);
  expect(i.staleTimer).toBeDefined();
  await sub.stop();
  expect(i.sockets).toHaveLength(0);
});
