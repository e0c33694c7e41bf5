/**
 * The status page on a server whose wall clock steps (an NTP step, a resumed VM), in headless Chromium against a real
 * HTTP server on 127.0.0.1. The page aged each book's last update by /status's nowMs (the server's Date.now) against
 * tsRecvUs (core/clock.ts, which a step does not move), and timed its update rates by nowMs too: stepped forward an
 * hour, every book's last update was shown an hour old; stepped back, no rate was shown ("…") for the hour. Now each
 * book carries its age (recvAgeUs, read on the book's own clock) and the page times rates by its own monotonic clock.
 * Date.now is stubbed in this process (the server's) and stepped; a click on the row asks for a poll at once, and
 * the poll is recognised by the page's "updated" line, which shows the server's wall clock.
 */
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { levelsOf, summarize } from "../../src/app/book-json.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { nowUs } from "../../src/core/clock.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { launchBrowser, type CdpBrowser, type CdpPage } from "./support/cdp.ts";
import { chromiumForTests } from "./support/chromium.ts";

const CHROMIUM = chromiumForTests("mono2-status-page-clock.test.ts");
const HOUR_MS = 3_600_000;

const book = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", "LIVE"), venue: "bybit", market: "linear", symbol: "LIVE", priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" });
const u = new BookUpdate();
u.isSnapshot = true;
u.venueSeq = 1;
u.tsRecvUs = nowUs();
u.pushBid(1_000_000, 1000);
u.pushAsk(1_000_001, 2000);
book.applySnapshot(u);

const summaries = () => [summarize(book, book.state === BookState.LIVE)];
const source: StatusSource = {
  book: (_venue, _market, _symbol, depth) => levelsOf(book, true, depth),
  metricsText: () => "",
  readiness: () => ({ books: summaries(), unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

/** The server's wall clock: the real one moved by `stepMs`. */
let stepMs = 0;
const realNow = Date.now.bind(Date);

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = realNow() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (realNow() > deadline) throw new Error(`timed out waiting for: ${what} (last ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** LIVE's row: [rate, age] cells, and the "updated HH:MM:SS UTC" line. */
const read = (page: CdpPage) =>
  page.evaluate<{ rate: string; age: string; updated: string }>(
    `(() => { const tr = document.querySelector('tr.book[data-book="bybit/linear/LIVE"]'); return { rate: tr?.children[9]?.textContent ?? "", age: tr?.children[12]?.textContent ?? "", updated: document.getElementById("updated")?.textContent ?? "" }; })()`,
  );
/** The hour the page's "updated" line shows when the server's clock is stepped by `ms`. */
const hourAt = (ms: number) => new Date(realNow() + ms).toISOString().slice(11, 13);
/** An age cell ("12 µs", "3.4 ms", "2.1 s") in seconds. */
const ageS = (cell: string) => parseFloat(cell) / (cell.endsWith(" µs") ? 1e6 : cell.endsWith(" ms") ? 1e3 : 1);

describe.skipIf(CHROMIUM === undefined)("status page on a stepped server clock", { timeout: 60_000 }, () => {
  let http: HttpServerHandle;
  /** One browser for the file (a launch costs seconds); each test's page in a browser context of its own. */
  let browser: CdpBrowser;
  beforeAll(async () => {
    browser = await launchBrowser(CHROMIUM!);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + stepMs);
    http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await http?.stop();
    vi.restoreAllMocks();
  });

  test("an hour forward: the last update is not shown an hour old; an hour back: the update rate is still shown", async () => {
    const page = await browser.open(`${http.url}/`);
    try {
      // A click on the row asks for a poll at once (the page's own come every second).
      const poll = () => page.evaluate(`document.querySelector('tr.book[data-book="bybit/linear/LIVE"]')?.click()`);
      await until(() => read(page), (r) => r.age !== "", "LIVE's row");
      await poll();
      await until(() => read(page), (r) => r.rate !== "" && r.rate !== "…", "LIVE's rate (two polls)");
      stepMs = HOUR_MS;
      await poll();
      const forward = await until(() => read(page), (r) => r.updated.startsWith(`updated ${hourAt(stepMs)}`), "a poll with the clock stepped forward");
      expect(ageS(forward.age)).toBeLessThan(60); // before: 3600 s
      stepMs = -HOUR_MS;
      await poll();
      const back = await until(() => read(page), (r) => r.updated.startsWith(`updated ${hourAt(stepMs)}`), "a poll with the clock stepped back");
      expect(back.rate).toBe("0.0"); // before: "…" (the samples ahead of the clock)
      expect(ageS(back.age)).toBeLessThan(60);
      expect(ageS(back.age)).toBeGreaterThan(0); // the real age still shown (before: clamped to 0)
    } finally {
      await page.close();
    }
  });
});
