// HOT PATH: no allocation
/**
 * The byte cursor under the Bybit scanner: the frame copied once into a reusable byte buffer (same offsets as the
 * string's UTF-16 units, units ≥ 0x80 as 0x80, a 0 sentinel after the end), and the validating JSON readers the
 * scanner uses (keys, strings, numbers, skipping any value), each leaving the cursor at the fault on an error.
 * Split from scanner.ts (its base class, through level-reader.ts) to keep each file readable; no behaviour of its own.
 * @module
 */
import { Buffer } from "node:buffer";
import { SCAN_ERR_NUMBER, SCAN_ERR_SYNTAX, SCAN_FALLBACK } from "./scan-codes.ts";

const MAX_SKIP_DEPTH = 32;

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

export const TWO_53 = 9007199254740992;

/** The first 4 (or 3, 2) characters of s as a little-endian word, as DataView.getInt32(p, true) reads them. */
export function word(s: string): number {
  let w = 0;
  for (let i = s.length - 1; i >= 0; i--) w = (w << 8) | s.charCodeAt(i);
  return w;
}

export class JsonCursor {
  protected s = "";
  /**
   * The frame's UTF-16 code units as bytes, one per unit at the same offset: indexing a Uint8Array is cheaper than
   * String.charCodeAt (measured: scan of a 50/side snapshot 1.93 → 1.55 µs with the level loop on bytes, 1.39 →
   * 1.32 µs with the rest too), and the copy costs ~30 ns per 1 KB (Buffer.write). Units ≥ 0x80 (never in Bybit
   * frames) become 0x80, which is none of the characters the scanner looks for, so it takes the same paths as on
   * the string (strings may hold any unit ≥ 0x20; numbers, keys and structure are ASCII). Byte `end` is a 0
   * sentinel: no character the scanner accepts, so no sequential read goes further.
   */
  protected bytes: Buffer;
  /**
   * DataView over `bytes`: the number loops read 4 characters at once (little-endian int32, any alignment) and
   * take 4 digits in one step (digits4). `bytes` is ≥ 3 × length + 1 long, so a 4-byte read from any offset up to
   * the sentinel stays inside it; bytes past the sentinel are stale but a read that covers them also covers the
   * sentinel 0, which is not a digit.
   */
  protected view: DataView;
  /**
   * The cursor's own buffer. `bytes` is this one, or the WebAssembly side reader's memory when the scanner puts the
   * frame there (scanner.ts), which has the same layout.
   */
  private ownBytes: Buffer = Buffer.alloc(4096);
  private ownView: DataView = new DataView(this.ownBytes.buffer, this.ownBytes.byteOffset, this.ownBytes.byteLength);
  /** Every unit of the frame is ASCII, so `bytes` equals the string unit for unit (not only where the scanner looks). */
  protected ascii = true;
  protected pos = 0;
  protected end = 0;

  constructor() {
    this.bytes = this.ownBytes;
    this.view = this.ownView;
  }

  /** The frame goes into the cursor's own buffer (not the side reader's memory). */
  protected useOwnBuffer(): void {
    this.bytes = this.ownBytes;
    this.view = this.ownView;
  }

