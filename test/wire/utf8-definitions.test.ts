/**
 * A symbol beyond ASCII (Binance's 币安人生USDT) travels in the InstrumentDefinition as UTF-8, its length in bytes. The
 * decoder took any bytes and read them with a lenient TextDecoder: a symbol cut inside a character (a publisher
 * truncating at a byte count) or bytes no encoder writes came out with U+FFFD, another symbol than the publisher's,
 * and the subscriber named the book so. Now a definition string that is not well-formed UTF-8 rejects the datagram
 * (`bad_value`); isUtf8 is checked against TextDecoder's fatal mode on random byte strings.
 */
import { describe, expect, it } from "vitest";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { isUtf8 } from "../../src/wire/decoder.ts";
import { EncodedDefinition, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { DEF_SYMBOL_LENGTH_OFFSET, MESSAGE_HEADER_BYTES, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { makeInstrument, resealCrc, rng } from "./helpers.ts";

function definitionDatagram(symbol: string, strings: { tickSize?: string; lotSize?: string } = {}): Uint8Array {
  const p = new ChannelPacker(1400, 3, 1, 77);
  packInstrumentDefinition(p, new EncodedDefinition({ ...makeInstrument("binance", "spot", symbol, 4, 0), ...strings }), false);
  p.stampSendTime(1_764_000_000_000_000);
  const bytes = p.bytes[0]!.slice(0, p.lengths[0]);
  p.clear();
  return bytes;
}

const SYMBOL_AT = PACKET_HEADER_BYTES + MESSAGE_HEADER_BYTES + 16;

describe("UTF-8 in instrument definitions", () => {
  it("a symbol in Chinese round-trips, its length counted in bytes", () => {
    const raw = definitionDatagram("币安人生USDT");
    expect(raw[PACKET_HEADER_BYTES + MESSAGE_HEADER_BYTES + DEF_SYMBOL_LENGTH_OFFSET]).toBe(16); // 4 × 3 + 4
    const res = decodeDatagram(raw, 1400);
    expect(res.ok && res.packet.messages[0]).toMatchObject({ type: "definition", symbol: "币安人生USDT", tickSize: "0.0001", lotSize: "1" });
  });

  it("a leading U+FEFF is read as part of each string, not dropped as a byte order mark", () => {
    // TextDecoder's default drops it: "\uFEFFABCUSDT" was read as ABCUSDT, another instrument's name.
    const raw = definitionDatagram("\uFEFFABCUSDT", { tickSize: "\uFEFF0.0001", lotSize: "\uFEFF1" });
    expect([...raw.subarray(SYMBOL_AT, SYMBOL_AT + 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const res = decodeDatagram(raw, 1400);
    expect(res.ok && res.packet.messages[0]).toMatchObject({ type: "definition", symbol: "\uFEFFABCUSDT", tickSize: "\uFEFF0.0001", lotSize: "\uFEFF1" });
  });

  it("a symbol cut inside a character is refused, not read as U+FFFD", () => {
    const raw = definitionDatagram("币安人生USDT");
    // The symbol made 11 bytes: 币安人 and two bytes of 生; the rest ("USDT" and the cut byte) is read as the tick size.
    raw[PACKET_HEADER_BYTES + MESSAGE_HEADER_BYTES + DEF_SYMBOL_LENGTH_OFFSET] = 11;
    const res = decodeDatagram(resealCrc(raw), 1400);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.codeName).toBe("bad_value");
  });

  it.each([
    ["a lone continuation byte", [0x80]],
    ["an overlong slash", [0xc0, 0xaf]],
    ["a surrogate", [0xed, 0xa0, 0x80]],
    ["beyond U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ])("%s in the symbol is refused", (_, bytes) => {
    const raw = definitionDatagram("ABCDUSDT");
    raw.set(bytes, SYMBOL_AT);
    const res = decodeDatagram(resealCrc(raw), 1400);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.codeName).toBe("bad_value");
  });

  // The random strings below meet the edges of the rule (E0 80–9F overlong, ED A0–BF surrogates, F0 80–8F overlong,
  // F4 90+ beyond U+10FFFF, F5–FF) seldom: a validator that let F0 8F BF BF (an overlong U+FFFF) through passed them.
  // Every lead byte with every second byte, and the third and fourth at the edges of the continuation range, each
  // also cut short at the field's end, are compared here (213,248 strings). The oracle is the same decoder without
  // its fatal mode: a string is valid exactly when decoding it (U+FFFD for each error) and encoding it back gives its
  // own bytes (an error's U+FFFD never stands for bytes that read as one; a byte order mark kept, not dropped). It
  // agreed with the fatal mode on all 213,248; the fatal mode's 191,872 thrown errors took ~1.2 s of the test's 1.7 s.
  it("isUtf8 agrees with TextDecoder on every lead and second byte, the rest at their edges", () => {
    const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
    const encoder = new TextEncoder();
    const plain = new Uint8Array(8);
    const back = new Uint8Array(32);
    const buf = new Uint8Array(8);
    const dv = new DataView(buf.buffer);
    const wrong: string[] = [];
    const check = (bytes: number[]) => {
      buf.fill(0xbf); // a continuation byte after the field's end must not complete a character cut at it
      buf.set(bytes, 1);
      plain.set(bytes);
      const { written } = encoder.encodeInto(lossy.decode(plain.subarray(0, bytes.length)), back);
      let want = written === bytes.length;
      for (let i = 0; want && i < bytes.length; i++) want = back[i] === bytes[i];
      if (isUtf8(dv, 1, bytes.length) !== want && wrong.length < 5) wrong.push(bytes.map((b) => b.toString(16)).join(" "));
    };
    for (let a = 0; a < 256; a++) {
      check([a]);
      for (let b = 0; b < 256; b++) {
        check([a, b]);
        if (a < 0xe0) continue;
        for (const c of [0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xff]) {
          check([a, b, c]);
          if (a >= 0xf0) for (const d of [0x41, 0x80, 0xbf, 0xc0]) check([a, b, c, d]);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("isUtf8 agrees with TextDecoder's fatal mode on random byte strings", () => {
    const strict = new TextDecoder("utf-8", { fatal: true });
    const valid = (b: Uint8Array) => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    const r = rng(0x5eed);
    const pieces = [[0x41], [0xe5, 0xb8, 0x81], [0xc3, 0xa4], [0xf0, 0x9f, 0x98, 0x80], [0xed, 0x9f, 0xbf], [0xee, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf]];
    const wrong: number[][] = [];
    let seenValid = 0;
    let seenInvalid = 0;
    for (let t = 0; t < 20_000; t++) {
      const out: number[] = [];
      const n = Math.floor(r() * 6);
      for (let i = 0; i < n; i++) {
        if (r() < 0.6) out.push(...pieces[Math.floor(r() * pieces.length)]!);
        else out.push(Math.floor(r() * 256));
      }
      // Sometimes cut the string short: a character cut at the end.
      const bytes = Uint8Array.from(r() < 0.2 ? out.slice(0, Math.max(0, out.length - 1)) : out);
      const padded = new Uint8Array(bytes.length + 8);
      padded.set(bytes, 3);
      padded.fill(0xbf, 3 + bytes.length); // a continuation byte after the end must not be taken
      const want = valid(bytes);
      if (isUtf8(new DataView(padded.buffer), 3, bytes.length) !== want) wrong.push([...bytes]);
      if (want) seenValid++;
      else seenInvalid++;
    }
    expect(wrong).toEqual([]);
    expect(seenValid).toBeGreaterThan(2_000);
    expect(seenInvalid).toBeGreaterThan(2_000);
  });
});
