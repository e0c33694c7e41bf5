/**
 * Configurations and interfaces that cannot work are refused with exit 2 and a message naming the key, before any
 * socket: `run` exits on its own instead of starting. check-config prints the settings with the TOML's key names.
 * Most refusals go through main() in this process (what the executable runs, output collected); each distinct path
 * is also run once as the real executable (bun src/cli/main.ts): its exit code and stderr as a process's.
 */
import { closeSync, constants, openSync, readdirSync, readlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";

const ROOT = join(import.meta.dirname, "../..");
/** Generous bound for a refusal to come back; a command that starts instead of refusing is killed and fails. */
const EXIT_BOUND_MS = 20_000;
const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const HTTP = '[http]\nlisten = "127.0.0.1:0"\n';
const DEST = (extra: string) => `[[publish.destinations]]\nport = 30001\n${extra}\n`;

async function runChild(args: string[]): Promise<{ code: number | "still running"; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "warn" } });
  const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
  if (code === "still running") proc.kill("SIGKILL");
  return { code, stdout: await new Response(proc.stdout).text(), stderr: await new Response(proc.stderr).text() };
}

/**
 * The same command through main() in this process (no Bun start and app import per case): its output as text. One
 * that starts instead of refusing is stopped past EXIT_BOUND_MS (its output closed, as a reader going away does) and
 * is "still running", as runChild's: before, it held the test to its timeout, naming nothing, and stayed running in
 * this process (its venue connections, its sockets) through the file's later tests.
 */
async function runHere(args: string[]): Promise<{ code: number | "still running"; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  let stop: (why: string) => void = () => {};
  const outClosed = new Promise<string>((resolve) => (stop = resolve));
  let bounded = false;
  const bound = setTimeout(() => {
    bounded = true;
    stop("EPIPE");
  }, EXIT_BOUND_MS);
  try {
    const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), outClosed });
    return { code: bounded ? "still running" : code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    clearTimeout(bound);
  }
}

