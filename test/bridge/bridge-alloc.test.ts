/**
 * The forward bridge's hot path (`bridge to-nats`, onDatagram) allocates nothing per datagram of its own once warm,
 * counted by bench/alloc-meter.ts (a full GC, then the cells a chunk of steps made, by type), its control asserted
 * (a 32 B object a step must read 1 cell: a meter gone blind fails, never reads 0). Stages: the datagram's checks and
 * its stream's judgement (no envelope: the instrument's definition not seen), with and without a key. No sockets:
 * the NATS client is a stand-in that keeps nothing. Figures per stage: docs/performance.md §19.
 */
import { describe, expect, it } from "vitest";
import { allocationControl, measureAllocation } from "../../bench/alloc-meter.ts";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { Instrument } from "../../src/core/types.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { ENVELOPE_BYTES, envelopeOf, writeEnvelope } from "../../src/subscriber/nats-envelope.ts";
import { MESSAGE_HEADER_BYTES, MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES, PKT_HEARTBEAT_INTERVAL_MS_OFFSET, PKT_MSG_COUNT_OFFSET } from "../../src/wire/layout.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";
import { NullBridge, NullFrameBridge, type NullFrameClient } from "./null-bridge.ts";
import { liveView } from "../support/signed-stream.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 5 + 3);
const T0_US = 1_764_000_000_000_000;
const INSTRUMENTS = 7;

/**
 * Datagram 0: the 7 instruments' definitions and snapshots. Then `n` datagrams, each a buffer of its own as a socket
 * hands them: with `beats`, every 5th a heartbeat; the others a 2-level delta of each instrument (7 messages).
 */
