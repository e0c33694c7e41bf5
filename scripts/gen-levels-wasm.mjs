// Generates the WebAssembly side reader of order-book levels (src/venues/common/levels-wasm.ts; Binance REST depth
// snapshots, docs/performance.md §10) and writes its bytes, base64, into src/venues/common/levels-wasm-module.ts
// (embedded, so `bun build --compile` needs no file at run time). No toolchain: the binary format is written by hand below (WebAssembly core spec §5), as
// scripts/gen-crc32c-wasm.mjs did for the CRC experiment (docs/performance.md §3.3).
//   node scripts/gen-levels-wasm.mjs            → writes src/venues/common/levels-wasm-module.ts
//   node scripts/gen-levels-wasm.mjs --check    → exits 1 when that file is not what this script writes
//
// The module: memory "mem" (growable; the host re-creates its views after a grow), func "levels"(p, priceExp, qtyExp,
// out, cap) → n. It reads Binance's compact `["price","qty"],["price","qty"],…]` from byte p (the first level's `[`;
// the body's bytes start at address BASE, so p is the host's index into the body) and writes n levels as f64 pairs
// (price mantissa, qty mantissa) at address out, at most cap of them; the index just after the side's closing `]`
// goes to the i32 at address 0. Func "levelsx" (same signature) reads levels that carry further plain string fields
// after the qty, each `,"` + digits + `"` (OKX's `["px","sz","0","orderCount"]`), skipped. Func "okxdata" (same
// signature, okxDataBody below) reads OKX's whole data object in one call: both sides into four f64 arrays, ts,
// checksum and sequence ids into a small header below BASE. Func "bindiff" (same signature, binDiffBody below) reads
// a whole Binance diff frame in one call: the stream's head and mid templates (copied into the memory by the host),
// ids, both sides into the same four arrays. Anything else — whitespace, a malformed level, a number that is not plain, an exponent
// above 15, more than cap levels — returns -1 and the host reads the whole side again with the TypeScript reader (level-reader.ts), which decides and names the
// error. "Plain" is exactly the TypeScript reader's one-pass case: digits, an optional dot followed by a digit, at most
// 15 integer digits + exponent, nothing but zeros beyond the exponent, a closing quote; the mantissa is then exact
// (< 10^15), the same number either reader produces (test/venues/binance/levels-wasm.test.ts compares them).
//
// Why this shape (docs/performance.md §10): a number is read 8 bytes at a time (SWAR: the digit run's length from
// the lowest non-digit byte, the value of up to 8 digits with three multiplies), and the lengths of its integer and
// fraction parts are *predicted* to be the previous number's of the same field (prices and quantities apart): the
// next loads' addresses then come from the prediction, not from the digit scan, so the CPU does not wait for one
// number's scan before starting the next (measured: the same SWAR code with the computed lengths was slower than a
// byte loop, 36 vs 30 µs per spot body). A changed length recomputes the derived shifts and masks (a branch, cold for
// Binance's fixed-decimal prices); what the shapes do not cover (8+ integer digits, 9+ fraction digits, more than 8
// integer digits + fraction digits up to the exponent) goes through a byte-by-byte reader of the same numbers.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const OUT_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "venues", "common", "levels-wasm-module.ts");
/** Address of the body's byte 0 (below it: the result word at 0 and the tables). */
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

// Locals.
let nI32 = 5;
const i32l = () => nI32++;
const P = 0, PEXP = 1, QEXP = 2, OUT = 3, CAP = 4;
const N = i32l(), C = i32l(), PS = i32l(), LIM = i32l(), SCALE = i32l(), D = i32l(), K = i32l(), Q = i32l(), F = i32l(), T = i32l();
const fieldI32 = () => ({ KP: i32l(), FP: i32l(), T: i32l() });
const PF = fieldI32(), QF = fieldI32();
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
// p at the closing quote of the qty: each `,"` + digits + `"` after it skipped, p left at the last closing quote.
const skipExtra = () => blk("exdone", () => lp("exl", () => [
  ...get(P), ...load16(1), ...c32(0x222c), ...ne, ...brIf("exdone"),
  ...incP(3), ...readC,
  ...get(C), ...c32(48), ...sub, ...c32(10), ...geU, ...brIf("fail"),
  ...blk("exd", () => lp("exdl", () => [...incP(1), ...readC, ...get(C), ...c32(48), ...sub, ...c32(10), ...geU, ...brIf("exd"), ...br("exdl")])),
  ...get(C), ...c32(34), ...ne, ...brIf("fail"),
  ...br("exl"),
]));