describe("refused before any socket, exit 2 naming the key", { timeout: 60_000 }, () => {
  const dir = makeTempDir("feeder-refusals-");
  const cases: [string, string, string][] = [
    ["no venue configured", `${HTTP}`, "venues: missing (expected at least one venue market"],
    ['group = ""', `${HTTP}${DEST('group = ""')}${VENUE}`, 'publish.destinations[0].group: "" is not an IPv4 multicast address'],
    ['tick_size = ""', `${HTTP}${VENUE}[venues.bybit.overrides."linear:BTCUSDT"]\ntick_size = ""\nlot_size = "0.001"\n`, 'venues.bybit.overrides."linear:BTCUSDT".tick_size: "" is not a positive decimal string'],
    ["a TOML syntax error", `${HTTP}[publish\n${VENUE}`, "not valid TOML at line 3, column 9: Expected ']' to close a table header"],
    ['Deribit interval = "raw"', `${HTTP}[venues.deribit.inverse]\nsymbols = ["BTC-PERPETUAL"]\ninterval = "raw"\n`, 'venues.deribit.inverse.interval: "raw" is not one of 100ms, agg2 (raw: needs an authorised connection'],
    ["Upbit level = -5", `${HTTP}[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\nlevel = -5\n`, "venues.upbit.spot.level: -5 is not a number 0–1000000000000 with at most 8 decimals"],
  ];
  // The first case's run and the second's check-config as real processes; the rest in this process.
  test.each(cases.map((c, i) => [...c, i] as const))("%s: run and check-config exit 2", async (_what, toml, message, i) => {
    const path = join(dir, `${_what.replace(/\W+/g, "-")}.toml`);
    writeFileSync(path, toml);
    const [run, check] = await Promise.all([(i === 0 ? runChild : runHere)(["run", "--config", path]), (i === 1 ? runChild : runHere)(["check-config", "--config", path])]);
    for (const r of [run, check]) {
      expect(r.stderr).toContain(message);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
    }
  });

  test("an interface this host does not have (yet): check-config exits 2 naming it, run exits 1 (retried by the unit: the address may come up; before, 2 left it down)", async () => {
    const path = join(dir, "iface-not-here.toml");
    writeFileSync(path, `${HTTP}${DEST('group = "239.255.46.1"\ninterface = "192.0.2.1"')}${VENUE}`);
    const message = 'publish.destinations[0].interface: "192.0.2.1" is not an address of this host (it has 127.0.0.1 on lo';
    // run's exit 1 is said in its JSON log on the process's stderr: a real process.
    const [run, check] = await Promise.all([runChild(["run", "--config", path]), runHere(["check-config", "--config", path])]);
    expect(check.stderr).toContain(message);
    expect(check.code).toBe(2);
    expect(run.stderr).toContain(JSON.stringify(message).slice(1, -1)); // in a JSON log line
    expect(run.stderr).toContain("an address the configuration names is not this host's (yet)");
    expect(run.code).toBe(1);
    // With a problem of the file beside it, it is the file's error: exit 2.
    const both = join(dir, "iface-and-bad-group.toml");
    writeFileSync(both, `${HTTP}${DEST('group = "239.255.46.1"\ninterface = "192.0.2.1"')}${DEST('group = ""\nchannel = 2')}${VENUE}`);
    const mixed = await runHere(["run", "--config", both]);
    expect(mixed.code, mixed.stderr).toBe(2);
  });

  test("-c naming a FIFO no process writes to: exit 2 within its 1 s wait, naming the path and that it is a FIFO, not a regular file (before: 5 s, Ctrl-C unheard meanwhile)", async () => {
    const path = join(dir, "mkfifo.toml");
    expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
    const run = await runChild(["run", "-c", path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${path}: not a regular file but a FIFO (named pipe), and no process opened it to write within 1 s: the configuration must be a regular file, or a FIFO with a writer (-c <(render-config))`);
  });

  test("listen --iface that is not an IPv4 address of this host is a usage error", async () => {
    // The first as a real process, the rest in this process.
    const results = await Promise.all([["eth0", "is not an IPv4 address"], ["lo", "lo is an interface name, its address is 127.0.0.1"], ["192.0.2.1", "is not an address of this host"], ["239.255.46.1:46000", "is not an IPv4 address"]].map(async ([iface, message], i) => ({ r: await (i === 0 ? runChild : runHere)(["listen", "-g", "239.255.46.1:46000", "--iface", iface!, "--duration", "30"]), message: message! })));
    for (const { r, message } of results) {
      expect(r.stderr).toMatch(/^feeder listen: --iface /);
      expect(r.stderr).toContain(message);
      expect(r.code).toBe(2);
    }
  });
});

test("check-config prints the resolved settings as TOML with the file's own key names", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["check-config", "--config", join(ROOT, "config/feeder.example.toml")], { out: (t) => out.push(t), err: (t) => err.push(t) });
  expect(err).toEqual([]);
  expect(code).toBe(0);
  const text = out.join("\n");
  expect(text).toContain('[[publish.destinations]]\nname = "bybit-linear"\ngroup = "239.255.0.2"\nport = 31002\ninterface = "127.0.0.1"\nttl = 1\nchannel = 2\n');
  expect(text).toContain('[venues.bybit.overrides."linear:BTCUSDT"]\ntick_size = "0.10"\nlot_size = "0.001"');
  expect(text).toContain("[publish]\nmax_datagram_bytes = 1400\nheartbeat_interval_ms = 1000\nsnapshot_interval_ms = 5000\nsnapshot_depth = 0\n");
  expect(Bun.TOML.parse(text)).toMatchObject({ workers: 1, shard: "0/1", http: { listen: "127.0.0.1:9464" } });
});

describe("a stop signal while a FIFO given as -c is read: heard at once (before: only once the read had ended)", { timeout: 60_000 }, () => {
  const dir = makeTempDir("feeder-fifo-signal-");
  /** Generous: the old code answers only when the FIFO's writer closes it (held open here) or after its 20 s wait. */
  const BOUND_MS = 10_000;

  /** `feeder ARGS` in a child whose FIFO writer wait is 20 s (the seam), so a signal surely comes during it. */
  function spawnWithLongWait(name: string, args: string[]) {
    const script = join(dir, `${name}.ts`);
    writeFileSync(script, [
      `import * as regular from ${JSON.stringify(join(ROOT, "src/core/regular-file.ts"))};`,
      `import { main } from ${JSON.stringify(join(ROOT, "src/cli/main.ts"))};`,
      "regular.setFifoWriterWaitMs(20_000);",
      `process.exit(await main(${JSON.stringify(args)}));`,
      "",
    ].join("\n"));
    return Bun.spawn([process.execPath, script], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "info" } });
  }

  /** Resolves once `pid` has `path` open (Linux: /proc/PID/fd), polling every 25 ms (the child's start takes far longer). */
  async function opened(pid: number, path: string): Promise<void> {
    for (let i = 0; i < 400; i++) {
      try {
        if (readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === path; } catch { return false; } })) return;
      } catch {
        // not there yet, or gone
      }
      await Bun.sleep(25);
    }
    throw new Error(`process ${pid} never opened ${path}`);
  }

  // check-config's 0 says "valid": one stopped before anything was checked exits 143, so `check-config && deploy` stops
  // there (until 2026-12-06 it exited 0, and a script's Ctrl-C, which bash passes over for a child that exits 0, deployed).
  test("export, a writer that has written half the file and keeps it open: SIGINT ends it, exit 130; check-config: SIGTERM, exit 143 (not 0, its 'valid')", async () => {
    for (const [command, signal, code] of [["export", "SIGINT", 130], ["check-config", "SIGTERM", 143]] as const) {
      const fifo = join(dir, `${command}-slow.toml`);
      expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
      const args = command === "export" ? ["export", "--books", "-c", fifo, join(dir, "none.fcap")] : ["check-config", "-c", fifo];
      const proc = spawnWithLongWait(`${command}-slow`, args);
      let writer = -1;
      try {
        await opened(proc.pid, fifo);
        writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        writeSync(writer, "[publish]\n"); // half a configuration; the rest never comes while the signal is sent
        proc.kill(signal);
        const exit = await exitCodeWithin(proc, BOUND_MS);
        const stderr = await new Response(proc.stderr).text();
        expect(exit, stderr).toBe(code);
        expect(stderr).toContain("stopped while reading a FIFO given on the command line");
      } finally {
        if (writer >= 0) closeSync(writer);
        proc.kill("SIGKILL");
      }
    }
  });

  test("export, no process opens the FIFO to write: SIGTERM during the writer wait ends it, exit 143 (not the wait's refusal)", async () => {
    const fifo = join(dir, "export-no-writer.toml");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const proc = spawnWithLongWait("export-no-writer", ["export", "--books", "-c", fifo, join(dir, "none.fcap")]);
    try {
      await opened(proc.pid, fifo);
      proc.kill("SIGTERM");
      const exit = await exitCodeWithin(proc, BOUND_MS);
      const stderr = await new Response(proc.stderr).text();
      expect(exit, stderr).toBe(143);
      expect(stderr).not.toContain("no process opened it to write");
    } finally {
      proc.kill("SIGKILL");
    }
  });

  // The NATS TLS files are read as the credential files are (a FIFO allowed: `--nats-ca <(vault read …)`), and were
  // left out of the read ahead: a stop signal during their read went unheard until it had ended.
  test("listen --nats, --nats-ca naming a FIFO no process opens to write: SIGTERM during the writer wait ends it (exit 0, its stop), not the wait's refusal", async () => {
    const fifo = join(dir, "nats-ca.pem");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const proc = spawnWithLongWait("listen-nats-ca", ["listen", "--nats", "nats://127.0.0.1:4222", "--nats-ca", fifo, "-f", "ndjson"]);
    try {
      await opened(proc.pid, fifo);
      proc.kill("SIGTERM");
      const exit = await exitCodeWithin(proc, BOUND_MS);
      const stderr = await new Response(proc.stderr).text();
      expect(exit, stderr).toBe(0);
      expect(stderr).toContain("stopped while reading a FIFO given on the command line");
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
