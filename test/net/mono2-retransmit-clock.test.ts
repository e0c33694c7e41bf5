/**
 * The retransmission server's token buckets on a wall clock stepped (an NTP step, a resumed VM). They refilled by
 * Date.now: stepped forward an hour, every bucket (each requester's and the one for all requesters) was full again at
 * once, a second's worth more sent than the limits allow; stepped back, the next refill found no time passed, and a
 * requester that had spent its bucket was THROTTLED though a second had gone by. Now they refill by the monotonic
 * clock (monoNow, the test's own here); Date.now is stubbed and stepped. The socket is a stand-in recording replies.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RetransmitConfig } from "../../src/config/types.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { RetransmitServer } from "../../src/net/retransmit-server.ts";
import { decodeRetxControl, encodeRetxControl, RETX_KIND_REQUEST, RETX_KIND_THROTTLED } from "../../src/wire/retransmit.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";

const SESSION = 77;
const DATAGRAM_BYTES = PACKET_HEADER_BYTES + 8 * 10;
const HOUR_MS = 3_600_000;

afterEach(() => vi.restoreAllMocks());

function rig(config: Partial<RetransmitConfig>) {
  const full: RetransmitConfig = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec: 2, bytesPerSec: 1 << 24, totalBytesPerSec: 1 << 24, ...config };
  const wall = { ms: 1_765_000_000_000 };
  vi.spyOn(Date, "now").mockImplementation(() => wall.ms);
  const mono = { ms: 5000 };
  const ring = new RetransmitRing(full.ringBytes, 1400);
  ring.push(new Uint8Array(DATAGRAM_BYTES), DATAGRAM_BYTES, 1, 10);
  const s = new RetransmitServer({ config: full, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => mono.ms });
  let throttled = 0;
  (s as unknown as { socket: unknown }).socket = {
    sendMany: (args: unknown[]) => args.length / 3,
    send(data: Uint8Array) {
      const c = decodeRetxControl(data, undefined);
      if (typeof c !== "string" && c.kind === RETX_KIND_THROTTLED) throttled++;
      return true;
    },
  };
  const request = new Uint8Array(64);
  const n = encodeRetxControl(request, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: SESSION, seqNum: 1, count: 10, firstAvailable: 0, nextSeq: 0 });
  /** One request from `from`: "answered" or "throttled". */
  const ask = (from = "127.0.0.9"): string => {
    const before = s.counters.answered;
    s.onRequest(request.subarray(0, n), 40000, from);
    if (s.counters.answered === before + 1) return "answered";
    expect(throttled).toBeGreaterThan(0);
    return "throttled";
  };
  return { wall, mono, ask };
}

describe("retransmission buckets on a stepped wall clock", () => {
  it("stepped back an hour: a requester's spent bucket refills with the second that passed", () => {
    const { wall, mono, ask } = rig({});
    expect([ask(), ask(), ask()]).toEqual(["answered", "answered", "throttled"]);
    wall.ms -= HOUR_MS - 1000;
    mono.ms += 1000;
    expect([ask(), ask(), ask()]).toEqual(["answered", "answered", "throttled"]); // before: throttled (no time passed by Date.now)
  });

  it("stepped forward an hour: nothing refills until the time passes", () => {
    const { wall, mono, ask } = rig({});
    expect([ask(), ask(), ask()]).toEqual(["answered", "answered", "throttled"]);
    wall.ms += HOUR_MS;
    expect(ask()).toBe("throttled"); // before: answered (an hour's refill, capped at a full bucket)
    mono.ms += 500; // the real refill still comes: half a second, one request
    expect([ask(), ask()]).toEqual(["answered", "throttled"]);
  });

  it("the bucket of all requesters: stepped forward, not refilled; a second later, refilled", () => {
    const { wall, mono, ask } = rig({ requestsPerSec: 1000, totalBytesPerSec: 2 * DATAGRAM_BYTES });
    expect([ask("127.0.1.1"), ask("127.0.1.2"), ask("127.0.1.3")]).toEqual(["answered", "answered", "throttled"]);
    wall.ms += HOUR_MS;
    expect(ask("127.0.1.4")).toBe("throttled"); // before: answered
    mono.ms += 1000;
    expect([ask("127.0.1.5"), ask("127.0.1.6"), ask("127.0.1.7")]).toEqual(["answered", "answered", "throttled"]);
  });
});