/** One function body: `extra` false → levels of exactly two strings (Binance), true → further `,"digits"` fields
 * after the qty skipped (OKX's deprecated "0" and order count). */
function levelsBody(extra) {
  return [
    ...blk("fail", () => [
      ...get(PEXP), ...c32(15), ...gtU, ...get(QEXP), ...c32(15), ...gtU, ...or, ...brIf("fail"),
      ...init(PEXP, PF), ...init(QEXP, QF),
      ...get(P), ...load16(), ...c32(0x225b), ...ne, ...brIf("fail"),
      ...incP(2),
      ...lp("lvl", () => [
        ...numberFast(PEXP, PF), ...get(V), ...set(PX),
        ...get(P), ...load32(), ...c32(0xffffff), ...and, ...c32(0x222c22), ...ne, ...brIf("fail"),
        ...incP(3),
        ...numberFast(QEXP, QF),
        ...(extra ? skipExtra() : []),
        ...get(N), ...get(CAP), ...geU, ...brIf("fail"),
        ...get(N), ...c32(4), ...shl, ...get(OUT), ...add, ...tee(D), ...get(PX), ...cvt, ...f64store(0),
        ...get(D), ...get(V), ...cvt, ...f64store(8),
        ...get(N), ...c32(1), ...add, ...set(N),
        ...get(P), ...load32(1), ...c32(0x225b2c5d), ...eq,
        ...iff(() => [...incP(5), ...br("lvl")]),
        ...get(P), ...load16(1), ...c32(0x5d5d), ...ne, ...brIf("fail"),
        ...c32(0), ...get(P), ...c32(3), ...add, ...i32storeAbs,
        ...get(N), 0x0f,
      ]),
    ]),
    ...c32(-1), 0x0b,
  ];
}

/** Where "okxdata" leaves what it read (below BASE, after the tables): the keys seen (bits: asks 1, bids 2, ts 4,
 * checksum 8, prevSeqId 16, seqId 32), the two sides' level counts, then ts (ms), checksum, prevSeqId, seqId as f64. */
const HDR = 288;
const HDR_SEEN = HDR, HDR_ASKS = HDR + 4, HDR_BIDS = HDR + 8, HDR_TS = HDR + 16, HDR_CHECKSUM = HDR + 24, HDR_PREV = HDR + 32, HDR_SEQ = HDR + 40;
// "okxdata"'s own locals, after the shared ones (the other two functions' bodies stay byte for byte as they were).
const X_BASE = I64_BASE + k64;
let kx = 0;
const xl = () => X_BASE + kx++;
const SEEN = xl(), BIT = xl(), ADDR = xl(), PXO = xl(), QXO = xl(), NEG = xl();
const eq64 = [0x51], gtU64 = [0x56], fneg = [0x9a];
const f64storeAt = (off) => [0x39, 3, ...uleb(off)], i32storeAt = (off) => [0x36, 2, ...uleb(off)];
const lit64 = (t) => { let v = 0n; for (let i = 0; i < t.length && i < 8; i++) v |= BigInt(t.charCodeAt(i)) << BigInt(8 * i); return v; };
/** The key word (local Y: the 8 bytes after the key's opening quote) starts with `t` (up to 8 characters). */
const keyIs = (t) => [...get(Y), ...(t.length < 8 ? [...c64((1n << BigInt(8 * t.length)) - 1n), ...and64] : []), ...c64(lit64(t)), ...eq64];
/** Digits from p into V (p left at the first non-digit, its code in C), their count in D (16 for 16 or more):
 * two 8-byte SWAR lanes, the second read only when the first is all digits (a 13-digit ts, 10-digit sequence numbers:
 * a byte loop's multiply-add chain was ~3 cycles a digit). */
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

