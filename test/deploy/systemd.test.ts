/**
 * deploy/systemd/feeder.service: the directives the deployment guide promises, `systemd-analyze verify` clean
 * (systemd is a Debian package; .ci/run installs it when missing), and every command line in it accepted by
 * the real CLI against the config the unit's install steps put in place.
 */
import { describe, expect, test } from "vitest";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const UNIT_PATH = join(ROOT, "deploy/systemd/feeder.service");
const UNIT = readFileSync(UNIT_PATH, "utf8");
const BINARY = "/usr/local/bin/feeder";
const CONFIG = "/etc/feeder/feeder.toml";
/** What the unit's install comment copies to CONFIG. */
const EXAMPLE = join(ROOT, "config/feeder.example.toml");

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

const unit = parseUnit(UNIT);
const service = unit.get("Service")!;
const one = (key: string) => {
  const v = service.get(key);
  expect(v, key).toHaveLength(1);
  return v![0]!;
};

async function cli(args: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await main(args, { out: () => {}, err: (t) => err.push(t) });
  return { code, err };
}

describe("deploy/systemd/feeder.service", () => {
  test("runs as a dedicated user, restarts on failure but not on a configuration error, logs to the journal", async () => {
    expect(one("User")).toBe("feeder");
    expect(one("Group")).toBe("feeder");
    expect(one("Restart")).toBe("on-failure");
    expect(one("StandardOutput")).toBe("journal");
    expect(one("StandardError")).toBe("journal");
    expect(one("SyslogIdentifier")).toBe("feeder");
    // Exit 2 is the CLI's code for a bad configuration: restarting cannot fix it.
    expect(one("RestartPreventExitStatus")).toBe("2");
    const dir = makeTempDir("feeder-unit-");
    writeFileSync(join(dir, "bad.toml"), "workers = 0\n");
    expect((await cli(["check-config", "--config", join(dir, "bad.toml")])).code).toBe(2);
    expect(unit.get("Unit")!.get("After")![0]).toContain("network-online.target");
    expect(unit.get("Install")!.get("WantedBy")).toEqual(["multi-user.target"]);
  });

  test("limits, scheduling and capabilities: LimitNOFILE, Nice, CPUAffinity guidance, no capabilities, no W^X lock for the JIT", () => {
    expect(Number(one("LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
    const nice = Number(one("Nice"));
    expect(Number.isInteger(nice) && nice >= -20 && nice < 0).toBe(true);
    expect(UNIT).toMatch(/^#\s+CPUAffinity=\d/m); // host-specific: guidance, set through `systemctl edit`
    expect(one("AmbientCapabilities")).toBe("");
    expect(one("CapabilityBoundingSet")).toBe("");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(service.has("MemoryDenyWriteExecute")).toBe(false);
    expect(one("StateDirectory")).toBe("feeder");
    expect(one("WorkingDirectory")).toBe("/var/lib/feeder");
  });

  test("ExecStartPre and ExecStart are command lines the real CLI accepts, with the installed example config", async () => {
    const argv = (key: string) => one(key).split(/\s+/);
    const pre = argv("ExecStartPre");
    const start = argv("ExecStart");
    expect(pre[0]).toBe(BINARY);
    expect(start[0]).toBe(BINARY);
    expect(start.slice(1, 2)).toEqual(["run"]);
    expect(pre.slice(1, 2)).toEqual(["check-config"]);
    const local = (args: string[]) => args.slice(1).map((a) => (a === CONFIG ? EXAMPLE : a));
    expect(UNIT).toContain(`config/feeder.example.toml ${CONFIG}`); // the install step the mapping stands for
    expect(await cli(local(pre))).toEqual({ code: 0, err: [] });
    // `--help` after the unit's flags: parseArgs (strict) rejects any flag `run` does not know, with exit 2.
    expect(await cli([...local(start), "--help"])).toEqual({ code: 0, err: [] });
    expect((await cli(["run", "--config", EXAMPLE, "--no-such-flag", "--help"])).code).toBe(2);
  });

  test("systemd-analyze verify finds nothing to report (and does report a broken copy)", () => {
    const dir = makeTempDir("feeder-unit-verify-");
    // verify checks that ExecStart's program exists: point it at a stub instead of an installed binary.
    const stub = join(dir, "feeder");
    writeFileSync(stub, "#!/bin/sh\nexit 0\n");
    chmodSync(stub, 0o755);
    const verify = (text: string) => {
      const path = join(dir, "feeder.service");
      writeFileSync(path, text.replaceAll(BINARY, stub));
      const r = Bun.spawnSync(["systemd-analyze", "verify", "--man=no", "--generators=no", path], { stderr: "pipe", stdout: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
    };
    expect(verify(UNIT)).toEqual({ code: 0, out: "" });
    const broken = verify(UNIT.replace("Restart=on-failure", "Restart=sometimes").replace("LimitNOFILE=", "LimitNOFILES="));
    expect(broken.out).toContain("Failed to parse service restart specifier");
    expect(broken.out).toContain("Unknown key 'LimitNOFILES'");
  });
});
