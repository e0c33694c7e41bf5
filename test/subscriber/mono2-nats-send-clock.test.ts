/**
 * The NATS reader's repacked datagrams: their send time and session start were Date.now, while the subscriber stamps
 * what it receives on its own clock (mono-clock.ts: the epoch as of the process's start plus the monotonic time since,
 * which a wall-clock step does not move). After a step of the host's clock every update's latency (receive − send,
 * `listen`'s µs p50/p99 and NDJSON latencyUs) was off by the step: −1 h after a step forward of an hour. Both are
 * read from the subscriber's clock now, so the latency is the repack-to-receipt time. No NATS server: the reader is
 * handed an envelope as its subscription would hand it; Date.now is stubbed and stepped.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { deepBook } from "./cut-books.ts";
import { packer, take } from "./feed-harness.ts";

afterEach(() => vi.restoreAllMocks());

describe("the NATS reader's repacked datagrams on a stepped wall clock", () => {
  for (const stepMs of [3_600_000, -3_600_000]) {
    it(`${stepMs > 0 ? "forward" : "back"} an hour: send time and session start on the subscriber's clock`, () => {
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, "now").mockImplementation(() => realNow() + stepMs);
      const out: Uint8Array[] = [];
      const constructedUs = monoEpochMs() * 1000;
      const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1" }, (d) => void out.push(d.slice()));
      const p = packer({ channelId: 1, sourceId: 0, sessionId: 5 });
      packBookSnapshot(p, deepBook(3), 0, false);
      const d = take(p)[0]!;
      const msgLen = new DataView(d.buffer, d.byteOffset).getUint16(PACKET_HEADER_BYTES + MSG_LENGTH_OFFSET, true);
      const beforeUs = monoEpochMs() * 1000;
      expect(reader.repacker.add(envelopeOf(d, 1000, PACKET_HEADER_BYTES, msgLen), monoEpochMs())).toMatch(/ok|new_session/);
      reader.flush();
      const afterUs = monoEpochMs() * 1000;
      expect(out.length).toBeGreaterThan(0);
      for (const datagram of out) {
        const r = decodeDatagram(datagram);
        if (!r.ok) throw r.error;
        // before: an hour off (Date.now)
        expect(r.packet.sendTimeUs).toBeGreaterThanOrEqual(Math.floor(beforeUs) - 1000);
        expect(r.packet.sendTimeUs).toBeLessThanOrEqual(Math.ceil(afterUs) + 1000);
        expect(r.packet.sessionStartUs).toBeLessThanOrEqual(r.packet.sendTimeUs);
        expect(r.packet.sessionStartUs).toBeGreaterThanOrEqual(Math.floor(constructedUs) - 1000);
      }
    });
  }
});