/** "okxdata"(p, priceExp, qtyExp, out, cap) → the index of the data object's closing `}`, or -1: OKX's data object
 * `{"asks":[…],"bids":[…],"ts":"…","checksum":…,"prevSeqId":…,"seqId":…}` read in one call from p (just after its
 * `{`), keys in any order, each once. Levels as "levelsx" reads them, asks' prices and sizes as f64 at out and
 * out + 8 cap, bids' at out + 16 cap and out + 24 cap, at most cap a side; the rest at HDR. It takes exactly what the
 * TypeScript scanner's key loop takes with plain sides (ts: 1–15 digits in quotes; integers: an optional minus,
 * 1–15 digits, no leading zero, followed by `,` or `}`; checksum within int32), and declines (-1) everything else,
 * `instId` (books5, bbo-tbt) included: the scanner then reads the object again its own way, which decides. */
function okxDataBody() {
  const sideCode = () => [
    ...get(SEEN), ...get(BIT), ...and, ...brIf("fail"),
    ...get(SEEN), ...get(BIT), ...or, ...set(SEEN),
    ...incP(7), ...c32(0), ...set(N),
    ...blk("sidedone", () => [
      ...get(P), ...load8(), ...c32(93), ...eq, ...iff(() => [...incP(1), ...br("sidedone")]),
      ...get(P), ...load16(), ...c32(0x225b), ...ne, ...brIf("fail"),
      ...incP(2),
      ...lp("lvl", () => [
        ...numberFast(PEXP, PF, true), ...get(V), ...set(PX),
        ...get(P), ...load32(), ...c32(0xffffff), ...and, ...c32(0x222c22), ...ne, ...brIf("fail"),
        ...incP(3),
        ...numberFast(QEXP, QF, true),
        // OKX's usual `,"0","` before the order count in one masked compare, the count's digits then as skipExtra
        // reads them (which takes any further fields): one loop turn less a level (scan -5 %, docs/performance.md §11)
        ...get(P), ...load64(1), ...c64(0xffffffffffffn), ...and64, ...c64(lit64(',"0","')), ...eq64,
        ...iff(() => [
          ...incP(7), ...readC,
          ...get(C), ...c32(48), ...sub, ...c32(10), ...geU, ...brIf("fail"),
          ...blk("cd", () => lp("cdl", () => [...incP(1), ...readC, ...get(C), ...c32(48), ...sub, ...c32(10), ...geU, ...brIf("cd"), ...br("cdl")])),
          ...get(C), ...c32(34), ...ne, ...brIf("fail"),
        ]),
        ...skipExtra(),
        ...get(N), ...get(CAP), ...geU, ...brIf("fail"),
        ...get(N), ...c32(3), ...shl, ...set(D),
        ...get(PXO), ...get(D), ...add, ...get(PX), ...cvt, ...f64store(0),
        ...get(QXO), ...get(D), ...add, ...get(V), ...cvt, ...f64store(0),
        ...get(N), ...c32(1), ...add, ...set(N),
        ...get(P), ...load32(1), ...c32(0x225b2c5d), ...eq,
        ...iff(() => [...incP(5), ...br("lvl")]),
        ...get(P), ...load16(1), ...c32(0x5d5d), ...ne, ...brIf("fail"),
        ...incP(3), ...br("sidedone"),
      ]),
    ]),
    ...get(ADDR), ...get(N), ...i32storeAt(0),
  ];
  const intCode = () => [
    ...get(SEEN), ...get(BIT), ...and, ...brIf("fail"),
    ...get(SEEN), ...get(BIT), ...or, ...set(SEEN),
    ...c32(0), ...set(NEG),
    ...get(P), ...load8(), ...c32(45), ...eq, ...iff(() => [...c32(1), ...set(NEG), ...incP(1)]),
    ...digitsV,
    ...get(D), ...eqz, ...brIf("fail"),
    ...get(D), ...c32(15), ...gtS, ...brIf("fail"),
    ...get(D), ...c32(1), ...gtS, ...get(PS), ...load8(), ...c32(48), ...eq, ...and, ...brIf("fail"),
    ...get(C), ...c32(44), ...ne, ...get(C), ...c32(125), ...ne, ...and, ...brIf("fail"),
    // checksum: within int32 (-2147483648 … 2147483647)
    ...get(BIT), ...c32(8), ...eq,
    ...iff(() => [...get(V), ...c64(2147483647), ...get(NEG), ...extU, ...add64, ...gtU64, ...brIf("fail")]),
    ...get(ADDR), ...get(V), ...cvt, ...fneg, ...get(V), ...cvt, ...get(NEG), ...sel, ...f64store(0),
  ];
  const tsCode = () => [
    ...get(SEEN), ...c32(4), ...and, ...brIf("fail"),
    ...get(SEEN), ...c32(4), ...or, ...set(SEEN),
    ...incP(5),
    ...digitsV,
    ...get(D), ...eqz, ...brIf("fail"),
    ...get(D), ...c32(15), ...gtS, ...brIf("fail"),
    ...get(C), ...c32(34), ...ne, ...brIf("fail"),
    ...c32(0), ...get(V), ...cvt, ...f64storeAt(HDR_TS),
    ...incP(1),
  ];
  return [
    ...blk("fail", () => [
      ...get(PEXP), ...c32(15), ...gtU, ...get(QEXP), ...c32(15), ...gtU, ...or, ...brIf("fail"),
      ...init(PEXP, PF), ...init(QEXP, QF),
      ...lp("keys", () => [
        ...get(P), ...load8(), ...c32(34), ...ne, ...brIf("fail"),
        ...incP(1),
        ...get(P), ...load64(), ...set(Y),
        ...blk("val", () => [
          ...blk("int", () => [
            ...blk("side", () => [
              ...keyIs('asks":['), ...iff(() => [
                ...c32(1), ...set(BIT), ...get(OUT), ...set(PXO), ...get(OUT), ...get(CAP), ...c32(3), ...shl, ...add, ...set(QXO),
                ...c32(HDR_ASKS), ...set(ADDR), ...br("side"),
              ]),
              ...keyIs('bids":['), ...iff(() => [
                ...c32(2), ...set(BIT), ...get(OUT), ...get(CAP), ...c32(4), ...shl, ...add, ...set(PXO),
                ...get(PXO), ...get(CAP), ...c32(3), ...shl, ...add, ...set(QXO),
                ...c32(HDR_BIDS), ...set(ADDR), ...br("side"),
              ]),
              ...keyIs('ts":"'), ...iff(() => [...tsCode(), ...br("val")]),
              ...keyIs("checksum"), ...get(P), ...load16(8), ...c32(0x3a22), ...eq, ...and,
              ...iff(() => [...c32(8), ...set(BIT), ...c32(HDR_CHECKSUM), ...set(ADDR), ...incP(10), ...br("int")]),
              ...keyIs("prevSeqI"), ...get(P), ...load32(8), ...c32(0xffffff), ...and, ...c32(0x3a2264), ...eq, ...and,
              ...iff(() => [...c32(16), ...set(BIT), ...c32(HDR_PREV), ...set(ADDR), ...incP(11), ...br("int")]),
              ...keyIs('seqId":'),
              ...iff(() => [...c32(32), ...set(BIT), ...c32(HDR_SEQ), ...set(ADDR), ...incP(7), ...br("int")]),
              ...br("fail"),
            ]),
            ...sideCode(), ...br("val"),
          ]),
          ...intCode(),
        ]),
        ...readC,
        ...get(C), ...c32(44), ...eq, ...iff(() => [...incP(1), ...br("keys")]),
        ...get(C), ...c32(125), ...ne, ...brIf("fail"),
      ]),
      ...c32(0), ...get(SEEN), ...i32storeAt(HDR_SEEN),
      ...get(P), 0x0f,
    ]),
    ...c32(-1), 0x0b,
  ];
}

