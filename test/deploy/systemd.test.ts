/**
 * deploy/systemd/feeder.service and feeder-record.service: the directives the deployment guide promises,
 * `systemd-analyze verify` clean (systemd is a Debian package; .ci/run installs it when missing), every command
 * line in them accepted by the real CLI against the config the units' install steps put in place, a bad config
 * refused by the main process (the only one RestartPreventExitStatus applies to), `systemctl reload` as the
 * command's SIGHUP re-check, and install steps in an order that works.
 */
import { describe, expect, test } from "vitest";
import { chmodSync, closeSync, constants, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { main, SIGNALLED_DRAIN_MS } from "../../src/cli/main.ts";
import { STOP_DEADLINE_MS } from "../../src/cli/start-or-stop.ts";
import { COMMANDS } from "../../src/cli/commands/index.ts";
import { recordCommand, recordSettings } from "../../src/cli/commands/record.ts";
import { DEFAULT_FROM_NATS_HTTP, DEFAULT_TO_NATS_HTTP } from "../../src/cli/commands/bridge-http.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { uniqueDestination } from "../e2e/harness.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BINARY = "/usr/local/bin/feeder";
/** Each unit, the config path it names, and the file its install comment copies there. */
const UNITS = [
  { file: "feeder.service", verb: "run", config: "/etc/feeder/feeder.toml", source: "config/feeder.example.toml", identifier: "feeder" },
  { file: "feeder-record.service", verb: "record", config: "/etc/feeder/record.toml", source: "deploy/systemd/record.example.toml", identifier: "feeder-record" },
].map((u) => ({ ...u, text: readFileSync(join(ROOT, "deploy/systemd", u.file), "utf8") }));

/** Section → key → values (a key may repeat), comments dropped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

function service(text: string): (key: string) => string {
  const section = parseUnit(text).get("Service")!;
  return (key) => {
    const v = section.get(key);
    expect(v, key).toHaveLength(1);
    return v![0]!;
  };
}

/**
 * The longest a stop signal may take to end the process: the command's stop deadline, then its output's drain (counted
 * from the signal, so at most both), with a second of headroom for a loaded host. A unit's TimeoutStopSec below it
 * SIGKILLs a stop under way (the capture's last block, the books' halted statuses lost).
 */
const STOP_NEEDS_MS = STOP_DEADLINE_MS + SIGNALLED_DRAIN_MS + 1000;

/** systemd's time span ("10", "10s", "1min 30s", "500ms") in milliseconds; NaN for anything else. */
function spanMs(v: string): number {
  const units: Record<string, number> = { "": 1000, s: 1000, sec: 1000, ms: 1, min: 60_000, m: 60_000 };
  let ms = 0;
  const parts = v.trim().split(/\s+/);
  for (const p of parts) {
    const m = /^(\d+)([a-z]*)$/.exec(p);
    if (!m || units[m[2]!] === undefined) return NaN;
    ms += Number(m[1]) * units[m[2]!]!;
  }
  return ms;
}

/** The `--flags` a unit file names (its comments included), but those of the install steps' other tools. */
function flagsNamed(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => !/^#\s+(install|useradd|systemctl)\b/.test(l))
    .flatMap((l) => [...l.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
}

/** The long options `feeder <verb>` takes. */
function optionsOf(verb: string): string[] {
  return Object.keys(COMMANDS.find((c) => c.name === verb)!.options);
}

async function cli(args: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await main(args, { out: () => {}, err: (t) => err.push(t) });
  return { code, err };
}

describe.each(UNITS)("deploy/systemd/$file", ({ file, verb, config, source, identifier, text }) => {
  const unit = parseUnit(text);
  const one = service(text);
  const local = (args: string[]) => args.slice(1).map((a) => (a === config ? join(ROOT, source) : a));
  const section = unit.get("Service")!;

  test("runs as a dedicated user, restarts on failure but not on a configuration error, logs to the journal", async () => {
    expect(one("User")).toBe("feeder");
    expect(one("Group")).toBe("feeder");
    expect(one("Restart")).toBe("on-failure");
    expect(one("StandardOutput")).toBe("journal");
    expect(one("StandardError")).toBe("journal");
    expect(one("SyslogIdentifier")).toBe(identifier);
    // Exit 2 is the CLI's code for a bad configuration: restarting cannot fix it.
    expect(one("RestartPreventExitStatus")).toBe("2");
    const dir = makeTempDir("feeder-unit-");
    writeFileSync(join(dir, "bad.toml"), "workers = 0\n");
    expect((await cli(["check-config", "--config", join(dir, "bad.toml")])).code).toBe(2);
    expect(unit.get("Unit")!.get("After")![0]).toContain("network-online.target");
    expect(unit.get("Install")!.get("WantedBy")).toEqual(["multi-user.target"]);
  });

  test("a bad configuration is refused by the main process (exit 2), so RestartPreventExitStatus=2 stops the restarts", async () => {
    // systemd.service(5): RestartPreventExitStatus= is matched against the main service process's exit status only
    // (service_shall_restart tests main_exec_status, reset at every start). A control process (ExecStartPre) that
    // exits 2 fails the start with result exit-code, which Restart=on-failure restarts: every RestartSec until
    // StartLimitBurst, then start-limit-hit. So no command before ExecStart may be what meets a bad file first.
    const dir = makeTempDir("feeder-unit-bad-");
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, "workers = 0\n");
    const out = join(dir, "captures"); // record's --out: never a directory of the test host
    const withBad = (line: string) =>
      line
        .replace(/^[-@:+!]+/, "") // systemd's prefixes
        .split(/\s+/)
        .slice(1)
        .map((a) => (a === config ? bad : a.startsWith("/var/lib/") ? out : a));
    for (const line of section.get("ExecStartPre") ?? []) {
      const { code } = await cli(withBad(line));
      expect(code, `${line} exits ${code} on a bad configuration: a control process's exit code does not stop the restarts`).toBe(0);
    }
    const started = await cli(withBad(one("ExecStart")));
    expect(started.code).toBe(2);
    expect(started.err.join("")).toContain("workers");
    expect(one("RestartPreventExitStatus").split(/\s+/)).toContain(String(started.code));
  });

  test("a start that keeps failing (exit 1: network or venue not there yet) is retried for an hour, never given up", () => {
    // systemd 252's start limit (src/basic/ratelimit.c ratelimit_below): a window opens at a start; the start after
    // StartLimitBurst in it is refused and the unit stays failed until someone starts it. Interval or burst 0 = no
    // limit; unset = DefaultStartLimitIntervalSec=10s, DefaultStartLimitBurst=5 (system.conf). The old 60 s / 5
    // with RestartSec=1 gave up after the fifth failing start, about 5 s in.
    const unitSection = unit.get("Unit")!;
    const seconds = (v: string | undefined, dflt: number) => (v === undefined ? dflt : Number(/^(\d+)s?$/.exec(v)?.[1] ?? NaN));
    const intervalS = seconds(unitSection.get("StartLimitIntervalSec")?.[0], 10);
    const burst = Number(unitSection.get("StartLimitBurst")?.[0] ?? 5);
    const restartS = seconds(one("RestartSec"), 0.1);
    expect(Number.isFinite(intervalS) && Number.isFinite(burst) && Number.isFinite(restartS)).toBe(true);
    let windowStartS = -1;
    let inWindow = 0;
    // Worst case: every start fails at once (a start costs at least Bun's load; 0 here).
    for (let atS = 0; atS < 3600; atS += restartS) {
      if (intervalS === 0 || burst === 0) break;
      if (windowStartS < 0 || atS > windowStartS + intervalS) [windowStartS, inWindow] = [atS, 0];
      expect(inWindow, `start at ${atS} s refused: ${burst} starts within StartLimitIntervalSec=${intervalS}`).toBeLessThan(burst);
      inWindow++;
    }
    // Each failing start loads Bun (up to 1.2 s of CPU on a busy VM): retried forever, it may take at most ~20 % of
    // a core from the feeder's host.
    expect(1.2 / (restartS + 1.2)).toBeLessThanOrEqual(0.2);
    // ... while a configuration error (exit 2) is still not retried at all (the test above).
    expect(one("RestartPreventExitStatus")).toBe("2");
  });

  test("systemctl reload sends SIGHUP, which the command takes as a configuration re-check (it keeps running)", () => {
    // ExecReload absent, `systemctl reload` failed ("Job type reload is not applicable") though the command has a reload.
    expect(section.get("ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"]);
    expect(existsSync("/bin/kill")).toBe(true);
    expect(COMMANDS.find((c) => c.name === verb)!.hangupChecksConfig).toBe(true);
  });

  test("a reload before the process has read its configuration: the process survives it, or the unit restarts it", async () => {
    // The command's SIGHUP listener (main.ts, then config-reload.ts) comes once the bundle has loaded and runs;
    // before it SIGHUP ends the process, which systemd counts as a clean exit (SuccessExitStatus includes SIGHUP by
    // default): without RestartForceExitStatus=SIGHUP, `systemctl reload` just after a start left the unit down.
    // The configuration is a FIFO, so the process is held in that read, after start-up, when the signal comes.
    const dir = makeTempDir("feeder-unit-early-hup-");
    const fifo = join(dir, "feeder.toml");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const args = one("ExecStart")
      .split(/\s+/)
      .slice(1)
      .map((a) => (a === config ? fifo : a.startsWith("/var/lib/") ? join(dir, "captures") : a));
    const proc = Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
    let err = "";
    void (async () => {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
    })();
    try {
      let writer: number | undefined;
      for (const deadline = Date.now() + 20_000; writer === undefined; await Bun.sleep(5)) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`the process never opened its configuration: ${err}`);
        try {
          writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK); // ENXIO until the process opens it
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENXIO") throw e;
        }
      }
      proc.kill("SIGHUP");
      const toml = ["[http]", "enabled = false", "[publish]", "startup_listen_ms = 0", ...loopbackDestinationToml(uniqueDestination(93)), ...unreachableBybitToml(dir)];
      toml.push("[venues.bybit.linear]", 'symbols = ["BTCUSDT"]', '[venues.bybit.overrides."linear:BTCUSDT"]', 'tick_size = "0.1"', 'lot_size = "0.001"');
      try {
        writeSync(writer, toml.join("\n") + "\n");
      } catch {
        // EPIPE: the process is gone already
      }
      // A process that survives the SIGHUP answers it with a re-check, which reads the path again: a regular file by
      // then (a second read of the FIFO would wait for a writer for good).
      writeFileSync(join(dir, "regular.toml"), toml.join("\n") + "\n");
      renameSync(join(dir, "regular.toml"), fifo);
      closeSync(writer);
      for (const deadline = Date.now() + 20_000; proc.exitCode === null && proc.signalCode === null && !err.includes('"publisher started"'); await Bun.sleep(10)) {
        if (Date.now() > deadline) throw new Error(`neither ended nor started: ${err}`);
      }
      if (proc.signalCode !== null) {
        expect(section.get("RestartForceExitStatus")?.join(" ").split(/\s+/) ?? [], `ended by ${proc.signalCode}, which systemd takes as a clean exit`).toContain(proc.signalCode);
      } else {
        expect(proc.exitCode, err).toBeNull(); // started: the SIGHUP stopped nothing
        proc.kill("SIGTERM");
        expect(await proc.exited).toBe(0);
      }
    } finally {
      proc.kill("SIGKILL");
    }
  });

  test("the install steps create the user and group feeder before any step names them", () => {
    const steps = text.split("\n").filter((l) => /^#\s+(install|useradd|systemctl)\b/.test(l));
    const guide = readFileSync(join(ROOT, "docs/deployment.md"), "utf8");
    const bareMetal = guide.slice(guide.indexOf("## Bare-metal install")).split("```")[1]!.split("\n");
    for (const lines of verb === "run" ? [steps, bareMetal] : [bareMetal]) {
      const created = lines.findIndex((l) => /useradd .*\bfeeder$/.test(l.trim()));
      const named = lines.findIndex((l) => /(-g|-o|-u|chgrp|chown)\s+feeder\b/.test(l));
      expect(created, lines.join("\n")).toBeGreaterThanOrEqual(0);
      expect(named === -1 || created < named, `"${lines[named]}" comes before the group exists`).toBe(true);
    }
  });

  test("limits, scheduling and capabilities: LimitNOFILE, Nice, CPUAffinity guidance, no capabilities, no W^X lock for the JIT", () => {
    expect(Number(one("LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
    const nice = Number(one("Nice"));
    expect(Number.isInteger(nice) && nice >= -20 && nice <= 19).toBe(true);
    if (verb === "run") expect(nice).toBeLessThan(0);
    else expect(nice).toBeGreaterThan(0); // the recorder yields to the feeder
    expect(text).toMatch(/^#\s+CPUAffinity=\d/m); // host-specific: guidance, set through `systemctl edit`
    expect(one("AmbientCapabilities")).toBe("");
    expect(one("CapabilityBoundingSet")).toBe("");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(parseUnit(text).get("Service")!.has("MemoryDenyWriteExecute")).toBe(false);
    expect(one("WorkingDirectory")).toBe(`/var/lib/${one("StateDirectory")}`);
  });

  test("ExecStart is a command line the real CLI accepts, with the installed example config", async () => {
    const start = one("ExecStart").split(/\s+/);
    expect(start[0]).toBe(BINARY);
    expect(start[1]).toBe(verb);
    expect(start.slice(2, 4)).toEqual(["--config", config]);
    expect(text).toContain(`${source} ${config}`); // the install step the mapping stands for
    expect(await cli(["check-config", "--config", join(ROOT, source)])).toEqual({ code: 0, err: [] });
    // `--help` after the unit's flags: parseArgs (strict) rejects any flag the command does not know, with exit 2.
    expect(await cli([...local(start), "--help"])).toEqual({ code: 0, err: [] });
    expect((await cli([verb, "--config", join(ROOT, source), "--no-such-flag", "--help"])).code).toBe(2);
    if (verb === "record") {
      // The values too (compression, retention, progress), through the command's own checks.
      const { values } = parseArgs({ args: local(start).slice(1), options: recordCommand.options, strict: true });
      const settings = recordSettings(values as Parameters<typeof recordSettings>[0]);
      expect(settings).toMatchObject({ compression: "zstd", keepBytes: 200 * 1024 ** 3, progressMs: 60_000 });
      expect(settings.out.startsWith(`/var/lib/${one("StateDirectory")}/`)).toBe(true); // writable under ProtectSystem=strict
    }
  });

  test("stops by SIGTERM and waits for the command's stop deadline and output drain before its SIGKILL", () => {
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(spanMs(one("TimeoutStopSec"))).toBeGreaterThanOrEqual(STOP_NEEDS_MS);
  });

  test("every flag the unit names, in its comments too, is one its command takes", () => {
    const flags = flagsNamed(text);
    expect(flags).toContain("config");
    for (const f of flags) expect(optionsOf(verb), `--${f}`).toContain(f);
  });

  test("systemd-analyze verify finds nothing to report (and does report a broken copy)", () => {
    const dir = makeTempDir("feeder-unit-verify-");
    // verify checks that ExecStart's program exists: point it at a stub instead of an installed binary.
    const stub = join(dir, "feeder");
    writeFileSync(stub, "#!/bin/sh\nexit 0\n");
    chmodSync(stub, 0o755);
    const verify = (body: string) => {
      const path = join(dir, file);
      writeFileSync(path, body.replaceAll(BINARY, stub));
      const r = Bun.spawnSync(["systemd-analyze", "verify", "--man=no", "--generators=no", path], { stderr: "pipe", stdout: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
    };
    expect(verify(text)).toEqual({ code: 0, out: "" });
    const broken = verify(text.replace("Restart=on-failure", "Restart=sometimes").replace("LimitNOFILE=", "LimitNOFILES="));
    expect(broken.out).toContain("Failed to parse service restart specifier");
    expect(broken.out).toContain("Unknown key 'LimitNOFILES'");
  });
});

describe("deploy/systemd/record.example.toml", () => {
  test("records what the production example receives, and publishes only to a loopback group of its own", () => {
    const feeder = loadConfigFile(join(ROOT, "config/feeder.example.toml"));
    const record = loadConfigFile(join(ROOT, "deploy/systemd/record.example.toml"));
    const symbols = (c: typeof feeder) => c.venues.map((v) => ({ venue: v.venue, markets: v.markets.map((m) => [m.market, m.depth, m.symbols]) }));
    expect(symbols(record)).toEqual(symbols(feeder));
    for (const d of record.publish.destinations) {
      expect(d.iface).toBe("127.0.0.1");
      expect(d.ttl).toBe(1);
      for (const p of feeder.publish.destinations) expect(`${d.group}:${d.port}`).not.toBe(`${p.group}:${p.port}`);
    }
    expect(record.http.port).not.toBe(feeder.http.port);
  });
});

describe("deploy/systemd/feeder-bridge.service", () => {
  const file = "feeder-bridge.service";
  const text = readFileSync(join(ROOT, "deploy/systemd", file), "utf8");
  const unit = parseUnit(text);
  const one = service(text);
  const feederUnit = service(UNITS[0]!.text);
  const start = one("ExecStart").split(/\s+/);
  /** ExecStart's arguments run here: the example config for feeder.toml, `dir` for the credentials directory (%d). */
  const local = (dir: string, config = join(ROOT, "config/feeder.example.toml")) => start.slice(1).map((a) => (a === "/etc/feeder/feeder.toml" ? config : a.replace(/^%d\//, `${dir}/`)));

  test("hardened as feeder.service; a dedicated user, the journal, restarts but not on exit 2, no start limit", () => {
    for (const key of ["User", "Group", "Restart", "RestartSec", "RestartPreventExitStatus", "StandardOutput", "StandardError", "CapabilityBoundingSet", "AmbientCapabilities", "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "RestrictAddressFamilies", "RestrictNamespaces", "LockPersonality", "LimitNOFILE"]) {
      expect(one(key), key).toBe(feederUnit(key));
    }
    expect(one("SyslogIdentifier")).toBe("feeder-bridge");
    expect(unit.get("Service")!.has("MemoryDenyWriteExecute")).toBe(false);
    expect(unit.get("Unit")!.get("StartLimitIntervalSec")).toEqual(["0"]);
    expect(unit.get("Unit")!.get("After")![0]).toContain("network-online.target");
    expect(unit.get("Install")!.get("WantedBy")).toEqual(["multi-user.target"]);
    expect(start.slice(0, 5)).toEqual([BINARY, "bridge", "to-nats", "--config", "/etc/feeder/feeder.toml"]);
    expect(text).toMatch(/^#\s+CPUAffinity=\d/m);
  });

  test("credentials through LoadCredential: the password file named by its copy in the credentials directory, nothing secret on the line", () => {
    const [id, source] = one("LoadCredential").split(":");
    expect(source).toBe("/etc/feeder/nats-password");
    expect(start[start.indexOf("--nats-password-file") + 1]).toBe(`%d/${id}`);
    // The install step puts it there root-only (systemd, running as root, hands the service its copy).
    expect(text).toMatch(/install -m 0600 -o root -g root \/dev\/stdin \/etc\/feeder\/nats-password/);
    const flags = start.filter((a) => a.startsWith("--"));
    for (const f of flags) expect(["--config", "--nats", "--nats-user", "--nats-password-file", "--http"]).toContain(f);
  });

  test("ExecStart is a command line the real CLI accepts; a bad config or a missing credential is exit 2 of the main process", async () => {
    const dir = makeTempDir("feeder-bridge-unit-");
    writeFileSync(join(dir, "nats-password"), "s3cret\n", { mode: 0o600 });
    expect(await cli([...local(dir), "--help"])).toEqual({ code: 0, err: [] });
    expect((await cli([...local(dir), "--no-such-flag", "--help"])).code).toBe(2);
    writeFileSync(join(dir, "bad.toml"), "workers = 0\n");
    const bad = await cli(local(dir, join(dir, "bad.toml")));
    expect(bad.code).toBe(2);
    expect(bad.err.join("")).toContain("workers");
    const absent = await cli(local(join(dir, "no-credentials")));
    expect(absent.code).toBe(2);
    expect(absent.err.join("")).toMatch(/--nats-password-file: cannot read/);
    expect(one("RestartPreventExitStatus")).toBe("2");
    expect(unit.get("Service")!.has("ExecStartPre")).toBe(false); // exit 2 must be the main process's
  });

  test("stops by SIGTERM and waits for the command's stop deadline and output drain before its SIGKILL", () => {
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(spanMs(one("TimeoutStopSec"))).toBeGreaterThanOrEqual(STOP_NEEDS_MS);
  });

  test("every flag the unit names, in its comments too (a JetStream stream, other credentials), is one bridge takes", () => {
    const flags = flagsNamed(text);
    for (const f of ["stream", "max-age", "max-bytes", "nats-creds", "nats-token-file", "nats-nkey-file"]) expect(flags).toContain(f);
    for (const f of flags) expect(optionsOf("bridge"), `--${f}`).toContain(f);
  });

  test("the shipped units' HTTP ports are distinct, the bridge's defaults included (all three fit on one host)", () => {
    const feeder = loadConfigFile(join(ROOT, "config/feeder.example.toml"));
    const record = loadConfigFile(join(ROOT, "deploy/systemd/record.example.toml"));
    const bridgePort = (a: string) => Number(a.split(":")[1]);
    const ports = [
      ["feeder.service http.listen", feeder.http.port],
      ["feeder-record.service http.listen", record.http.port],
      ["feeder-bridge.service --http", bridgePort(start[start.indexOf("--http") + 1]!)],
      ["from-nats default --http", bridgePort(DEFAULT_FROM_NATS_HTTP)],
    ] as const;
    // Before, the bridge took 9465, the recorder's: the second of the two to start exited 1 and restarted for ever.
    for (const [i, [a, pa]] of ports.entries()) for (const [b, pb] of ports.slice(i + 1)) expect(pa, `${a} and ${b}`).not.toBe(pb);
    expect(bridgePort(start[start.indexOf("--http") + 1]!)).toBe(bridgePort(DEFAULT_TO_NATS_HTTP)); // the unit names the default
  });

  test("systemd-analyze verify finds nothing to report (and does report a broken copy)", () => {
    const dir = makeTempDir("feeder-unit-verify-");
    const stub = join(dir, "feeder");
    writeFileSync(stub, "#!/bin/sh\nexit 0\n");
    chmodSync(stub, 0o755);
    const verify = (body: string) => {
      const path = join(dir, file);
      writeFileSync(path, body.replaceAll(BINARY, stub));
      const r = Bun.spawnSync(["systemd-analyze", "verify", "--man=no", "--generators=no", path], { stderr: "pipe", stdout: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
    };
    expect(verify(text)).toEqual({ code: 0, out: "" });
    const broken = verify(text.replace(/^LoadCredential=/m, "LoadCredentials="));
    expect(broken.out).toContain("Unknown key 'LoadCredentials'");
  });
});
