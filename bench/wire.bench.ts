/**
 * Wire v3 costs: encode and decode per message (delta, snapshot chunk), the publisher's hot path per message,
 * and multicast send cost per datagram with send() vs sendMany() (ratio measured in this one run).
 * Integrity: the datagram checksum at 100 / 600 / 1400 B (v3's CRC-32, native and TypeScript; v2's CRC-32C, word and
 * byte paths; Bun.hash.crc32 as a reference floor), HMAC-SHA256 sign and verify per datagram, and the encode → seal → sendMany path with
 * neither (the v1 path: send time only), with the CRC, and with CRC + HMAC, all in this one run.
 * Multicast stays on loopback: interface 127.0.0.1, TTL 1, a per-run group (e2e-common loopbackDestination); a receiver child process (node:dgram,
 * 8 MiB buffer) drains the group so the sender pays the realistic cost of waking a local subscriber.
 *   npx bun bench/wire.bench.ts
 */
import { ChangeSet } from "../src/core/change-set.ts";
import type { BookView } from "../src/core/book-view.ts";
import { BookState, StatusReason, type Instrument } from "../src/core/types.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import { FeedPublisher } from "../src/net/feed-publisher.ts";
import { openMulticastSender } from "../src/net/multicast.ts";
import { setNsFromUs } from "../src/core/i64.ts";
import { DatagramAuth } from "../src/wire/auth.ts";
import { datagramCrc32, datagramCrc32Ts, datagramCrc32Zeroed } from "../src/wire/crc32.ts";
import { crc32cUpdate, datagramCrc32c } from "../src/wire/crc32c.ts";
import { PKT_SEND_TIME_NS_OFFSET } from "../src/wire/layout.ts";
import { BookMessageReader, PacketReader } from "../src/wire/decoder.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { measure, measureRounds, median, printTable, type Measurement, QUICK, SMOKE } from "./harness.ts";

const { group: GROUP, port: PORT } = loopbackDestination(5);
const T0 = 1_764_000_000_000_000;

const instrument: Instrument = {
  instrumentId: instrumentIdOf("bybit", "linear", "BTCUSDT"),
  venue: "bybit",
  market: "linear",
  symbol: "BTCUSDT",
  priceExp: 1,
  qtyExp: 3,
  tickSize: "0.10",
  lotSize: "0.001",
};

/** A fixed book view over flat arrays (no book engine: this measures the wire only). */
class FlatView implements BookView {
  readonly instrument = instrument;
  state: BookState = BookState.LIVE;
  reason: StatusReason = StatusReason.NONE;
  instrSeq = 1;
  venueSeq = 123_456_789;
  tsExchangeUs = T0;
  tsEventUs = T0 - 5;
  tsRecvUs = T0 + 300;
  constructor(
    private readonly bidPx: Float64Array,
    private readonly bidQ: Float64Array,
    private readonly askPx: Float64Array,
    private readonly askQ: Float64Array,
  ) {}
  get bidCount(): number {
    return this.bidPx.length;
  }
  get askCount(): number {
    return this.askPx.length;
  }
  bidPriceAt(r: number): number {
    return this.bidPx[r]!;
  }
  bidQtyAt(r: number): number {
    return this.bidQ[r]!;
  }
  askPriceAt(r: number): number {
    return this.askPx[r]!;
  }
  askQtyAt(r: number): number {
    return this.askQ[r]!;
  }
}

function makeView(levels: number): FlatView {
  const bp = new Float64Array(levels);
  const bq = new Float64Array(levels);
  const ap = new Float64Array(levels);
  const aq = new Float64Array(levels);
  for (let i = 0; i < levels; i++) {
    bp[i] = 302_472 - i;
    ap[i] = 302_473 + i;
    bq[i] = 1000 + i * 7;
    aq[i] = 2000 + i * 3;
  }
  return new FlatView(bp, bq, ap, aq);
}

// A typical Bybit linear delta: 7 changed levels.
const delta = new ChangeSet();
for (let i = 0; i < 3; i++) delta.addBid(302_472 - i, 1500 + i);
for (let i = 0; i < 4; i++) delta.addAsk(302_473 + i, i === 2 ? 0 : 250 + i);
const view = makeView(200);
const rows: (Measurement | Record<string, unknown>)[] = [];

