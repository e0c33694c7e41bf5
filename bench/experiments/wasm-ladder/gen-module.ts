// @ts-nocheck — a throwaway generator in the untyped style of scripts/gen-levels-wasm.mjs, whose macros it copies.
/**
 * Experiment (issue #12, docs/performance.md §10, "The ladder in WebAssembly: an upper bound"): generates a
 * WebAssembly module with ONE function per Binance diff frame, "binbook", that does in module memory what today's
 * path does across scan → applyDelta → packBookDelta: reads the frame (bindiff's logic: the stream's head and mid
 * templates compared 8 bytes at a time, ids in SWAR lanes, prices and quantities by numberFast with predicted shapes),
 * applies the sequence rule (counted, as the bench counts it: every diff is applied), applies each level as it is read
 * to a dense per-side tick window of i64 quantities (no overflow: an upper bound), writes each changed level straight
 * into the BookDelta datagram, then the packet header, message header and root block (the bytes packBookDelta and
 * ChannelPacker write, offsets from src/wire/layout.ts), the send time included; the host then seals it with the
 * native CRC-32, as ChannelPacker.seal does.
 *
 * The macros from `BASE` to `init` are copied from scripts/gen-levels-wasm.mjs at 910d3a8 (bindiff's number reader,
 * unchanged), with the parameter list changed: binbook(p, priceExp, qtyExp, rec, end, tsRecvUs, sendTimeUs) → the
 * datagram's length, or -1 (declined: nothing changed; the host would take today's path).
 * Not in src/: nothing in the feeder uses this.
 */
import {
  BOOK_COMMON_BLOCK_BYTES,
  BOOK_DELTA_BLOCK_BYTES,
  BOOK_DELTA_VERSION,
  BOOK_INSTR_SEQ_OFFSET,
  BOOK_INSTRUMENT_ID_OFFSET,
  BOOK_PRICE_EXP_OFFSET,
  BOOK_TS_EVENT_NS_OFFSET,
  BOOK_TS_EXCHANGE_NS_OFFSET,
  BOOK_TS_RECV_NS_OFFSET,
  BOOK_VENUE_SEQ_OFFSET,
  DELTA_BID_COUNT_OFFSET,
  DELTA_LEVEL_LENGTH_OFFSET,
  DELTA_PART_COUNT_OFFSET,
  DELTA_RESERVED_OFFSET,
  deltaLevelsPerDatagram,
  LEVEL_BYTES,
  LEVEL_PRICE_OFFSET,
  LEVEL_QTY_OFFSET,
  MESSAGE_HEADER_BYTES,
  MSG_BLOCK_LENGTH_OFFSET,
  MSG_FLAG_LAST,
  MSG_FLAG_MAYBE_BAD_BOOK,
  MSG_LENGTH_OFFSET,
  PACKET_HEADER_BYTES,
  PKT_LENGTH_OFFSET,
  PKT_SEND_TIME_NS_OFFSET,
  PKT_SEQ_NUM_OFFSET,
  TEMPLATE_BOOK_DELTA,
} from "../../../src/wire/layout.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";

/** Address of the frame's byte 0 (below it: the tables, as in gen-levels-wasm.mjs). */
const BASE = 512;
/** i64 tables: LOW[k] = the low k bytes set (k = 0..8), POW[i] = 10^i (i = 0..15). */
const LOW_ADDR = 64, POW_ADDR = 160;
const uleb = (n) => { const o = []; do { let b = n & 0x7f; n >>>= 7; if (n !== 0) b |= 0x80; o.push(b); } while (n !== 0); return o; };
const sleb = (n) => { n = BigInt.asIntN(64, BigInt(n)); const o = []; for (;;) { const b = Number(n & 0x7fn); n >>= 7n; if ((n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0)) { o.push(b); return o; } o.push(b | 0x80); } };
const vec = (items) => [...uleb(items.length), ...items.flat()];
const section = (id, body) => [id, ...uleb(body.length), ...body];
const str = (s) => [...uleb(s.length), ...Buffer.from(s, "utf8")];
const I32 = 0x7f, I64 = 0x7e;
const labels = [];
const scope = (op, name, body) => { labels.push(name); const b = body(); labels.pop(); return [op, 0x40, ...b, 0x0b]; };
const blk = (name, body) => scope(0x02, name, body);
const lp = (name, body) => scope(0x03, name, body);
const iff = (body) => scope(0x04, "<if>", body);
const depth = (name) => { const i = labels.lastIndexOf(name); if (i < 0) throw new Error(name); return labels.length - 1 - i; };
const br = (name) => [0x0c, ...uleb(depth(name))];
const brIf = (name) => [0x0d, ...uleb(depth(name))];
const get = (i) => [0x20, ...uleb(i)], set = (i) => [0x21, ...uleb(i)], tee = (i) => [0x22, ...uleb(i)];
const c32 = (v) => [0x41, ...sleb(v)], c64 = (v) => [0x42, ...sleb(v)];
const load8 = (off = 0) => [0x2d, 0, ...uleb(BASE + off)], load16 = (off = 0) => [0x2f, 0, ...uleb(BASE + off)], load32 = (off = 0) => [0x28, 0, ...uleb(BASE + off)];
const load64 = (off = 0) => [0x29, 0, ...uleb(BASE + off)], tab64 = (addr) => [0x29, 0, ...uleb(addr)];
const f64store = (off) => [0x39, 3, ...uleb(off)], i32storeAbs = [0x36, 2, 0];
const eqz = [0x45], eq = [0x46], ne = [0x47], geU = [0x4f], gtS = [0x4a], gtU = [0x4b], leS = [0x4c], geS = [0x4e], ltS = [0x48];
const add = [0x6a], sub = [0x6b], and = [0x71], or = [0x72], shl = [0x74], shrU = [0x76];
const eqz64 = [0x50], ne64 = [0x52], ctz64 = [0x7a], add64 = [0x7c], mul64 = [0x7e], and64 = [0x83], or64 = [0x84], xor64 = [0x85], shl64 = [0x86], shr64 = [0x88];
const wrap = [0xa7], extU = [0xad], cvt = [0xb9], sel = [0x1b];


