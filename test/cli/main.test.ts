import { describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { makeTempDir } from "../support/temp-dirs.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { COMMANDS } from "../../src/cli/commands/index.ts";
import pkg from "../../package.json" with { type: "json" };

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("cli", () => {
  test("--help lists every command; --version prints the package version", async () => {
    const help = await run("--help");
    expect(help.code).toBe(0);
    for (const name of ["run", "listen", "sim", "demo", "record", "replay"]) expect(help.out).toMatch(new RegExp(`^  ${name} `, "m"));
    expect(await run("--version")).toMatchObject({ code: 0, out: pkg.version });
    expect((await run()).out).toContain("Usage: feeder <command>");
  });

  test("--version and -V after any command print the version and exit 0 (they were an unknown option, exit 2)", async () => {
    for (const c of COMMANDS) {
      expect(await run(c.name, "--version")).toMatchObject({ code: 0, out: pkg.version, err: "" });
      expect(await run(c.name, "-V")).toMatchObject({ code: 0, out: pkg.version, err: "" });
    }
  });

  test("each command has its own --help", async () => {
    for (const c of COMMANDS) {
      const r = await run(c.name, "--help");
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: feeder ${c.name}`);
      expect(r.out).toContain(c.summary);
    }
  });

  test("unknown commands and flags exit 2 with a clear message", async () => {
    const cmd = await run("frobnicate");
    expect(cmd.code).toBe(2);
    expect(cmd.err).toContain('unknown command "frobnicate"');
    const flag = await run("check-config", "--frob");
    expect(flag.code).toBe(2);
    expect(flag.err).toContain("--frob");
  });

  test("a broken config exits 2 naming each bad key", async () => {
    const dir = makeTempDir("feeder-cli-");
    const path = join(dir, "bad.toml");
    writeFileSync(path, '[venues.bybit.linear]\ndepth = 500\nsymbols = ["BTCUSDT"]\n[log]\nlevel = 3\n');
    const r = await run("check-config", "--config", path);
    expect(r.code).toBe(2);
    expect(r.err).toContain("venues.bybit.linear.depth: 500 is not one of 1, 50, 200, 1000");
    expect(r.err).toContain("log.level: 3 is not one of debug, info, warn, error");
  });
});