// --- encode ---------------------------------------------------------------------------------------------------
const packer = new ChannelPacker(1400, 1, 0, 0x01020304);
rows.push(
  measure("encode delta (7 levels) into packer", () => {
    packBookDelta(packer, view, delta);
    if (packer.count > 32) packer.clear();
  }),
);
const snapChunks = (() => {
  const n = packBookSnapshot(packer, view, 0, true);
  packer.clear();
  return n;
})();
rows.push(
  measure(`encode snapshot 200+200 (${snapChunks} chunks), per chunk`, () => {
    packBookSnapshot(packer, view, 0, true);
    packer.clear();
  }, { opsPerCall: snapChunks }),
);

// --- decode ---------------------------------------------------------------------------------------------------
function datagramOf(fill: (p: ChannelPacker) => void): { dv: DataView; length: number; msgs: number } {
  const p = new ChannelPacker(1400, 1, 0, 0x01020304);
  fill(p);
  p.seal(T0);
  const bytes = p.bytes[0]!.slice(0, p.lengths[0]);
  return { dv: new DataView(bytes.buffer), length: bytes.length, msgs: new DataView(bytes.buffer).getUint16(6, true) };
}
const deltaDgram = datagramOf((p) => {
  for (let i = 0; i < 40; i++) packBookDelta(p, view, delta);
});
const snapDgram = datagramOf((p) => packBookSnapshot(p, view, 0, true));
const reader = new PacketReader();
const book = new BookMessageReader();
let sink = 0;
function decodeAll(d: { dv: DataView; length: number }): void {
  if (reader.wrap(d.dv, d.length, 1400) !== 0) throw new Error("bench datagram invalid");
  for (let more = reader.first(); more; more = reader.next()) {
    book.wrap(reader);
    sink += book.instrumentId + book.instrSeq + book.venueSeq + book.tsExchangeUs + book.tsEventUs + book.tsRecvUs;
    const n = book.bidCount + book.askCount;
    for (let i = 0; i < n; i++) sink += book.priceAt(i) + book.qtyAt(i);
  }
}
rows.push(
  measure(`decode+validate delta (7 levels), ${deltaDgram.msgs}/datagram, per message`, () => decodeAll(deltaDgram), {
    opsPerCall: deltaDgram.msgs,
  }),
);
rows.push(measure("decode+validate snapshot chunk (80 levels, CRC incl.), per message", () => decodeAll(snapDgram)));

