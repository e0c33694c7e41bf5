/**
 * The NATS reader's repacked datagrams: their send time and session start were Date.now, while the subscriber stamps
 * what it receives on its own clock (mono-clock.ts). After a step of the host's clock every update's latency (receive
 * − send, `listen`'s µs p50/p99 and NDJSON latencyUs) was off by the step: −1 h after a step forward of an hour. Then
 * both were read from the monotonic clock (the epoch as of the process's start plus the time since), which no step
 * moves; a subscriber in another process (`from-nats` to local subscribers), on its own such clock, was off by any
 * step between the two processes' starts. Now both are on the clock a subscriber shows receipt on (mono-clock.ts
 * shownUs: the wall clock, moved by a timer after a step, never within one callback): the latency is the
 * repack-to-receipt time and the send time the host's. No NATS server: the reader is handed an envelope as its
 * subscription would hand it; Date.now is stubbed and stepped, and the subscriber's clock checked at once.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { checkWallClock, monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { deepBook } from "./cut-books.ts";
import { packer, take } from "./feed-harness.ts";

afterEach(() => {
  vi.restoreAllMocks();
  checkWallClock(); // back on the real wall clock for the next test
});

describe("the NATS reader's repacked datagrams on a stepped wall clock", () => {
  for (const stepMs of [3_600_000, -3_600_000]) {
    it(`${stepMs > 0 ? "forward" : "back"} an hour: send time and session start on the wall clock, as the receipt is shown`, () => {
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, "now").mockImplementation(() => realNow() + stepMs);
      expect(checkWallClock()).toBe(true); // as the subscriber's timer does within a second
      const out: Uint8Array[] = [];
      const constructedUs = Date.now() * 1000;
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
      const latencies: number[] = [];
      sub.on("update", (e) => latencies.push(e.latencyUs));
      const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1" }, (d) => {
        out.push(d.slice());
        sub.ingest(d);
      });
      const p = packer({ channelId: 1, sourceId: 0, sessionId: 5 });
      packBookSnapshot(p, deepBook(3), 0, false);
      const d = take(p)[0]!;
      const msgLen = new DataView(d.buffer, d.byteOffset).getUint16(PACKET_HEADER_BYTES + MSG_LENGTH_OFFSET, true);
      const beforeUs = Date.now() * 1000;
      const beforeMonoMs = monoEpochMs();
      expect(reader.repacker.add(envelopeOf(d, 1000, PACKET_HEADER_BYTES, msgLen), monoEpochMs())).toMatch(/ok|new_session/);
      reader.flush();
      const afterUs = Date.now() * 1000;
      const tookUs = (monoEpochMs() - beforeMonoMs) * 1000;
      expect(out.length).toBeGreaterThan(0);
      for (const datagram of out) {
        const r = decodeDatagram(datagram);
        if (!r.ok) throw r.error;
        // before: an hour off (Date.now), then on the monotonic clock an hour off the host's
        expect(r.packet.sendTimeUs).toBeGreaterThanOrEqual(beforeUs - 2000);
        expect(r.packet.sendTimeUs).toBeLessThanOrEqual(afterUs + 2000);
        expect(r.packet.sessionStartUs).toBeLessThanOrEqual(r.packet.sendTimeUs);
        expect(r.packet.sessionStartUs).toBeGreaterThanOrEqual(constructedUs - 2000);
      }
      // The receipt in this process is on the same clock: the latency is the repack-to-receipt time.
      expect(latencies.length).toBeGreaterThan(0);
      for (const l of latencies) {
        expect(l).toBeGreaterThanOrEqual(0);
        expect(l).toBeLessThanOrEqual(Math.ceil(tookUs) + 1);
      }
    });
  }
});