/** Where "bindiff" finds and leaves its fields (below BASE, after okxdata's): the host writes the mid template's length
 * and the frame's end (+0, +4), the head template's length and address and the mid template's address (+64, +68, +72;
 * the templates live in the memory, where the host copied them); the module leaves the bids' and asks' counts (+12,
 * +16), then E, T, U, u, pu as f64 (+24 …). */
const BHDR = 352;
const BHDR_MIDLEN = BHDR, BHDR_END = BHDR + 4, BHDR_MID = BHDR + 8, BHDR_BIDS = BHDR + 12, BHDR_ASKS = BHDR + 16;
const BHDR_E = BHDR + 24, BHDR_T = BHDR + 32, BHDR_FIRST = BHDR + 40, BHDR_LAST = BHDR + 48, BHDR_PREV = BHDR + 56;
const BHDR_HEADLEN = BHDR + 64, BHDR_HEADADDR = BHDR + 68, BHDR_MIDADDR = BHDR + 72;
const load64abs = [0x29, 0, 0];
/** Bytes [at, at + len) of the frame equal the template at absolute address tpl (len ≥ 8): 8 bytes at a time, the
 * last 8 overlapping the word before; else br "fail". `at` is code leaving the frame index on the stack. */
const tplEqual = (at, LEN, TPL) => [
  ...c32(0), ...set(K),
  ...blk("tq", () => lp("tql", () => [
    ...get(K), ...c32(8), ...add, ...get(LEN), ...geS, ...brIf("tq"),
    ...at, ...get(K), ...add, ...load64(), ...get(TPL), ...get(K), ...add, ...load64abs, ...ne64, ...brIf("fail"),
    ...get(K), ...c32(8), ...add, ...set(K), ...br("tql"),
  ])),
  ...at, ...get(LEN), ...add, ...c32(8), ...sub, ...load64(), ...get(TPL), ...get(LEN), ...add, ...c32(8), ...sub, ...load64abs, ...ne64, ...brIf("fail"),
];
const i32loadAt = (off) => [0x28, 2, ...uleb(off)];
const f64c = (v) => { const b = new DataView(new ArrayBuffer(8)); b.setFloat64(0, v, true); return [0x44, ...new Uint8Array(b.buffer)]; };
/** p's next `t.length` (≤ 8) bytes are `t`: one 8-byte load, masked. */
const litAt = (t) => [...get(P), ...load64(), ...(t.length < 8 ? [...c64((1n << BigInt(8 * t.length)) - 1n), ...and64] : []), ...c64(lit64(t)), ...eq64];

