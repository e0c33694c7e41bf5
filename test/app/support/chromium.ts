/**
 * Finding headless Chromium from the OS packages (`apt-get install chromium`; .ci/run installs it when missing) for
 * the tests that drive it (support/cdp.ts).
 */
import { describe, test } from "vitest";

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
