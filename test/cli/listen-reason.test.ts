/**
 * `feeder listen` as a process shows why a book is not live: a publisher's book HALTED with reason instrument_closed
 * (the venue stopped trading it) is `halted  closed` in the table written to a pipe (not a terminal), and
 * `"reason":"instrument_closed"` in NDJSON. Group 239.255.45.2 (this file only), interface 127.0.0.1, TTL 1.
 */
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import type { PublishConfig } from "../../src/config/types.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { uniqueDestination } from "../support/destination.ts";

const ROOT = join(import.meta.dirname, "../..");
const GROUP = "239.255.45.2";
const PORT = uniqueDestination(463).port; // below the ephemeral ports (test/support/destination.ts)
const T0 = 1_764_000_000_000_000;
/** Generous bounds: the table is redrawn every second, the refresh every 50 ms; a miss fails the test. */
const SEEN_BOUND_MS = 30_000;
const EXIT_BOUND_MS = 20_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A publisher refreshing two books every 50 ms: BTCUSDT live, ETHUSDT halted because the venue closed it. */
async function publisher(): Promise<void> {
  const publish: PublishConfig = {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 1000,
    snapshotIntervalMs: 50,
    snapshotDepth: 0,
    destinations: [{ name: "t", group: GROUP, port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 4, match: { venue: "*", market: "*", symbols: ["*"] } }],
  };
  const pub = new FeedPublisher({ publish });
  await pub.start();
  cleanups.push(() => pub.stop());
  const live = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  live.load([[302472, 1500]], [[302473, 250]], 1, T0);
  const closed = new TestBook(makeInstrument("bybit", "linear", "ETHUSDT", 2, 2));
  closed.load([[349_999, 551]], [[350_000, 503]], 1, T0);
  closed.state = BookState.HALTED;
  closed.reason = StatusReason.INSTRUMENT_CLOSED;
  for (const b of [live, closed]) pub.publishSnapshot(pub.register(b.instrument, b), b);
}

/** Runs listen with `args`; resolves with its stdout once `seen` matches it (or the bound passes), then stops it. */
async function listenUntil(args: string[], seen: RegExp): Promise<{ stdout: string; stderr: string; code: number | "still running" }> {
  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "listen", "-g", `${GROUP}:${PORT}`, "--iface", "127.0.0.1", ...args], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, FEEDER_LOG_LEVEL: "warn" },
  });
  cleanups.push(() => proc.kill("SIGKILL"));
  let stdout = "";
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + SEEN_BOUND_MS;
  while (!seen.test(stdout) && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => undefined)]);
    if (chunk === undefined || chunk.done) break;
    stdout += decoder.decode(chunk.value, { stream: true });
  }
  reader.releaseLock();
  proc.kill("SIGTERM");
  const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
  return { stdout, stderr: await new Response(proc.stderr).text(), code };
}

test("the table, written to a pipe, names the reason of a halted book; the live one has none", { timeout: 90_000 }, async () => {
  await publisher();
  // A frame with both rows (sorted by symbol), so neither is looked for in a frame drawn between the two snapshots.
  const r = await listenUntil([], /^linear BTCUSDT [^\n]*\nlinear ETHUSDT [^\n]*\n/m);
  expect(r.stdout).toMatch(/^INSTRUMENT +USABLE +STATE +REASON +VALID/m);
  expect(r.stdout).toMatch(/^linear ETHUSDT +NO +halted +closed +/m);
  expect(r.stdout).toMatch(/^linear BTCUSDT +yes +live +- +/m);
  expect(r.code).toBe(0);
});

test("NDJSON carries the full reason name on the halted book's updates", { timeout: 90_000 }, async () => {
  await publisher();
  const r = await listenUntil(["-f", "ndjson"], /"symbol":"ETHUSDT"[^\n]*\n/);
  const rec = r.stdout
    .split("\n")
    .filter((l) => l.includes('"symbol":"ETHUSDT"'))
    .map((l) => JSON.parse(l))[0];
  expect(rec).toMatchObject({ type: "update", symbol: "ETHUSDT", state: "halted", reason: "instrument_closed", usable: false });
  expect(r.code).toBe(0);
});