// --- integrity: the checksum (v3 CRC-32, native; v2 CRC-32C, TypeScript) and HMAC per datagram ------------------
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const auth = new DatagramAuth(KEY);
/** The publisher's: a reused Bun.CryptoHasher (wire/auth.ts ReusableSha256), no allocation per datagram. */
const bunAuth = new DatagramAuth(KEY, new Bun.CryptoHasher("sha256"));
const integrityBuf = new ArrayBuffer(1400);
const integrityBytes = new Uint8Array(integrityBuf);
const integrityWords = new Int32Array(integrityBuf);
for (let i = 0; i < 1400; i++) integrityBytes[i] = (i * 131 + 7) & 0xff;
integrityBytes.fill(0, 44, 48); // the checksum field: 0 while the HMAC is computed (sign() expects it)
const integrity: Record<string, number>[] = [];
const cmp: Record<string, unknown>[] = [];
for (const size of [100, 600, 1400]) {
  const exact = integrityBytes.subarray(0, size); // what seal() checksums: an exact-length view (wire/exact-views.ts)
  const v3 = measure(`v3 datagram CRC-32 ${size} B, native (node:zlib crc32), as seal() runs it (field already 0)`, () => {
    sink += datagramCrc32Zeroed(exact);
  });
  const v3verify = measure(`v3 datagram CRC-32 ${size} B, native, as a decoder runs it (field zeroed and restored)`, () => {
    sink += datagramCrc32(exact);
  });
  const v3ts = measure(`v3 datagram CRC-32 ${size} B, TypeScript (slicing-by-8: Node < 20.15)`, () => {
    sink += datagramCrc32Ts(integrityBytes, size);
  });
  const words = measure(`v2 datagram CRC-32C ${size} B, word path (slicing-by-16: reading v2)`, () => {
    sink += datagramCrc32c(integrityBytes, size, integrityWords);
  });
  const bytes = measure(`CRC-32C ${size} B, byte path (slicing-by-8)`, () => {
    sink += ~crc32cUpdate(-1, integrityBytes, 0, size) >>> 0;
  });
  const floor = measure(`Bun.hash.crc32 ${size} B (CRC-32, native, no field handling: reference floor)`, () => {
    sink += Bun.hash.crc32(exact) as number;
  });
  const sign = measure(`HMAC-SHA256 sign ${size} B (node:crypto)`, () => auth.sign(integrityBytes, size));
  auth.sign(integrityBytes, size);
  const verify = measure(`HMAC-SHA256 verify ${size} B`, () => {
    if (!auth.verify(integrityBytes, size)) throw new Error("bench: HMAC verify failed");
  });
  const bunSign = measure(`HMAC-SHA256 sign ${size} B (reused Bun.CryptoHasher, the publisher's)`, () => bunAuth.sign(integrityBytes, size));
  const bunVerify = measure(`HMAC-SHA256 verify ${size} B (reused Bun.CryptoHasher)`, () => {
    if (!bunAuth.verify(integrityBytes, size)) throw new Error("bench: HMAC verify failed");
  });
  rows.push(v3, v3verify, v3ts, words, bytes, floor, sign, verify, bunSign, bunVerify);
  cmp.push({ comparison: `${size} B: HMAC sign reused Bun.CryptoHasher / createHmac`, meanRatio: bunSign.nsPerOp / sign.nsPerOp, p50Ratio: bunSign.p50Ns / sign.p50Ns });
  cmp.push({ comparison: `${size} B: v2 CRC-32C (words) / v3 CRC-32 (native)`, meanRatio: words.nsPerOp / v3.nsPerOp, p50Ratio: words.p50Ns / v3.p50Ns });
  cmp.push({ comparison: `${size} B: v3 CRC-32 TypeScript / native`, meanRatio: v3ts.nsPerOp / v3.nsPerOp, p50Ratio: v3ts.p50Ns / v3.p50Ns });
  cmp.push({ comparison: `${size} B: v3 CRC-32 native / Bun.hash.crc32`, meanRatio: v3.nsPerOp / floor.nsPerOp, p50Ratio: v3.p50Ns / floor.p50Ns });
  integrity.push({ size, v3Crc32Ns: v3.p50Ns, v3VerifyNs: v3verify.p50Ns, v3Crc32TsNs: v3ts.p50Ns, v2Crc32cNs: words.p50Ns, crc32cBytesNs: bytes.p50Ns, bunCrc32Ns: floor.p50Ns, hmacSignNs: sign.p50Ns, hmacVerifyNs: verify.p50Ns, bunHmacSignNs: bunSign.p50Ns, bunHmacVerifyNs: bunVerify.p50Ns });
}