/** "bindiff"(p, priceExp, qtyExp, out, cap) → the index of the data object's closing `}` (the frame's `}}`), or -1:
 * a Binance diff frame from p (0: its start) in Binance's own layout exactly (the scanner's fastFrame): the stream's
 * head template (`{"stream":"NAME","data":{"e":"depthUpdate","E":`), E, [`,"T":` T], the mid template
 * (`,"s":"SYM","U":`), U, `,"u":` u, [`,"pu":` pu], `,"b":` side, `,"a":` side, `}}`; the templates compared with
 * the copies the host keeps in the memory, 8 bytes at a time. Integers: 1–15 digits without a leading zero (two SWAR lanes, as okxdata's). Sides: `[]` or Binance's compact
 * levels, numbers as "levels" reads them, bids' prices and quantities as f64 at out + 16 cap and out + 24 cap, asks' at
 * out and out + 8 cap, at most cap a side; one call per frame, so the asks start with the shapes the bids left. Each
 * template must end by the frame's end (BHDR_END): nothing is read past the frame's 0 sentinel. Anything else: -1, and the
 * host reads the frame with its TypeScript readers, which decide and name any error. */
function binDiffBody() {
  const intField = (addr) => [
    ...digitsV,
    ...get(D), ...eqz, ...brIf("fail"),
    ...get(D), ...c32(15), ...gtS, ...brIf("fail"),
    ...get(D), ...c32(1), ...gtS, ...get(PS), ...load8(), ...c32(48), ...eq, ...and, ...brIf("fail"),
    ...c32(0), ...get(V), ...cvt, ...f64storeAt(addr),
  ];
  const side = (bids, countAddr) => [
    ...get(OUT), ...(bids ? [...get(CAP), ...c32(4), ...shl, ...add] : []), ...tee(PXO), ...get(CAP), ...c32(3), ...shl, ...add, ...set(QXO),
    ...c32(0), ...set(N),
    ...blk("sidedone", () => [
      ...get(P), ...load16(), ...c32(0x5d5b), ...eq, ...iff(() => [...incP(2), ...br("sidedone")]), // []
      ...get(P), ...load16(1), ...c32(0x225b), ...ne, ...brIf("fail"), // [["
      ...incP(3),
      ...lp("lvl", () => [
        ...numberFast(PEXP, PF), ...get(V), ...set(PX),
        ...get(P), ...load32(), ...c32(0xffffff), ...and, ...c32(0x222c22), ...ne, ...brIf("fail"),
        ...incP(3),
        ...numberFast(QEXP, QF, false, true),
        ...get(N), ...get(CAP), ...geU, ...brIf("fail"),
        ...get(N), ...c32(3), ...shl, ...set(D),
        ...get(PXO), ...get(D), ...add, ...get(PX), ...cvt, ...f64store(0),
        ...get(QXO), ...get(D), ...add, ...get(V), ...cvt, ...f64store(0),
        ...get(N), ...c32(1), ...add, ...set(N),
        ...get(P), ...load32(1), ...c32(0x225b2c5d), ...eq,
        ...iff(() => [...incP(5), ...br("lvl")]),
        ...get(P), ...load16(1), ...c32(0x5d5d), ...ne, ...brIf("fail"),
        ...incP(3), ...br("sidedone"),
      ]),
    ]),
    ...c32(0), ...get(N), ...i32storeAt(countAddr),
  ];
  return [
    ...blk("fail", () => [
      ...get(PEXP), ...c32(15), ...gtU, ...get(QEXP), ...c32(15), ...gtU, ...or, ...brIf("fail"),
      ...init(PEXP, PF), ...init(QEXP, QF),
      // the head template (the stream's), within the frame
      ...c32(0), ...i32loadAt(BHDR_HEADLEN), ...set(LIM), ...c32(0), ...i32loadAt(BHDR_HEADADDR), ...set(ADDR),
      ...get(P), ...get(LIM), ...add, ...c32(0), ...i32loadAt(BHDR_END), ...gtS, ...brIf("fail"),
      ...tplEqual(get(P), LIM, ADDR),
      ...get(P), ...get(LIM), ...add, ...set(P),
      ...intField(BHDR_E),
      ...c32(0), ...f64c(0), ...f64storeAt(BHDR_T),
      ...litAt(',"T":'), ...iff(() => [...incP(5), ...intField(BHDR_T)]),
      // the mid template (the symbol's), within the frame
      ...get(P), ...set(SEEN),
      ...c32(0), ...i32loadAt(BHDR_MIDLEN), ...set(LIM), ...c32(0), ...i32loadAt(BHDR_MIDADDR), ...set(ADDR),
      ...get(P), ...get(LIM), ...add, ...tee(P), ...c32(0), ...i32loadAt(BHDR_END), ...gtS, ...brIf("fail"),
      ...tplEqual(get(SEEN), LIM, ADDR),
      ...intField(BHDR_FIRST),
      ...litAt(',"u":'), ...eqz, ...brIf("fail"), ...incP(5),
      ...intField(BHDR_LAST),
      ...c32(0), ...f64c(-1), ...f64storeAt(BHDR_PREV),
      ...litAt(',"pu":'), ...iff(() => [...incP(6), ...intField(BHDR_PREV)]),
      ...litAt(',"b":['), ...eqz, ...brIf("fail"), ...incP(5),
      ...side(true, BHDR_BIDS),
      ...litAt(',"a":['), ...eqz, ...brIf("fail"), ...incP(5),
      ...side(false, BHDR_ASKS),
      ...get(P), ...load16(), ...c32(0x7d7d), ...ne, ...brIf("fail"),
      ...get(P), 0x0f,
    ]),
    ...c32(-1), 0x0b,
  ];
}

