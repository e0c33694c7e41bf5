/**
 * The retransmission server's answers that end before all of them was sent: what their requester is charged, and
 * what they may send. The socket is a stand-in (its sendMany refuses on demand, which a loopback socket never does);
 * the buckets' clock stands still, so a bucket holds only what was charged or refunded.
 */
import { describe, expect, it } from "vitest";
import type { RetransmitConfig } from "../../src/config/types.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { ANSWER_DATAGRAMS_PER_TURN, RetransmitServer } from "../../src/net/retransmit-server.ts";
import { decodeRetxControl, encodeRetxControl, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST, type RetxControl } from "../../src/wire/retransmit.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";

const SESSION = 77;
/** Every datagram here: a header and one 8-byte message. */
const D = PACKET_HEADER_BYTES + 8;
const RING_BYTES = 1 << 16;

function request(seqNum: number, count: number): Uint8Array {
  const out = new Uint8Array(64);
  return out.subarray(0, encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: SESSION, seqNum, count, firstAvailable: 0, nextSeq: 0 }));
}

/** Byte 56 (the message's first byte) of each datagram pushed: tells one sequence's datagrams from another's. */
function push(ring: RetransmitRing, fromSeq: number, toSeq: number, mark: number): void {
  const d = new Uint8Array(D);
  d[PACKET_HEADER_BYTES] = mark;
  for (let seq = fromSeq; seq <= toSeq; seq++) ring.push(d, D, seq, 1);
}

/** A server on channel 3's ring whose requester and total byte buckets each hold `bytes`, on a clock that stands still. */
function rig(bytes: number, refuses: (datagram: Uint8Array) => boolean = () => false) {
  const ring = new RetransmitRing(RING_BYTES, 1400);
  const config: RetransmitConfig = { host: "127.0.0.1", port: 0, ringBytes: RING_BYTES, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: bytes, totalBytesPerSec: bytes };
  const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => 0 });
  const sent: Uint8Array[] = [];
  const replies: RetxControl[] = [];
  (server as unknown as { socket: unknown }).socket = {
    sendMany(args: unknown[]) {
      let k = 0;
      while (k < args.length / 3 && !refuses(args[k * 3] as Uint8Array)) sent.push(args[k++ * 3] as Uint8Array);
      if (k === 0) throw new Error("EMSGSIZE: message too long");
      return k;
    },
    send: (b: Uint8Array) => (replies.push(decodeRetxControl(b.slice()) as RetxControl), true),
  };
  return { ring, server, sent, replies };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("an answer cut short charges its requester only what was sent", () => {
  it("the live feed outran it: the bytes never sent go back to the requester's and the total bucket", async () => {
    const { ring, server, sent, replies } = rig(300 * D);
    push(ring, 1, 300, 0);
    server.onRequest(request(1, 300), 40000, "127.0.0.1"); // both buckets spent whole
    expect(sent).toHaveLength(ANSWER_DATAGRAMS_PER_TURN);
    push(ring, 301, 301 + RING_BYTES / D, 0); // a ring's worth: the answer's rest evicted before its turn
    await nextTurn();
    expect(replies.map((r) => [r.kind, r.seqNum, r.count])).toEqual([[RETX_KIND_OUT_OF_RANGE, 1, 300]]);
    // 172 datagrams were never sent: that much may be asked again at once. Before, both buckets stayed charged for
    // all 300, and this was THROTTLED.
    const before = server.counters.answered;
    server.onRequest(request(ring.firstSeq, 300 - ANSWER_DATAGRAMS_PER_TURN), 40000, "127.0.0.1");
    expect({ answered: server.counters.answered - before, throttled: server.counters.throttled }).toEqual({ answered: 1, throttled: 0 });
    // And no more than that: the buckets are empty again.
    server.onRequest(request(ring.firstSeq, 1), 40000, "127.0.0.1");
    expect(server.counters.throttled).toBe(1);
  });

  it("one of its datagrams was lost on sending: the lost one and the rest not sent go back", () => {
    // Datagram 61 is refused (twice): the answer ends with its batch (the rest of that batch, 62..64, went out with it).
    const { ring, server, sent } = rig(100 * D, (d) => d[PACKET_HEADER_BYTES] === 61);
    const d = new Uint8Array(D);
    for (let seq = 1; seq <= 100; seq++) {
      d[PACKET_HEADER_BYTES] = seq;
      ring.push(d, D, seq, 1);
    }
    server.onRequest(request(1, 100), 40000, "127.0.0.1");
    expect(sent).toHaveLength(63);
    // Before, 100 were charged: this request for 37 (what the kernel did not take) was THROTTLED.
    server.onRequest(request(1, 37), 40000, "127.0.0.1");
    expect({ answered: server.counters.answered, throttled: server.counters.throttled }).toEqual({ answered: 2, throttled: 0 });
  });
});

describe("an answer whose ring is cleared while it is sent", () => {
  it("ends with OUT_OF_RANGE: no datagram of the sequence begun since goes out under the range asked", async () => {
    // The ring empties itself when a push does not continue its sequence (it cannot happen within one publisher
    // session today); a new sequence from 1 then holds other datagrams under the same seqNums.
    const { ring, server, sent, replies } = rig(1 << 24);
    push(ring, 1, 300, 0xaa);
    server.onRequest(request(1, 300), 40000, "127.0.0.1");
    expect(sent).toHaveLength(ANSWER_DATAGRAMS_PER_TURN);
    push(ring, 1, 300, 0xbb); // seqNum 1 after 300: cleared, then refilled
    expect({ firstSeq: ring.firstSeq, nextSeq: ring.nextSeq }).toEqual({ firstSeq: 1, nextSeq: 301 });
    await nextTurn();
    await nextTurn();
    // Before: the answer's rest (129..300) was found again by seqNum in the new sequence and sent.
    expect(sent.filter((d) => d[PACKET_HEADER_BYTES] !== 0xaa)).toHaveLength(0);
    expect(sent).toHaveLength(ANSWER_DATAGRAMS_PER_TURN);
    expect(replies.map((r) => [r.kind, r.seqNum, r.count])).toEqual([[RETX_KIND_OUT_OF_RANGE, 1, 300]]);
    expect(server.counters.sendErrors).toBe(300 - ANSWER_DATAGRAMS_PER_TURN);
  });
});
