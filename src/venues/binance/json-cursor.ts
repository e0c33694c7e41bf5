// HOT PATH: no allocation
/**
 * The byte cursor under the Binance scanner: the frame copied once into a reusable byte buffer (same offsets as the
 * string's UTF-16 units, units ≥ 0x80 as 0x80, a 0 sentinel after the end), and the validating JSON readers the
 * general reader uses (keys, strings, numbers, skipping any value), each leaving the cursor at the fault on an error.
 * Split from scanner.ts (its base class) to keep each file readable; no behaviour of its own.
 * @module
 */
import { Buffer } from "node:buffer";
import { SCAN_ERR_NUMBER, SCAN_ERR_SYNTAX, SCAN_FALLBACK } from "./scan-codes.ts";

const MAX_SKIP_DEPTH = 32;

/** Buffer's own UTF-8 writer, which `write(s, 0)` calls after sorting out its optional arguments. */
interface Utf8Writer {
  utf8Write(s: string, offset: number): number;
}
/** Node and Bun both have it (undocumented); measured ~6 ns less per frame than `write` (docs/performance.md §10). */
const HAS_UTF8_WRITE = typeof (Buffer.prototype as unknown as Partial<Utf8Writer>).utf8Write === "function";
export const TWO_53 = 9007199254740992;

export const CH_QUOTE = 34;
export const CH_BACKSLASH = 92;
export const CH_LBRACE = 123;
export const CH_RBRACE = 125;
export const CH_LBRACKET = 91;
export const CH_RBRACKET = 93;
export const CH_COLON = 58;
export const CH_COMMA = 44;
export const CH_0 = 48;
export const CH_9 = 57;
export const CH_MINUS = 45;
export const CH_DOT = 46;
export const CH_PLUS = 43;
export const CH_E = 101;
export const CH_CAP_E = 69;

export class JsonCursor {
  protected s = "";
  /** The frame's UTF-16 units as bytes at the same offsets (units ≥ 0x80 become 0x80); byte `end` is a 0 sentinel. */
  protected bytes: Buffer = Buffer.alloc(4096);
  protected view: DataView = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  /** The cursor's own buffer, for when `bytes` is not a WebAssembly reader's memory (growBytes grows this one). */
  protected ownBytes: Buffer = this.bytes;
  protected ownView: DataView = this.view;
  protected ascii = true;
  protected pos = 0;
  protected end = 0;

