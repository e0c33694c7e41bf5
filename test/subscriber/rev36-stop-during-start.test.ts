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

test("start() failing part-way (a port held without SO_REUSEADDR, an interface not on this host): stopped, nothing left open, the error names it; start() works again", async () => {
  // Before (s-rd4b): `running` stayed true, the sockets bound so far stayed open with no timer behind them, and every
  // later start() threw "start() called twice" until a stop().
  const a = uniqueDestination(253);
  const b = uniqueDestination(254);
  const dgram = await import("node:dgram");
  const holder = dgram.createSocket({ type: "udp4", reuseAddr: false });
  await new Promise<void>((res, rej) => {
    holder.once("error", rej);
    holder.bind({ port: b.port, address: b.group, exclusive: true }, () => res());
  });
  let held = true;
  const release = () => (held ? new Promise<void>((res) => ((held = false), holder.close(() => res()))) : undefined);
  stops.push(release);
  const sub = new FeedSubscriber({
    groups: [{ group: a.group, port: a.port, iface: "127.0.0.1" }, { group: b.group, port: b.port, iface: "127.0.0.1" }],
    retransmit: { host: "127.0.0.1", port: 9 },
    staleAfterMs: 1000,
  });
  stops.push(() => sub.stop());
  const i = sub as unknown as Internals & { running: boolean };
  const failed = await sub.start().then(() => "started", (e: Error) => e.message);
  expect(failed).toMatch(new RegExp(`^subscriber: groups\\[1\\]: cannot bind ${b.group.replaceAll(".", "\\.")}:${b.port}: .*EADDRINUSE`));
  expect([i.running, i.sockets.length, i.requestSocket, i.staleTimer, i.recoveryTimer]).toEqual([false, 0, undefined, undefined, undefined]);

  const wrongIface = new FeedSubscriber({ groups: [{ group: a.group, port: a.port, iface: "192.0.2.1" }] }); // TEST-NET-1: on no interface
  stops.push(() => wrongIface.stop());
  const joinFailed = await wrongIface.start().then(() => "started", (e: Error) => e.message);
  expect(joinFailed).toMatch(new RegExp(`^subscriber: groups\\[0\\]: cannot join ${a.group.replaceAll(".", "\\.")} on interface 192\\.0\\.2\\.1: `));
  expect((wrongIface as unknown as Internals).sockets).toHaveLength(0);

  await release();
  await sub.start(); // no stop() needed after a failed start
  expect(sub.recvBufferSizes()).toHaveLength(2); // both groups
  expect([i.running, i.requestSocket !== undefined, i.staleTimer !== undefined, i.recoveryTimer !== undefined]).toEqual([true, true, true, true]);
  await sub.stop();
  expect(i.sockets).toHaveLength(0);
});
