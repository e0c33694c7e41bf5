/**
 * The retransmission server answers every requester from one socket. An answer to a requester that has gone (its
 * port closed: a subscriber restarted while it waited) bounces as ICMP port unreachable, which leaves an error
 * pending on that socket; with Bun 1.4.5 the socket's next send fails with it (ECONNREFUSED). When requests of
 * several subscribers arrive together (one gap seen by all of them), the next requester's answer met that error:
 * it was dropped whole though nothing was wrong with it, and that subscriber timed out and fell back to the
 * refresh. Real sockets on 127.0.0.1.
 */
import { afterEach, expect, it } from "vitest";
import { request, retransmitRig, SESSION } from "../support/retransmit-rig.ts";
import { waitFor } from "../wire/helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

it("a requester that has gone costs the requester asking with it nothing: its answer arrives in full", { timeout: 20_000 }, async () => {
  const { server, got, other } = await retransmitRig(cleanups);
  const gone = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  // Both ask before the server's next turn (one gap seen by both); the first has gone by the time it is answered.
  gone.send(request(7, 1), server.port, "127.0.0.1");
  gone.close();
  other.send(request(1, 5), server.port, "127.0.0.1");
  await waitFor(() => server.counters.answered === 2, 5000, "both requests answered");
  // One more request of the other requester: its answer arrives after whatever of the first was sent (one socket).
  other.send(request(20, 1), server.port, "127.0.0.1");
  await waitFor(() => got.includes(20), 5000, "the answer to the later request");
  expect(got).toEqual([1, 2, 3, 4, 5, 20]);
  // The bounced answer is the one send error.
  await waitFor(() => server.counters.sendErrors >= 1, 5000, "the bounce counted");
  expect(server.counters.sendErrors).toBe(1);
});

it("a requester that has gone costs the requester asking with it nothing: its OUT_OF_RANGE reply arrives", { timeout: 20_000 }, async () => {
  // The same, with the second request answered by a control reply: it met the pending error and was dropped,
  // uncounted, so that subscriber waited for its timeout instead of falling back at once.
  const { server, got, other } = await retransmitRig(cleanups);
  const gone = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  gone.send(request(7, 1), server.port, "127.0.0.1");
  gone.close();
  other.send(request(1, 5, SESSION + 1), server.port, "127.0.0.1"); // another session: OUT_OF_RANGE
  await waitFor(() => server.counters.answered === 1 && server.counters.outOfRange === 1, 5000, "both requests handled");
  other.send(request(20, 1), server.port, "127.0.0.1");
  await waitFor(() => got.includes(20), 5000, "the answer to the later request");
  // The reply carries the request's seqNum where a datagram carries its own (both at offset 16).
  expect(got).toEqual([1, 20]);
  await waitFor(() => server.counters.sendErrors >= 1, 5000, "the bounce counted");
  expect(server.counters.sendErrors).toBe(1);
});
