import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";

test("feeder demo runs simulator, feeder and view offline, and every book is shown usable, live and valid", { timeout: 30_000 }, async () => {
  const out: string[] = [];
  const err: string[] = [];
  const port = 20_000 + (process.pid % 30_000);
  const code = await main(["demo", "--duration", "3", "--port", String(port), "--rate", "600"], { out: (t) => out.push(t), err: (t) => err.push(t) });
  expect(err.join("\n")).toBe("");
  expect(code).toBe(0);
  const last = out.at(-1)!; // the final table, drawn after the listener stopped
  for (const name of ["linear BTCUSDT", "linear ETHUSDT", "linear SOLUSDT", "linear XRPUSDT", "spot BTCUSDT", "spot ETHUSDT"]) {
    expect(last).toMatch(new RegExp(`bybit ${name}\\s+yes\\s+live\\s+yes\\s`));
  }
  expect(last).toMatch(/gaps 0 \(lost 0\)\s+errors 0\s+repairs 0\s+books 6/);
});
