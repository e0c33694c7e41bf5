/**
 * A capture block whose checksum holds but whose record has a receive time that is no whole number of ns (1.5, NaN:
 * another tool's or version's writer, a hand-made capture): that record is skipped and counted like any record of
 * an unknown shape, and the rest is read. Before, the reader threw "Not an integer" (BigInt of a fraction), with
 * neither file nor place named: `feeder replay` and `export` ended there.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { Packr } from "msgpackr/pack";
import { readCapture } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

function captureOf(records: unknown[]): string {
  const payload = new Packr({ useRecords: false }).pack(records);
  const head = new Uint8Array(8);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, payload.byteLength, true);
  dv.setUint32(4, Bun.hash.crc32(payload), true);
  const path = join(makeTempDir("feeder-odd-ts-"), "odd.fcap");
  writeFileSync(path, Buffer.concat([Buffer.from("FDRCAP01"), head, payload]));
  return path;
}

test("records with a fractional, NaN or infinite receive time are skipped and counted; the others are read", () => {
  const path = captureOf([
    [1.5, "bybit", "linear", "c", "fraction"],
    [NaN, "bybit", "linear", "c", "nan"],
    [Infinity, "bybit", "linear", "c", "infinite"],
    [2000, "bybit", "linear", "c", "kept"],
    [1733011200700001000n, "bybit", "linear", "c", "kept-too"],
  ]);
  const r = readCapture(path);
  expect(r.records.map((x) => [x.tsRecvUs, x.frame])).toEqual([
    [2, "kept"],
    [1733011200700001, "kept-too"],
  ]);
  expect(r).toMatchObject({ truncated: undefined, unknownRecords: 3 });
});
