/**
 * `feeder bridge to-nats` and `feeder listen --nats` as real processes against a real nats-server: the listen
 * table's NDJSON from the live subjects and from the JetStream stream's start carries every book of the feed, from
 * the reader's own stream; the compiled binary does the same (it once had no NATS packages in it); bad flags exit 2
 * naming the flag (one as a process, the others through main() in this process).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { feederConfig, uniqueDestination, type Markets } from "../e2e/harness.ts";
import { sharedBinary } from "../e2e/binary-build.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";
import { runMain } from "../cli/run-main.ts";
import { main } from "../../src/cli/main.ts";

const ROOT = join(import.meta.dirname, "../..");
const missing = natsServerMissing();
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
const A = uniqueDestination(54);

let sim: BybitSim;
let feeder: Feeder;
let nats: NatsServer;
let bridge: ReturnType<typeof Bun.spawn> | undefined;

/** The CLI from source, or the compiled binary `exe` (run away from the checkout: no node_modules to fall back on). */
function cli(args: string[], exe?: string) {
  if (exe) return Bun.spawn([exe, ...args], { stdout: "pipe", stderr: "pipe", cwd: tmpdir() });
  return Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), ...args], { stdout: "pipe", stderr: "pipe", cwd: ROOT });
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = cli(args);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Takes one NDJSON line of listen into `symbols` and `sources` (a valid update's); true once every symbol has one. */
function takeUpdate(line: string, symbols: Set<string>, sources: Set<number>): boolean {
  const rec = JSON.parse(line) as { type: string; symbol?: string | null; valid?: boolean; sourceId?: number };
  // symbol is null for a book whose definition has not come yet (listen --help): valid, but not yet one of the names
  // the test waits for (counting it let the wait end with a name missing: a full run of 2026-12-08).
  if (rec.type === "update" && rec.valid && typeof rec.symbol === "string") {
    symbols.add(rec.symbol!);
    sources.add(rec.sourceId!);
  }
  return symbols.size === MARKETS[0]!.symbols.length;
}

/** Reads NDJSON updates until every symbol has a valid one; the process is then stopped (SIGTERM) and must exit 0. */
async function validUpdates(args: string[], exe?: string): Promise<{ symbols: Set<string>; sources: Set<number>; code: number }> {
  const p = cli(["listen", "-f", "ndjson", ...args], exe);
  const symbols = new Set<string>();
  const sources = new Set<number>();
  let buf = "";
  let all = false;
  const decoder = new TextDecoder();
  for await (const chunk of p.stdout as ReadableStream<Uint8Array>) {
    buf += decoder.decode(chunk);
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      all = takeUpdate(buf.slice(0, nl), symbols, sources) || all;
      buf = buf.slice(nl + 1);
    }
    if (all) break;
  }
  p.kill("SIGTERM");
  return { symbols, sources, code: await p.exited };
}

/**
 * validUpdates through main() in this process (no Bun start and app import): its output closing once every symbol
 * has a valid update stops listen as a reader going away does (`| head`), exit 0.
 */
async function validUpdatesHere(args: string[]): Promise<{ symbols: Set<string>; sources: Set<number>; code: number }> {
  const symbols = new Set<string>();
  const sources = new Set<number>();
  let close: (why: string) => void = () => {};
  const outClosed = new Promise<string>((resolve) => (close = resolve));
  const out = (text: string) => {
    for (const line of text.split("\n")) if (line !== "" && takeUpdate(line, symbols, sources)) close("EPIPE");
  };
  const code = await main(["listen", "-f", "ndjson", ...args], { out, err: () => {}, outClosed });
  return { symbols, sources, code };
}

