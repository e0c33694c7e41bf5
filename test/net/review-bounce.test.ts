/**
 * A reply to a requester that has gone (its port closed) bounces as ICMP port unreachable. With Bun 1.4.5, a socket
 * that sends from inside its own data callback gets that bounce reported to its error handler twice; sent on a
 * later turn, once. The server used to answer inside the callback, so one lost reply counted 2 send errors and took
 * up to 2 off `datagrams`, and a bounced OUT_OF_RANGE / THROTTLED reply took answer datagrams off `datagrams` too.
 * Real sockets on 127.0.0.1; each check waits for the bounce to be counted, then for a later request of another
 * requester to be answered and received, so every report of the bounce has come by then.
 */
import { afterEach, expect, it } from "vitest";
import { getU64, setU64 } from "../../src/core/i64.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { PACKET_HEADER_BYTES, PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { waitFor } from "../wire/helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const SESSION = 77;

function request(seqNum: number, count: number, sessionId = SESSION): Uint8Array {
  const req = new Uint8Array(64);
  const n = encodeRetxControl(req, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId, seqNum, count, firstAvailable: 0, nextSeq: 0 });
  return req.subarray(0, n);
}

async function setup(requestsPerSec = 1000) {
  const ring = new RetransmitRing(1 << 16, 1400);
  for (let seq = 1; seq <= 20; seq++) {
    const d = new Uint8Array(PACKET_HEADER_BYTES + 8);
    setU64(new DataView(d.buffer), PKT_SEQ_NUM_OFFSET, seq);
    ring.push(d, d.length, seq, 1);
  }
  const config = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec, bytesPerSec: 1 << 24 };
  const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, maxDatagramBytes: 1400 });
  await server.start();
  cleanups.push(() => server.stop());
  const got: number[] = [];
  const other = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: { data: (_s, data) => void got.push(getU64(new DataView(data.buffer, data.byteOffset, data.byteLength), PKT_SEQ_NUM_OFFSET)) },
  });
  cleanups.push(() => other.close());
  /** Sends `req` from a socket closed at once (a requester that has gone), and waits until its bounce is counted. */
  const askAndGo = async (req: Uint8Array, bounces: number) => {
    const gone = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    gone.send(req, server.port, "127.0.0.1");
    gone.close();
    await waitFor(() => server.counters.sendErrors >= bounces, 5000, "the bounce counted");
  };
  /** Another requester's request answered (datagrams or a control reply) and received: the counters are quiet after it. */
  const otherAnswered = async (seqNum: number, count: number) => {
    const before = got.length;
    other.send(request(seqNum, count), server.port, "127.0.0.1");
    await waitFor(() => got.length === before + count, 5000, "the other requester's answer");
  };
  return { server, askAndGo, otherAnswered, got };
}

it("an answer datagram to a requester that has gone is one send error", { timeout: 20_000 }, async () => {
  const { server, askAndGo, otherAnswered, got } = await setup();
  await askAndGo(request(7, 1), 1);
  await otherAnswered(1, 2);
  expect(got).toEqual([1, 2]);
  expect(server.counters.answered).toBe(2);
  expect(server.counters.sendErrors).toBe(1);
  // Handed to the kernel: the one that came back too (counted in sendErrors), and the other's 2.
  expect(server.counters.datagrams).toBe(3);
});

it("an answer of several datagrams to a requester that has gone counts one send error per datagram", { timeout: 20_000 }, async () => {
  const { server, askAndGo, otherAnswered } = await setup();
  await askAndGo(request(4, 3), 3);
  await otherAnswered(10, 1);
  expect(server.counters.sendErrors).toBe(3);
  expect(server.counters.datagrams).toBe(4);
});

it("a bounced OUT_OF_RANGE reply is one send error and takes nothing off the answer datagrams counted", { timeout: 20_000 }, async () => {
  const { server, askAndGo, otherAnswered } = await setup();
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
  const { server, askAndGo, otherAnswered } = await setup(1);
  await otherAnswered(1, 2);
  await askAndGo(request(1, 1), 1);
  // The other requester's next request is THROTTLED too: its reply received, the counters are quiet.
  await otherAnswered(3, 1);
  expect(server.counters.throttled).toBe(2);
  expect(server.counters.sendErrors).toBe(1);
  expect(server.counters.datagrams).toBe(2);
});
