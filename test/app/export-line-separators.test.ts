/**
 * `export --format jsonl` writes each raw frame as a JSON string. JSON.stringify leaves U+2028/U+2029 raw, and those
 * end a line for Python's splitlines and many editors: a frame holding one (a venue's message text, a symbol) broke
 * its row in two for such readers. Now they (and C1 controls and format characters) are \u escapes: the row is one
 * line to every reader and `frame` parses back to the text as received.
 */
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("a raw frame holding U+2028, U+2029, NEL and a bidi override is one jsonl line and parses back as received", async () => {
  const frame = '{"topic":"orderbook.1.币安人生USDT","msg":"a\u2028b\u2029c\u0085d\u202ee"}';
  const w = new CaptureWriter({ dir: makeTempDir("export-ls-"), prefix: "binance" });
  w.write(1_764_000_000_000_000, "binance", "spot", "spot-0", frame);
  w.writeRest(1_764_000_000_000_001, "binance", "spot", "spot-0", "https://api.binance.com/api/v3/depth?symbol=X", frame);
  w.close();
  let out = "";
  await exportCaptures(w.files, { write: (c) => void (out += c), flush: () => undefined }, { format: "jsonl", log: silentLogger });
  const lines = out.replace(/\n$/, "").split(/\r\n|[\n\r\u2028\u2029\u0085]/);
  expect(lines).toHaveLength(2);
  expect(lines.map((l) => (JSON.parse(l) as { frame: string }).frame)).toEqual([frame, frame]);
});
