/**
 * The compiled executable away from the checkout: it must carry everything it runs and take nothing from where it
 * is built or started. Run from an empty directory (no node_modules, no src/): the binary names no path of the
 * build checkout (a bundled package that finds a file by its build-time __dirname would load it from there at run
 * time, or silently run without it on another host), and a `.env` or `bunfig.toml` in the working directory changes
 * nothing (Bun's standalone executables load both by default: environment variables, and preload code run in feeder),
 * and the demo (simulator, feeder, status page, live view) runs there.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sharedBinary } from "./binary-build.ts";
import { tempDir, uniqueDestination, waitFor } from "./harness.ts";

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

  test("demo from an empty directory: simulator, feeder, status page and live view all inside the binary", async () => {
    const dir = tempDir("feeder-away-demo-");
    const { port } = uniqueDestination(41);
    const proc = Bun.spawn([binary, "demo", "--port", String(port), "--duration", "120"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    let out = "";
    void (async () => {
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) out += new TextDecoder().decode(chunk);
    })();
    try {
      await waitFor(() => /status (http:\/\/127\.0\.0\.1:\d+)/.test(out), "the demo's title naming its status page", 30_000);
      const base = /status (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      const page = await (await fetch(`${base}/`)).text();
      expect(page).toContain("<script");
      let ready: { ready?: boolean; books?: number } = {};
      for (const deadline = Date.now() + 30_000; ready.ready !== true; await Bun.sleep(50)) {
        if (Date.now() > deadline) throw new Error(`demo books not all live: ${JSON.stringify(ready)}`);
        ready = (await (await fetch(`${base}/readyz`)).json()) as typeof ready;
      }
      expect(ready.books).toBe(6);
      // A usable row in the live view: simulator → feeder → multicast → listen, all in the binary.
      await waitFor(() => /linear BTCUSDT\s+yes\s+live/.test(out), "a usable row in the view", 30_000);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