// Locals: parameters p, priceExp, qtyExp, rec, end (i32), tsRecvUs, sendTimeUs (f64).
let nI32 = 7;
const i32l = () => nI32++;
const P = 0, PEXP = 1, QEXP = 2, REC = 3, END = 4, RECV = 5, SEND = 6;
const N = i32l(), C = i32l(), PS = i32l(), LIM = i32l(), SCALE = i32l(), D = i32l(), K = i32l(), Q = i32l(), F = i32l(), T = i32l();
const fieldI32 = () => ({ KP: i32l(), FP: i32l(), T: i32l() });
const PF = fieldI32(), QF = fieldI32();
// binbook's own i32 locals
const ADDR = i32l(), SEEN = i32l(), NCH = i32l(), NB = i32l(), S = i32l(), A = i32l(), SIZE = i32l(), WADDR = i32l();
const BESTB = i32l(), BESTA = i32l(), ABS = i32l(), SEQ = i32l(), FLAGS = i32l();
const I64_BASE = nI32;
let k64 = 0;
const i64l = () => I64_BASE + k64++;
const V = i64l(), PX = i64l(), X = i64l(), Y = i64l(), W = i64l();
const fieldI64 = (f) => Object.assign(f, { SA: i64l(), SB: i64l(), SC: i64l(), LOWT: i64l(), ZM: i64l(), POWF: i64l(), POWI: i64l() });
fieldI64(PF); fieldI64(QF);

const incP = (k) => [...get(P), ...c32(k), ...add, ...set(P)];
const readC = [...get(P), ...load8(), ...set(C)];
const accum = [...get(V), ...c64(10), ...mul64, ...get(D), ...extU, ...add64, ...set(V)];
/** Byte-by-byte reader (the reference): from just after the opening quote to the closing quote (p left there). */
const number = (EXP) => [
  ...get(P), ...set(PS), ...c64(0), ...set(V), ...readC,
  ...blk("int", () => lp("intl", () => [
    ...get(C), ...c32(48), ...sub, ...tee(D), ...c32(10), ...geU, ...brIf("int"),
    ...accum, ...incP(1), ...readC, ...br("intl"),
  ])),
  ...get(P), ...get(PS), ...eq, ...brIf("fail"),
  ...get(P), ...get(PS), ...sub, ...get(EXP), ...add, ...c32(15), ...gtS, ...brIf("fail"),
  ...get(EXP), ...set(SCALE),
  ...get(C), ...c32(46), ...eq,
  ...iff(() => [
    ...incP(1), ...readC,
    ...get(C), ...c32(48), ...sub, ...c32(10), ...geU, ...brIf("fail"),
    ...get(P), ...get(EXP), ...add, ...set(LIM),
    ...blk("frac", () => lp("fracl", () => [
      ...get(P), ...get(LIM), ...geS, ...brIf("frac"),
      ...get(C), ...c32(48), ...sub, ...tee(D), ...c32(10), ...geU, ...brIf("frac"),
      ...accum, ...incP(1), ...readC, ...br("fracl"),
    ])),
    ...get(LIM), ...get(P), ...sub, ...set(SCALE),
    ...blk("z4", () => lp("z4l", () => [...get(P), ...load32(), ...c32(0x30303030), ...ne, ...brIf("z4"), ...incP(4), ...br("z4l")])),
    ...readC,
    ...blk("z1", () => lp("z1l", () => [...get(C), ...c32(48), ...ne, ...brIf("z1"), ...incP(1), ...readC, ...br("z1l")])),
  ]),
  ...get(C), ...c32(34), ...ne, ...brIf("fail"),
  ...blk("sc", () => lp("scl", () => [
    ...get(SCALE), ...c32(0), ...leS, ...brIf("sc"),
    ...get(V), ...c64(10), ...mul64, ...set(V),
    ...get(SCALE), ...c32(1), ...sub, ...set(SCALE), ...br("scl"),
  ])),
];

