/**
 * Fuzzing the capture readers: a small real capture (the genuine Bybit XRPUSDT frames, written by the recorder's
 * CaptureWriter in many blocks, each codec) is damaged at random over many seeds (bits flipped, cut short, a block's
 * length field edited, blocks swapped, dropped or repeated, garbage appended, the file concatenated with itself) and
 * exported with `--books` in process (the venue adapter's replay path; every eighth seed also replayed through a
 * Feeder, its book ending where the export's does). For every seed:
 * nothing throws; a file that ends early is named with the byte it ended at; the reader never asks the file for more
 * bytes than it holds (memory bounded by the file, not by a length field); every row that says the book is live is
 * the intact capture's book at that update id (a book is never shown usable while it may differ); and a capture that
 * only lost bytes (not blocks reordered) gives a prefix of the intact rows, all of them when no damage is reported.
 */
import { expect, test } from "vitest";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportCaptures } from "../../src/app/export.ts";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES } from "../../src/core/types.ts";
import { CaptureReader, CaptureWriter } from "../../src/record/capture.ts";
import { rng } from "../support/mulberry32.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ACK, XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

const SEEDS = 80;
const CODECS = ["none", "zstd", "gzip"] as const;
const REORDERS = new Set(["swap", "drop", "repeat", "concat"]);

/** Where each block (its 8-byte head) begins, and where the blocks end. */
function blockStarts(bytes: Uint8Array, headerBytes: number): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const starts: number[] = [];
  for (let off = headerBytes; off < bytes.byteLength; off += 8 + dv.getUint32(off, true)) starts.push(off);
  return starts;
}

function mutate(bytes: Uint8Array, headerBytes: number, rand: () => number): { kind: string; out: Uint8Array } {
  const int = (n: number) => Math.floor(rand() * n);
  const starts = blockStarts(bytes, headerBytes);
  const blocks = starts.map((s, i) => bytes.subarray(s, starts[i + 1] ?? bytes.byteLength));
  const join = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
  const kinds = ["flip", "cut", "length", "swap", "drop", "repeat", "garbage", "concat"];
  const kind = kinds[int(kinds.length)]!;
  const out = new Uint8Array(bytes);
  switch (kind) {
    case "flip":
      for (let n = 1 + int(3); n > 0; n--) out[int(out.length)]! ^= 1 << int(8);
      return { kind, out };
    case "cut":
      return { kind, out: out.subarray(0, int(out.length)) };
    case "length": {
      const at = starts[int(starts.length)]!;
      const old = new DataView(out.buffer).getUint32(at, true);
      const values = [0, 1, old - 1, old + 1, old + 8, 0xffffffff, 0x7fffffff, int(2 ** 32), out.length];
      new DataView(out.buffer).setUint32(at, values[int(values.length)]! >>> 0, true);
      return { kind, out };
    }
    case "swap": {
      const i = int(blocks.length);
      const j = int(blocks.length);
      const order = blocks.map((_, k) => (k === i ? blocks[j]! : k === j ? blocks[i]! : blocks[k]!));
      return { kind, out: join([bytes.subarray(0, headerBytes), ...order]) };
    }
    case "drop": {
      const i = int(blocks.length);
      return { kind, out: join([bytes.subarray(0, headerBytes), ...blocks.filter((_, k) => k !== i)]) };
    }
    case "repeat": {
      const i = int(blocks.length);
      return { kind, out: join([bytes.subarray(0, headerBytes), ...blocks.slice(0, i + 1), blocks[i]!, ...blocks.slice(i + 1)]) };
    }
    case "garbage": {
      const tail = new Uint8Array(1 + int(40));
      for (let k = 0; k < tail.length; k++) tail[k] = int(256);
      return { kind, out: join([out, tail]) };
    }
    default:
      return { kind, out: join([bytes, bytes]) };
  }
}

