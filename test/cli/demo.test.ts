import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { uniqueDestination } from "../support/destination.ts";

test("feeder demo runs simulator, feeder and view offline, and every book is shown usable, live and valid", { timeout: 30_000 }, async () => {
  const out: string[] = [];
  const err: string[] = [];
  const port = uniqueDestination(467).port; // below the ephemeral ports (test/support/destination.ts)
  // The table's header names the status page: ask it while the demo runs.
  let health: Promise<number> | undefined;
  const onOut = (t: string) => {
    out.push(t);
    const url = /status (http:\/\/127\.0\.0\.1:\d+)/.exec(t)?.[1];
    if (url !== undefined && health === undefined) health = fetch(`${url}/healthz`).then((r) => r.status);
  };
  const code = await main(["demo", "--duration", "3", "--port", String(port), "--rate", "600"], { out: onOut, err: (t) => err.push(t) });
  expect(err.join("\n")).toBe("");
  expect(code).toBe(0);
  const last = out.at(-1)!; // the final table, drawn as the listener stops (the books as last heard)
  for (const name of ["linear BTCUSDT", "linear ETHUSDT", "linear SOLUSDT", "linear XRPUSDT", "spot BTCUSDT", "spot ETHUSDT"]) {
    expect(last).toMatch(new RegExp(`^${name}\\s+yes\\s+live\\s+yes\\s`, "m"));
  }
  expect(last).toMatch(/books 6 \(6 usable, 6 valid\)\s+invalidations 0\s+channel gaps 0 \(lost 0\)\s+seq lines back 0\s+send times ahead 0\s+repairs 0\s+errors 0/);
  expect(await health).toBe(200);
  for (const line of last.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  // What a first look needs (before 2026-12-07 neither was said): the books are a simulator's, and what the
  // abbreviated columns mean, below the footer, for the columns shown (80 wide: no latency column, none of its legend).
  expect(last.split("\n")[0]).toMatch(/^feeder demo \(simulated exchange, offline\)/);
  expect(last).toMatch(/USABLE yes = safe to trade on/);
  expect(last).toMatch(/INVAL = times invalidated\s+REP = refreshes that repaired it/);
  expect(last).toMatch(/all columns and counters: feeder help listen$/m);
  expect(last).not.toContain("latency");
});