const Z64 = 0x3030303030303030n, H76 = 0x7676767676767676n, H80 = 0x8080808080808080n;
/** tx = the 8 bytes at (addr local + off) xor '0' (digits become 0..9); leaves the index (0..8) of the first non-digit. */
const digitRun = (ADDR, off, TX) => [
  ...get(ADDR), ...load64(off), ...c64(Z64), ...xor64, ...tee(TX),
  ...c64(H76), ...add64, ...get(TX), ...or64, ...c64(H80), ...and64, ...ctz64, ...wrap, ...c32(3), ...shrU,
];
/** The value of 8 digit values (0..9) in local W, the first (most significant) in the low byte. */
const swar8 = [
  ...get(W), ...c64(10), ...mul64, ...get(W), ...c64(8), ...shr64, ...add64, ...set(W),
  ...get(W), ...c64(0x000000ff000000ffn), ...and64, ...c64(100n + (1000000n << 32n)), ...mul64,
  ...get(W), ...c64(16), ...shr64, ...c64(0x000000ff000000ffn), ...and64, ...c64(1n + (10000n << 32n)), ...mul64,
  ...add64, ...c64(32), ...shr64,
];
const tab = (IDX, addr) => [...get(IDX), ...c32(3), ...shl, ...tab64(addr)];
/** One number, shape-predicted: the lengths of its integer and fraction parts are guessed to be the previous ones of
 * this field (Fd.KP, Fd.FP, and the shifts, masks and powers derived from them), so the next load addresses do not
 * wait for the digit scan; a changed length recomputes them (-1 while a length is one the shapes do not cover).
 * Anything the shapes do not cover: the byte reader from the number's start. `twoLanes` ("okxdata"): the integer and
 * the fraction digits up to the exponent in two 8-digit lanes, added (OKX's "0.06523858": 9 digits, which one lane
 * sends to the byte reader; one lane is kept for "levels" and "levelsx", whose bodies stay as they were). */
const numberFast = (EXP, Fd, twoLanes = false, intDirect = false) => blk("num", () => [
  ...blk("slow", () => [
    ...get(P), ...set(PS),
    ...(intDirect
      ? [
          // the integer part's length taken as read, no prediction (no branch to mispredict when it changes)
          ...digitRun(P, 0, X), ...tee(K), ...c32(1), ...sub, ...c32(7), ...geU, ...brIf("slow"),
          ...get(K), ...get(EXP), ...add, ...c32(15), ...gtS, ...brIf("slow"),
          ...get(K), ...set(Fd.KP),
          ...c32(8), ...get(K), ...sub, ...c32(3), ...shl, ...extU, ...set(Fd.SA),
        ]
      : [
          ...digitRun(P, 0, X), ...tee(K), ...get(Fd.KP), ...ne,
          ...iff(() => [
            ...c32(-1), ...set(Fd.KP),
            ...get(K), ...c32(1), ...sub, ...c32(7), ...geU, ...brIf("slow"), // k = 0 or 8: the byte reader decides
            ...get(K), ...get(EXP), ...add, ...c32(15), ...gtS, ...brIf("slow"),
            ...get(K), ...set(Fd.KP),
            ...c32(8), ...get(K), ...sub, ...c32(3), ...shl, ...extU, ...set(Fd.SA),
          ]),
        ]),
    ...get(P), ...get(Fd.KP), ...add, ...tee(Q), ...load8(), ...tee(C), ...c32(34), ...eq,
    ...iff(() => [
      ...get(X), ...get(Fd.SA), ...shl64, ...set(W), ...swar8, ...get(Fd.POWI), ...mul64, ...set(V),
      ...get(Q), ...set(P), ...br("num"),
    ]),
    ...get(C), ...c32(46), ...ne, ...brIf("slow"),
    ...digitRun(Q, 1, Y), ...tee(F), ...get(Fd.FP), ...ne,
    ...iff(() => [
      ...c32(-1), ...set(Fd.FP),
      ...get(F), ...eqz, ...brIf("slow"),
      ...get(F), ...set(Fd.FP),
      ...get(F), ...get(EXP), ...get(F), ...get(EXP), ...ltS, ...sel, ...set(Fd.T),
      ...tab(Fd.T, LOW_ADDR), ...set(Fd.LOWT),
      ...tab(F, LOW_ADDR), ...get(Fd.LOWT), ...xor64, ...set(Fd.ZM),
      ...get(Fd.T), ...c32(3), ...shl, ...extU, ...set(Fd.SB),
      ...c32(8), ...get(Fd.T), ...sub, ...c32(3), ...shl, ...extU, ...set(Fd.SC),
      ...get(EXP), ...get(Fd.T), ...sub, ...set(D), ...tab(D, POW_ADDR), ...set(Fd.POWF),
    ]),
    ...get(Q), ...get(Fd.FP), ...add, ...load8(1), ...c32(34), ...ne, ...brIf("slow"),
    ...get(Y), ...get(Fd.ZM), ...and64, ...eqz64, ...eqz, ...brIf("slow"),
    ...(twoLanes
      ? [
          ...get(X), ...get(Fd.SA), ...shl64, ...set(W), ...swar8, ...get(Fd.POWI), ...mul64, ...set(V),
          ...get(Y), ...get(Fd.LOWT), ...and64, ...get(Fd.SC), ...shl64, ...set(W), ...swar8, ...get(Fd.POWF), ...mul64, ...get(V), ...add64, ...set(V),
        ]
      : [
          ...get(Fd.KP), ...get(Fd.T), ...add, ...c32(8), ...gtS, ...brIf("slow"),
          ...get(X), ...get(Fd.SA), ...shl64, ...get(Fd.SB), ...shr64, ...get(Y), ...get(Fd.LOWT), ...and64, ...get(Fd.SC), ...shl64, ...or64, ...set(W),
          ...swar8, ...get(Fd.POWF), ...mul64, ...set(V),
        ]),
    ...get(Q), ...get(Fd.FP), ...add, ...c32(1), ...add, ...set(P),
    ...br("num"),
  ]),
  ...get(PS), ...set(P),
  ...number(EXP),
]);

