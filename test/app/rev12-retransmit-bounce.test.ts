/**
 * The retransmission server answers every requester from one socket. An answer to a requester that has gone (its
 * port closed: a subscriber restarted while it waited) bounces as ICMP port unreachable, which leaves an error
 * pending on that socket; with Bun 1.4.5 the socket's next send fails with it (ECONNREFUSED). When requests of
 * several subscribers arrive together (one gap seen by all of them), the next requester's answer met that error:
 * it was dropped whole though nothing was wrong with it, and that subscriber timed out and fell back to the
 * refresh. Real sockets on 127.0.0.1.
 */
import { afterEach, expect, it } from "vitest";
import { getU64 } from "../../src/core/i64.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { PACKET_HEADER_BYTES, PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { setU64 } from "../../src/core/i64.ts";
import { waitFor } from "../wire/helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function request(seqNum: number, count: number): Uint8Array {
  const req = new Uint8Array(64);
  const n = encodeRetxControl(req, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: 77, seqNum, count, firstAvailable: 0, nextSeq: 0 });
  return req.subarray(0, n);
}

it("a requester that has gone costs the requester asking with it nothing: its answer arrives in full", { timeout: 20_000 }, async () => {
  const ring = new RetransmitRing(1 << 16, 1400);
  for (let seq = 1; seq <= 20; seq++) {
    const d = new Uint8Array(PACKET_HEADER_BYTES + 8);
    setU64(new DataView(d.buffer), PKT_SEQ_NUM_OFFSET, seq);
    ring.push(d, d.length, seq, 1);
  }
  const config = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: 1 << 24 };
  const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: 77, auth: undefined, maxDatagramBytes: 1400 });
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
