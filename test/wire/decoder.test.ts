/**
 * The decoder rejects truncated, oversized, garbled and unknown-version datagrams with a typed code, never a throw;
 * on forged datagrams (mutated, CRC recomputed: anyone can) it gives the code of a validator written from
 * docs/wire-protocol.md §7.2 alone, and reads nothing outside the datagram.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { DECODE_ERROR_NAMES, DecodeErrorCode, PacketReader, WireDecodeError } from "../../src/wire/decoder.ts";
import { fromHex, resealCrc, rng } from "./helpers.ts";
import type { Vector } from "./vector-encode.ts";

const vectors: Vector[] = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));
const all = vectors.filter((v) => v.expectError === undefined).flatMap((v) => v.datagrams.map((h) => ({ name: v.name, bytes: fromHex(h) })));

/** Bitwise CRC over the datagram with bytes 44–47 (the checksum field) taken as 0 (§3.2). */
function specChecksum(b: Uint8Array, poly: number): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) {
    c ^= i >= 44 && i < 48 ? 0 : b[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * §7.2's verdict on datagram b (a reader without a key), from the spec's tables alone: literal offsets, BigInt i64s,
 * steps in the spec's order, each message's lengths before its values (as the reference decoder reads "header and
 * lengths, then the template's fields": the common block's sequences and timestamps, then the level structure).
 */
function specVerdict(b: Uint8Array, maxBytes: number): string {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.length;
  if (n < 3) return "truncated";
  if (dv.getUint16(0, true) !== 0x4446) return "bad_magic";
  const version = b[2]!;
  if (version !== 3 && version !== 2) return "unknown_version";
  if (n < 48) return "truncated";
  if (n > maxBytes) return "oversized";
  const pktLength = dv.getUint16(12, true);
  if (pktLength < 48 || pktLength > n) return "truncated";
  if (n > pktLength) return "oversized";
  const authenticated = (b[3]! & 0x08) !== 0;
  if (authenticated && pktLength < 64) return "truncated";
  if (specChecksum(b, version === 3 ? 0xedb88320 : 0x82f63b78) !== dv.getUint32(44, true)) return "bad_checksum";
  if (dv.getUint16(42, true) !== 1) return "unknown_schema";
  if (dv.getUint32(8, true) === 0) return "bad_header";
  const u64 = (o: number) => dv.getBigUint64(o, true);
  const i64 = (o: number) => dv.getBigInt64(o, true);
  const LIMIT = 2n ** 53n;
  if (u64(16) >= LIMIT || i64(24) < 0n || i64(32) < 0n) return "unsafe_integer";
  // The last message's channel sequence, seqNum + msgCount − 1, is below 2^53 too.
  if (u64(16) + BigInt(dv.getUint16(6, true)) - 1n >= LIMIT) return "unsafe_integer";
  const end = pktLength - (authenticated ? 16 : 0);
  let off = 48;
  for (let m = 0, count = dv.getUint16(6, true); m < count; m++) {
    if (off + 8 > end) return "bad_count";
    const msgLength = dv.getUint16(off, true);
    const templateId = dv.getUint16(off + 2, true);
    const blockLength = dv.getUint16(off + 4, true);
    if (msgLength < 8 || msgLength % 8 !== 0 || off + msgLength > end) return "bad_message";
    const body = off + 8;
    const bodyBytes = msgLength - 8;
    const minBlock = templateId === 1 || templateId === 2 ? 64 : templateId === 3 ? 48 : templateId === 10 ? 16 : 0;
    if (blockLength > bodyBytes || blockLength < minBlock) return "bad_message";
    if (templateId >= 1 && templateId <= 3) {
      if (u64(body + 8) >= LIMIT || u64(body + 16) >= LIMIT) return "unsafe_integer";
      if (i64(body + 24) < 0n || i64(body + 32) < 0n || i64(body + 40) < 0n) return "unsafe_integer";
    }
    if (templateId === 1 || templateId === 2) {
      const bids = dv.getUint16(body + 48, true);
      const asks = dv.getUint16(body + 50, true);
      const levelLength = dv.getUint16(body + 52, true);
      if (levelLength < 16 || levelLength % 8 !== 0 || blockLength + (bids + asks) * levelLength > bodyBytes) return "bad_message";
      const index = dv.getUint16(body + 54, true);
      const parts = dv.getUint16(body + 56, true);
      if (parts === 0 || index >= parts || (b[off + 7]! & 0x80) !== 0 !== (index === parts - 1)) return "bad_message";
      if (templateId === 2 && (bids > dv.getUint16(body + 58, true) || asks > dv.getUint16(body + 60, true))) return "bad_message";
      for (let k = 0; k < bids + asks; k++) {
        const at = body + blockLength + k * levelLength;
        const price = i64(at);
        const qty = i64(at + 8);
        if (price < -LIMIT || price >= LIMIT || qty < -LIMIT || qty >= LIMIT) return "unsafe_integer";
        if (qty < 0n) return "bad_value";
      }
    } else if (templateId === 10) {
      const lengths = [b[body + 10]!, b[body + 11]!, b[body + 12]!];
      if (blockLength + lengths[0]! + lengths[1]! + lengths[2]! > bodyBytes) return "bad_message";
      let at = body + blockLength;
      for (const len of lengths) {
        try {
          new TextDecoder("utf-8", { fatal: true }).decode(b.subarray(at, at + len));
        } catch {
          return "bad_value";
        }
        at += len;
      }
    }
    off += msgLength;
  }
  return off === end ? "ok" : "bad_count";
}

/** Writes seqNum (< 2^64, exact) into the header of b; returns b. */
function setSeqNum(b: Uint8Array, seqNum: number): Uint8Array {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(16, BigInt(seqNum), true);
  return b;
}

function codeOf(bytes: Uint8Array, maxBytes = 1400): DecodeErrorCode {
  const r = new PacketReader();
  return r.wrap(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.byteLength, maxBytes);
}

describe("decoder rejects bad datagrams", () => {
  it("every truncation of every vector is rejected, never thrown", () => {
    for (const { bytes } of all) {
      for (let n = 0; n < bytes.byteLength; n++) {
        const rc = codeOf(bytes.subarray(0, n));
        expect(rc === DecodeErrorCode.TRUNCATED || rc === DecodeErrorCode.BAD_MAGIC || rc === DecodeErrorCode.UNKNOWN_VERSION).toBe(true);
        if (n >= 3) expect(rc).toBe(DecodeErrorCode.TRUNCATED);
      }
    }
  });

  it("trailing bytes beyond pktLength and datagrams above the maximum are OVERSIZED", () => {
    const bytes = all.find((x) => x.name === "delta")!.bytes;
    const longer = new Uint8Array(bytes.byteLength + 8);
    longer.set(bytes);
    expect(codeOf(longer)).toBe(DecodeErrorCode.OVERSIZED);
    expect(codeOf(bytes, bytes.byteLength - 8)).toBe(DecodeErrorCode.OVERSIZED);
    expect(codeOf(bytes, bytes.byteLength)).toBe(DecodeErrorCode.OK);
  });

  it("a datagram both truncated and oversized gets the first of §7.2 steps 3a–3e it fails", () => {
    const heartbeat = all.find((x) => x.name === "heartbeat")!.bytes;
    expect(heartbeat.byteLength).toBe(48);
    /** heartbeat bytes padded with zeros to n bytes, pktLength set, AUTHENTICATED if asked. */
    const make = (n: number, pktLength: number, authenticated = false) => {
      const b = new Uint8Array(n);
      b.set(heartbeat.subarray(0, Math.min(48, n)));
      if (n >= 14) new DataView(b.buffer).setUint16(12, pktLength, true);
      if (authenticated) b[3]! |= 0x08;
      return b;
    };
    // 3a before 3b: 40 bytes against a maximum of 32.
    expect(codeOf(make(40, 40), 32)).toBe(DecodeErrorCode.TRUNCATED);
    // 3b before 3c: 64 bytes above a maximum of 56, pktLength 72 beyond them.
    expect(codeOf(make(64, 72), 56)).toBe(DecodeErrorCode.OVERSIZED);
    // 3c before 3d: 64 bytes (16 after a pktLength of 32, which is below 48).
    expect(codeOf(make(64, 32))).toBe(DecodeErrorCode.TRUNCATED);
    // 3d before 3e: AUTHENTICATED, pktLength 56 (no room for the trailer) and 8 bytes after it.
    expect(codeOf(make(64, 56, true))).toBe(DecodeErrorCode.OVERSIZED);
  });

  it("foreign magic and unknown versions are rejected", () => {
    const bytes = all.find((x) => x.name === "delta")!.bytes.slice();
    bytes[0] = 0x00;
    expect(codeOf(bytes)).toBe(DecodeErrorCode.BAD_MAGIC);
    for (const version of [0, 1, 4, 255]) {
      const other = all.find((x) => x.name === "delta")!.bytes.slice();
      other[2] = version;
      expect(codeOf(resealCrc(other)), `version ${version}`).toBe(DecodeErrorCode.UNKNOWN_VERSION);
    }
    const v4 = all.find((x) => x.name === "delta")!.bytes.slice();
    v4[2] = 4;
    const res = decodeDatagram(v4);
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.error).toBeInstanceOf(WireDecodeError);
      expect(res.error.code).toBe(DecodeErrorCode.UNKNOWN_VERSION);
      expect(res.error.codeName).toBe("unknown_version");
    }
  });

  it("inconsistent message headers and counts are rejected", () => {
    const base = all.find((x) => x.name === "packed_turn")!.bytes;
    const cases: [string, (b: Uint8Array) => void, DecodeErrorCode][] = [
      ["msgLength not a multiple of 8", (b) => (b[48] = 0x29), DecodeErrorCode.BAD_MESSAGE],
      ["msgLength beyond the packet", (b) => (b[49] = 0x10), DecodeErrorCode.BAD_MESSAGE],
      ["blockLength larger than the body", (b) => (b[52] = 0xff), DecodeErrorCode.BAD_MESSAGE],
      ["msgCount too large", (b) => (b[6] = 4), DecodeErrorCode.BAD_COUNT],
      ["msgCount too small", (b) => (b[6] = 2), DecodeErrorCode.BAD_COUNT],
      ["level count beyond the message", (b) => (b[88 + 8 + 48] = 9), DecodeErrorCode.BAD_MESSAGE],
      ["negative channel seq", (b) => (b[23] = 0x80), DecodeErrorCode.UNSAFE_INTEGER],
      ["negative session start", (b) => (b[39] = 0x80), DecodeErrorCode.UNSAFE_INTEGER],
      ["sessionId 0", (b) => b.fill(0, 8, 12), DecodeErrorCode.BAD_HEADER],
      ["AUTHENTICATED but no trailer: the last message overlaps it", (b) => (b[3] |= 0x08), DecodeErrorCode.BAD_MESSAGE],
    ];
    for (const [what, mutate, want] of cases) {
      const b = base.slice();
      mutate(b);
      expect(codeOf(b), what + " (CRC left stale)").toBe(DecodeErrorCode.BAD_CHECKSUM);
      expect(codeOf(resealCrc(b)), what).toBe(want);
    }
  });

  it("every refusal names its field (and the message and level entry it is in), as §7.2 names them", () => {
    // Literal offsets (§3, §4): the delta vector's message at 48, its root block at 56, levels at 120 (2 bids, 1 ask);
    // the snapshot's likewise (2 + 2 levels); the definition's lengths at 66–68, its strings from 72.
    const v = (name: string) => vectors.find((x) => x.name === name)!;
    const bytesOf = (name: string) => fromHex(v(name).datagrams[0]!);
    const key = new DatagramAuth(fromHex(v("authenticated").authKeyHex!));
    const u16 = (b: Uint8Array, o: number, x: number) => new DataView(b.buffer, b.byteOffset).setUint16(o, x, true);
    const i64 = (b: Uint8Array, o: number, x: bigint) => new DataView(b.buffer, b.byteOffset).setBigInt64(o, x, true);
    const NEG = -1n;
    const BIG = 2n ** 53n;
    type Case = [string, string, (b: Uint8Array) => Uint8Array | void, string, { reseal?: boolean; maxBytes?: number; key?: boolean }?];
    const cases: Case[] = [
      ["delta", "truncated", (b) => b.subarray(0, 2), "shorter than 3 bytes"],
      ["delta", "bad_magic", (b) => void (b[0] = 0), "magic not 0x4446"],
      ["delta", "unknown_version", (b) => void (b[2] = 4), "version not 3 or 2"],
      ["delta", "truncated", (b) => b.subarray(0, 40), "shorter than the 48-byte packet header"],
      ["delta", "oversized", () => {}, "longer than the maximum datagram accepted (maxDatagramBytes)", { maxBytes: 160 }],
      ["delta", "truncated", (b) => b.subarray(0, 160), "pktLength beyond the datagram"],
      ["delta", "truncated", (b) => u16(b, 12, 40), "pktLength below 48"],
      ["delta", "oversized", (b) => Uint8Array.from([...b, 0, 0, 0, 0, 0, 0, 0, 0]), "bytes after pktLength"],
      ["heartbeat", "truncated", (b) => void (b[3]! |= 0x08), "pktLength below 64 with AUTHENTICATED"],
      ["delta", "bad_checksum", (b) => void (b[100]! ^= 1), "checksum (CRC-32) does not match", { reseal: false }],
      ["v2_delta", "bad_checksum", (b) => void (b[100]! ^= 1), "checksum (CRC-32C, v2) does not match", { reseal: false }],
      ["delta", "bad_auth", () => {}, "flags without AUTHENTICATED (a key is set)", { key: true }],
      ["reject_forged", "bad_auth", () => {}, "HMAC trailer does not match the key", { key: true, reseal: false }],
      ["delta", "unknown_schema", (b) => u16(b, 42, 2), "schemaId not 1"],
      ["delta", "bad_header", (b) => b.fill(0, 8, 12), "sessionId 0"],
      ["delta", "unsafe_integer", (b) => i64(b, 16, BIG), "seqNum outside 0 … 2^53 − 1"],
      ["delta", "unsafe_integer", (b) => i64(b, 24, NEG), "sendTimeNs negative"],
      ["delta", "unsafe_integer", (b) => i64(b, 32, NEG), "sessionStartNs negative"],
      ["packed_turn", "unsafe_integer", (b) => i64(b, 16, BIG - 2n), "seqNum + msgCount − 1 ≥ 2^53"],
      ["packed_turn", "bad_count", (b) => u16(b, 6, 4), "message 4 of 4: msgCount above the messages found"],
      ["packed_turn", "bad_count", (b) => u16(b, 6, 2), "msgCount below the messages found"],
      ["delta", "bad_message", (b) => u16(b, 48, 0), "message 1 of 1 (BookDelta): msgLength below 8"],
      ["delta", "bad_message", (b) => u16(b, 48, 121), "message 1 of 1 (BookDelta): msgLength not a multiple of 8"],
      ["delta", "bad_message", (b) => u16(b, 48, 128), "message 1 of 1 (BookDelta): msgLength beyond the messages' end"],
      ["delta", "bad_message", (b) => u16(b, 52, 120), "message 1 of 1 (BookDelta): blockLength beyond msgLength"],
      ["delta", "bad_message", (b) => u16(b, 52, 56), "message 1 of 1 (BookDelta): blockLength below the template's root block"],
      ["delta", "unsafe_integer", (b) => i64(b, 64, BIG), "(BookDelta): instrSeq outside 0 … 2^53 − 1"],
      ["delta", "unsafe_integer", (b) => i64(b, 72, NEG), "(BookDelta): venueSeq outside 0 … 2^53 − 1"],
      ["delta", "unsafe_integer", (b) => i64(b, 80, NEG), "(BookDelta): tsExchangeNs negative"],
      ["delta", "unsafe_integer", (b) => i64(b, 88, NEG), "(BookDelta): tsEventNs negative"],
      ["delta", "unsafe_integer", (b) => i64(b, 96, NEG), "(BookDelta): tsRecvNs negative"],
      ["delta", "bad_message", (b) => u16(b, 108, 12), "(BookDelta): levelLength below 16 or not a multiple of 8"],
      // 65,535 bids + 65,535 asks of 65,528 bytes: a product past 2^32, refused (not wrapped to a small number).
      ["delta", "bad_message", (b) => (u16(b, 104, 0xffff), u16(b, 106, 0xffff), u16(b, 108, 0xfff8)), "(BookDelta): bidCount + askCount level entries beyond msgLength"],
      ["delta", "bad_message", (b) => u16(b, 112, 0), "(BookDelta): partCount 0"],
      ["delta", "bad_message", (b) => u16(b, 110, 1), "(BookDelta): partIndex ≥ partCount"],
      ["delta", "bad_message", (b) => void (b[55] = 0), "(BookDelta): msgFlags LAST not exactly on part partCount − 1"],
      ["delta", "unsafe_integer", (b) => i64(b, 136, -BIG - 1n), "(BookDelta), bid entry 2 of 2: priceMantissa outside −2^53 … 2^53 − 1"],
      ["delta", "unsafe_integer", (b) => i64(b, 128, BIG), "(BookDelta), bid entry 1 of 2: qtyMantissa outside −2^53 … 2^53 − 1"],
      ["delta", "bad_value", (b) => i64(b, 160, NEG), "message 1 of 1 (BookDelta), ask entry 1 of 1: qtyMantissa negative"],
      ["snapshot", "bad_message", (b) => u16(b, 112, 0), "(BookSnapshot): chunkCount 0"],
      ["snapshot", "bad_message", (b) => u16(b, 110, 1), "(BookSnapshot): chunkIndex ≥ chunkCount"],
      ["snapshot", "bad_message", (b) => void (b[55] = 0x20), "(BookSnapshot): msgFlags LAST not exactly on chunk chunkCount − 1"],
      ["snapshot", "bad_message", (b) => u16(b, 114, 1), "(BookSnapshot): bidCount above totalBidCount"],
      ["snapshot", "bad_message", (b) => u16(b, 116, 1), "(BookSnapshot): askCount above totalAskCount"],
      ["snapshot", "bad_value", (b) => i64(b, 176, NEG), "(BookSnapshot), ask entry 2 of 2: qtyMantissa negative"],
      ["status", "unsafe_integer", (b) => i64(b, 64, NEG), "message 1 of 1 (BookStatus): instrSeq outside 0 … 2^53 − 1"],
      ["definition", "bad_message", (b) => void (b[68] = 6), "(InstrumentDefinition): symbolLength + tickSizeLength + lotSizeLength beyond msgLength"],
      ["definition", "bad_value", (b) => void (b[73] = 0xff), "(InstrumentDefinition): symbol not well-formed UTF-8"],
      ["definition", "bad_value", (b) => void (b[80] = 0xc3), "(InstrumentDefinition): tickSize not well-formed UTF-8"],
      ["definition", "bad_value", (b) => void (b[87] = 0xe4), "(InstrumentDefinition): lotSize not well-formed UTF-8"],
      ["unknown_template", "bad_message", (b) => u16(b, 48, 4), "message 1 of 1 (templateId 99): msgLength below 8"],
    ];
    const reader = new PacketReader();
    for (const [name, code, mutate, field, o = {}] of cases) {
      const src = bytesOf(name).slice();
      let b = mutate(src) ?? src;
      if (o.reseal !== false && b.length >= 48) b = resealCrc(b.slice());
      const res = decodeDatagram(b, o.maxBytes ?? 1400, o.key ? key : undefined);
      const what = `${name}, ${field}`;
      expect(res.ok, what).toBe(false);
      if (res.ok) continue;
      expect(res.error.codeName, what).toBe(code);
      expect(res.error.message, what).toContain(`${code} datagram (${b.length} B): `);
      expect(res.error.message, what).toContain(field);
      // The flyweight tells the same, and a datagram that passes clears it.
      reader.auth = o.key ? key : undefined;
      expect(DECODE_ERROR_NAMES[reader.wrap(new DataView(b.buffer, b.byteOffset, b.length), b.length, o.maxBytes ?? 1400)]).toBe(code);
      expect(reader.rejectDetail(), what).toContain(field);
      const good = bytesOf("delta");
      reader.auth = undefined;
      expect(reader.wrap(new DataView(good.buffer, good.byteOffset, good.length), good.length, 1400)).toBe(DecodeErrorCode.OK);
      expect([reader.errorField, reader.rejectDetail()]).toEqual(["", ""]);
    }
  });

  it("a seqNum whose later messages would be numbered 2^53 or more is UNSAFE_INTEGER (seqNum + i inexact)", () => {
    // packed_turn holds 3 messages: seqNum, seqNum + 1, seqNum + 2 must each be below 2^53.
    const base = all.find((x) => x.name === "packed_turn")!.bytes;
    for (const [seqNum, want] of [
      [2 ** 53 - 3, DecodeErrorCode.OK],
      [2 ** 53 - 4, DecodeErrorCode.OK],
      [2 ** 53 - 2, DecodeErrorCode.UNSAFE_INTEGER],
      [2 ** 53 - 1, DecodeErrorCode.UNSAFE_INTEGER],
      [2 ** 53 - 2 ** 32, DecodeErrorCode.OK], // the high word 0x1fffff with a small low word
    ] as const) {
      expect(codeOf(resealCrc(setSeqNum(base.slice(), seqNum))), `seqNum 2^53 − ${2 ** 53 - seqNum}`).toBe(want);
    }
    // A heartbeat (no message) may carry 2^53 − 1, the next expected number.
    const hb = all.find((x) => x.name === "heartbeat")!.bytes;
    expect(codeOf(resealCrc(setSeqNum(hb.slice(), 2 ** 53 - 1)))).toBe(DecodeErrorCode.OK);
  });

  it("an unknown template is skipped, not rejected (forward compatibility)", () => {
    const b = all.find((x) => x.name === "status")!.bytes.slice();
    b[50] = 99; // templateId 3 → 99
    const res = decodeDatagram(resealCrc(b));
    expect(res.ok).toBe(true);
    expect(res.ok && res.packet.messages[0]).toMatchObject({ type: "unknown", templateId: 99, msgLength: 56 });
  });

  it("random garbage and random bit flips never throw", () => {
    const r = rng(7);
    let rejected = 0;
    for (let i = 0; i < 20000; i++) {
      const src = all[i % all.length]!.bytes;
      const b = src.slice();
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      const res = decodeDatagram(i % 5 === 0 ? b.subarray(0, Math.floor(r() * b.length)) : b);
      if (!res.ok) rejected++;
    }
    for (let i = 0; i < 2000; i++) {
      const b = new Uint8Array(Math.floor(r() * 1500));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(r() * 256);
      if (r() < 0.5 && b.length >= 4) {
        b[0] = 0x46;
        b[1] = 0x44;
        b[2] = 2;
      }
      expect(() => decodeDatagram(b)).not.toThrow();
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it("forged datagrams (random bytes changed, CRC recomputed) get §7.2's code, and decoding never reads outside them", () => {
    const r = rng(13);
    const reader = new PacketReader();
    const seen = new Map<string, number>();
    for (let i = 0; i < 12000; i++) {
      let b = all[i % all.length]!.bytes.slice();
      for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
        // Mostly the first message's header and root block (its lengths, counts, numbering), else anywhere.
        const at = r() < 0.5 ? 48 + Math.floor(r() * 80) : Math.floor(r() * b.length);
        if (at < b.length) b[at] = r() < 0.5 ? Math.floor(r() * 256) : b[at]! ^ (1 << Math.floor(r() * 8));
      }
      if (r() < 0.02) b.fill(0, 8, 12); // sessionId 0
      if (r() < 0.03) setSeqNum(b, 2 ** 53 - 1 - Math.floor(r() * 4)); // the last messages' numbers at or past 2^53
      if (r() < 0.05) b = b.slice(0, Math.floor(r() * b.length)); // its own buffer: a read past it throws
      if (r() < 0.9 && b.length >= 48) {
        if (r() < 0.3) b[2] = 2 + Math.floor(r() * 2); // v2 or v3, each with its own checksum
        resealCrc(b);
      }
      const maxBytes = r() < 0.9 ? 1400 : Math.floor(r() * 1400);
      const want = specVerdict(b, maxBytes);
      const got = DECODE_ERROR_NAMES[reader.wrap(new DataView(b.buffer), b.length, maxBytes)];
      if (got !== want) expect.fail(`datagram ${Buffer.from(b).toString("hex")} (max ${maxBytes}): decoder ${got}, §7.2 ${want}`);
      if (maxBytes === 1400) expect(decodeDatagram(b, 1400).ok).toBe(want === "ok"); // every field read, within b
      seen.set(want, (seen.get(want) ?? 0) + 1);
    }
    // Every code a reader without a key can give was reached, and many forged datagrams passed.
    for (const code of DECODE_ERROR_NAMES.filter((c) => c !== "bad_auth")) expect(seen.get(code) ?? 0, code).toBeGreaterThan(code === "unknown_version" ? 20 : 50);
  });
});
