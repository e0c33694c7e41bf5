/**
 * A capture replayed with a configuration that does not subscribe its venue or market: the frames are skipped, and
 * the summary and a warning name the venue/market pairs. Before, only a count said so: a capture of one venue
 * replayed with another venue's config exited 0 with `skipped: N` and published nothing, without naming what it
 * had skipped.
 */
import { describe, expect, test } from "vitest";
import { resolve } from "node:path";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

const ROOT = resolve(import.meta.dirname, "../..");

describe("feeder replay names the venue/market of the frames it skips", { timeout: 30_000 }, () => {
  test("okx frames and bybit spot frames under a bybit linear config", async () => {
    const dir = makeTempDir("feeder-review-skipped-");
    const config = writeXrpConfig(dir, uniqueDestination(64));
    const w = new CaptureWriter({ dir, prefix: "feeder" });
    XRP_LINES.slice(0, 10).forEach((l, i) => w.write(XRP_T0_US + i, "bybit", "linear", "linear-0", l));
    for (let i = 0; i < 3; i++) w.write(XRP_T0_US + 20 + i, "okx", "spot", "spot-0", '{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[]}');
    w.write(XRP_T0_US + 30, "bybit", "spot", "spot-0", XRP_LINES[1]!);
    w.close();
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "replay", "--config", config, w.files[0]!], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(0);
    const summary = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(summary).toMatchObject({ frames: 14, ingested: 10, skipped: 4, skippedBy: { "okx/spot": 3, "bybit/spot": 1 } });
    const warning = err
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === "frames skipped: no subscription of their venue and market in the configuration");
    expect(warning).toMatchObject({ level: "warn", skippedBy: { "okx/spot": 3, "bybit/spot": 1 } });
  });
});