// No shape predicted yet; 10^exp for integer-only numbers (an exponent above 15 never makes a plain number).
const init = (EXP, Fd) => [...c32(-1), ...set(Fd.KP), ...c32(-1), ...set(Fd.FP), ...tab(EXP, POW_ADDR), ...set(Fd.POWI)];

// ---- from here on: binbook (new), with gen-levels-wasm.mjs's bindiff helpers (digitsV, tplEqual, litAt) copied ----
const EV = i64l(), TV = i64l(), UV = i64l(), LV = i64l(), PUV = i64l(), PREV = i64l(), LO = i64l(), SL = i64l(), LASTU = i64l();
const eq64 = [0x51], ltS64 = [0x53], geU64 = [0x5a], gtU64 = [0x56], leS64 = [0x57], geS64 = [0x59], sub64 = [0x7d];
const ltU = [0x49], mul = [0x6c], truncF64 = [0xb0], extS = [0xac];
const lit64 = (t) => { let v = 0n; for (let i = 0; i < t.length && i < 8; i++) v |= BigInt(t.charCodeAt(i)) << BigInt(8 * i); return v; };
/** Absolute-address loads and stores (the address operand on the stack, `off` as the immediate offset). */
const ld32 = (off) => [0x28, 2, ...uleb(off)], ld64 = (off) => [0x29, 3, ...uleb(off)];
const st32 = (off) => [0x36, 2, ...uleb(off)], st64 = (off) => [0x37, 3, ...uleb(off)];
const load64abs = [0x29, 0, 0];

/** Digits from p into V (p left at the first non-digit, its code in C), their count in D (gen-levels-wasm.mjs). */
const digitsV = [
  ...get(P), ...set(PS),
  ...digitRun(P, 0, X), ...set(K),
  ...c32(0), ...set(F),
  ...get(K), ...c32(8), ...eq, ...iff(() => [...digitRun(P, 8, Y), ...set(F)]),
  ...get(K), ...get(F), ...add, ...set(D),
  ...get(X), ...tab(K, LOW_ADDR), ...and64, ...c32(8), ...get(K), ...sub, ...c32(3), ...shl, ...extU, ...shl64, ...set(W),
  ...swar8, ...tab(F, POW_ADDR), ...mul64, ...set(V),
  ...get(Y), ...tab(F, LOW_ADDR), ...and64, ...c32(8), ...get(F), ...sub, ...c32(3), ...shl, ...extU, ...shl64, ...set(W),
  ...swar8, ...get(V), ...add64, ...set(V),
  ...get(P), ...get(D), ...add, ...set(P), ...readC,
];
/** Bytes [at, at + len) of the frame equal the template at absolute address tpl (len ≥ 8), else br "fail". */
const tplEqual = (at, LEN, TPL) => [
  ...c32(0), ...set(K),
  ...blk("tq", () => lp("tql", () => [
    ...get(K), ...c32(8), ...add, ...get(LEN), ...geS, ...brIf("tq"),
    ...at, ...get(K), ...add, ...load64(), ...get(TPL), ...get(K), ...add, ...load64abs, ...ne64, ...brIf("fail"),
    ...get(K), ...c32(8), ...add, ...set(K), ...br("tql"),
  ])),
  ...at, ...get(LEN), ...add, ...c32(8), ...sub, ...load64(), ...get(TPL), ...get(LEN), ...add, ...c32(8), ...sub, ...load64abs, ...ne64, ...brIf("fail"),
];
/** p's next `t.length` (≤ 8) bytes are `t`. */
const litAt = (t) => [...get(P), ...load64(), ...(t.length < 8 ? [...c64((1n << BigInt(8 * t.length)) - 1n), ...and64] : []), ...c64(lit64(t)), ...eq64];
/** An id: 1–15 digits, no leading zero, into local `to` (i64; bindiff stored it as f64). */
const intField = (to) => [
  ...digitsV,
  ...get(D), ...eqz, ...brIf("fail"),
  ...get(D), ...c32(15), ...gtS, ...brIf("fail"),
  ...get(D), ...c32(1), ...gtS, ...get(PS), ...load8(), ...c32(48), ...eq, ...and, ...brIf("fail"),
  ...get(V), ...set(to),
];

