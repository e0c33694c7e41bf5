/**
 * Golden vectors (test/wire/vectors.json, quoted in docs/wire-protocol.md §8): the encoder reproduces every byte,
 * the decoder reads them back, and an independent reader written from the spec's tables with literal offsets
 * (no layout.ts) agrees — so spec, constants and code cannot drift apart silently.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { crc32 } from "../../src/wire/crc32.ts";
import { crc32c } from "../../src/wire/crc32c.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { topLevels } from "../../src/subscriber/format.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { fromHex } from "./helpers.ts";
import { encodeVector, type Vector } from "./vector-encode.ts";

const allVectors: Vector[] = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));
const vectors = allVectors.filter((v) => v.expectError === undefined);
const rejects = allVectors.filter((v) => v.expectError !== undefined);
const authOf = (v: Vector) => (v.authKeyHex !== undefined ? new DatagramAuth(fromHex(v.authKeyHex)) : undefined);

/**
 * The checksums written from the spec's definition alone (§3.2): bitwise, reflected polynomial 0xEDB88320 (CRC-32,
 * v3) or 0x82F63B78 (CRC-32C, v2), init and final XOR 0xFFFFFFFF (test only, slow).
 */
function specCrc(bytes: Uint8Array, poly: number): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

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
    sessionStartNs: dv.getBigInt64(32, true),
    heartbeatIntervalMs: dv.getUint16(40, true),
    schemaId: dv.getUint16(42, true),
    checksum: dv.getUint32(44, true),
  };
  const messages: Record<string, unknown>[] = [];
  let off = 48;
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
        if (templateId === 1) Object.assign(m, { partIndex: dv.getUint16(b + 54, true), partCount: dv.getUint16(b + 56, true) });
        if (templateId === 2) {
          Object.assign(m, {
            chunkIndex: dv.getUint16(b + 54, true),
            chunkCount: dv.getUint16(b + 56, true),
            totalBidCount: dv.getUint16(b + 58, true),
            totalAskCount: dv.getUint16(b + 60, true),
            cutFlags: dv.getUint16(b + 62, true),
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
      "cut_snapshot",
      "status",
      "packed_turn",
      "split_snapshot",
      "split_delta",
      "refresh",
      "exponent_change",
      "authenticated",
      "authenticated_heartbeat",
      "heartbeat_backwards",
      "newer_session",
      "unknown_template",
      "v2_delta",
    ]);
    expect(rejects.map((v) => [v.name, v.expectError])).toEqual([
      ["reject_v1", "unknown_version"],
      ["reject_flipped_bit", "bad_checksum"],
      ["reject_v3_crc32c", "bad_checksum"],
      ["reject_forged", "bad_auth"],
      ["reject_negative_qty", "bad_value"],
      ["reject_part_index", "bad_message"],
      ["reject_last_mismatch", "bad_message"],
      ["reject_chunk_over_total", "bad_message"],
      ["reject_unknown_schema", "unknown_schema"],
    ]);
  });

  it("the checksum is the CRC of its version (v3 CRC-32, v2 CRC-32C): check values and a bitwise reader written from the spec", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    let v2 = 0;
    let v3 = 0;
    for (const v of allVectors) {
      for (const hex of v.datagrams) {
        const bytes = fromHex(hex);
        if (v.expectError !== undefined && v.reseal !== true && v.rawHex === undefined) continue; // deliberately wrong CRCs
        if (v.rawHex !== undefined) continue; // v1: no CRC field
        const zeroed = bytes.slice();
        zeroed.fill(0, 44, 48);
        const version = bytes[2];
        expect(version === 2 || version === 3, v.name).toBe(true);
        const want = specCrc(zeroed, version === 3 ? 0xedb88320 : 0x82f63b78);
        expect(new DataView(bytes.buffer).getUint32(44, true), v.name).toBe(want);
        if (version === 3) v3++;
        else v2++;
      }
    }
    expect(v2).toBeGreaterThanOrEqual(1);
    expect(v3).toBeGreaterThanOrEqual(20);
  });

  it("every authenticated vector's trailer is HMAC-SHA256(key, bytes [0, pktLength − 16) with the checksum = 0), first 16 bytes", () => {
    const signed = vectors.filter((v) => v.authKeyHex !== undefined);
    expect(signed.length).toBeGreaterThanOrEqual(2);
    for (const v of signed) {
      for (const hex of v.datagrams) {
        const bytes = fromHex(hex);
        expect(bytes[3]! & 0x08).toBe(0x08);
        const covered = bytes.slice(0, bytes.length - 16);
        covered.fill(0, 44, 48);
        const mac = createHmac("sha256", fromHex(v.authKeyHex!)).update(covered).digest().subarray(0, 16);
        expect(Buffer.from(bytes.subarray(bytes.length - 16)).equals(mac)).toBe(true);
      }
    }
  });

  for (const v of rejects) {
    it(`${v.name}: decoders refuse it as ${v.expectError}`, () => {
      expect(encodeVector(v)).toEqual(v.datagrams);
      const res = decodeDatagram(fromHex(v.datagrams[0]!), v.maxDatagramBytes, authOf(v));
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.error.codeName).toBe(v.expectError);
    });
  }

  it("reject_forged is accepted by a subscriber without a key (it ignores the trailer) and refused with one", () => {
    const v = rejects.find((x) => x.name === "reject_forged")!;
    expect(decodeDatagram(fromHex(v.datagrams[0]!), 1400).ok).toBe(true);
    expect(decodeDatagram(fromHex(v.datagrams[0]!), 1400, authOf(v)).ok).toBe(false);
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
          const res = decodeDatagram(bytes, v.maxDatagramBytes, authOf(v));
          expect(res.ok).toBe(true);
          if (!res.ok) return;
          const spec = specRead(bytes);
          expect(spec.header.magic).toBe(0x4446);
          expect(bytes[0]).toBe(0x46); // "F"
          expect(bytes[1]).toBe(0x44); // "D"
          expect(spec.header.version).toBe(v.version ?? 3);
          expect(spec.header.schemaId).toBe(1);
          expect(spec.header.heartbeatIntervalMs).toBe(v.heartbeatIntervalMs);
          expect(spec.header.sessionStartNs).toBe(BigInt(v.sessionStartUs) * 1000n);
          expect(res.packet.sessionStartUs).toBe(v.sessionStartUs);
          const authenticated = (spec.header.flags & 0x08) !== 0;
          expect(authenticated).toBe(v.authKeyHex !== undefined);
          expect(spec.end + (authenticated ? 16 : 0)).toBe(bytes.byteLength);
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
              if (dm.type === "delta") {
                expect([sm.partIndex, sm.partCount]).toEqual([dm.partIndex, dm.partCount]);
                expect(sm.version).toBe(2);
                expect(sm.blockLength).toBe(64);
              }
              if (dm.type === "snapshot") {
                expect([sm.chunkIndex, sm.chunkCount, sm.totalBidCount, sm.totalAskCount, sm.cutFlags]).toEqual([
                  dm.chunkIndex,
                  dm.chunkCount,
                  dm.totalBidCount,
                  dm.totalAskCount,
                  dm.cutFlags,
                ]);
                // §4.4: every publisher since 2026-12-06 marks its cuts; only cut_snapshot's book was deeper.
                expect(sm.cutFlags).toBe(v.name === "cut_snapshot" ? 0x8003 : 0x8000);
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
    for (const v of allVectors) {
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

  it("§8.1 and §8.2's annotated dumps are the vectors' bytes at the offsets they give, all of delta and definition", () => {
    const spec = readFileSync(new URL("../../docs/wire-protocol.md", import.meta.url), "utf8");
    const section = (heading: string) => spec.slice(spec.indexOf(heading), spec.indexOf("\n### ", spec.indexOf(heading) + 1));
    // Each ```text block of the section, in order, annotates one vector: "0038  1f 0c 2d 7e   instrumentId ...".
    const annotated: [string, string, number][] = [
      ["### 8.1 Annotated: `delta`", "delta", -1],
      ["### 8.2 Annotated: `definition` and `authenticated`", "definition", -1],
      ["### 8.2 Annotated: `definition` and `authenticated`", "authenticated", 48], // its header's changes and trailer
    ];
    const blocksOf = (text: string) => [...text.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const used = new Map<string, number>();
    for (const [heading, name, coveredBytes] of annotated) {
      const nth = used.get(heading) ?? 0;
      used.set(heading, nth + 1);
      const block = blocksOf(section(heading))[nth];
      expect(block, `${heading}: block ${nth + 1}`).toBeDefined();
      const bytes = fromHex(vectors.find((v) => v.name === name)!.datagrams[0]!);
      let covered = 0;
      for (const line of block!.split("\n")) {
        const m = /^([0-9a-f]{4})  ((?:[0-9a-f]{2} )*[0-9a-f]{2})(?: |$)/.exec(line);
        if (m === null) continue; // a heading line ("packet header", "levels")
        const at = parseInt(m[1]!, 16);
        const quoted = m[2]!.split(" ");
        const actual = [...bytes.subarray(at, at + quoted.length)].map((b) => b.toString(16).padStart(2, "0"));
        expect(quoted, `${name} at 0x${m[1]}`).toEqual(actual);
        covered += quoted.length;
      }
      expect(covered, `${name}: bytes annotated`).toBe(coveredBytes < 0 ? bytes.length : coveredBytes);
    }
  });

  it("the split_delta vector is two parts of one event: same instrSeq, partIndex 0 and 1 of 2, LAST on the second", () => {
    const v = vectors.find((x) => x.name === "split_delta")!;
    const msgs = v.datagrams.flatMap((h) => {
      const res = decodeDatagram(fromHex(h), v.maxDatagramBytes);
      return res.ok ? res.packet.messages : [];
    });
    expect(msgs.map((m) => (m.type === "delta" ? [m.instrSeq, m.partIndex, m.partCount, m.msgFlags & 0x80] : []))).toEqual([
      [42, 0, 2, 0],
      [42, 1, 2, 0x80],
    ]);
  });

  it("the exponent_change vector announces the new exponents by a definition, then a snapshot at them", () => {
    const v = vectors.find((x) => x.name === "exponent_change")!;
    const res = decodeDatagram(fromHex(v.datagrams[0]!));
    expect(res.ok && res.packet.messages.map((m) => [m.type, "priceExp" in m ? m.priceExp : undefined])).toEqual([
      ["definition", 2],
      ["snapshot", 2],
    ]);
  });

  it("unknown_template is valid and skipped; newer_session orders after the others; heartbeat_backwards is below heartbeat", () => {
    const get = (name: string) => {
      const res = decodeDatagram(fromHex(vectors.find((x) => x.name === name)!.datagrams[0]!));
      if (!res.ok) throw res.error;
      return res.packet;
    };
    expect(get("unknown_template").messages).toEqual([{ type: "unknown", templateId: 99, msgFlags: 0x84, version: 1, msgLength: 56 }]);
    const older = get("heartbeat");
    const newer = get("newer_session");
    expect(newer.sessionStartUs).toBeGreaterThan(older.sessionStartUs);
    expect(newer.sessionId).not.toBe(older.sessionId);
    expect(get("heartbeat_backwards").seqNum).toBeLessThan(older.seqNum);
  });

  it("the stateful vectors, replayed in order through the reference subscriber, do what §3.4 and §4.7 say", () => {
    const bytesOf = (name: string) => fromHex(vectors.find((x) => x.name === name)!.datagrams[0]!);
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    sub.ingest(bytesOf("heartbeat"));
    sub.ingest(bytesOf("heartbeat_backwards"));
    expect(sub.streamInfo().map((x) => x.nextSeq)).toEqual([1000]);
    sub.ingest(bytesOf("newer_session"));
    const dropped = sub.counters.oldSessionDatagrams;
    sub.ingest(bytesOf("delta")); // session 0x01020304, an hour older
    expect(sub.counters.oldSessionDatagrams).toBe(dropped + 1);
    expect(sub.book(0x7e2d0c1f)).toBeUndefined();
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

  it("v2_delta (a v2 publisher's datagram) decodes to the same packet as delta, and a subscriber applies it the same way", () => {
    const v3 = decodeDatagram(fromHex(vectors.find((x) => x.name === "delta")!.datagrams[0]!));
    const v2 = decodeDatagram(fromHex(vectors.find((x) => x.name === "v2_delta")!.datagrams[0]!));
    expect(v3.ok && v2.ok).toBe(true);
    if (!v3.ok || !v2.ok) return;
    expect([v3.packet.version, v2.packet.version]).toEqual([3, 2]);
    expect(v2.packet.checksum).not.toBe(v3.packet.checksum);
    const { version: _a, checksum: _b, ...rest3 } = v3.packet;
    const { version: _c, checksum: _d, ...rest2 } = v2.packet;
    expect(rest2).toEqual(rest3);
    const books = ["delta", "v2_delta"].map((name) => {
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
      sub.ingest(fromHex(vectors.find((x) => x.name === "snapshot")!.datagrams[0]!));
      sub.ingest(fromHex(vectors.find((x) => x.name === name)!.datagrams[0]!));
      expect(sub.counters.errors, name).toBe(0);
      const book = sub.book(0x7e2d0c1f);
      return book === undefined ? undefined : { instrSeq: book.instrSeq, ...topLevels(book, 10) };
    });
    expect(books[0]).toBeDefined();
    expect(books[1]).toEqual(books[0]);
  });
});
