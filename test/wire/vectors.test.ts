/**
 * Golden vectors (test/wire/vectors.json, quoted in docs/wire-protocol.md §8): the encoder reproduces every byte,
 * the decoder reads them back, and an independent reader written from the spec's tables with literal offsets
 * (no layout.ts) agrees — so spec, constants and code cannot drift apart silently.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { fromHex } from "./helpers.ts";
import { encodeVector, type Vector } from "./vector-encode.ts";

const vectors: Vector[] = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));

/** Reads fields with offsets copied from docs/wire-protocol.md, using BigInt for exactness (test only). */
function specRead(bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (o: number) => Number(dv.getBigUint64(o, true));
  const i64 = (o: number) => Number(dv.getBigInt64(o, true));
  const header = {
    magic: dv.getUint16(0, true),
    version: dv.getUint8(2),
    flags: dv.getUint8(3),
    channelId: dv.getUint16(4, true),
    msgCount: dv.getUint16(6, true),
    sessionId: dv.getUint32(8, true),
    pktLength: dv.getUint16(12, true),
    sourceId: dv.getUint16(14, true),
    seqNum: u64(16),
    sendTimeNs: dv.getBigInt64(24, true),
  };
  const messages: Record<string, unknown>[] = [];
  let off = 32;
  for (let i = 0; i < header.msgCount; i++) {
    const msgLength = dv.getUint16(off, true);
    const templateId = dv.getUint16(off + 2, true);
    const blockLength = dv.getUint16(off + 4, true);
    const b = off + 8;
    const m: Record<string, unknown> = { msgLength, templateId, blockLength, version: dv.getUint8(off + 6), msgFlags: dv.getUint8(off + 7) };
    if (templateId === 1 || templateId === 2 || templateId === 3) {
      Object.assign(m, {
        instrumentId: dv.getUint32(b, true),
        priceExp: dv.getInt8(b + 4),
        qtyExp: dv.getInt8(b + 5),
        state: dv.getUint8(b + 6),
        reason: dv.getUint8(b + 7),
        instrSeq: u64(b + 8),
        venueSeq: u64(b + 16),
        tsExchangeNs: dv.getBigInt64(b + 24, true),
        tsEventNs: dv.getBigInt64(b + 32, true),
        tsRecvNs: dv.getBigInt64(b + 40, true),
      });
      if (templateId !== 3) {
        const nb = dv.getUint16(b + 48, true);
        const na = dv.getUint16(b + 50, true);
        const levelLength = dv.getUint16(b + 52, true);
        const lv = (k: number): [number, number] => [i64(b + blockLength + k * levelLength), i64(b + blockLength + k * levelLength + 8)];
        m.bids = Array.from({ length: nb }, (_, k) => lv(k));
        m.asks = Array.from({ length: na }, (_, k) => lv(nb + k));
        if (templateId === 2) {
          Object.assign(m, {
            chunkIndex: dv.getUint16(b + 54, true),
            chunkCount: dv.getUint16(b + 56, true),
            totalBidCount: dv.getUint16(b + 58, true),
            totalAskCount: dv.getUint16(b + 60, true),
          });
        }
      }
    } else if (templateId === 10) {
      const sl = dv.getUint8(b + 10);
      const tl = dv.getUint8(b + 11);
      const ll = dv.getUint8(b + 12);
      const s = (from: number, n: number) => Buffer.from(bytes.subarray(b + blockLength + from, b + blockLength + from + n)).toString("ascii");
      Object.assign(m, {
        instrumentId: dv.getUint32(b, true),
        venueId: dv.getUint16(b + 4, true),
        marketId: dv.getUint16(b + 6, true),
        priceExp: dv.getInt8(b + 8),
        qtyExp: dv.getInt8(b + 9),
        symbol: s(0, sl),
        tickSize: s(sl, tl),
        lotSize: s(sl + tl, ll),
      });
    }
    messages.push(m);
    off += msgLength;
  }
  return { header, messages, end: off };
}

