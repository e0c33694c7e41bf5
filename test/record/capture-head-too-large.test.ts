/**
 * A record too large for any block is written as its connection's `ws:close` (CaptureWriter.tooLarge). A file head
 * says each connection as the capture's own records leave it (CaptureSocketHead): until s-rd3i the writer's head was
 * not told of that close, so the next rotated file began with `ws:state` and `ws:asked` for a connection the capture
 * had closed, and a file replayed from there differed from the whole capture's replay (its socket open, asked as
 * before the close) until the connection's next `ws:state`.
 */
import { expect, test } from "vitest";
import { CaptureSocketHead } from "../../src/app/capture-sockets.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { CONNECTION_OPENED_URL, SOCKETS_RECORDED_URL } from "../../src/venues/venue.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("the file head after a record too large for a block says its connection closed, as the capture's records do", () => {
  const dir = makeTempDir("feeder-capture-head-too-large-");
  // maxFileBytes 1: every block rotates, so each flush below begins a file with its head.
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, maxFileBytes: 1, maxBlockBytes: 4_096, compression: "none", fileHead: new CaptureSocketHead() });
  w.writeRest(1_000, "okx", "spot", "spot-0", CONNECTION_OPENED_URL, "wss://venue.example/ws");
  w.writeRest(1_000, "okx", "spot", "spot-0", SOCKETS_RECORDED_URL, "");
  w.writeRest(1_000, "okx", "swap", "swap-0", CONNECTION_OPENED_URL, "wss://venue.example/ws");
  w.flush();
  w.write(2_000, "okx", "spot", "spot-0", "x".repeat(8_000)); // over the block limit: a ws:close in its place
  w.flush();
  w.write(3_000, "okx", "swap", "swap-0", "after");
  w.close();
  expect(w.files).toHaveLength(3);
  expect(readCapture(w.files[1]!).records.map((r) => [r.connection, r.url])).toEqual([
    ["spot-0", "ws:state"],
    ["swap-0", "ws:state"],
    ["spot-0", "ws:asked"],
    ["swap-0", "ws:asked"],
    ["spot-0", "ws:close"],
  ]);
  // What the records before the third file leave, read as replay reads them: its head says the same.
  const reader = new CaptureSocketHead();
  for (const file of w.files.slice(0, 2)) for (const r of readCapture(file).records) if (r.url !== undefined) reader.observe(r.venue, r.market, r.connection, r.url, typeof r.frame === "string" ? r.frame : "");
  const head = readCapture(w.files[2]!).records.filter((r) => r.url !== undefined).map((r) => [r.connection, r.url, r.frame]);
  expect(head).toEqual(reader.events().map((e) => [e.connection, e.url, e.body ?? ""]));
  // Before: spot-0's ws:state and ws:asked too, the connection open again in a replay begun there.
  expect(head.map(([connection, url]) => [connection, url])).toEqual([
    ["swap-0", "ws:state"],
    ["swap-0", "ws:asked"],
  ]);
});