// --- send: send() vs sendMany() ---------------------------------------------------------------------------------
const receiverCode = `
const dgram = require("node:dgram");
const s = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 8 << 20 });
let n = 0;
s.on("message", () => { n++; });
s.bind({ port: ${PORT}, address: "${GROUP}" }, () => { s.addMembership("${GROUP}", "127.0.0.1"); console.log("ready"); });
process.stdin.on("data", () => { console.log(String(n)); process.exit(0); });
`;
const receiver = Bun.spawn([process.execPath, "-e", receiverCode], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
const out = receiver.stdout.getReader();
const dec = new TextDecoder();
async function readLine(): Promise<string> {
  let s = "";
  while (!s.includes("\n")) {
    const { value, done } = await out.read();
    if (done) break;
    s += dec.decode(value);
  }
  return s.trim();
}
await readLine(); // "ready"

const socket = await openMulticastSender({ iface: "127.0.0.1", ttl: 1 });
const DGRAM_BYTES = 1000;
const payload = new Uint8Array(1400).fill(7);
const exact = payload.subarray(0, DGRAM_BYTES);
let sent = 0;
const sendRow = measure(`send() ${DGRAM_BYTES} B, per datagram`, () => {
  if (socket.send(exact, PORT, GROUP)) sent++;
});
function sendManyRow(n: number, freshSubarray: boolean): Measurement {
  const args: (Uint8Array | number | string)[] = [];
  for (let i = 0; i < n; i++) args.push(exact, PORT, GROUP);
  return measure(
    `sendMany(${n}) ${DGRAM_BYTES} B${freshSubarray ? ", new subarray each" : ""}, per datagram`,
    () => {
      if (freshSubarray) for (let i = 0; i < n; i++) args[i * 3] = payload.subarray(0, DGRAM_BYTES);
      sent += socket.sendMany(args);
    },
    { opsPerCall: n },
  );
}
const many16 = sendManyRow(16, false);
const many64 = sendManyRow(64, false);
const many64sub = sendManyRow(64, true);
rows.push(sendRow, many16, many64, many64sub);
rows.push(measure("Uint8Array.subarray (the per-datagram view)", () => {
  sink += payload.subarray(0, DGRAM_BYTES).byteLength;
}));

// --- publisher hot path: publishDelta × 16 + flush (real socket, sendMany) ----------------------------------------
const pub = new FeedPublisher({
  publish: {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 0,
    snapshotIntervalMs: 0,
    snapshotDepth: 0,
    destinations: [
      { name: "bench", group: GROUP, port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 1, match: { venue: "*", market: "*", symbols: ["*"] } },
    ],
  },
});
await pub.start();
const handle = pub.register(instrument, view);
pub.flush();
const pubRow = measure("FeedPublisher publishDelta ×64 + flush (~5 datagrams), per message", () => {
  for (let i = 0; i < 64; i++) pub.publishDelta(handle, view, delta);
  pub.flush();
}, { opsPerCall: 64 });
rows.push(pubRow);
// What each step of the path allocates per message / datagram (bench/alloc-meter.ts), with the meter's control.
const ALLOC_STEPS = SMOKE ? 2_000 : QUICK ? 50_000 : 200_000;
const allocPacker = new ChannelPacker(1400, 1, 0, 0x01020304);
const allocArgs: (Uint8Array | number | string)[] = [exact, PORT, GROUP];
const allocation = [
  allocationRow("packBookDelta + seal + clear (no I/O), per message", measureAllocation(0, ALLOC_STEPS, () => {
    packBookDelta(allocPacker, view, delta);
    allocPacker.seal(T0);
    allocPacker.clear();
  })),
  allocationRow("decode a delta datagram (PacketReader + BookMessageReader)", measureAllocation(0, ALLOC_STEPS, () => decodeAll(deltaDgram))),
  allocationRow("socket.sendMany of one reused view, per datagram", measureAllocation(0, ALLOC_STEPS, () => void (sent += socket.sendMany(allocArgs)))),
  allocationRow("FeedPublisher publishDelta ×8 + flush, per message", measureAllocation(0, ALLOC_STEPS, (i) => {
    pub.publishDelta(handle, view, delta);
    if ((i & 7) === 7) pub.flush();
  })),
  allocationRow("control: a 32 B object per step", allocationControl(ALLOC_STEPS)),
];
const pubCounters = { ...pub.counters };
await pub.stop();

// --- encode → seal → sendMany: without integrity (v1 path), with the CRC, with CRC + HMAC ------------------------
/** The v1 seal: the send time only (no CRC, no trailer): what the v1 publisher did per datagram. */
class NoIntegrityPacker extends ChannelPacker {
  override seal(sendTimeUs: number): void {
    for (let i = 0; i < this.count; i++) setNsFromUs(this.views[i]!, PKT_SEND_TIME_NS_OFFSET, sendTimeUs);
  }
}
const pathSocket = await openMulticastSender({ iface: "127.0.0.1", ttl: 1, connectTo: { group: GROUP, port: PORT } });
const pathArgs: Uint8Array[][] = [];
function encodeSendRow(name: string, p: ChannelPacker): Measurement {
  return measure(
    `${name}: publishDelta-equivalent ×64 + seal + sendMany, per message`,
    () => {
      for (let i = 0; i < 64; i++) packBookDelta(p, view, delta);
      p.seal(T0);
      const n = p.count;
      let args = pathArgs[n];
      if (args === undefined) args = pathArgs[n] = new Array<Uint8Array>(n);
      for (let i = 0; i < n; i++) args[i] = p.exactView(i); // as FeedPublisher.flush: reused exact-length views
      sent += pathSocket.sendMany(args);
      p.clear();
    },
    { opsPerCall: 64 },
  );
}
// Interleaved twice so drift on this shared VM hits all three alike; the second round is reported.
const pathPackers = () => ({
  none: new NoIntegrityPacker(1400, 1, 0, 0x01020304),
  crc: new ChannelPacker(1400, 1, 0, 0x01020304),
  auth: new ChannelPacker(1400, 1, 0, 0x01020304, { auth }),
});
let pathRows: { none: Measurement; crc: Measurement; auth: Measurement } | undefined;
for (let round = 0; round < 2; round++) {
  const pk = pathPackers();
  pathRows = {
    none: encodeSendRow("no CRC, no HMAC (v1 path)", pk.none),
    crc: encodeSendRow("CRC-32 (v3)", pk.crc),
    auth: encodeSendRow("CRC-32 + HMAC (v3 AUTHENTICATED)", pk.auth),
  };
}
if (pathRows === undefined) throw new Error("bench: no encode+send rounds");
rows.push(pathRows.none, pathRows.crc, pathRows.auth);

// --- encode + seal, no I/O, on bench/bybit.bench.ts's shapes: what the CRC adds to its frame → datagram path ------
const delta60 = new ChangeSet(); // the XRPUSDT recording's deltas average 60.5 levels
for (let i = 0; i < 30; i++) delta60.addBid(302_472 - i, 1000 + i);
for (let i = 0; i < 30; i++) delta60.addAsk(302_473 + i, i % 5 === 0 ? 0 : 2000 + i);
const view50 = makeView(50);
function sealRow(name: string, p: ChannelPacker, fill: (p: ChannelPacker) => void): Measurement {
  return measure(name, () => {
    fill(p);
    p.seal(T0);
    p.clear();
  });
}
const crcAdds: Record<string, unknown>[] = [];
const shapes: [string, (p: ChannelPacker) => void][] = [
  ["60-level delta (1 datagram, 1144 B)", (p) => packBookDelta(p, view, delta60)],
  ["snapshot 50/side (2 datagrams, 1352 + 392 B)", (p) => packBookSnapshot(p, view50, 0, false)],
];
for (const [shape, fill] of shapes) {
  let none: Measurement | undefined;
  let crc: Measurement | undefined;
  for (let round = 0; round < 2; round++) {
    none = sealRow(`encode + seal without CRC (v1), ${shape}`, new NoIntegrityPacker(1400, 1, 0, 1), fill);
    crc = sealRow(`encode + seal with CRC-32 (v3), ${shape}`, new ChannelPacker(1400, 1, 0, 1), fill);
  }
  rows.push(none!, crc!);
  crcAdds.push({ shape, v1P50Ns: none!.p50Ns, v3P50Ns: crc!.p50Ns, crcAddsP50Ns: crc!.p50Ns - none!.p50Ns });
}
// --- a small delta (2 levels, one 152-byte datagram: a Binance spot diff): seal's cost beyond the CRC (§3.5) ------
const delta2 = new ChangeSet();
delta2.addBid(302_472, 1500);
delta2.addAsk(302_474, 0);
const smallPacker = new ChannelPacker(1400, 1, 0, 1);
let smallSink = 0;
const small = measureRounds(
  [
    { name: "small delta (2 levels, 152 B): packBookDelta + clear", fn: () => { packBookDelta(smallPacker, view, delta2); smallPacker.clear(); }, opts: {} },
    { name: "small delta: packBookDelta + seal + clear", fn: () => { packBookDelta(smallPacker, view, delta2); smallPacker.seal(T0); smallPacker.clear(); }, opts: {} },
    {
      name: "small delta: packBookDelta + CRC-32 of the datagram + clear",
      fn: () => {
        packBookDelta(smallPacker, view, delta2);
        smallSink += datagramCrc32Zeroed(smallPacker.exactView(0));
        smallPacker.clear();
      },
      opts: {},
    },
  ],
  { rounds: SMOKE ? 1 : QUICK ? 5 : 9, roundMs: 150 },
);
rows.push(...small.rows);
const sealBeyondCrc = median(small.perRound.map(([, seal, crc]) => seal!.p50Ns - crc!.p50Ns));
crcAdds.push({ shape: "2-level delta (1 datagram, 152 B)", v3P50Ns: small.rows[1]!.p50Ns, sealP50Ns: small.rows[1]!.p50Ns - small.rows[0]!.p50Ns, crcAloneP50Ns: small.rows[2]!.p50Ns - small.rows[0]!.p50Ns, sealBeyondCrcP50Ns: sealBeyondCrc });
if (smallSink === 0) console.log("");

cmp.push({ comparison: "encode+send path: CRC / v1 path", meanRatio: pathRows.crc.nsPerOp / pathRows.none.nsPerOp, p50Ratio: pathRows.crc.p50Ns / pathRows.none.p50Ns });
cmp.push({ comparison: "encode+send path: CRC+HMAC / v1 path", meanRatio: pathRows.auth.nsPerOp / pathRows.none.nsPerOp, p50Ratio: pathRows.auth.p50Ns / pathRows.none.p50Ns });
pathSocket.close();

// --- the real publisher with a key: publishDelta ×64 + flush ---------------------------------------------------
const authPub = new FeedPublisher({
  publish: {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 0,
    snapshotIntervalMs: 0,
    snapshotDepth: 0,
    destinations: [
      { name: "bench", group: GROUP, port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 2, match: { venue: "*", market: "*", symbols: ["*"] } },
    ],
  },
  authKey: KEY,
});
await authPub.start();
const authHandle = authPub.register(instrument, view);
authPub.flush();
const authPubRow = measure("FeedPublisher with auth key: publishDelta ×64 + flush, per message", () => {
  for (let i = 0; i < 64; i++) authPub.publishDelta(authHandle, view, delta);
  authPub.flush();
}, { opsPerCall: 64 });
rows.push(authPubRow);
allocation.splice(allocation.length - 1, 0, allocationRow("FeedPublisher with auth key: publishDelta ×8 + flush, per message", measureAllocation(0, ALLOC_STEPS, (i) => {
  authPub.publishDelta(authHandle, view, delta);
  if ((i & 7) === 7) authPub.flush();
})));
allocation.splice(allocation.length - 1, 0, allocationRow("HMAC sign 1400 B, createHmac (the subscriber's default)", measureAllocation(0, ALLOC_STEPS, () => auth.sign(integrityBytes, 1400))));
const authPubDatagrams = authPub.counters.datagrams;
await authPub.stop();

receiver.stdin.write("count\n");
receiver.stdin.flush();
const received = Number(await readLine());
socket.close();

printTable(rows);
console.log("");
printTable([
  { comparison: "send() / sendMany(16) per datagram", meanRatio: sendRow.nsPerOp / many16.nsPerOp, p50Ratio: sendRow.p50Ns / many16.p50Ns },
  { comparison: "send() / sendMany(64) per datagram", meanRatio: sendRow.nsPerOp / many64.nsPerOp, p50Ratio: sendRow.p50Ns / many64.p50Ns },
  {
    comparison: "sendMany(64): new subarray / reused view",
    meanRatio: many64sub.nsPerOp / many64.nsPerOp,
    p50Ratio: many64sub.p50Ns / many64.p50Ns,
  },
  ...cmp,
]);
console.log("\nallocation per step (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k steps):");
printTable(allocation);
console.log("\nper-datagram integrity cost, p50 ns:");
printTable(integrity);
console.log("\nencode + seal on bench/bybit.bench.ts's shapes (its frame → datagram path minus scan and apply):");
printTable(crcAdds);
console.log(
  `\nsent ${sent} raw datagrams + ${pubCounters.datagrams + authPubDatagrams} by the publishers (${pubCounters.sendErrors} send errors); receiver counted ${received}` +
    ` (the difference is receive-buffer overflow under a flood, not sender loss). sink=${sink > 0 ? "ok" : "0"}`,
);
