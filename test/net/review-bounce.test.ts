/**
 * A reply to a requester that has gone (its port closed) bounces as ICMP port unreachable. With Bun 1.4.5, a socket
 * that sends from inside its own data callback gets that bounce reported to its error handler twice; sent on a
 * later turn, once. The server used to answer inside the callback, so one lost reply counted 2 send errors and took
 * up to 2 off `datagrams`, and a bounced OUT_OF_RANGE / THROTTLED reply took answer datagrams off `datagrams` too.
 * Real sockets on 127.0.0.1; each check waits for the bounce to be counted, then for a later request of another
 * requester to be answered and received, so every report of the bounce has come by then.
 */
import { afterEach, expect, it } from "vitest";
import { THROTTLED_REPLY_INTERVAL_MS } from "../../src/net/retransmit-server.ts";
import { request, retransmitRig, SESSION } from "../support/retransmit-rig.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

it("an answer datagram to a requester that has gone is one send error", { timeout: 20_000 }, async () => {
  const { server, askAndGo, otherAnswered, got } = await retransmitRig(cleanups);
  await askAndGo(request(7, 1), 1);
  await otherAnswered(1, 2);
  expect(got).toEqual([1, 2]);
  expect(server.counters.answered).toBe(2);
  expect(server.counters.sendErrors).toBe(1);
  // Handed to the kernel: the one that came back too (counted in sendErrors), and the other's 2.
  expect(server.counters.datagrams).toBe(3);
});

it("an answer of several datagrams to a requester that has gone counts one send error per datagram", { timeout: 20_000 }, async () => {
  const { server, askAndGo, otherAnswered } = await retransmitRig(cleanups);
  await askAndGo(request(4, 3), 3);
  await otherAnswered(10, 1);
  expect(server.counters.sendErrors).toBe(3);
  expect(server.counters.datagrams).toBe(4);
});

it("a bounced OUT_OF_RANGE reply is one send error and takes nothing off the answer datagrams counted", { timeout: 20_000 }, async () => {
  const { server, askAndGo, otherAnswered } = await retransmitRig(cleanups);
  await otherAnswered(1, 3);
  expect(server.counters.datagrams).toBe(3);
  await askAndGo(request(1, 1, SESSION + 1), 1); // another session: OUT_OF_RANGE
  await otherAnswered(5, 1);
  expect(server.counters.outOfRange).toBe(1);
  expect(server.counters.sendErrors).toBe(1);
  expect(server.counters.datagrams).toBe(4);
});

it("a bounced THROTTLED reply is one send error and takes nothing off the answer datagrams counted", { timeout: 20_000 }, async () => {
  // One request a second per address, and every requester here is 127.0.0.1: the second request is THROTTLED.
  const mono = { ms: 1000 };
  const { server, askAndGo, otherAnswered } = await retransmitRig(cleanups, 1, () => mono.ms);
  await otherAnswered(1, 2);
  await askAndGo(request(1, 1), 1);
  // The other requester's next request is THROTTLED too (a tenth of a request refilled): its reply received, the
  // counters are quiet. (One THROTTLED reply per requester address per interval: the interval has passed.)
  mono.ms += THROTTLED_REPLY_INTERVAL_MS;
  await otherAnswered(3, 1);
  expect(server.counters.throttled).toBe(2);
  expect(server.counters.sendErrors).toBe(1);
  expect(server.counters.datagrams).toBe(2);
});
