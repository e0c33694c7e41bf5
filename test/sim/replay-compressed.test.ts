/** `feeder sim --replay` serves a capture that `feeder record` compressed (zstd is its default) like a plain one. */
import { describe, expect, test } from "vitest";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadReplay } from "../../src/sim/bybit-sim-replay.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { XRP_LINES, writeXrpCapture } from "../support/xrp-capture.ts";

describe("simulator replay of compressed captures", () => {
  test("zstd and gzip captures load the same topics and lines as the uncompressed one", () => {
    const dir = makeTempDir("feeder-sim-capz-");
    const load = (compression: "none" | "gzip" | "zstd") => {
      const sub = join(dir, compression);
      mkdirSync(sub);
      const { file } = writeXrpCapture(sub, { compression });
      if (compression !== "none") expect(readFileSync(file).subarray(0, 8).toString()).toBe("FDRCAP02");
      return loadReplay(file, [{ market: "linear", symbols: ["XRPUSDT"] }]);
    };
    const plain = load("none");
    expect(plain).toHaveLength(1);
    expect(plain[0]!.lines).toEqual(XRP_LINES);
    expect(load("zstd")).toEqual(plain);
    expect(load("gzip")).toEqual(plain);
  });
});
