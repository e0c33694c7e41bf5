/**
 * `feeder listen`'s table: UPD/S is the updates since the last draw over the time since it. That time was read from
 * Date.now: a wall clock stepped back between two draws made it negative, taken as 1 ms, and the table showed
 * a book's ~200 updates a second as some hundred thousand (stepped forward an hour: 0.1 and less). It is read from the
 * monotonic clock now. In process, the table as drawn on a terminal 200 columns wide (process.stdout.isTTY and
 * columns stubbed: a draw every 250 ms, and one at the stop); Date.now is stubbed and stepped back an hour after the
 * first draw. Group 239.255.45.9 (this file only), interface
 * 127.0.0.1, TTL 1.
 */
import { afterEach, expect, test, vi } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { listen } from "../../src/cli/commands/listen.ts";
import { silentLogger } from "../../src/core/log.ts";
import { until } from "../support/until.ts";
import { startTickingPublisher } from "./ticking-publisher.ts";
import { uniqueDestination } from "../support/destination.ts";

const GROUP = "239.255.45.9";
const PORT = uniqueDestination(465).port; // below the ephemeral ports (test/support/destination.ts)

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  vi.restoreAllMocks();
});

/** UPD/S of the BTCUSDT row of a table. */
function rateOf(table: string): number {
  const lines = table.split("\n");
  const header = lines.find((l) => l.startsWith("INSTRUM"))!;
  const row = lines.find((l) => l.includes("BTCUSDT"))!;
  const end = header.indexOf("UPD/S") + "UPD/S".length;
  return Number(row.slice(0, end).trim().split(/\s+/).at(-1)!.replace(/,/g, ""));
}

test("a wall clock stepped back an hour between draws: the update rate stays the feed's", { timeout: 60_000 }, async () => {
  const back = { ms: 0 };
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, "now").mockImplementation(() => realNow() - back.ms);
  const stdout = process.stdout as { isTTY?: boolean; columns?: number };
  const was = { isTTY: stdout.isTTY, columns: stdout.columns };
  Object.assign(stdout, { isTTY: true, columns: 200 });
  cleanups.push(() => Object.assign(stdout, was));
  await startTickingPublisher(GROUP, PORT, 6, cleanups);
  const tables: string[] = [];
  let stop: (sig: string) => void = () => {};
  const ctx: CommandContext = {
    values: { group: [`${GROUP}:${PORT}`], iface: "127.0.0.1" },
    positionals: [],
    log: silentLogger,
    out: (t) => void tables.push(t),
    stopSignal: new Promise<string>((resolve) => (stop = resolve)),
  };
  const exit = listen(ctx);
  await until(() => tables.some((t) => t.includes("BTCUSDT")), "a table with the book", 30_000);
  back.ms = 3_600_000;
  const drawn = tables.length;
  await until(() => tables.slice(drawn).some((t) => t.includes("BTCUSDT")), "a table drawn after the step", 30_000);
  stop("SIGTERM");
  expect(await exit).toBe(0);
  const last = tables.slice(drawn).filter((t) => t.includes("BTCUSDT"));
  expect(last.length).toBeGreaterThan(0);
  for (const t of last) expect(rateOf(t)).toBeLessThan(1000); // a tick every 5 ms: ≤ 200/s (before: ~100,000)
});
