/**
 * The headless-Chromium test helper (support/cdp.ts) cleans up after a failure, and keeps tests apart:
 * - a browser that cannot be started, or exits at once, leaves no profile directory behind (before, a binary
 *   that could not be spawned left it);
 * - a DevTools command fails when the browser goes away, or at its deadline (before, it waited for ever: the
 *   test's `finally` that closes the page never ran, and the browser outlived the test);
 * - pages of one browser (one per test file) share no storage: each opens in a browser context of its own.
 * The first part needs no browser; without Chromium the second fails under CI=true and is skipped elsewhere.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { silentLogger } from "../../src/core/log.ts";
import { launchBrowser, type CdpBrowser } from "./support/cdp.ts";
import { chromiumForTests } from "./support/chromium.ts";

const CHROMIUM = chromiumForTests("chromium-helpers.test.ts");

/** Runs `f` with the temporary directory (TMPDIR) a fresh, private one; returns what was left in it. */
async function leftBehind(f: () => Promise<unknown>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "feeder-helpers-"));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    await f().catch(() => {});
    return readdirSync(dir);
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("browser helpers after a failed start", () => {
  test("a binary that cannot be started leaves no profile directory", async () => {
    const missing = "/nonexistent/chromium-for-feeder-tests";
    await expect(launchBrowser(missing)).rejects.toThrow(/ENOENT|no such file/i);
    expect(await leftBehind(() => launchBrowser(missing))).toEqual([]);
  });

  test("a browser that exits at once leaves no profile directory", async () => {
    const exitsAtOnce = Bun.which("false")!;
    await expect(launchBrowser(exitsAtOnce)).rejects.toThrow(/no DevTools URL/);
    expect(await leftBehind(() => launchBrowser(exitsAtOnce))).toEqual([]);
  });
});

const source: StatusSource = {
  book: () => undefined,
  metricsText: () => "",
  readiness: () => ({ books: [], unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

describe.skipIf(CHROMIUM === undefined)("DevTools pages: kept apart, and no command waits for ever", { timeout: 120_000 }, () => {
  let http: HttpServerHandle;
  let browser: CdpBrowser;
  beforeAll(async () => {
    browser = await launchBrowser(CHROMIUM!);
    http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await http?.stop();
  });

  test("pages of one browser share no storage: what one page stored, another of the same origin does not see", async () => {
    const first = await browser.open(`${http.url}/healthz`);
    try {
      await first.evaluate(`localStorage.setItem("left", "by the first page"); document.cookie = "left=1"`);
      expect(await first.evaluate<string>(`localStorage.getItem("left") + " " + document.cookie`)).toBe("by the first page left=1");
      // The second opens while the first is still open: a context closed with its page proves nothing on its own.
      const second = await browser.open(`${http.url}/healthz`);
      try {
        expect(await second.evaluate<string>(`String(localStorage.getItem("left")) + " " + document.cookie`)).toBe("null ");
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  test("an evaluation that never settles fails at the command's deadline", async () => {
    const page = await browser.open(`${http.url}/healthz`);
    try {
      await expect(page.evaluate("new Promise(() => {})", 2_000)).rejects.toThrow(/Runtime\.evaluate: no answer from the browser within 2000 ms/);
      expect(await page.evaluate<number>("1 + 1"), "the page still answers after").toBe(2);
    } finally {
      await page.close();
    }
  });

  // Kills the file's browser: the last test here (one browser launch for the file, not one more for this).
  test("a command waiting when the browser dies fails at once, and close() still cleans up", async () => {
    const page = await browser.open(`${http.url}/healthz`);
    try {
      const waiting = page.evaluate("new Promise(() => {})", 600_000);
      process.kill(browser.pid, "SIGKILL");
      await expect(waiting).rejects.toThrow(/the browser('s DevTools connection closed| exited)/);
      await expect(page.evaluate("1")).rejects.toThrow(/the browser/);
    } finally {
      await page.close();
      await browser.close();
    }
  });
});
