/**
 * Amplification through the retransmission server: a 48-byte request may be answered with up to the whole ring
 * (megabytes), sent to the address the request claims to come from. The buckets were per requester address only:
 * requests with spoofed source addresses (any address in publish.retransmit.allow; UDP needs no handshake) each
 * started with a full bucket of bytes_per_sec, so N addresses made N × bytes_per_sec a second, towards whichever
 * hosts the addresses named, and past 4096 addresses the table was cleared and every one started full again. A
 * replayed signed request (a keyed feed) does the same. Now the server also holds one bucket for all requesters
 * (publish.retransmit.total_bytes_per_sec): what it sends in a second is bounded whatever the addresses; a request
 * over it is THROTTLED (48 bytes) and its requester falls back to the refresh. The buckets' clock is the test's
 * (monoNow), so no refill happens while the test runs; the socket is a stand-in that records what is sent.
 */
import { describe, expect, it } from "vitest";
import type { RetransmitConfig } from "../../src/config/types.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { decodeRetxControl, encodeRetxControl, RETX_KIND_REQUEST, RETX_KIND_THROTTLED } from "../../src/wire/retransmit.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";

const SESSION = 77;
const DATAGRAM_BYTES = PACKET_HEADER_BYTES + 8 * 100; // 848
const DATAGRAMS = 60; // the ring: 50,880 bytes, asked for whole by every request
const CONFIG: RetransmitConfig = {
  host: "127.0.0.1",
  port: 0,
  ringBytes: 1 << 16,
  allow: ["127.0.0.0/8"],
  requestsPerSec: 1000,
  bytesPerSec: 1 << 24,
  totalBytesPerSec: 200_000,
};

/** The buckets' monotonic clock, ms: moved by the test only. */
let monoNowMs = 0;

function server(config: RetransmitConfig) {
  monoNowMs = 1000;
  const ring = new RetransmitRing(config.ringBytes, 1400);
  for (let i = 0; i < DATAGRAMS; i++) ring.push(new Uint8Array(DATAGRAM_BYTES), DATAGRAM_BYTES, 1 + 100 * i, 100);
  const s = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => monoNowMs });
  /** Bytes sent to each address, and the control replies. */
  const bytesTo = new Map<string, number>();
  const replies: { kind: number; address: string }[] = [];
  (s as unknown as { socket: unknown }).socket = {
    sendMany(args: unknown[]) {
      for (let k = 0; k < args.length; k += 3) bytesTo.set(args[k + 2] as string, (bytesTo.get(args[k + 2] as string) ?? 0) + (args[k] as Uint8Array).length);
      return args.length / 3;
    },
    send(data: Uint8Array, _port: number, address: string) {
      const c = decodeRetxControl(data, undefined);
      if (typeof c !== "string") replies.push({ kind: c.kind, address });
      return true;
    },
  };
  return { s, bytesTo, replies };
}

function wholeRing(): Uint8Array {
  const out = new Uint8Array(64);
  return out.subarray(0, encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: SESSION, seqNum: 1, count: 100 * DATAGRAMS, firstAvailable: 0, nextSeq: 0 }));
}

describe("retransmission bytes for all requesters together", () => {
  it("requests from 64 spoofed addresses get at most total_bytes_per_sec in a second, the rest THROTTLED", () => {
    const { s, bytesTo, replies } = server(CONFIG);
    for (let i = 0; i < 64; i++) s.onRequest(wholeRing(), 40000, `127.0.1.${i + 1}`);
    const sent = [...bytesTo.values()].reduce((a, b) => a + b, 0);
    expect(sent).toBeLessThanOrEqual(CONFIG.totalBytesPerSec); // before: 64 whole rings, 3,256,320 bytes
    expect(s.counters.answered).toBe(Math.floor(CONFIG.totalBytesPerSec / (DATAGRAM_BYTES * DATAGRAMS))); // 3
    expect(s.counters.throttled).toBe(64 - s.counters.answered);
    expect(replies.filter((r) => r.kind === RETX_KIND_THROTTLED)).toHaveLength(64 - s.counters.answered);

    // A second later the budget is back: one more second's worth, no more.
    monoNowMs += 1000;
    for (let i = 0; i < 64; i++) s.onRequest(wholeRing(), 40000, `127.0.2.${i + 1}`);
    expect(s.counters.answered).toBe(2 * Math.floor(CONFIG.totalBytesPerSec / (DATAGRAM_BYTES * DATAGRAMS)));
  });

  it("one requester still gets its own bytes_per_sec when the total allows it", () => {
    const { s, bytesTo } = server({ ...CONFIG, bytesPerSec: 120_000, totalBytesPerSec: 1 << 24 });
    for (let i = 0; i < 5; i++) s.onRequest(wholeRing(), 40000, "127.0.0.9");
    expect(bytesTo.get("127.0.0.9")).toBe(2 * DATAGRAM_BYTES * DATAGRAMS); // two whole rings fit 120,000
    expect(s.counters.throttled).toBe(3);
  });
});
