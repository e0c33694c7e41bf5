/**
 * Capture files are replayed in the order given. One that begins before the previous file's last frame (files
 * named out of time order, or two recorders' captures given one after the other) is named in the summary
 * (`outOfOrder`) and a warning. Before, nothing said so: the replay went back in time at the file boundary, its
 * books resynced on the "gap" that made, and its output was not the live run's.
 */
import { describe, expect, test } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

const ROOT = resolve(import.meta.dirname, "../..");

function capture(dir: string, lines: readonly string[], t0Us: number): string {
  mkdirSync(dir);
  const w = new CaptureWriter({ dir, prefix: "feeder" });
  lines.forEach((l, i) => w.write(t0Us + i * 1000, "bybit", "linear", "linear-0", l));
  w.close();
  return w.files[0]!;
}

async function replay(config: string, files: string[]): Promise<{ summary: Record<string, unknown>; warnings: Record<string, unknown>[] }> {
  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "replay", "--config", config, ...files], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(0);
  const warnings = err
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l))
    .filter((l) => l.level === "warn");
  return { summary: JSON.parse(out.trim().split("\n").at(-1)!), warnings };
}

describe("feeder replay names capture files given out of time order", { timeout: 30_000 }, () => {
  const dir = makeTempDir("feeder-review-order-");
  const config = writeXrpConfig(dir, uniqueDestination(70));
  const first = capture(join(dir, "1"), XRP_LINES.slice(0, 20), XRP_T0_US);
  const second = capture(join(dir, "2"), XRP_LINES.slice(20, 40), XRP_T0_US + 20_000);

  test("in time order: nothing to say", async () => {
    const { summary, warnings } = await replay(config, [first, second]);
    expect(summary).toMatchObject({ frames: 40, outOfOrder: [] });
    expect(warnings.filter((w) => String(w.msg).startsWith("capture file begins before"))).toEqual([]);
  });

  test("reversed: the later file given first is named, with both times", async () => {
    const { summary, warnings } = await replay(config, [second, first]);
    const expected = { file: first, startsUs: XRP_T0_US, previousEndsUs: XRP_T0_US + 20_000 + 19_000 };
    expect(summary).toMatchObject({ frames: 40, outOfOrder: [expected] });
    expect(warnings).toContainEqual(expect.objectContaining({ msg: "capture file begins before the previous one ends: replayed in the order given, not in receive-time order", ...expected }));
  });

  test("concatenated (cat second first > file): both are replayed, the one inside the file named with its byte", async () => {
    // Before, the reader took the second header for a 1.1 GB block length: 20 frames, the file listed as truncated.
    const cat = join(dir, "cat.fcap");
    const head = readFileSync(second);
    writeFileSync(cat, Buffer.concat([head, readFileSync(first)]));
    const { summary } = await replay(config, [cat]);
    const expected = { file: cat, startsUs: XRP_T0_US, previousEndsUs: XRP_T0_US + 20_000 + 19_000, atByte: head.length };
    expect(summary).toMatchObject({ frames: 40, truncated: [], outOfOrder: [expected] });
  });
});