// ---- memory layout (absolute addresses), shared with the host (prototype.ts) ----
/** The frame: at most MAX_IN bytes from BASE (3 per UTF-16 unit, as utf8Write may need, + the 0 sentinel). */
export const MAX_IN = 16384;
/** Book records: REC_BYTES each from REC_ADDR; the host fills them (templates, window, state) and reads the counters. */
export const REC_ADDR = BASE + MAX_IN, REC_BYTES = 128, MAX_BOOKS = 32;
export const R = {
  HEADLEN: 0, HEADADDR: 4, MIDLEN: 8, MIDADDR: 12,
  STATE: 16, // i32 BookState
  WORD1: 20, // i32: priceExp | qtyExp << 8 | state << 16 | reason << 24 (root block bytes 4–7)
  INSTR: 24, // i32 instrumentId
  MARKET: 28, // i32: 0 spot (U = last u + 1), 1 USD-M (pu = last u)
  INSTRSEQ: 32, LASTU: 40, BLO: 48, ALO: 56, // i64: instrSeq, last u, the price of slot 0 of each side's window
  BSIZE: 64, BBEST: 68, BADDR: 72, ASIZE: 76, ABEST: 80, AADDR: 84, // i32: windows (best: -1 / size when empty)
  ABSENT: 88, BREAKS: 92, DUPS: 96, CROSSED: 100, DELTAS: 104, // i32 counters
};
/** The channel: the 48-byte packet header template (msgCount 1, length and seqNum 0), then nextSeq (i64). */
export const CH_ADDR = REC_ADDR + REC_BYTES * MAX_BOOKS, CH_NEXTSEQ = CH_ADDR + PACKET_HEADER_BYTES;
/** The datagram (one per frame, as the bench's flush after each frame gives), then the undo log (old quantities). */
export const DG_ADDR = CH_ADDR + 64, DG_BYTES = 1400;
export const UNDO_ADDR = DG_ADDR + DG_BYTES + 8;
/** Levels that fit one BookDelta in a 1400-byte datagram (80): more changes decline (today's path would split). */
export const MAX_CHANGES = deltaLevelsPerDatagram(DG_BYTES);
/** Where the host may put the windows (8-byte i64 quantity per tick). */
export const WIN_ADDR = (UNDO_ADDR + 8 * MAX_CHANGES + 63) & ~63;
const ROOT = DG_ADDR + PACKET_HEADER_BYTES + MESSAGE_HEADER_BYTES;
const LEVELS = ROOT + BOOK_DELTA_BLOCK_BYTES;
const recI32 = (off) => [...get(REC), ...ld32(off)], recI64 = (off) => [...get(REC), ...ld64(off)];

/**
 * One side: `[]`, or Binance's compact levels as bindiff reads them, each applied to the side's window as soon as it
 * is read: a changed quantity is stored, its level written to the datagram (price, new qty), the old qty to the undo
 * log, and the side's best slot kept (a delete of the best walks to the next occupied slot). An unchanged qty writes
 * nothing (a delete of an absent level is counted), as Ladder.applyLevels and the ChangeSet do.
 */