  /** Copies the frame into `bytes` (once per frame). */
  protected encodeFrame(): void {
    const s = this.s;
    const len = s.length;
    if (this.bytes.length < 3 * len + 8) this.growBytes(3 * len + 8);
    const bytes = this.bytes;
    this.ascii = (HAS_UTF8_WRITE ? (bytes as unknown as Utf8Writer).utf8Write(s, 0) : bytes.write(s, 0)) === len;
    if (!this.ascii) {
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        bytes[i] = c < 0x80 ? c : 0x80;
      }
    }
    bytes[len] = 0;
  }

  protected growBytes(atLeast: number): void {
    let n = this.ownBytes.length * 2;
    while (n < atLeast) n *= 2;
    this.bytes = this.ownBytes = Buffer.alloc(n);
    this.view = this.ownView = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  protected colon(): number {
    this.ws();
    if (this.pos >= this.end || this.bytes[this.pos] !== CH_COLON) return SCAN_ERR_SYNTAX;
    this.pos++;
    this.ws();
    return 0;
  }

  /** A quoted key: start × 256 + min(length, 255), or a negative code. */
  protected readKey(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    if (p >= end || b[p] !== CH_QUOTE) return SCAN_ERR_SYNTAX;
    const start = ++p;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p]!;
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      p++;
    }
    const len = p - start;
    this.pos = p + 1;
    return start * 256 + (len > 254 ? 255 : len);
  }

  /** From just after an opening quote: the index of the closing quote of a plain string (cursor after it), or a code. */
  protected closeQuote(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p]!;
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      p++;
    }
    this.pos = p + 1;
    return p;
  }

  /** A non-negative integer literal below 2^53; a sign, fraction or exponent goes to the JSON path. */
  protected readUint(): number {
    const b = this.bytes;
    let p = this.pos;
    if (p >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[p]!;
    if (c === CH_MINUS) return SCAN_FALLBACK;
    if (c < CH_0 || c > CH_9) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_NUMBER;
    }
    const dv = this.view;
    const start = p;
    let v = 0;
    let w = dv.getInt32(p, true);
    while (isDigits4(w)) {
      v = v * 10000 + digits4(w);
      p += 4;
      w = dv.getInt32(p, true);
    }
    c = b[p]!;
    while (c >= CH_0 && c <= CH_9) {
      v = v * 10 + (c - CH_0);
      c = b[++p]!;
    }
    this.pos = p;
    if (b[start] === CH_0 && p - start > 1) return SCAN_ERR_SYNTAX; // leading zero
    if (c === CH_DOT || c === CH_E || c === CH_CAP_E) return SCAN_FALLBACK;
    if (v >= TWO_53) return SCAN_ERR_NUMBER;
    return v;
  }

  /** Validating skip of any JSON value; 0 or a negative code. */
  protected skipValue(depth: number): number {
    const b = this.bytes;
    if (depth > MAX_SKIP_DEPTH) return SCAN_FALLBACK;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    const c = b[this.pos]!;
    if (c === CH_QUOTE) return this.skipString();
    if (c === CH_LBRACE || c === CH_LBRACKET) {
      const close = c === CH_LBRACE ? CH_RBRACE : CH_RBRACKET;
      this.pos++;
      this.ws();
      if (this.pos < this.end && b[this.pos] === close) {
        this.pos++;
        return 0;
      }
      for (;;) {
        this.ws();
        if (c === CH_LBRACE) {
          if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return SCAN_ERR_SYNTAX;
          const r = this.skipString();
          if (r < 0) return r;
          const col = this.colon();
          if (col < 0) return col;
        }
        const r = this.skipValue(depth + 1);
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const d = b[this.pos++];
        if (d === close) return 0;
        if (d !== CH_COMMA) return SCAN_ERR_SYNTAX;
      }
    }
    if (c === 116) return this.literal("rue");
    if (c === 102) return this.literal("alse");
    if (c === 110) return this.literal("ull");
    if (c === CH_MINUS || (c >= CH_0 && c <= CH_9)) return this.skipNumber();
    return SCAN_ERR_SYNTAX;
  }

  protected literal(rest: string): number {
    const b = this.bytes;
    const p = this.pos + 1;
    if (p + rest.length > this.end) return SCAN_ERR_SYNTAX;
    for (let i = 0; i < rest.length; i++) if (b[p + i] !== rest.charCodeAt(i)) return SCAN_ERR_SYNTAX;
    this.pos = p + rest.length;
    return 0;
  }

  /** JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
  protected skipNumber(): number {
    const b = this.bytes;
    if (b[this.pos] === CH_MINUS) this.pos++;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[this.pos]!;
    if (c === CH_0) this.pos++;
    else if (c >= CH_0 && c <= CH_9) while (this.pos < this.end && isDigit(b[this.pos]!)) this.pos++;
    else return SCAN_ERR_SYNTAX;
    if (this.pos < this.end && b[this.pos] === CH_DOT) {
      this.pos++;
      if (this.pos >= this.end || !isDigit(b[this.pos]!)) return SCAN_ERR_SYNTAX;
      while (this.pos < this.end && isDigit(b[this.pos]!)) this.pos++;
    }
    if (this.pos < this.end) {
      c = b[this.pos]!;
      if (c === CH_E || c === CH_CAP_E) {
        this.pos++;
        if (this.pos < this.end && (b[this.pos] === CH_PLUS || b[this.pos] === CH_MINUS)) this.pos++;
        if (this.pos >= this.end || !isDigit(b[this.pos]!)) return SCAN_ERR_SYNTAX;
        while (this.pos < this.end && isDigit(b[this.pos]!)) this.pos++;
      }
    }
    return 0;
  }

  /** Skips a JSON string from its opening quote, validating escapes and control characters. */
  protected skipString(): number {
    const b = this.bytes;
    this.pos++;
    for (;;) {
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++]!;
      if (c === CH_QUOTE) return 0;
      if (c < 0x20) return SCAN_ERR_SYNTAX;
      if (c === CH_BACKSLASH) {
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const e = b[this.pos++]!;
        if (e === 117) {
          if (this.pos + 4 > this.end) return SCAN_ERR_SYNTAX;
          for (let i = 0; i < 4; i++) if (!isHex(b[this.pos + i]!)) return SCAN_ERR_SYNTAX;
          this.pos += 4;
        } else if (e !== CH_QUOTE && e !== CH_BACKSLASH && e !== 47 && e !== 98 && e !== 102 && e !== 110 && e !== 114 && e !== 116) {
          return SCAN_ERR_SYNTAX;
        }
      }
    }
  }

  /** JSON whitespace; the common case (none) costs one byte compare. */
  protected ws(): void {
    const c = this.bytes[this.pos];
    if (c === 32 || c === 10 || c === 13 || c === 9) this.pos = skipWs(this.bytes, this.pos, this.end);
  }
}

/** The little-endian word of 4 characters, as DataView.getInt32(p, true) reads them. */
export function word(w: string): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | w.charCodeAt(i);
  return v;
}

/** True when the 4 bytes packed little-endian in w are all ASCII digits. */
export function isDigits4(w: number): boolean {
  return (w & 0xf0f0f0f0) === 0x30303030 && (((w + 0x06060606) | 0) & 0xf0f0f0f0) === 0x30303030;
}

/** The value of 4 ASCII digits packed little-endian in w: 0 … 9999. */
export function digits4(w: number): number {
  let d = w & 0x0f0f0f0f;
  d = (d * 10 + (d >>> 8)) & 0x00ff00ff;
  return (d & 0xff) * 100 + (d >>> 16);
}

export function skipWs(b: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = b[p];
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return p;
    p++;
  }
  return p;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isHex(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}
