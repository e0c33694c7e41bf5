/**
 * `feeder sim` options a venue's simulator does not read: each was silently ignored (`--venue coinbase --replay
 * FILE` served generated books, `--venue bybit --okx-checksums` ran without them). Every such pair is a usage
 * error (exit 2) naming the option and the venue, before anything starts; the options a venue reads still start
 * it. Through main(), as the command line runs it; output closing stops a simulator that did start.
 */
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { simCommand } from "../../src/cli/commands/sim.ts";
import { main } from "../../src/cli/main.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const VENUES = ["bybit", "okx", "binance", "deribit", "coinbase", "upbit", "bithumb"];

/** Each venue-only option, an argument list giving it, and the venues whose simulator reads it (docs/operations.md). */
const VENUE_ONLY: [string, string[], string[]][] = [
  ["burstiness", ["--burstiness", "0.5"], ["bybit", "okx"]],
  ["replay", ["--replay", FIXTURE], ["bybit", "okx", "binance", "deribit", "upbit", "bithumb"]],
  ["replay-depth", ["--replay-depth", "1000"], ["bybit"]],
  ["replay-market", ["--replay-market", "linear"], ["binance"]],
  ["max-connection-age-ms", ["--max-connection-age-ms", "60000"], ["binance"]],
  ["okx-checksums", ["--okx-checksums"], ["okx"]],
  ["okx-no-snapshot", ["--okx-no-snapshot"], ["okx"]],
];

/** Runs `feeder sim …`; a simulator that starts is stopped once it has printed its control line (output closed). */
async function sim(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let close!: (why: string) => void;
  const outClosed = new Promise<string>((r) => (close = r));
  const code = await main(["sim", "--port", "0", "--rate", "0", ...argv], {
    out: (t) => {
      out.push(t);
      if (t.startsWith("control")) close("test done");
    },
    err: (t) => err.push(t),
    outClosed,
  });
  return { code, out, err };
}

const refused = VENUE_ONLY.flatMap(([name, args, venues]) => VENUES.filter((v) => !venues.includes(v)).map((venue) => ({ name, args, venue, venues })));

describe("feeder sim: options for other venues", { timeout: 15_000 }, () => {
  test.each(refused)("--$name with --venue $venue is a usage error naming both", async ({ name, args, venue, venues }) => {
    const r = await sim("--venue", venue, ...args);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([`feeder sim: --${name} is for ${venues.join(" and ")} only; it does not apply to --venue ${venue} (see feeder sim --help)`]);
  });

  test("every option of feeder sim is common to all venues or in the table above", () => {
    const common = ["venue", "port", "symbols", "rate", "seed"];
    expect(Object.keys(simCommand.options).filter((o) => !common.includes(o) && !VENUE_ONLY.some(([name]) => name === o))).toEqual([]);
  });

  test("the default venue (bybit) refuses another venue's option too", async () => {
    const r = await sim("--okx-checksums");
    expect(r.code).toBe(2);
    expect(r.err).toEqual(["feeder sim: --okx-checksums is for okx only; it does not apply to --venue bybit (see feeder sim --help)"]);
  });

  test("--replay-market without --replay is a usage error, as --replay-depth without it is", async () => {
    expect((await sim("--venue", "binance", "--replay-market", "linear")).err).toEqual(["feeder sim: --replay-market needs --replay FILE (see feeder sim --help)"]);
    expect((await sim("--replay-depth", "1000")).err).toEqual(["feeder sim: --replay-depth needs --replay FILE (see feeder sim --help)"]);
  });

  test.each([
    ["bybit", "--burstiness", "0.2", "--seed", "3"],
    ["okx", "--burstiness", "0.2", "--okx-checksums", "--okx-no-snapshot", "--seed", "3"],
    ["binance", "--max-connection-age-ms", "60000", "--seed", "3"],
    ["deribit", "--seed", "3"],
    ["coinbase", "--seed", "3"],
    ["upbit", "--seed", "3"],
    ["bithumb", "--seed", "3"],
  ])("--venue %s starts with the options it reads", async (venue, ...args) => {
    const r = await sim("--venue", venue, ...args);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^wsUrl   ws:\/\/127\.0\.0\.1:\d+/);
  });
});