test(`${SEEDS} damaged captures: no throw, the damage named, reads bounded by the file, live rows only where the book is the intact one`, async () => {
  const dir = makeTempDir("feeder-codec8-fuzz-");
  const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(81)));
  const exportRows = async (file: string) => {
    let text = "";
    const result = await exportCaptures([file], { write: (c) => void (text += c), flush: () => undefined }, { format: "jsonl", books: { config, depth: 3, everyMs: 0 }, log: silentLogger });
    return { result, rows: text.split("\n").filter((l) => l.length > 0) };
  };

  const intact = CODECS.map((compression) => {
    const w = new CaptureWriter({ dir: join(dir, compression), prefix: "feeder", compression, flushBytes: 3_000 });
    w.write(XRP_T0_US - 500, "bybit", "linear", "linear-0", ACK);
    XRP_LINES.forEach((l, i) => w.write(XRP_T0_US + i * 1000, "bybit", "linear", "linear-0", l));
    w.close();
    const bytes = new Uint8Array(readFileSync(w.files[0]!));
    return { bytes, headerBytes: compression === "none" ? 8 : 12, blocks: w.blocks };
  });
  expect(intact.every((c) => c.blocks >= 8)).toBe(true);
  const reference = await exportRows(join(dir, "none", readdirSync(join(dir, "none")).find((n) => n.endsWith(".fcap"))!));
  expect(reference.result.truncated).toEqual([]);
  // The intact book at each update id (Bybit's u, consecutive): what a live row must show.
  const liveAt = new Map<number, string>();
  for (const line of reference.rows) {
    const row = JSON.parse(line);
    if (row.state === "live") liveAt.set(row.venueSeq, JSON.stringify([row.bids, row.asks]));
  }
  expect(liveAt.size).toBe(XRP_LINES.length);

  const seen = new Map<string, number>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rand = rng(seed);
    const base = intact[seed % CODECS.length]!;
    const { kind, out } = mutate(base.bytes, base.headerBytes, rand);
    seen.set(kind, (seen.get(kind) ?? 0) + 1);
    const file = join(dir, `seed-${seed}.fcap`);
    writeFileSync(file, out);
    const where = `seed ${seed} (${kind}, ${CODECS[seed % CODECS.length]})`;

    // Reads bounded by the file: no single read larger than what is left of it, whatever a length field says.
    let largestRead = 0;
    try {
      const reader = new CaptureReader({ size: out.byteLength, read: (p, n) => ((largestRead = Math.max(largestRead, n)), out.subarray(p, p + n)), close: () => {} });
      while (reader.nextBlock() !== undefined);
    } catch (err) {
      expect((err as Error).message, where).toMatch(/capture|header/);
    }
    expect(largestRead, where).toBeLessThanOrEqual(out.byteLength);

    const { result, rows } = await exportRows(file);
    for (const t of result.truncated) {
      expect(t.file, where).toBe(file);
      expect(t.why.length, where).toBeGreaterThan(0);
      if (t.atByte !== undefined) expect(t.why, where).toMatch(/byte \d+|header cut off/);
    }
    for (const line of rows) {
      const row = JSON.parse(line);
      if (row.state === "live") expect(JSON.stringify([row.bids, row.asks]), `${where}: live at u=${row.venueSeq}`).toBe(liveAt.get(row.venueSeq));
    }
    // Every eighth seed also through `feeder replay`'s Feeder: nothing throws, and its book ends where export's does.
    if (seed % 8 === 0) {
      const feeder = new Feeder({ config, log: silentLogger, replay: true });
      await feeder.start();
      try {
        const replayed = await replayCaptures(feeder, [file], { pace: "fast" });
        expect(replayed.truncated, where).toEqual(result.truncated);
        const book = feeder.books()[0]!;
        const last = rows.length > 0 ? JSON.parse(rows.at(-1)!) : undefined;
        expect([BOOK_STATE_NAMES[book.state], book.venueSeq], where).toEqual(last === undefined ? ["awaiting_snapshot", 0] : [last.state, last.venueSeq]);
      } finally {
        await feeder.stop();
      }
    }
    // Two whole captures one after the other: both read, nothing lost (before, the second header ended the file).
    if (kind === "concat") expect(result.truncated, where).toEqual([]);
    if (!REORDERS.has(kind)) {
      expect(reference.rows.slice(0, rows.length), where).toEqual(rows);
      const damaged = result.truncated.length > 0 || result.unknownRecords.length > 0;
      if (!damaged && kind !== "cut") expect(rows, where).toEqual(reference.rows);
    }
  }
  expect([...seen.keys()].sort()).toEqual(["concat", "cut", "drop", "flip", "garbage", "length", "repeat", "swap"]);
});