/** Until stream `name` holds a message (its info read every 20 ms; not there yet: none). */
async function streamHolds(name: string, timeoutMs = 20_000): Promise<void> {
  const messages = () => nats.withJsm((jsm) => jsm.streams.info(name)).then((i) => i.state.messages, () => 0);
  const deadline = Date.now() + timeoutMs;
  while ((await messages()) === 0) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for stream ${name} to hold a message`);
    await Bun.sleep(20);
  }
}

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 23, messagesPerSecond: 50 });
  feeder = new Feeder({ config: feederConfig({ sim, markets: MARKETS, ...A, snapshotIntervalMs: 300, heartbeatIntervalMs: 100 }), log: silentLogger });
  await feeder.start();
  bridge = cli(["bridge", "to-nats", "-g", `${A.group}:${A.port}`, "--iface", "127.0.0.1", "--nats", nats.url, "--prefix", "cli.md", "--stream", "CLI", "--max-age", "600", "--max-bytes", "64M", "--http", "127.0.0.1:0"]);
}, 30_000);

afterAll(async () => {
  bridge?.kill("SIGTERM");
  await bridge?.exited;
  await feeder?.stop();
  await nats?.stop();
  await sim?.stop();
});

describe.skipIf(missing !== undefined)(`feeder bridge / listen --nats${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 60_000 }, () => {
  test("listen --nats (live subjects) shows every book valid, from the reader's own stream", async () => {
    const r = await validUpdates(["--nats", nats.url, "--prefix", "cli.md"]);
    expect([...r.symbols].sort()).toEqual([...MARKETS[0]!.symbols].sort());
    expect([...r.sources]).toEqual([65000]);
    expect(r.code).toBe(0);
  });

  test("listen --nats --stream --from all replays the stream", async () => {
    // The bridge makes its stream once started: in this process listen starts at once (no Bun start), and read "stream
    // not found" when this test ran first (-t, .only), before the live subjects' test above gave the bridge that time.
    await streamHolds("CLI");
    // In this process (the live subjects' test above runs listen as a process, stopped by SIGTERM).
    const r = await validUpdatesHere(["--nats", nats.url, "--prefix", "cli.md", "--stream", "CLI", "--from", "all"]);
    expect([...r.symbols].sort()).toEqual([...MARKETS[0]!.symbols].sort());
    expect(r.code).toBe(0);
  });

  test("the compiled binary: bridge to-nats and listen --nats carry every book", async () => {
    // The CLI's NATS packages were loaded by a computed name, which bun build --compile cannot bundle: the binary's
    // bridge and listen --nats exited 1 ("reading NATS needs the package @nats-io/transport-node").
    const binary = sharedBinary();
    const b = cli(["bridge", "to-nats", "-g", `${A.group}:${A.port}`, "--iface", "127.0.0.1", "--nats", nats.url, "--prefix", "bin.md", "--http", "127.0.0.1:0"], binary);
    const bridgeLog = new Response(b.stderr as ReadableStream<Uint8Array>).text();
    try {
      const r = await validUpdates(["--nats", nats.url, "--prefix", "bin.md"], binary);
      expect([...r.symbols].sort(), await Promise.race([bridgeLog, Bun.sleep(100).then(() => "(bridge still running)")])).toEqual([...MARKETS[0]!.symbols].sort());
      expect(r.code).toBe(0);
    } finally {
      b.kill("SIGTERM");
    }
    expect(await b.exited, await bridgeLog).toBe(0);
  }, 180_000);

  test("bridge from-nats logs what it did when stopped, the local sends refused included", async () => {
    // rev19: from-nats logged its reader's counters once a minute only, and never its sendErrors (multicast sends
    // the kernel refused): a short run, or local loss, left no trace.
    const B = uniqueDestination(55);
    const p = cli(["bridge", "from-nats", "--nats", nats.url, "--prefix", "cli.md", "-g", `${B.group}:${B.port}`, "--iface", "127.0.0.1", "--http", "127.0.0.1:0"]);
    let log = "";
    const decoder = new TextDecoder();
    const reader = (p.stderr as ReadableStream<Uint8Array>).getReader(); // the log
    while (!log.includes("bridging from NATS")) {
      const { value, done } = await reader.read();
      if (done) break;
      log += decoder.decode(value);
    }
    p.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      log += decoder.decode(value);
    }
    expect(await p.exited).toBe(0);
    const stopped = log
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string; sendErrors?: number; messages?: number })
      .find((r) => r.msg === "stopped");
    expect(stopped).toMatchObject({ sendErrors: 0 });
    expect(typeof stopped!.messages).toBe("number");
  });

  test("bad flags exit 2 naming what was wrong", async () => {
    const cases: [string[], RegExp][] = [
      [["bridge"], /name one direction/],
      [["bridge", "sideways"], /name one direction/],
      [["bridge", "to-nats", "--nats", nats.url], /--config FILE or at least one --group/],
      [["bridge", "to-nats", "--nats", "http://x", "-g", "239.255.1.1:1"], /--nats "http:\/\/x" is not nats:\/\/host:port/],
      [["bridge", "to-nats", "--nats", nats.url, "-g", "239.255.1.1:1", "--max-age", "5"], /--max-age and --max-bytes need --stream/],
      // rev19: a stream smaller than one message silently stores nothing (before: accepted, the bridge ran).
      [["bridge", "to-nats", "--nats", nats.url, "-g", "239.255.1.1:1", "--stream", "S", "--max-bytes", "10"], /--max-bytes must be at least 1M/],
      [["bridge", "from-nats", "--nats", nats.url], /exactly one --group/],
      [["bridge", "from-nats", "--nats", nats.url, "-g", "239.255.1.1:1", "--from", "all"], /--from needs --stream/],
      [["listen", "--nats", nats.url, "--prefix", "a.*"], /--prefix must be NATS subject tokens/],
      [["listen", "--nats", nats.url, "--stream", "S", "--from", "yesterday"], /--from must be now, all or an ISO time/],
      // netsec: readers take the feed's key (only envelopes signed with it are read). Before, from-nats refused the
      // flag and listen --nats ignored it: the operator believed the feed checked while anything was taken.
      [["bridge", "from-nats", "--nats", nats.url, "-g", "239.255.1.1:1", "--auth-key-file", "/nonexistent/feed.key"], /--auth-key-file: cannot read key file/],
      [["listen", "--nats", nats.url, "--duration", "1", "--auth-key-file", "/nonexistent/feed.key"], /--auth-key-file: cannot read key file/],
    ];
    // The first as a real process (its exit code and stderr); the rest through main() in this process, which the
    // executable runs: the same refusal, without a Bun start and the app's import for each.
    for (const [i, [args, why]] of cases.entries()) {
      const r = i === 0 ? await run(args) : await runMain(...args).then((m) => ({ code: m.code, stderr: m.err.join("\n") }));
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(why);
    }
  });
});
