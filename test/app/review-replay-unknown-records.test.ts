/**
 * A capture record of a shape this version does not read, in a block whose checksum holds (a record kind written by
 * another version: the REST record was added to the same format as a sixth field), is skipped and counted; the
 * records after it, in its block and the following blocks, are still read and replayed. Before, the first such
 * record ended the file as "malformed": every frame after it was lost, and the books replayed stopped there. Since
 * s-rd3b the books resync there (it may have been a frame; test/record/capture-unknown-resync.test.ts).
 */
import { describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { readCapture } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { captureBlock } from "../support/capture-block.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ACK, XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";


const frame = (i: number, text: string) => [BigInt(XRP_T0_US + i * 1000) * 1000n, "bybit", "linear", "linear-0", text];
/** Kinds a later version might write: an extra field, a non-string sixth field, a map instead of an array. */
const UNKNOWN = [
  [...frame(0, "{}"), "https://x/y", { flags: 1 }],
  [...frame(0, "{}"), 7],
  { kind: "marker", tsRecvNs: 1n },
];

describe("a capture record of an unknown kind is skipped and counted, the rest still read", { timeout: 30_000 }, () => {
  const dir = makeTempDir("feeder-review-unknown-");
  const config = writeXrpConfig(dir, uniqueDestination(63));
  const lines = XRP_LINES.slice(0, 30);
  const known = [frame(-1, ACK), ...lines.map((l, i) => frame(i, l))];
  // The unknown records sit in the first block, between the snapshot and the deltas; a second block follows.
  const withUnknown = join(dir, "with-unknown.fcap");
  writeFileSync(withUnknown, Buffer.concat([Buffer.from("FDRCAP01"), captureBlock([...known.slice(0, 2), ...UNKNOWN, ...known.slice(2, 15)]), captureBlock(known.slice(15))]));
  const plain = join(dir, "plain.fcap");
  writeFileSync(plain, Buffer.concat([Buffer.from("FDRCAP01"), captureBlock(known.slice(0, 15)), captureBlock(known.slice(15))]));

  test("the reader returns every known record and counts the others", () => {
    const r = readCapture(withUnknown);
    expect(r.truncated).toBeUndefined();
    expect(r.unknownRecords).toBe(UNKNOWN.length);
    expect(r.records.map((x) => x.frame)).toEqual(known.map((k) => k[4]));
  });

  test("feeder replay reads the rest, resyncs the book there (fewer datagrams: no snapshot follows), and names the file and the first place", async () => {
    const run = async (file: string) => {
      const out: string[] = [];
      const code = await main(["replay", "--config", config, file], { out: (t) => out.push(t), err: () => {} });
      expect(code).toBe(0);
      return JSON.parse(out.at(-1)!);
    };
    const a = await run(plain);
    const b = await run(withUnknown);
    expect(a).toMatchObject({ frames: known.length, ingested: known.length, truncated: [], unknownRecords: [] });
    expect(b).toMatchObject({ frames: known.length, ingested: known.length, truncated: [] });
    expect(b.unknownRecords).toEqual([{ file: withUnknown, count: UNKNOWN.length, first: "record 2 of the block at byte 8" }]);
    expect(b.datagrams).toBeLessThan(a.datagrams);
  });
});
