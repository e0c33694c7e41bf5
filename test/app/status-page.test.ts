/**
 * The status page in a real headless browser (Chromium from the OS packages): a running feeder with a bearer
 * token, the page opened with `?token=`, its DOM checked for every book's row, the depth view and the latency
 * histograms, and its screenshot decoded and checked (not blank; one green "live" badge per book row).
 * Without Chromium the test fails under CI=true (.ci/run installs it) and is skipped elsewhere, saying why.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { levelsOf, summarize } from "../../src/app/book-json.ts";
import { startHttpServer, type StatusSource } from "../../src/app/http-server.ts";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState } from "../../src/core/types.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { launchBrowser, type CdpBrowser } from "./support/cdp.ts";
import { findChromium } from "./support/chromium.ts";
import { decodePng, type Image } from "./support/png.ts";

const CHROMIUM = findChromium();
const IN_CI = process.env.CI === "true";
const TOKEN = "page-test-token";
const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"] },
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
];
const KEYS = ["bybit/linear/BTCUSDT", "bybit/linear/ETHUSDT", "bybit/linear/SOLUSDT", "bybit/spot/BTCUSDT"];
/** The "live" badge's background (page.ts .state-live). */
const LIVE_BADGE: [number, number, number] = [0x2d, 0xa4, 0x4e];

describe.skipIf(CHROMIUM !== undefined || !IN_CI)("status page without a browser", () => {
  test("CI must have Chromium (.ci/run installs the OS package)", () => {
    throw new Error("no Chromium found (chromium, chromium-browser, google-chrome, or CHROMIUM_BIN); .ci/run installs it with apt-get install chromium");
  });
});

if (CHROMIUM === undefined && !IN_CI) {
  console.warn("status-page.test.ts: skipped, no Chromium found (apt-get install chromium, or set CHROMIUM_BIN)");
}

/** One browser for the file (a launch costs seconds); each page in a browser context of its own. */
let browser: CdpBrowser | undefined;
beforeAll(async () => {
  if (CHROMIUM !== undefined) browser = await launchBrowser(CHROMIUM);
}, 90_000);
afterAll(async () => {
  await browser?.close();
});

/** The page's DOM after `budgetMs` of its own (virtual) time: its polls ran, as with --dump-dom. */
async function dumpDom(url: string, budgetMs = 4000): Promise<string> {
  const page = await browser!.open(url, { virtualTimeBudgetMs: budgetMs });
  try {
    return await page.evaluate<string>("document.documentElement.outerHTML");
  } finally {
    await page.close();
  }
}

/** A 1400 × 1000 PNG of the page after 4 s of its own (virtual) time. */
async function screenshot(url: string): Promise<Uint8Array> {
  const page = await browser!.open(url, { virtualTimeBudgetMs: 4000 });
  try {
    return await page.screenshot();
  } finally {
    await page.close();
  }
}

