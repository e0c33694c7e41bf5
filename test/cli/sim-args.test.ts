/**
 * `feeder sim` options a venue's simulator does not read: each was silently ignored (`--venue coinbase --replay
 * FILE` served generated books, `--venue bybit --okx-checksums` ran without them). Every such pair is a usage
 * error (exit 2) naming the option and the venue, before anything starts; the options a venue reads still start
 * it. Through main(), as the command line runs it; output closing stops a simulator that did start.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test, vi } from "vitest";
import { simCommand } from "../../src/cli/commands/sim.ts";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

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

describe("feeder sim --replay of what is no recording, and a port in use (s-cli8)", { timeout: 15_000 }, () => {
  const dir = makeTempDir("feeder-sim-replay-");
  const junk = join(dir, "junk.fcap");
  writeFileSync(junk, "junk\n");
  mkdirSync(join(dir, "sub"));

  test.each([
    ["bybit", "not a feeder capture file (expected the header FDRCAP01 or FDRCAP02)"],
    ["deribit", "not a feeder capture file (expected the header FDRCAP01 or FDRCAP02)"],
    ["binance", `${junk} is not a cryptofeed .ws.N.N recording`],
  ])("--venue %s: a file its loader refuses exits 2 naming --replay (before: exit 1 and a stack trace)", async (venue, why) => {
    expect(await sim("--venue", venue, "--replay", junk)).toEqual({ code: 2, out: [], err: [`feeder sim: --replay ${junk}: ${why} (see feeder sim --help)`] });
  });

  const OKX = resolve(import.meta.dirname, "../fixtures/cryptofeed/OKX.ws.1.0");
  test.each([
    [["--venue", "bybit"], "no Bybit orderbook frames: a JSONL of WebSocket payloads or a capture"],
    [["--venue", "deribit"], "no Deribit book notifications"],
    [["--venue", "okx", "--symbols", "spot:ETH-USDT"], "no OKX books frames of an instrument --symbols names: give the recording's instIds with their markets"],
    [["--venue", "upbit"], "no Upbit orderbook frames: cryptofeed `ts: b'…'` lines or one JSON frame per line"],
    [["--venue", "bithumb"], "no Bithumb orderbook frames: cryptofeed `ts: b'…'` lines or one JSON frame per line"],
  ])("%j with a recording it finds nothing to serve in exits 2 (before: generated books served, the replay unsaid)", async (args, why) => {
    expect(await sim(...args, "--replay", OKX)).toEqual({ code: 2, out: [], err: [`feeder sim: --replay ${OKX}: nothing in it to serve (${why}) (see feeder sim --help)`] });
  });

  test("--venue binance: a recording without its .http.0.0, or another venue's with one, exits 2 naming --replay (before: ENOENT exit 1; generated books served)", async () => {
    const missing = join(dir, "OKX.http.0.0");
    expect(await sim("--venue", "binance", "--replay", OKX)).toMatchObject({ code: 2, out: [] });
    const alone = join(dir, "OKX.ws.1.0");
    writeFileSync(alone, readFileSync(OKX));
    const r = await sim("--venue", "binance", "--replay", alone);
    expect(r).toMatchObject({ code: 2, out: [] });
    expect(r.err[0]).toMatch(new RegExp(`^feeder sim: --replay ${alone}: a recording or the REST snapshots \\(\\.http\\.0\\.0\\) beside it cannot be read: .*ENOENT.*${missing}`));
    writeFileSync(missing, "https://www.okx.com/api/v5/market/books?instId=BTC-USDT -> 1.0: {}\n");
    expect(await sim("--venue", "binance", "--replay", alone)).toEqual({
      code: 2,
      out: [],
      err: [`feeder sim: --replay ${alone}: nothing in it to serve (no Binance depthUpdate frames of a symbol its .http.0.0 has a snapshot of) (see feeder sim --help)`],
    });
  });

  test("--venue binance: a recording's REST snapshots name its market; served on the other one exits 2, and the replayed symbols are printed (before: a USD-M recording served on spot without a word, no replay line)", async () => {
    const CF = resolve(import.meta.dirname, "../fixtures/cryptofeed");
    const futures = join(CF, "BINANCE_FUTURES.ws.1.0");
    const spot = join(CF, "BINANCE.ws.1.0");
    expect(await sim("--venue", "binance", "--replay", futures)).toEqual({
      code: 2,
      out: [],
      err: [`feeder sim: --replay ${futures}: its REST snapshots (.http.0.0) are Binance USD-M's (/fapi/): give --replay-market linear (see feeder sim --help)`],
    });
    expect(await sim("--venue", "binance", "--replay", spot, "--replay-market", "linear")).toEqual({
      code: 2,
      out: [],
      err: [`feeder sim: --replay ${spot}: its REST snapshots (.http.0.0) are Binance spot's (/api/v3/): give --replay-market spot (see feeder sim --help)`],
    });
    const r = await sim("--venue", "binance", "--replay", futures, "--replay-market", "linear");
    expect(r.code).toBe(0);
    const replayed = r.out.filter((l) => l.startsWith("replay "));
    expect(replayed.length).toBeGreaterThan(0);
    for (const l of replayed) expect(l).toMatch(/^replay  linear:[A-Z0-9]+  [1-9]\d* frames$/);
    expect((await sim("--venue", "binance", "--replay", spot)).out.filter((l) => l.startsWith("replay "))).not.toEqual([]);
  });

  test("--venue binance: a recording with lines of another shape is said in one warning, not one per reading (the check's and the simulator's)", async () => {
    const rec = join(dir, "odd.ws.1.0");
    writeFileSync(join(dir, "odd.http.0.0"), 'https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000 -> 1.5: {"lastUpdateId":100,"bids":[["1.5","1"]],"asks":[]}\n');
    const diff = (u: number, b: string) => `{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":${u},"u":${u},"b":${b},"a":[]}`;
    writeFileSync(rec, [`2.1: {"stream":"btcusdt@depth@100ms","data":${diff(101, '[["1.6","1"]]')}}`, `2.2: {"stream":"btcusdt@depth@100ms","data":${diff(102, "null")}}`].join("\n"));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    let r, warnings;
    try {
      r = await sim("--venue", "binance", "--replay", rec);
      warnings = warn.mock.calls.map((c) => String(c[0])).filter((w) => w.startsWith("sim: replay"));
    } finally {
      warn.mockRestore();
    }
    expect([r.code, r.out.filter((l) => l.startsWith("replay "))]).toEqual([0, ["replay  spot:BTCUSDT  2 frames"]]);
    expect(warnings).toEqual([`sim: replay ${rec}: 0 line(s) that are not JSON skipped; 1 depth update(s) or REST answer(s) not of the [price, size] shape served as recorded, not used for the tick and step sizes`]);
  });

  test("a directory is named as one (before: 'no such file')", async () => {
    const sub = join(dir, "sub");
    expect(await sim("--replay", sub)).toEqual({ code: 2, out: [], err: [`feeder sim: --replay ${sub}: not a regular file (a directory): the simulator reads a recording file (see feeder sim --help)`] });
  });

  test("a FIFO is refused at once, exit 2 (before: the start waited in open(2) for a writer, deaf to SIGINT and SIGTERM)", () => {
    // A child process: a regression would hold the thread in open(2), which no test timeout can end.
    const fifo = join(dir, "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const r = spawnSync(process.execPath, [resolve(import.meta.dirname, "../../src/cli/main.ts"), "sim", "--replay", fifo], { encoding: "utf8", timeout: 10_000, killSignal: "SIGKILL", stdio: ["ignore", "pipe", "pipe"] });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: `feeder sim: --replay ${fifo}: not a regular file (a FIFO): the simulator reads a recording file (see feeder sim --help)\n` });
  });

  test("a port in use exits 1 with one line, no stack trace (before: the error's stack)", async () => {
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    try {
      const err: string[] = [];
      const r = { code: await main(["sim", "--rate", "0", "--port", String(taken.port)], { out: () => {}, err: (t) => err.push(t) }), err };
      expect(r.code).toBe(1);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(new RegExp(`^feeder sim: [^\n]*${taken.port}[^\n]*$`));
    } finally {
      taken.stop(true);
    }
  });
});

describe("--symbols keeps Deribit's decimal \"d\" (s-cfgrd)", () => {
  test("a 'd' between digits (a linear option's strike, XRP_USDC-30JUN23-0d625-C) stays lower case; the rest is upper-cased (before: served as 0D625, a name the config of the real instrument does not subscribe)", async () => {
    const { parseSymbolList } = await import("../../src/cli/commands/sim.ts");
    expect(parseSymbolList("option:XRP_USDC-30JUN23-0d625-C,option:xrp_usdc-30jun23-0d625-c,linear:btcusdt,option:d1d,spot:币安人生usdt")).toEqual([
      { market: "option", symbols: ["XRP_USDC-30JUN23-0d625-C", "D1D"] },
      { market: "linear", symbols: ["BTCUSDT"] },
      { market: "spot", symbols: ["币安人生USDT"] },
    ]);
    // The simulator's instruments answer names it so, as Deribit does: the feeder's config spelling.
    const { parseConfigText } = await import("../../src/config/load.ts");
    expect(parseConfigText('[venues.deribit.option]\nsymbols = ["XRP_USDC-30JUN23-0d625-C"]\n', "t.toml", { localAddresses: [{ name: "lo", address: "127.0.0.1" }] }).venues[0]!.markets[0]!.symbols).toEqual(["XRP_USDC-30JUN23-0d625-C"]);
  });
});
