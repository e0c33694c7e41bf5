/**
 * `feeder replay` as a user meets it: every argument checked before anything is published, compressed and
 * plain captures alike, progress with frames, rate and ETA on a terminal (a real pty through `script`), and
 * none when stderr is not a terminal.
 */
import { describe, expect, test } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";

const ROOT = resolve(import.meta.dirname, "../..");

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

describe("feeder replay arguments", { timeout: 30_000 }, () => {
  const dir = makeTempDir("feeder-replay-args-");
  const config = writeXrpConfig(dir, uniqueDestination(31));
  const { file: plain, frames } = writeXrpCapture(dir);
  const zdir = join(dir, "z");
  mkdirSync(zdir);
  const { file: zstd } = writeXrpCapture(zdir, { compression: "zstd" });

  test("a missing capture file is a usage error naming it, before the config is even read", async () => {
    const missing = join(dir, "no-such.fcap");
    const r = await run(["replay", "--config", join(dir, "no-such-config.toml"), plain, missing]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`feeder replay: capture file ${missing}: no such file (see feeder replay --help)`]);
    expect(r.out).toEqual([]);
    // With a valid config too: refused before the feeder starts (it used to publish, then die with a stack trace).
    const v = await run(["replay", "--config", config, missing]);
    expect(v).toEqual({ code: 2, out: [], err: [`feeder replay: capture file ${missing}: no such file (see feeder replay --help)`] });
  });

  test("a file that is not a capture, and a directory, are named together", async () => {
    const text = join(dir, "notes.txt");
    writeFileSync(text, "just some text\n");
    const r = await run(["replay", "--config", config, text, plain, dir]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain("capture files unusable:");
    expect(r.err[0]).toContain(`${text}: not a feeder capture file`);
    expect(r.err[0]).toContain(`${dir}: not a file`);
    expect(r.err[0]).not.toContain(plain);
  });

  test("--speed without --pace recorded is refused; a bad speed or pace names the flag", async () => {
    expect((await run(["replay", "--config", config, "--speed", "4", plain])).err).toEqual([
      "feeder replay: --speed needs --pace recorded (a fast replay has no pace to scale) (see feeder replay --help)",
    ]);
    expect((await run(["replay", "--config", config, "--pace", "recorded", "--speed", "0", plain])).err[0]).toContain('--speed must be a positive number, got "0"');
    expect((await run(["replay", "--config", config, "--pace", "slow", plain])).err[0]).toContain('--pace must be fast or recorded, got "slow"');
  });

  test("a destination interface this host does not have is a failed start, exit 1 as for run (not 2), nothing published", async () => {
    const away = join(dir, "away.toml");
    writeFileSync(away, readFileSync(config, "utf8").replace('interface = "127.0.0.1"', 'interface = "192.0.2.1"'));
    const r = await run(["replay", "--config", away, plain]);
    expect(r).toEqual({ code: 1, out: [], err: [] });
  });

  test("http.listen at an address this host lacks is no refusal: replay serves no HTTP (run and record refuse it)", async () => {
    const http = join(dir, "http-away.toml");
    const text = readFileSync(config, "utf8").replace("http = { enabled = false }", 'http = { listen = "192.0.2.1:9464", allow_non_loopback = true, bearer_token = "abc" }').replace("[publish]\n", "[publish]\nstartup_listen_ms = 0\n");
    writeFileSync(http, text);
    expect(text).toContain("192.0.2.1:9464");
    expect(text).toContain("startup_listen_ms = 0"); // no start-up window: the replay is over at once
    const r = await run(["replay", "--config", http, plain]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.at(-1)!)).toMatchObject({ frames: frames.length });
  });

  test("a zstd capture replays like the uncompressed one: same frames, same datagrams", async () => {
    expect([...readFileSync(zstd).subarray(0, 9)]).toEqual([...Buffer.from("FDRCAP02"), 2]); // really compressed
    const a = await run(["replay", "--config", config, plain]);
    const b = await run(["replay", "--config", config, zstd]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const sa = JSON.parse(a.out.at(-1)!);
    const sb = JSON.parse(b.out.at(-1)!);
    expect(sa).toMatchObject({ frames: frames.length, ingested: frames.length, skipped: 0, truncated: [], stoppedEarly: false });
    expect(sb.frames).toBe(sa.frames);
    expect(sb.datagrams).toBe(sa.datagrams);
    expect(sa.datagrams).toBeGreaterThan(frames.length - 3);
  });

  test("on a terminal, progress shows frames, rate, share and ETA, then a summary line", async () => {
    // 52 frames 40 ms apart at the recorded pace: ~2 s, several progress redraws (every 250 ms).
    const slowDir = join(dir, "slow");
    mkdirSync(slowDir);
    const { file } = writeXrpCapture(slowDir, { spacingUs: 40_000 });
    const cmd = [process.execPath, "src/cli/main.ts", "replay", "--config", config, "--pace", "recorded", file].map((a) => `'${a}'`).join(" ");
    const proc = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { cwd: ROOT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const text = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    const redraws = text.split("\r\x1b[K").filter((s) => s.startsWith("replay: ") && s.includes("ETA"));
    expect(redraws.length).toBeGreaterThanOrEqual(2);
    expect(redraws[0]).toMatch(/^replay: [\d,]+ frames {2}[\d,]+\/s {2}\d+\.\d% {2}ETA \d+:\d\d/);
    expect(text).toMatch(/replay: 52 frames in \d+:\d\d \([\d,]+\/s\), \d+ datagrams\r?\n/);
    expect(text).toContain('"frames":52');
  });

  test("when stderr is not a terminal, nothing but the JSON summary is written", async () => {
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "replay", "--config", config, plain], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
    expect(await proc.exited).toBe(0);
    expect(err).not.toContain("ETA");
    expect(JSON.parse(out.trim())).toMatchObject({ frames: frames.length });
  });
});