describe.skipIf(CHROMIUM === undefined)("status page in headless Chromium", { timeout: 90_000 }, () => {
  let sim: BybitSim;
  let runtime: Runtime;
  let base: string;

  beforeAll(async () => {
    sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 31, messagesPerSecond: 0 });
    const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(31), http: true });
    raw.http = { enabled: true, listen: "127.0.0.1:0", bearer_token: TOKEN };
    runtime = await startRuntime(validateConfig(raw), silentLogger);
    base = runtime.http!.url;
    await waitFor(() => runtime.feeder!.books().every((b) => b.state === 1), "live books");
    for (let i = 0; i < 30; i++) sim.step(1); // some traffic for the latency histograms
    sim.inject("gap", { market: "linear", symbol: "ETHUSDT" });
    await waitFor(() => runtime.feeder!.stats().venues.bybit!.gaps! > 0, "gap seen", 10_000, () => sim.step(1));
    await waitFor(() => runtime.feeder!.books().every((b) => b.state === 1), "live again", 10_000, () => sim.step(1));
  }, 30_000);

  afterAll(async () => {
    await runtime?.stop();
    await sim?.stop();
  });

  test("with the token: every book's row, the chosen book's depth, the latency histograms", async () => {
    const html = await dumpDom(`${base}/?token=${TOKEN}&book=bybit/linear/ETHUSDT`);
    expect(html).toMatch(/<span id="ready" class="ready yes">READY<\/span>/);
    const rows = [...html.matchAll(/<tr class="book[^"]*" data-book="([^"]+)" data-state="([^"]+)">(.*?)<\/tr>/g)];
    expect(rows.map((r) => r[1]).sort()).toEqual(KEYS);
    for (const [, key, state, cells] of rows) {
      expect(state, key).toBe("live");
      const text = [...cells!.matchAll(/<td[^>]*>(?:<span[^>]*>)?([^<]*)/g)].map((m) => m[1]);
      const [venue, market, symbol] = key!.split("/");
      expect(text.slice(0, 6), key).toEqual([venue, market, symbol, "live", "snapshot_applied", "yes"]);
      const book = runtime.feeder!.bookSummaries().find((b) => `${b.venue}/${b.market}/${b.symbol}` === key)!;
      expect(text[6], key).toBe(`${book.bestBid![0]} × ${book.bestBid![1]}`); // the page shows the book as it stands
      expect(text[7], key).toBe(`${book.bestAsk![0]} × ${book.bestAsk![1]}`);
      expect(text[10], key).toBe(String(book.gaps));
    }
    expect(rows.find((r) => r[1] === "bybit/linear/ETHUSDT")![0]).toContain('class="book selected"');
    // Depth: the chosen book's top 20 levels per side, asks above bids.
    const eth = runtime.feeder!.bookDetail("bybit", "linear", "ETHUSDT", 20)!;
    const prices = [...html.matchAll(/<td class="price (bid|ask)">([^<]+)<\/td>/g)].map((m) => [m[1], m[2]]);
    expect(prices).toEqual([...eth.asks.map((l) => ["ask", l[0]]).reverse(), ...eth.bids.map((l) => ["bid", l[0]])]);
    expect(html).toContain("bybit/linear/ETHUSDT  live");
    // Latency: both histograms with samples and bars.
    expect(html).toContain("receipt → send");
    expect(html).toContain("exchange → receipt (bybit)");
    expect([...html.matchAll(/class="stats">n = (\d+)/g)].map((m) => Number(m[1])).every((n) => n > 0)).toBe(true);
    expect((html.match(/class="bar"/g) ?? []).length).toBeGreaterThan(1);
    // No error shown, and the token form stays hidden.
    expect(html).toMatch(/<span id="error"><\/span>/);
    expect(html).toMatch(/<form id="auth" hidden="">/);
  });

  test("without the token the page shows no data and asks for it", async () => {
    const html = await dumpDom(`${base}/`, 2000);
    expect(html).not.toContain("data-book=");
    expect(html).toMatch(/<form id="auth">/);
    expect(html).toContain("this feeder needs its bearer token");
  });

  test("the screenshot is not blank and shows one live badge per book row", async () => {
    const png = decodePng(await screenshot(`${base}/?token=${TOKEN}`));
    expect([png.width, png.height]).toEqual([1400, 1000]);
    // Not blank: a good share of non-white pixels and many colours.
    let nonWhite = 0;
    const colours = new Set<number>();
    for (let i = 0; i < png.rgba.length; i += 4) {
      const [r, g, b] = [png.rgba[i]!, png.rgba[i + 1]!, png.rgba[i + 2]!];
      if (r < 245 || g < 245 || b < 245) nonWhite++;
      colours.add((r << 16) | (g << 8) | b);
    }
    expect(nonWhite / (png.width * png.height)).toBeGreaterThan(0.03);
    expect(colours.size).toBeGreaterThan(50);
    // The books' rows are drawn: bands of pixel rows holding a badge-wide run of the live badge colour, one per book.
    expect(badgeBands(png, LIVE_BADGE)).toBe(KEYS.length);
  });
});

describe.skipIf(CHROMIUM === undefined)("status page of a feeder that stops answering", { timeout: 90_000 }, () => {
  test("after a failed poll no book is shown usable and the badge is not READY", async () => {
    const book = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", "BTCUSDT"), venue: "bybit", market: "linear", symbol: "BTCUSDT", priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" });
    const u = new BookUpdate();
    u.isSnapshot = true;
    u.venueSeq = 1;
    u.pushBid(1_000_000, 1000);
    u.pushAsk(1_000_001, 2000);
    book.applySnapshot(u);
    expect(book.state).toBe(BookState.LIVE);
    // The first /status finds the book live; every later one fails (500), as when the feeder's workers are gone.
    let statusPolls = 0;
    const source: StatusSource = {
      book: (_venue, _market, _symbol, depth) => levelsOf(book, true, depth),
      metricsText: () => "",
      readiness: () => {
        if (++statusPolls > 1) throw new Error("gone");
        return { books: [summarize(book, true)], unresolved: [], connections: [], workersDown: [] };
      },
      latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
    };
    const http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
    try {
      const html = await dumpDom(`${http.url}/`, 3500);
      expect(statusPolls).toBeGreaterThan(1);
      const row = /<tr class="book[^"]*" data-book="bybit\/linear\/BTCUSDT"[^>]*>(.*?)<\/tr>/.exec(html);
      expect(row, "the book's row, as last seen").not.toBeNull();
      const cells = [...row![1]!.matchAll(/<td[^>]*>(?:<span[^>]*>)?([^<]*)/g)].map((m) => m[1]);
      expect(cells[5]).toBe("unknown");
      expect(row![0]).toContain("stale");
      expect(html).toMatch(/<span id="ready" class="ready stale">NO DATA<\/span>/);
      expect(html).toContain("/status: HTTP 500");
      expect(html).not.toMatch(/class="c5 usable"/);
    } finally {
      await http.stop();
    }
  });
});

/** Runs of consecutive pixel rows that contain at least 60 pixels of `colour` (±2 per channel). */
function badgeBands(png: Image, colour: [number, number, number]): number {
  let bands = 0;
  let inBand = false;
  for (let y = 0; y < png.height; y++) {
    let n = 0;
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      if (Math.abs(png.rgba[i]! - colour[0]) <= 2 && Math.abs(png.rgba[i + 1]! - colour[1]) <= 2 && Math.abs(png.rgba[i + 2]! - colour[2]) <= 2) n++;
    }
    const hit = n >= 60;
    if (hit && !inBand) bands++;
    inBand = hit;
  }
  return bands;
}
