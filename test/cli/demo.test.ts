import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { uniqueDestination } from "../support/destination.ts";
import { packer, take } from "../subscriber/feed-harness.ts";
import { captureLog } from "../support/capture-log.ts";
import { demoCommand } from "../../src/cli/commands/demo.ts";

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

test("a second demo on a port another one sends on exits 1 saying to give it its own --port (not run's destinations or source_id)", { timeout: 30_000 }, async () => {
  const port = uniqueDestination(469).port;
  // The running demo's feeder, as the second one's start-up listen hears it: heartbeats of channel 1, source 0.
  const p = packer({ channelId: 1, sourceId: 0, heartbeatIntervalMs: 100 });
  p.appendHeartbeat(0);
  const beat = take(p, Date.now() * 1000)[0]!;
  const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  tx.setMulticastInterface("127.0.0.1");
  tx.setMulticastTTL(1);
  const timer = setInterval(() => tx.send(beat, port, "239.255.0.1"), 50);
  const { log, lines } = captureLog();
  try {
    const values = { duration: "1", port: String(port), rate: "100" };
    const code = await demoCommand.run({ values, positionals: [], log, out: () => undefined, stopSignal: new Promise(() => {}) });
    expect(code).toBe(1);
  } finally {
    clearInterval(timer);
    tx.close();
  }
  expect(lines.map((l) => l.msg)).toContain("demo could not start");
  const text = lines.map((l) => String(l.fields.error)).join("\n");
  expect(text).toContain(`another publisher is sending on group 239.255.0.1:${port} channel 1 as source 0`);
  expect(text).toContain("another feeder demo perhaps. Stop it, or give this demo its own port: feeder demo --port N");
  expect(text).not.toContain("publish.source_id");
});