function feed(n: number, keyed: boolean, beats: boolean, symbolOf = (i: number) => `S${i}USDT`): Uint8Array[] {
  const p = new ChannelPacker(1400, 1, 0, 9, { sessionStartUs: T0_US, heartbeatIntervalMs: 1000, auth: keyed ? new DatagramAuth(KEY) : undefined });
  const instruments: Instrument[] = Array.from({ length: INSTRUMENTS }, (_, i) => ({ instrumentId: 100 + i, venue: "bybit", market: "linear", symbol: symbolOf(i), priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" }));
  const views = instruments.map((instrument) =>
    liveView(instrument, T0_US, { bidCount: 2, askCount: 2, bidPriceAt: (r) => 1000 - r, bidQtyAt: (r) => 5 + r, askPriceAt: (r) => 1001 + r, askQtyAt: (r) => 6 + r }),
  );
  const out: Uint8Array[] = [];
  let sendUs = T0_US;
  const flush = () => {
    p.seal((sendUs += 100));
    for (let i = 0; i < p.count; i++) out.push(p.bytes[i]!.slice(0, p.lengths[i]));
    p.clear();
  };
  for (const v of views) packInstrumentDefinition(p, new EncodedDefinition(v.instrument), false);
  for (const v of views) packBookSnapshot(p, v, 0, false);
  flush();
  const cs = new ChangeSet();
  for (let e = 0; e < n; e++) {
    if (beats && e % 5 === 4) p.appendHeartbeat(0);
    else {
      for (const v of views) {
        cs.clear();
        cs.addBid(1000, 1 + (e % 50));
        cs.addAsk(1001, 2 + (e % 40));
        v.instrSeq++;
        packBookDelta(p, v, cs);
      }
    }
    flush();
  }
  return out;
}

const WARM = 1_000;
const METERED = 2_000;
const FEEDS = { plain: feed(WARM + METERED, false, true), signed: feed(WARM + METERED, true, true), plainData: feed(WARM + METERED, false, false), signedData: feed(WARM + METERED, true, false) };

async function meter(datagrams: Uint8Array[], keyed: boolean, defined: boolean, frames = false) {
  const bridge = new (frames ? NullFrameBridge : NullBridge)({ groups: [], servers: "nats://127.0.0.1:1", prefix: "alloc", log: silentLogger, ...(keyed ? { authKey: KEY } : {}) });
  await bridge.start();
  try {
    for (let i = defined ? 0 : 1; i <= WARM; i++) bridge.onDatagram(datagrams[i]!);
    const perDatagram = measureAllocation(WARM + 1, WARM + 1 + METERED, (i) => bridge.onDatagram(datagrams[i]!));
    return { counters: { ...bridge.counters }, envelopes: bridge.client.envelopes, commands: (bridge.client as NullFrameClient).commands, perDatagram };
  } finally {
    await bridge.stop();
  }
}

describe("the forward bridge's allocation per datagram", () => {
  it("checks and stream judgement: none, with or without a key (the meter's control reads 1 cell a step)", async () => {
    const control = allocationControl(6_000);
    expect(control.cellsPerStep, control.types).toBeGreaterThan(0.9);
    for (const keyed of [false, true]) {
      const run = await meter(keyed ? FEEDS.signedData : FEEDS.plainData, keyed, false);
      expect(run.counters.rejected).toEqual({});
      expect(run.counters.datagrams).toBe(WARM + METERED);
      expect(run.counters.undefinedInstrument).toBe((WARM + METERED) * INSTRUMENTS);
      expect(run.envelopes).toBe(0);
      expect(run.perDatagram.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
      // Before (a DataView over each socket buffer, the reader's and the HMAC's views of it): 3 cells a datagram here.
      expect(run.perDatagram.cellsPerStep, `keyed ${keyed}: ${run.perDatagram.types}`).toBeLessThan(0.05);
    }
  });

  it("envelopes handed to a client's publish: one view each (the range the client keeps), heartbeats too, with or without a key", async () => {
    for (const keyed of [false, true]) {
      const run = await meter(keyed ? FEEDS.signed : FEEDS.plain, keyed, true);
      expect(run.counters.rejected).toEqual({});
      expect(run.counters.undefinedInstrument).toBe(0);
      const beats = (WARM + METERED) / 5;
      expect(run.counters.heartbeats).toBe(beats);
      expect(run.counters.published).toBe(2 * INSTRUMENTS + (WARM + METERED - beats) * INSTRUMENTS);
      expect(run.perDatagram.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
      const envelopes = METERED / 5 + ((METERED * 4) / 5) * INSTRUMENTS; // in the metered datagrams
      const perEnvelope = (run.perDatagram.cellsPerStep * METERED) / envelopes;
      // Before: a new Uint8Array, its ArrayBuffer, a DataView and subarrays per envelope, 9 cells (12 keyed).
      expect(perEnvelope, `keyed ${keyed}: ${run.perDatagram.types}`).toBeLessThan(1.05);
      expect(run.perDatagram.types, `keyed ${keyed}`).toMatch(/^Uint8Array /); // the views; a JIT code block at most beside
    }
  });

  it("PUB frames written by the bridge, one command a datagram: one view a datagram (the range the client keeps)", async () => {
    for (const keyed of [false, true]) {
      const run = await meter(keyed ? FEEDS.signed : FEEDS.plain, keyed, true, true);
      expect(run.counters.rejected).toEqual({});
      const beats = (WARM + METERED) / 5;
      expect(run.counters.heartbeats).toBe(beats);
      expect(run.counters.published).toBe(2 * INSTRUMENTS + (WARM + METERED - beats) * INSTRUMENTS);
      expect(run.envelopes, "nothing through the client's publish").toBe(0);
      expect(run.commands).toBe(1 + WARM + METERED);
      expect(run.perDatagram.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
      // Before (the client's publish per envelope, above): one view an envelope, 5.8 a datagram here.
      expect(run.perDatagram.cellsPerStep, `keyed ${keyed}: ${run.perDatagram.types}`).toBeLessThan(1.05);
    }
  });

  it("a refresh's definitions, the same every time: nothing made again but the datagram's range; a new name is taken", async () => {
    // One refresh's definitions a datagram (one packer: seqNums in order), then instrument 100 renamed.
    const p = new ChannelPacker(1400, 1, 0, 9, { sessionStartUs: T0_US, heartbeatIntervalMs: 1000 });
    const define = (i: number, symbol: string) => packInstrumentDefinition(p, new EncodedDefinition({ instrumentId: 100 + i, venue: "bybit", market: "linear", symbol, priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" }), false);
    const refreshes: Uint8Array[] = [];
    for (let k = 0; k <= WARM + METERED; k++) {
      if (k < WARM + METERED) for (let i = 0; i < INSTRUMENTS; i++) define(i, `S${i}USDT`);
      else define(0, "RENAMED");
      p.seal(T0_US + k * 100);
      refreshes.push(p.bytes[0]!.slice(0, p.lengths[0]));
      p.clear();
    }
    for (const frames of [true, false]) {
      const bridge = new (frames ? NullFrameBridge : NullBridge)({ groups: [], servers: "nats://127.0.0.1:1", prefix: "alloc", log: silentLogger });
      await bridge.start();
      try {
        for (let i = 0; i < WARM; i++) bridge.onDatagram(refreshes[i]!);
        const run = measureAllocation(WARM, WARM + METERED, (i) => bridge.onDatagram(refreshes[i]!));
        expect(run.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
        // Before: the symbol's string, the subject's template, its replace and RegExp per definition, every refresh.
        const ranges = frames ? 1 : INSTRUMENTS; // what goes to the client: one range a datagram, or one an envelope
        expect(run.cellsPerStep, `frames ${frames}: ${run.types}`).toBeLessThan(ranges + 0.05);
        expect(bridge.counters.published).toBe((WARM + METERED) * INSTRUMENTS);
        if (!frames) {
          bridge.onDatagram(refreshes[WARM + METERED]!);
          expect(bridge.client.lastSubject).toBe("alloc.bybit.linear.RENAMED");
        }
      } finally {
        await bridge.stop();
      }
    }
  });

  it("writeEnvelope writes the envelopes the DataView version wrote (300 random messages, numbers and keys)", () => {
    /** The envelope as built before s-bralloc (a DataView over a new buffer), the reference. */
    const reference = (src: Uint8Array, hbMs: number, off: number, len: number, fwd: number | undefined, bridgeId: number, auth: DatagramAuth | undefined) => {
      const out = new Uint8Array(ENVELOPE_BYTES + len + (auth === undefined ? 0 : 16));
      const dv = new DataView(out.buffer);
      dv.setUint16(0, 0x4e46, true);
      out[2] = auth === undefined ? 2 : 3;
      out[3] = src[3]!;
      out.set(src.subarray(4, 6), 4);
      out.set(src.subarray(14, 16), 6);
      out.set(src.subarray(8, 12), 8);
      dv.setUint16(12, hbMs, true);
      if (fwd !== undefined) {
        dv.setUint16(14, 0x8000 | fwd % 0x8000, true);
        dv.setUint32(36, (0x8000_0000 | Math.floor(fwd / 0x8000)) >>> 0, true);
      }
      out.set(src.subarray(32, 40), 16);
      out.set(src.subarray(24, 32), 24);
      dv.setUint32(32, bridgeId, true);
      out.set(src.subarray(off, off + len), ENVELOPE_BYTES);
      auth?.sign(out, out.length);
      return out;
    };
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const scratch = new Uint8Array(2000).fill(0xee); // stale bytes from an earlier, longer envelope
    for (let i = 0; i < 300; i++) {
      const src = Uint8Array.from({ length: 600 }, () => rnd(256));
      const len = rnd(4) === 0 ? 0 : 8 * (1 + rnd(60));
      const off = 40 + rnd(600 - 40 - len + 1);
      const fwd = rnd(5) === 0 ? undefined : rnd(3) === 0 ? rnd(0x8000) : rnd(2 ** 30) * 2 ** 14 + rnd(2 ** 14);
      const key = rnd(2) === 0 ? undefined : new DatagramAuth(Uint8Array.from({ length: 32 + rnd(40) }, () => rnd(256)));
      const bridgeId = (rnd(2 ** 16) * 2 ** 16 + rnd(2 ** 16)) >>> 0;
      const hbMs = rnd(65536);
      const want = reference(src, hbMs, off, len, fwd, bridgeId, key);
      const n = writeEnvelope(scratch, src, hbMs, off, len, fwd, bridgeId, key);
      expect(scratch.subarray(0, n)).toEqual(want);
      expect(envelopeOf(src, hbMs, off, len, fwd, bridgeId, key)).toEqual(want);
    }
  });
});

const missing = natsServerMissing();
describe.skipIf(missing !== undefined)(`the bridge's own PUB frames on a real nats-server${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  it("carry each envelope on its subject, in order, the bytes envelopeOf writes, heartbeats and signed ones too", async () => {
    const nats = await NatsServer.start();
    const { connect } = await import("@nats-io/transport-node");
    const nc = await connect({ servers: nats.url });
    try {
      // UTF-8, and what subjects replace (docs/nats.md; format characters such as the zero-width space too, since
      // d68d56b8): the keyed run's symbols hold each edge character, whatever the
      // client's publish refuses in a subject (space, tab, CR, LF) or nats-server reads as a wildcard token (`*`, `>`)
      // among them: in a frame of the bridge's own a tab or line end would end the subject, or the PUB line, early.
      const plainSymbols = ["BTCUSDT", "ÄÖ€", "x.y*z", "", "S 4", "日本", "S6"];
      const edgeSymbols = ["a\tb\r\nc", "\x1b[31mX\x7f\u0085", "\u00a0\u2028\u3000\ufeffY", "*", ">", "🚀\u200bZ", "é".repeat(32)];
      let symbols = plainSymbols;
      const symbolOf = (i: number) => symbols[i]!;
      for (const keyed of [false, true]) {
        symbols = keyed ? edgeSymbols : plainSymbols;
        const prefix = keyed ? "framesk" : "frames";
        const got: { subject: string; data: Uint8Array }[] = [];
        const sub = nc.subscribe(`${prefix}.>`, { callback: (_err, m) => void got.push({ subject: m.subject, data: Uint8Array.from(m.data) }) });
        await nc.flush();
        const bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix, log: silentLogger, ...(keyed ? { authKey: KEY } : {}) });
        await bridge.start();
        expect((bridge as unknown as { frames: unknown }).frames, "the client's internals take a command").toBeDefined();
        const datagrams = feed(40, keyed, true, symbolOf);
        try {
          for (const d of datagrams) bridge.onDatagram(d);
          const envelopes = 2 * INSTRUMENTS + 8 + 32 * INSTRUMENTS;
          for (let i = 0; i < 200 && got.length < envelopes; i++) await Bun.sleep(10);
          expect(got.length).toBe(envelopes);
          expect(bridge.counters.published + bridge.counters.heartbeats).toBe(envelopes);
          // The reference: the client's publish of envelopeOf's bytes, numbered from the first envelope's number.
          const first = new DataView(got[0]!.data.buffer);
          let forward = (first.getUint32(36, true) & 0x7fff_ffff) * 0x8000 + (first.getUint16(14, true) & 0x7fff);
          const subjectOfId = (id: number) => `${prefix}.bybit.linear.${symbolOf(id - 100).replace(/[.*>\s\x00-\x1f\x7f-\x9f\p{Cf}\p{Default_Ignorable_Code_Point}]/gu, "_") || "_"}`;
          const auth = keyed ? new DatagramAuth(KEY) : undefined;
          let k = 0;
          for (const d of datagrams) {
            const dv = new DataView(d.buffer);
            const hb = dv.getUint16(PKT_HEARTBEAT_INTERVAL_MS_OFFSET, true);
            const count = dv.getUint16(PKT_MSG_COUNT_OFFSET, true);
            if (count === 0) {
              expect(got[k]!.subject).toBe(`${prefix}._hb`);
              expect(got[k++]!.data).toEqual(envelopeOf(d, hb, 0, 0, forward, bridge.bridgeId, auth));
            }
            for (let i = 0, off = PACKET_HEADER_BYTES; i < count; i++) {
              const len = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
              expect(got[k]!.subject).toBe(subjectOfId(dv.getUint32(off + MESSAGE_HEADER_BYTES, true)));
              expect(got[k++]!.data).toEqual(envelopeOf(d, hb, off, len, forward++, bridge.bridgeId, auth));
              off += len;
            }
          }
        } finally {
          sub.unsubscribe();
          await bridge.stop();
        }
      }
    } finally {
      await nc.close();
      await nats.stop();
    }
  });
});
