/**
 * The compiled executable away from the checkout: it must carry everything it runs and take nothing from where it
 * is built or started. Run from an empty directory (no node_modules, no src/): the binary names no path of the
 * build checkout (a bundled package that finds a file by its build-time __dirname would load it from there at run
 * time, or silently run without it on another host), and a `.env` or `bunfig.toml` in the working directory changes
 * nothing (Bun's standalone executables load both by default: environment variables, and preload code run in feeder).
 */
import { beforeAll, describe, expect, test } from "vitest";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sharedBinary } from "./binary-build.ts";
import { tempDir } from "./harness.ts";

const ROOT = resolve(import.meta.dirname, "../..");

let binary: string;

beforeAll(() => {
  binary = sharedBinary();
}, 120_000);

describe("compiled feeder binary, away from the checkout", { timeout: 60_000 }, () => {
  test("names no path of the build checkout", async () => {
    // msgpackr's native string extractor was bundled with __dirname = <checkout>/node_modules/msgpackr-extract: every
    // command of the binary read the build tree's node_modules at start (and a missing one meant another decoder).
    const bytes = Buffer.from(await Bun.file(binary).arrayBuffer());
    const at = bytes.indexOf(ROOT);
    expect(at === -1 ? "" : bytes.subarray(at, at + 120).toString("latin1")).toBe("");
  });

  test("a .env and a bunfig.toml in its working directory are not loaded", () => {
    const dir = tempDir("feeder-away-");
    writeFileSync(join(dir, ".env"), "FEEDER_LOG_LEVEL=bogus\n");
    writeFileSync(join(dir, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(join(dir, "preloaded"))}, "ran");\n`);
    writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
    const env = { ...process.env };
    delete env.FEEDER_LOG_LEVEL;
    const r = Bun.spawnSync([binary, "check-config", "--config", join(ROOT, "config/feeder.example.toml")], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, preloadRan: existsSync(join(dir, "preloaded")), err: r.stderr.toString() }).toEqual({ code: 0, preloadRan: false, err: "" });
    expect(r.stdout.toString()).toContain("is valid");
  });
});