const side = (bids) => {
  const BEST = bids ? BESTB : BESTA;
  return [
    ...recI64(bids ? R.BLO : R.ALO), ...set(LO),
    ...recI32(bids ? R.BSIZE : R.ASIZE), ...set(SIZE),
    ...recI32(bids ? R.BADDR : R.AADDR), ...set(WADDR),
    ...blk("sidedone", () => [
      ...get(P), ...load16(), ...c32(0x5d5b), ...eq, ...iff(() => [...incP(2), ...br("sidedone")]), // []
      ...get(P), ...load16(1), ...c32(0x225b), ...ne, ...brIf("fail"), // [["
      ...incP(3),
      ...lp("lvl", () => [
        ...numberFast(PEXP, PF), ...get(V), ...set(PX),
        ...get(P), ...load32(), ...c32(0xffffff), ...and, ...c32(0x222c22), ...ne, ...brIf("fail"),
        ...incP(3),
        ...numberFast(QEXP, QF, false, true),
        // the level, applied: slot = price − the window's first price (outside the window: decline, undone)
        ...get(PX), ...get(LO), ...sub64, ...tee(SL), ...get(SIZE), ...extU, ...geU64, ...brIf("fail"),
        ...get(WADDR), ...get(SL), ...wrap, ...tee(S), ...c32(3), ...shl, ...add, ...tee(A), ...ld64(0), ...tee(PREV), ...get(V), ...ne64,
        ...iff(() => [
          ...get(NCH), ...c32(MAX_CHANGES), ...geU, ...brIf("fail"),
          ...get(A), ...get(V), ...st64(0),
          ...get(NCH), ...c32(4), ...shl, ...tee(D), ...get(PX), ...st64(LEVELS + LEVEL_PRICE_OFFSET),
          ...get(D), ...get(V), ...st64(LEVELS + LEVEL_QTY_OFFSET),
          ...get(NCH), ...c32(3), ...shl, ...get(PREV), ...st64(UNDO_ADDR),
          ...get(NCH), ...c32(1), ...add, ...set(NCH),
          ...get(V), ...eqz64,
          ...iff(() => [
            // a delete: of the best, the best moves to the next occupied slot (or none: -1 / size)
            ...get(S), ...get(BEST), ...eq,
            ...iff(() => [
              ...blk("bs", () => lp("bsl", () => [
                ...get(BEST), ...c32(bids ? -1 : 1), ...add, ...tee(BEST),
                ...(bids ? [...c32(0), ...ltS] : [...get(SIZE), ...geS]), ...brIf("bs"),
                ...get(WADDR), ...get(BEST), ...c32(3), ...shl, ...add, ...ld64(0), ...eqz64, ...brIf("bsl"),
              ])),
            ]),
          ]),
          // an insert or update: a better price becomes the best (bids: the highest slot, asks: the lowest)
          ...get(V), ...eqz64, ...eqz,
          ...iff(() => [...get(S), ...get(BEST), ...get(S), ...get(BEST), ...(bids ? gtS : ltS), ...sel, ...set(BEST)]),
        ]),
        ...get(V), ...get(PREV), ...eq64, ...get(V), ...eqz64, ...and, ...get(ABS), ...add, ...set(ABS),
        ...get(P), ...load32(1), ...c32(0x225b2c5d), ...eq,
        ...iff(() => [...incP(5), ...br("lvl")]),
        ...get(P), ...load16(1), ...c32(0x5d5d), ...ne, ...brIf("fail"),
        ...incP(3), ...br("sidedone"),
      ]),
    ]),
  ];
};

/** Undo (cold): every applied change put back, newest first; the bests were not stored yet, so they stand. */
const undo = [
  ...blk("ud", () => lp("udl", () => [
    ...get(NCH), ...eqz, ...brIf("ud"),
    ...get(NCH), ...c32(1), ...sub, ...set(NCH),
    ...get(NCH), ...c32(4), ...shl, ...ld64(LEVELS + LEVEL_PRICE_OFFSET), ...set(PX),
    ...get(NCH), ...get(NB), ...ltS,
    ...iff(() => [...get(PX), ...recI64(R.BLO), ...sub64, ...wrap, ...c32(3), ...shl, ...recI32(R.BADDR), ...add, ...set(A)]),
    ...get(NCH), ...get(NB), ...geS,
    ...iff(() => [...get(PX), ...recI64(R.ALO), ...sub64, ...wrap, ...c32(3), ...shl, ...recI32(R.AADDR), ...add, ...set(A)]),
    ...get(A), ...get(NCH), ...c32(3), ...shl, ...ld64(UNDO_ADDR), ...st64(0),
    ...br("udl"),
  ])),
];

const MAX_MS = 9007199254740n; // E, T in ms: E × 1000 < 2^53, as the scanner requires of tsExchangeUs
const MSG_FIXED = MESSAGE_HEADER_BYTES + BOOK_DELTA_BLOCK_BYTES;
const cAt = (addr, code) => [...c32(0), ...code, ...(code.isI64 ? st64(addr) : st32(addr))];
const i64at = (addr, code) => [...c32(0), ...code, ...st64(addr)];
const i32at = (addr, code) => [...c32(0), ...code, ...st32(addr)];

