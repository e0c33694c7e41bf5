/**
 * Headless Chromium from the OS packages (`apt-get install chromium`; .ci/run installs it when missing),
 * driven with its plain command-line modes: --dump-dom and --screenshot, with virtual time so the page's
 * polls run before the capture. Only 127.0.0.1 URLs are loaded. Each run's profile directory is removed, whether
 * the browser succeeded or not.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { headlessArgs } from "./chromium-args.ts";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** The browser's path, or undefined when none is installed (CHROMIUM_BIN overrides the search). */
export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_BIN) return process.env.CHROMIUM_BIN;
  for (const name of CANDIDATES) {
    const path = Bun.which(name);
    if (path) return path;
  }
  return undefined;
}

/**
 * The browser for a test file that needs one: without it, the file fails under CI=true (.ci/run installs the OS
 * package, so a missing browser there is a broken setup, not a reason to pass) and elsewhere says why it skips.
 * Call at the top level of the test file; skip its browser tests when this is undefined.
 */
export function chromiumForTests(file: string): string | undefined {
  const bin = findChromium();
  if (bin !== undefined) return bin;
  if (process.env.CI === "true") {
    describe(`${file} without a browser`, () => {
      test("CI must have Chromium (.ci/run installs the OS package)", () => {
        throw new Error("no Chromium found (chromium, chromium-browser, google-chrome, or CHROMIUM_BIN); .ci/run installs it with apt-get install chromium");
      });
    });
  } else {
    console.warn(`${file}: browser tests skipped, no Chromium found (apt-get install chromium, or set CHROMIUM_BIN)`);
  }
  return undefined;
}

export interface CaptureOptions {
  /** Virtual milliseconds the page runs before the capture (its timers fire; network waits do not count). */
  budgetMs?: number;
  width?: number;
  height?: number;
}

async function run(bin: string, mode: string[], url: string, opts: CaptureOptions): Promise<{ stdout: Uint8Array; profile: string }> {
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`refusing to load ${url}: loopback only`);
  const profile = mkdtempSync(join(tmpdir(), "feeder-chromium-"));
  const args = [
    ...headlessArgs(profile),
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    `--window-size=${opts.width ?? 1400},${opts.height ?? 1000}`,
    `--virtual-time-budget=${opts.budgetMs ?? 4000}`,
    ...mode,
    url,
  ];
  try {
    // Inside the try: a binary that cannot be started (ENOENT) throws here, and the profile is still removed.
    const proc = Bun.spawn([bin, ...args], { stdout: "pipe", stderr: "pipe", cwd: profile });
    const killer = setTimeout(() => proc.kill(), 60_000);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(killer);
    if (code !== 0) throw new Error(`chromium exited ${code}: ${stderr.slice(-2000)}`);
    return { stdout, profile };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

/** The page's DOM after it ran (serialised HTML). */
export async function dumpDom(bin: string, url: string, opts: CaptureOptions = {}): Promise<string> {
  const { stdout, profile } = await run(bin, ["--dump-dom"], url, opts);
  rmSync(profile, { recursive: true, force: true });
  return new TextDecoder().decode(stdout);
}

/** A PNG screenshot of the page after it ran. */
export async function screenshot(bin: string, url: string, opts: CaptureOptions = {}): Promise<Uint8Array> {
  const profile = mkdtempSync(join(tmpdir(), "feeder-shot-"));
  const file = join(profile, "page.png");
  try {
    const r = await run(bin, [`--screenshot=${file}`], url, opts);
    rmSync(r.profile, { recursive: true, force: true });
    return new Uint8Array(readFileSync(file));
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
