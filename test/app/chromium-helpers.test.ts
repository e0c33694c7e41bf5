/**
 * The headless-Chromium test helpers (support/chromium.ts, support/cdp.ts) clean up after a failure:
 * - a browser that cannot be started, or exits at once, leaves no profile directory behind (before, a binary
 *   that could not be spawned left it, and so did any --dump-dom or --screenshot run that exited non-zero);
 * - a DevTools command fails when the browser goes away, or at its deadline (before, it waited for ever: the
 *   test's `finally` that closes the page never ran, and the browser outlived the test).
 * The first part needs no browser; without Chromium the second fails under CI=true and is skipped elsewhere.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { silentLogger } from "../../src/core/log.ts";
import { openPage } from "./support/cdp.ts";
import { chromiumForTests, dumpDom, screenshot } from "./support/chromium.ts";

const CHROMIUM = chromiumForTests("chromium-helpers.test.ts");
const URL_ = "http://127.0.0.1:9/";

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
    await expect(openPage(missing, URL_)).rejects.toThrow(/ENOENT|no such file/i);
    expect(await leftBehind(() => openPage(missing, URL_)), "openPage").toEqual([]);
    expect(await leftBehind(() => dumpDom(missing, URL_)), "dumpDom").toEqual([]);
    expect(await leftBehind(() => screenshot(missing, URL_)), "screenshot").toEqual([]);
  });

  test("a browser that exits at once leaves no profile directory", async () => {
    const exitsAtOnce = Bun.which("false")!;
    await expect(dumpDom(exitsAtOnce, URL_)).rejects.toThrow(/chromium exited 1/);
    expect(await leftBehind(() => openPage(exitsAtOnce, URL_)), "openPage").toEqual([]);
    expect(await leftBehind(() => dumpDom(exitsAtOnce, URL_)), "dumpDom").toEqual([]);
    expect(await leftBehind(() => screenshot(exitsAtOnce, URL_)), "screenshot").toEqual([]);
  });
});

const source: StatusSource = {
  book: () => undefined,
  metricsText: () => "",
  readiness: () => ({ books: [], unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

describe.skipIf(CHROMIUM === undefined)("DevTools commands never wait for ever", { timeout: 120_000 }, () => {
  let http: HttpServerHandle;
  beforeAll(() => {
    http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
  });
  afterAll(async () => {
    await http?.stop();
  });

  test("an evaluation that never settles fails at the command's deadline", async () => {
    const page = await openPage(CHROMIUM!, `${http.url}/healthz`);
    try {
      await expect(page.evaluate("new Promise(() => {})", 2_000)).rejects.toThrow(/Runtime\.evaluate: no answer from the browser within 2000 ms/);
      expect(await page.evaluate<number>("1 + 1"), "the page still answers after").toBe(2);
    } finally {
      await page.close();
    }
  });

  test("a command waiting when the browser dies fails at once, and close() still cleans up", async () => {
    const page = await openPage(CHROMIUM!, `${http.url}/healthz`, { commandTimeoutMs: 600_000 });
    try {
      const waiting = page.evaluate("new Promise(() => {})");
      process.kill(page.pid, "SIGKILL");
      await expect(waiting).rejects.toThrow(/the browser('s DevTools connection closed| exited)/);
      await expect(page.evaluate("1")).rejects.toThrow(/the browser/);
    } finally {
      await page.close();
    }
  });
});