function binbookBody() {
  return [
    ...blk("fail", () => [
      // ---- before anything changes: a decline leaves the book as it was ----
      ...get(PEXP), ...c32(15), ...gtU, ...get(QEXP), ...c32(15), ...gtU, ...or, ...brIf("fail"),
      ...recI32(R.STATE), ...c32(BookState.LIVE), ...ne, ...brIf("fail"), // not LIVE: today's path ignores and counts
      ...init(PEXP, PF), ...init(QEXP, QF),
      ...recI32(R.HEADLEN), ...set(LIM), ...recI32(R.HEADADDR), ...set(ADDR),
      ...get(P), ...get(LIM), ...add, ...get(END), ...gtS, ...brIf("fail"),
      ...tplEqual(get(P), LIM, ADDR),
      ...get(P), ...get(LIM), ...add, ...set(P),
      ...intField(EV), ...get(EV), ...c64(MAX_MS), ...gtU64, ...brIf("fail"),
      ...c64(0), ...set(TV),
      ...litAt(',"T":'), ...iff(() => [...incP(5), ...intField(TV), ...get(TV), ...c64(MAX_MS), ...gtU64, ...brIf("fail")]),
      ...get(P), ...set(SEEN),
      ...recI32(R.MIDLEN), ...set(LIM), ...recI32(R.MIDADDR), ...set(ADDR),
      ...get(P), ...get(LIM), ...add, ...tee(P), ...get(END), ...gtS, ...brIf("fail"),
      ...tplEqual(get(SEEN), LIM, ADDR),
      ...intField(UV),
      ...litAt(',"u":'), ...eqz, ...brIf("fail"), ...incP(5),
      ...intField(LV),
      ...c64(-1), ...set(PUV),
      ...litAt(',"pu":'), ...iff(() => [...incP(6), ...intField(PUV)]),
      ...litAt(',"b":['), ...eqz, ...brIf("fail"), ...incP(5),
      // the adapter's sequence rule, its verdict counted (0 continues, 1 already applied, 2 a break); like the bench,
      // every diff is applied (the recordings' first diffs predate their snapshots)
      ...recI64(R.LASTU), ...set(LASTU),
      ...c32(0), ...set(SEQ),
      ...get(LV), ...get(LASTU), ...leS64,
      ...iff(() => [...c32(1), ...set(SEQ)]),
      ...get(SEQ), ...eqz,
      ...iff(() => [
        ...recI32(R.MARKET), ...eqz,
        ...iff(() => [...get(UV), ...get(LASTU), ...c64(1), ...add64, ...ne64, ...iff(() => [...c32(2), ...set(SEQ)])]),
        ...recI32(R.MARKET), ...c32(1), ...eq,
        ...iff(() => [...get(PUV), ...get(LASTU), ...ne64, ...iff(() => [...c32(2), ...set(SEQ)])]),
      ]),
      ...recI32(R.BBEST), ...set(BESTB), ...recI32(R.ABEST), ...set(BESTA),
      ...c32(0), ...set(NCH), ...c32(0), ...set(ABS), ...c32(0x7fffffff), ...set(NB), // NB: every change a bid until the asks start (undo)
      ...blk("fail", () => [
        // ---- levels applied from here on: a decline undoes them ----
        ...side(true),
        ...get(NCH), ...set(NB),
        ...litAt(',"a":['), ...eqz, ...brIf("fail"), ...incP(5),
        ...side(false),
        ...get(P), ...load16(), ...c32(0x7d7d), ...ne, ...brIf("fail"),
        ...get(P), ...c32(2), ...add, ...get(END), ...ne, ...brIf("fail"),
        // ---- commit: book state, counters, then the datagram ----
        ...c32(MSG_FLAG_LAST), ...set(FLAGS),
        // crossed (both sides non-empty, best bid ≥ best ask): RESYNCING / CROSSED_BOOK, published so (applyDelta)
        ...get(BESTB), ...c32(0), ...geS, ...get(BESTA), ...recI32(R.ASIZE), ...ltS, ...and,
        ...iff(() => [
          ...recI64(R.BLO), ...get(BESTB), ...extS, ...add64, ...recI64(R.ALO), ...get(BESTA), ...extS, ...add64, ...geS64,
          ...iff(() => [
            ...get(REC), ...c32(BookState.RESYNCING), ...st32(R.STATE),
            ...get(REC), ...recI32(R.WORD1), ...c32(0xffff), ...and, ...c32((BookState.RESYNCING << 16) | (StatusReason.CROSSED_BOOK << 24)), ...or, ...st32(R.WORD1),
            ...get(REC), ...recI32(R.CROSSED), ...c32(1), ...add, ...st32(R.CROSSED),
            ...c32(MSG_FLAG_LAST | MSG_FLAG_MAYBE_BAD_BOOK), ...set(FLAGS),
          ]),
        ]),
        ...get(REC), ...get(BESTB), ...st32(R.BBEST), ...get(REC), ...get(BESTA), ...st32(R.ABEST),
        ...get(REC), ...get(LV), ...st64(R.LASTU),
        ...get(REC), ...recI32(R.ABSENT), ...get(ABS), ...add, ...st32(R.ABSENT),
        ...get(REC), ...recI32(R.DELTAS), ...c32(1), ...add, ...st32(R.DELTAS),
        ...get(SEQ), ...c32(1), ...eq, ...iff(() => [...get(REC), ...recI32(R.DUPS), ...c32(1), ...add, ...st32(R.DUPS)]),
        ...get(SEQ), ...c32(2), ...eq, ...iff(() => [...get(REC), ...recI32(R.BREAKS), ...c32(1), ...add, ...st32(R.BREAKS)]),
        // packet header: the channel's template (6 words), then length, seqNum, send time
        ...[0, 8, 16, 24, 32, 40].flatMap((k) => [...c32(0), ...c32(0), ...ld64(CH_ADDR + k), ...st64(DG_ADDR + k)]),
        ...get(NCH), ...c32(4), ...shl, ...c32(MSG_FIXED), ...add, ...set(D), // message bytes
        ...c32(0), ...c32(0), ...ld32(CH_ADDR + PKT_LENGTH_OFFSET), ...get(D), ...c32(PACKET_HEADER_BYTES), ...add, ...or, ...st32(DG_ADDR + PKT_LENGTH_OFFSET),
        ...c32(0), ...c32(0), ...ld64(CH_NEXTSEQ), ...tee(Y), ...st64(DG_ADDR + PKT_SEQ_NUM_OFFSET),
        ...c32(0), ...get(Y), ...c64(1), ...add64, ...st64(CH_NEXTSEQ),
        ...c32(0), ...get(SEND), ...truncF64, ...c64(1000), ...mul64, ...st64(DG_ADDR + PKT_SEND_TIME_NS_OFFSET),
        // message header
        ...c32(0), ...get(D), ...c32(TEMPLATE_BOOK_DELTA << 16), ...or, ...st32(DG_ADDR + PACKET_HEADER_BYTES + MSG_LENGTH_OFFSET),
        ...c32(0), ...get(FLAGS), ...c32(24), ...shl, ...c32(BOOK_DELTA_BLOCK_BYTES | (BOOK_DELTA_VERSION << 16)), ...or, ...st32(DG_ADDR + PACKET_HEADER_BYTES + MSG_BLOCK_LENGTH_OFFSET),
        // BookDelta root block
        ...c32(0), ...recI32(R.INSTR), ...st32(ROOT + BOOK_INSTRUMENT_ID_OFFSET),
        ...c32(0), ...recI32(R.WORD1), ...st32(ROOT + BOOK_PRICE_EXP_OFFSET),
        ...get(REC), ...recI64(R.INSTRSEQ), ...c64(1), ...add64, ...tee(Y), ...st64(R.INSTRSEQ),
        ...c32(0), ...get(Y), ...st64(ROOT + BOOK_INSTR_SEQ_OFFSET),
        ...c32(0), ...get(LV), ...st64(ROOT + BOOK_VENUE_SEQ_OFFSET),
        ...c32(0), ...get(EV), ...c64(1000000), ...mul64, ...st64(ROOT + BOOK_TS_EXCHANGE_NS_OFFSET),
        ...c32(0), ...get(TV), ...c64(1000000), ...mul64, ...st64(ROOT + BOOK_TS_EVENT_NS_OFFSET),
        ...c32(0), ...get(RECV), ...truncF64, ...c64(1000), ...mul64, ...st64(ROOT + BOOK_TS_RECV_NS_OFFSET),
        ...c32(0), ...get(NB), ...get(NCH), ...get(NB), ...sub, ...c32(16), ...shl, ...or, ...st32(ROOT + DELTA_BID_COUNT_OFFSET),
        ...c32(0), ...c32(LEVEL_BYTES), ...st32(ROOT + DELTA_LEVEL_LENGTH_OFFSET), // levelLength, partIndex 0
        ...c32(0), ...c32(1), ...st32(ROOT + DELTA_PART_COUNT_OFFSET), // partCount 1, 2 reserved bytes
        ...c32(0), ...c32(0), ...st32(ROOT + DELTA_RESERVED_OFFSET + 2),
        ...get(D), ...c32(PACKET_HEADER_BYTES), ...add, 0x0f,
      ]),
      ...undo,
      ...br("fail"),
    ]),
    ...c32(-1), 0x0b,
  ];
}