function build() {
  const locals = vec([[...uleb(nI32 - 5), I32], [...uleb(k64), I64]]);
  const funcs = [false, true].map((extra) => [...locals, ...levelsBody(extra)]);
  funcs.push([...vec([[...uleb(nI32 - 5), I32], [...uleb(k64), I64], [...uleb(kx), I32]]), ...okxDataBody()]);
  funcs.push([...vec([[...uleb(nI32 - 5), I32], [...uleb(k64), I64], [...uleb(kx), I32]]), ...binDiffBody()]);
  const tables = new Uint8Array(POW_ADDR + 16 * 8 - LOW_ADDR);
  const dv = new DataView(tables.buffer);
  for (let k = 0; k <= 8; k++) dv.setBigUint64(k * 8, k === 8 ? 0xffffffffffffffffn : (1n << BigInt(8 * k)) - 1n, true);
  for (let i = 0, p = 1n; i < 16; i++, p *= 10n) dv.setBigUint64(POW_ADDR - LOW_ADDR + i * 8, p, true);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([[I32]])]])),
    ...section(3, vec([uleb(0), uleb(0), uleb(0), uleb(0)])),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([[...str("mem"), 0x02, 0], [...str("levels"), 0x00, 0], [...str("levelsx"), 0x00, 1], [...str("okxdata"), 0x00, 2], [...str("bindiff"), 0x00, 3]])),
    ...section(10, vec(funcs.map((f) => [...uleb(f.length), ...f]))),
    ...section(11, vec([[0x00, ...c32(LOW_ADDR), 0x0b, ...vec([...tables].map((b) => [b]))]])),
  ]);
}