  /** Copies the frame into `bytes` (once per frame). */
  protected encodeFrame(): void {
    const s = this.s;
    const len = s.length;
    // Room for the UTF-8 of any string of len units (≤ 3 bytes each) and the sentinel: then "written === len"
    // holds exactly when every unit is ASCII (a truncated write could otherwise look like one).
    if (this.bytes.length < 3 * len + 1) this.growBytes(3 * len + 1);
    const bytes = this.bytes;
    this.ascii = bytes.write(s, 0) === len;
    if (!this.ascii) {
      // Cold: non-ASCII somewhere in the frame. Map every unit ≥ 0x80 to 0x80 at its own offset.
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        bytes[i] = c < 0x80 ? c : 0x80;
      }
    }
    bytes[len] = 0;
  }

  // Cold: a frame longer than any before.
  protected growBytes(atLeast: number): void {
    let n = this.ownBytes.length * 2;
    while (n < atLeast) n *= 2;
    this.ownBytes = Buffer.alloc(n);
    this.ownView = new DataView(this.ownBytes.buffer, this.ownBytes.byteOffset, this.ownBytes.byteLength);
    this.useOwnBuffer();
  }

  /**
   * Reads a quoted key; returns (start << 8) | length for short plain keys, (start << 8) | 255 for long ones
   * (never a known key), or a negative code. Frames are far below 2^23 chars, so the packing is safe.
   */
  protected readKey(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    if (b[p] !== CH_QUOTE) return SCAN_ERR_SYNTAX; // NaN past the end
    const start = ++p;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p];
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      p++;
    }
    const len = p - start;
    this.pos = p + 1;
    if (start >= 0x7fffff) return SCAN_FALLBACK;
    return start * 256 + (len > 254 ? 255 : len);
  }

  /**
   * From just after an opening quote: finds the closing quote of a plain string (no escapes, no control
   * characters), leaves the cursor after it and returns its index; or a negative code.
   */
  protected closeQuote(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p];
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

  /**
   * Reads a JSON number that must be a non-negative integer below 2^53. Plain digits only; a sign, fraction or
   * exponent goes to the JSON path (it may still be an integer, e.g. 1e3). Non-numbers are SCAN_ERR_NUMBER.
   */
  protected readUint(): number {
    const b = this.bytes;
    let p = this.pos;
    if (p >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[p];
    if (c === CH_MINUS) return SCAN_FALLBACK;
    if (c < CH_0 || c > CH_9) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_NUMBER;
    }
    // 4 digits per step as in scanLevels (ts and cts have 13 digits); the sentinel 0 stops both loops at the end.
    const dv = this.view;
    const start = p;
    let v = 0;
    let w = dv.getInt32(p, true);
    while (isDigits4(w)) {
      v = v * 10000 + digits4(w);
      p += 4;
      w = dv.getInt32(p, true);
    }
    c = b[p];
    while (c >= CH_0 && c <= CH_9) {
      v = v * 10 + (c - CH_0);
      c = b[++p];
    }
    this.pos = p;
    if (b[start] === CH_0 && p - start > 1) return SCAN_ERR_SYNTAX; // leading zero
    if (c === CH_DOT || c === CH_E || c === CH_CAP_E) return SCAN_FALLBACK;
    // Exact below 2^53; a longer number rounds to ≥ 2^53 (each step is monotone), so this test is exact too.
    if (v >= TWO_53) return SCAN_ERR_NUMBER;
    return v;
  }

  /** Validating skip of any JSON value (unknown keys). Returns 0 or a negative code. */
  protected skipValue(depth: number): number {
    const b = this.bytes;
    if (depth > MAX_SKIP_DEPTH) return SCAN_FALLBACK;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    const c = b[this.pos];
    if (c === CH_QUOTE) return this.skipString();
    if (c === CH_LBRACE) {
      this.pos++;
      this.ws();
      if (this.pos < this.end && b[this.pos] === CH_RBRACE) {
        this.pos++;
        return 0;
      }
      for (;;) {
        this.ws();
        if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return SCAN_ERR_SYNTAX;
        let r = this.skipString();
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end || b[this.pos] !== CH_COLON) return SCAN_ERR_SYNTAX;
        this.pos++;
        this.ws();
        r = this.skipValue(depth + 1);
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const d = b[this.pos++];
        if (d === CH_RBRACE) return 0;
        if (d !== CH_COMMA) return SCAN_ERR_SYNTAX;
      }
    }
    if (c === CH_LBRACKET) {
      this.pos++;
      this.ws();
      if (this.pos < this.end && b[this.pos] === CH_RBRACKET) {
        this.pos++;
        return 0;
      }
      for (;;) {
        this.ws();
        const r = this.skipValue(depth + 1);
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const d = b[this.pos++];
        if (d === CH_RBRACKET) return 0;
        if (d !== CH_COMMA) return SCAN_ERR_SYNTAX;
      }
    }
    if (c === 116) return this.literal(114, 117, 101, 0); // true
    if (c === 102) return this.literal(97, 108, 115, 101); // false
    if (c === 110) return this.literal(117, 108, 108, 0); // null
    if (c === CH_MINUS || (c >= CH_0 && c <= CH_9)) return this.skipNumber();
    return SCAN_ERR_SYNTAX;
  }

  protected literal(c1: number, c2: number, c3: number, c4: number): number {
    const b = this.bytes;
    const n = c4 === 0 ? 3 : 4;
    if (this.pos + 1 + n > this.end) return SCAN_ERR_SYNTAX;
    const p = this.pos + 1;
    if (b[p] !== c1 || b[p + 1] !== c2 || b[p + 2] !== c3) return SCAN_ERR_SYNTAX;
    if (c4 !== 0 && b[p + 3] !== c4) return SCAN_ERR_SYNTAX;
    this.pos = p + n;
    return 0;
  }

  /** JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
  protected skipNumber(): number {
    const b = this.bytes;
    if (b[this.pos] === CH_MINUS) this.pos++;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[this.pos];
    if (c === CH_0) {
      this.pos++;
    } else if (c >= CH_0 && c <= CH_9) {
      while (this.pos < this.end && isDigit(b[this.pos])) this.pos++;
    } else {
      return SCAN_ERR_SYNTAX;
    }
    if (this.pos < this.end && b[this.pos] === CH_DOT) {
      this.pos++;
      if (this.pos >= this.end || !isDigit(b[this.pos])) return SCAN_ERR_SYNTAX;
      while (this.pos < this.end && isDigit(b[this.pos])) this.pos++;
    }
    if (this.pos < this.end) {
      c = b[this.pos];
      if (c === CH_E || c === CH_CAP_E) {
        this.pos++;
        if (this.pos < this.end) {
          c = b[this.pos];
          if (c === CH_PLUS || c === CH_MINUS) this.pos++;
        }
        if (this.pos >= this.end || !isDigit(b[this.pos])) return SCAN_ERR_SYNTAX;
        while (this.pos < this.end && isDigit(b[this.pos])) this.pos++;
      }
    }
    return 0;
  }

  /** Skips a JSON string starting at the opening quote, validating escapes and control characters. */
  protected skipString(): number {
    const b = this.bytes;
    this.pos++;
    for (;;) {
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++];
      if (c === CH_QUOTE) return 0;
      if (c < 0x20) return SCAN_ERR_SYNTAX;
      if (c === CH_BACKSLASH) {
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const e = b[this.pos++];
        if (e === 117) {
          if (this.pos + 4 > this.end) return SCAN_ERR_SYNTAX;
          for (let i = 0; i < 4; i++) if (!isHex(b[this.pos + i])) return SCAN_ERR_SYNTAX;
          this.pos += 4;
        } else if (
          e !== CH_QUOTE &&
          e !== CH_BACKSLASH &&
          e !== 47 && // /
          e !== 98 && // b
          e !== 102 && // f
          e !== 110 && // n
          e !== 114 && // r
          e !== 116 // t
        ) {
          return SCAN_ERR_SYNTAX;
        }
      }
    }
  }

  /** JSON whitespace: space, tab, LF, CR. */
  protected ws(): void {
    this.pos = skipWs(this.bytes, this.pos, this.end);
  }

  protected matchKey(key: string): boolean {
    const b = this.bytes;
    if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return false;
    const p = this.pos + 1;
    const n = key.length;
    if (p + n + 1 > this.end) return false;
    for (let i = 0; i < n; i++) if (b[p + i] !== key.charCodeAt(i)) return false;
    if (b[p + n] !== CH_QUOTE) return false;
    this.pos = p + n + 1;
    this.ws();
    if (this.pos >= this.end || b[this.pos] !== CH_COLON) return false;
    this.pos++;
    return true;
  }
}

/**
 * True when the 4 bytes packed little-endian in w are all ASCII digits: each byte's high nibble is 3 and adding 6
 * does not carry out of the low nibble (0x30–0x39 only). "| 0": a wrapping int32 add, no overflow check.
 */
export function isDigits4(w: number): boolean {
  return (w & 0xf0f0f0f0) === 0x30303030 && (((w + 0x06060606) | 0) & 0xf0f0f0f0) === 0x30303030;
}

/** The value of 4 ASCII digits packed little-endian in w (first character in the low byte): 0 … 9999. */
export function digits4(w: number): number {
  let d = w & 0x0f0f0f0f;
  d = (d * 10 + (d >>> 8)) & 0x00ff00ff; // bytes 0 and 2: two-digit values
  return (d & 0xff) * 100 + (d >>> 16);
}

/** Index of the first non-whitespace byte at or after p (JSON whitespace: space, tab, LF, CR). */
export function skipWs(b: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = b[p];
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return p;
    p++;
  }
  return p;
}

export function isWsCode(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export function eq4(x: Buffer, p: number, a: number, b: number, c: number, d: number): boolean {
  return x[p] === a && x[p + 1] === b && x[p + 2] === c && x[p + 3] === d;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isHex(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}