if (BOOK_COMMON_BLOCK_BYTES !== 48 || DELTA_BID_COUNT_OFFSET !== 48 || DELTA_LEVEL_LENGTH_OFFSET !== 52 || DELTA_PART_COUNT_OFFSET !== 56 || DELTA_RESERVED_OFFSET !== 58 || BOOK_PRICE_EXP_OFFSET !== 4) {
  throw new Error("gen-module: the word stores do not match layout.ts");
}

/** The module's bytes: memory "mem" (1 page; the host grows it once for the windows), func "binbook". */
export function buildBinbookModule(): Uint8Array {
  const F64 = 0x7c;
  const locals = vec([[...uleb(nI32 - 7), I32], [...uleb(k64), I64]]);
  const body = [...locals, ...binbookBody()];
  const tables = new Uint8Array(POW_ADDR + 16 * 8 - LOW_ADDR);
  const dv = new DataView(tables.buffer);
  for (let k = 0; k <= 8; k++) dv.setBigUint64(k * 8, k === 8 ? 0xffffffffffffffffn : (1n << BigInt(8 * k)) - 1n, true);
  for (let i = 0, p = 1n; i < 16; i++, p *= 10n) dv.setBigUint64(POW_ADDR - LOW_ADDR + i * 8, p, true);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [F64], [F64]]), ...vec([[I32]])]])),
    ...section(3, vec([uleb(0)])),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([[...str("mem"), 0x02, 0], [...str("binbook"), 0x00, 0]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
    ...section(11, vec([[0x00, ...c32(LOW_ADDR), 0x0b, ...vec([...tables].map((b) => [b]))]])),
  ]);
}
export const FRAME_BASE = BASE;