const bytes = build();
const base64 = Buffer.from(bytes).toString("base64");
const lines = base64.match(/.{1,112}/g).map((l) => `  "${l}"`).join(" +\n");
const ts = `// Generated by scripts/gen-levels-wasm.mjs: do not edit (test/venues/binance/levels-wasm.test.ts checks it is current).
/**
 * The order-book side reader (${bytes.length} bytes): memory "mem", funcs "levels" and "levelsx"(p, priceExp, qtyExp, out, cap) → n,
 * "okxdata"(p, priceExp, qtyExp, out, cap) → end, with its results at LEVELS_WASM_OKX_HDR; "bindiff"(p, priceExp, qtyExp, out,
 * cap) → end, with its inputs and results at LEVELS_WASM_BIN_HDR.
 */
export const LEVELS_WASM_BASE = ${BASE};
/** "okxdata"'s results: i32 keys seen, asks count, bids count; then f64 ts (ms), checksum, prevSeqId, seqId from +16. */
export const LEVELS_WASM_OKX_HDR = ${HDR};
/** "bindiff"'s header: i32 mid length, frame end (in), -, bids count, asks count (out); f64 E, T, U, u, pu from +24; i32 head length, head address, mid address (in) from +64. */
export const LEVELS_WASM_BIN_HDR = ${BHDR};
export const LEVELS_WASM_BASE64 =
${lines};
`;
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(OUT_FILE, "utf8");
  } catch {}
  if (current !== ts) {
    console.error(`gen-levels-wasm: ${OUT_FILE} is not current; run node scripts/gen-levels-wasm.mjs`);
    process.exit(1);
  }
} else {
  writeFileSync(OUT_FILE, ts);
  console.log(`gen-levels-wasm: ${bytes.length} bytes → ${OUT_FILE}`);
}