describe("golden vectors", () => {
  it("has the vectors the spec quotes", () => {
    expect(vectors.map((v) => v.name)).toEqual([
      "heartbeat",
      "end_of_session",
      "definition",
      "delta",
      "snapshot",
      "status",
      "packed_turn",
      "split_snapshot",
    ]);
  });

  for (const v of vectors) {
    describe(v.name, () => {
      it("the encoder reproduces every byte", () => {
        expect(encodeVector(v)).toEqual(v.datagrams);
      });

      it("decodes without error, and a spec-table reader agrees with the decoder", () => {
        let seq = v.firstSeq;
        for (const hex of v.datagrams) {
          const bytes = fromHex(hex);
          const res = decodeDatagram(bytes, v.maxDatagramBytes);
          expect(res.ok).toBe(true);
          if (!res.ok) return;
          const spec = specRead(bytes);
          expect(spec.header.magic).toBe(0x4446);
          expect(bytes[0]).toBe(0x46); // "F"
          expect(bytes[1]).toBe(0x44); // "D"
          expect(spec.header.version).toBe(1);
          expect(spec.end).toBe(bytes.byteLength);
          expect(spec.header.pktLength).toBe(bytes.byteLength);
          expect(spec.header.seqNum).toBe(seq);
          expect(spec.header.sendTimeNs).toBe(BigInt(v.sendTimeUs) * 1000n);
          expect(res.packet.seqNum).toBe(seq);
          expect(res.packet.sendTimeUs).toBe(v.sendTimeUs);
          expect(res.packet.sessionId).toBe(v.sessionId);
          expect(res.packet.channelId).toBe(v.channelId);
          seq += spec.header.msgCount;
          expect(spec.messages).toHaveLength(res.packet.messages.length);
          spec.messages.forEach((sm, i) => {
            const dm = res.packet.messages[i]!;
            expect((sm.msgLength as number) % 8).toBe(0);
            if (dm.type === "delta" || dm.type === "snapshot" || dm.type === "status") {
              expect(sm.instrumentId).toBe(dm.instrumentId);
              expect(sm.instrSeq).toBe(dm.instrSeq);
              expect(sm.venueSeq).toBe(dm.venueSeq);
              expect(sm.tsExchangeNs).toBe(BigInt(dm.tsExchangeUs) * 1000n);
              expect(sm.tsEventNs).toBe(BigInt(dm.tsEventUs) * 1000n);
              expect(sm.tsRecvNs).toBe(BigInt(dm.tsRecvUs) * 1000n);
              expect(sm.state).toBe(dm.state);
              expect(sm.reason).toBe(dm.reason);
              if (dm.type !== "status") {
                expect(sm.bids).toEqual(dm.bids);
                expect(sm.asks).toEqual(dm.asks);
              }
              if (dm.type === "snapshot") {
                expect([sm.chunkIndex, sm.chunkCount, sm.totalBidCount, sm.totalAskCount]).toEqual([
                  dm.chunkIndex,
                  dm.chunkCount,
                  dm.totalBidCount,
                  dm.totalAskCount,
                ]);
              }
            } else if (dm.type === "definition") {
              expect(sm).toMatchObject({
                instrumentId: dm.instrumentId,
                venueId: dm.venueId,
                marketId: dm.marketId,
                symbol: dm.symbol,
                tickSize: dm.tickSize,
                lotSize: dm.lotSize,
              });
            }
          });
        }
      });
    });
  }

  it("docs/wire-protocol.md §8.3 quotes every datagram of every vector", () => {
    const spec = readFileSync(new URL("../../docs/wire-protocol.md", import.meta.url), "utf8");
    for (const v of vectors) {
      expect(spec).toContain("#### `" + v.name + "`");
      for (const hex of v.datagrams) {
        const bytes = fromHex(hex);
        const lines: string[] = [];
        for (let o = 0; o < bytes.length; o += 16) {
          const row = [...bytes.subarray(o, o + 16)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
          lines.push(o.toString(16).padStart(4, "0") + "  " + row);
        }
        expect(spec).toContain("```hex\n" + lines.join("\n") + "\n```");
      }
    }
  });

  it("the delta vector decodes to the values its description states", () => {
    const v = vectors.find((x) => x.name === "delta")!;
    const res = decodeDatagram(fromHex(v.datagrams[0]!));
    expect(res.ok && res.packet.messages[0]).toMatchObject({
      type: "delta",
      instrumentId: 0x7e2d0c1f,
      priceExp: 1,
      qtyExp: 3,
      instrSeq: 42,
      venueSeq: 123456789,
      bids: [
        [302472, 1500],
        [302471, 0],
      ],
      asks: [[302473, 250]],
    });
  });
});
