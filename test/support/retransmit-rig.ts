/**
 * A retransmission server on 127.0.0.1 over a ring of 20 one-message datagrams (seq 1…20, channel 3), a requester
 * (`other`) whose received sequence numbers are collected in `got`, and requests to it: for the tests of answers to
 * requesters that have gone (test/net/review-bounce, test/app/rev12-retransmit-bounce). Clean-ups go onto `cleanups`.
 * @module
 */
import { getU64, setU64 } from "../../src/core/i64.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { PACKET_HEADER_BYTES, PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { waitFor } from "../wire/helpers.ts";

export const SESSION = 77;

export function request(seqNum: number, count: number, sessionId = SESSION): Uint8Array {
  const req = new Uint8Array(64);
  const n = encodeRetxControl(req, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId, seqNum, count, firstAvailable: 0, nextSeq: 0 });
  return req.subarray(0, n);
}

/** `monoNow`: the buckets' clock (default the real one). */
export async function retransmitRig(cleanups: (() => unknown)[], requestsPerSec = 1000, monoNow?: () => number) {
  const ring = new RetransmitRing(1 << 16, 1400);
  for (let seq = 1; seq <= 20; seq++) {
    const d = new Uint8Array(PACKET_HEADER_BYTES + 8);
    setU64(new DataView(d.buffer), PKT_SEQ_NUM_OFFSET, seq);
    ring.push(d, d.length, seq, 1);
  }
  const config = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec, bytesPerSec: 1 << 24, totalBytesPerSec: 1 << 24 };
  const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow });
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
  return { server, askAndGo, otherAnswered, got, other };
}
