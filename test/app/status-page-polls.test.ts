/**
 * How the status page asks, in headless Chromium against a real HTTP server on 127.0.0.1:
 * - one poll at a time: a click on a book while a poll is in flight waits for it (before, each click started a
 *   poll of its own beside the one in flight, and the older answer could be drawn over the newer);
 * - after failures it backs off (2 s, 4 s, … up to 30 s): before, a feeder that refused or failed was asked every
 *   second by every open tab. Counted in the page's virtual time (a DevTools virtual-time budget), not timed.
 * - a failure other than an HTTP error names the request and what failed: an answer not JSON (a proxy's page, 200;
 *   before, `Unexpected token '<', …`), JSON not a feeder's status (`{}`; before, `Invalid time value`), the feeder not
 *   reached (before, `Failed to fetch` alone); and each says the page keeps asking, with the failures in a row and
 *   when it asks next (before, one error stayed through up to 30 s of backoff, as from a page that had stopped).
 * Without Chromium it fails under CI=true and is skipped elsewhere, saying why (before, it was skipped under CI too).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { levelsOf, summarize } from "../../src/app/book-json.ts";
import { startHttpServer, Unavailable, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from "../../src/app/status-page/page.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { waitFor } from "../e2e/harness.ts";
import { launchBrowser, type CdpBrowser, type CdpPage } from "./support/cdp.ts";
import { chromiumForTests } from "./support/chromium.ts";

const CHROMIUM = chromiumForTests("status-page-polls.test.ts");

function book(symbol: string): BookBuilder {
  const b = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" });
  const u = new BookUpdate();
  u.isSnapshot = true;
  u.venueSeq = 1;
  u.pushBid(1_000_000, 1000);
  u.pushAsk(1_000_001, 2000);
  b.applySnapshot(u);
  return b;
}
const books = [book("AAA"), book("BBB")];

/** /status reads: counted; while `gate` is set, each waits for it (a poll in flight, from the page's side). */
let statusReads = 0;
let heldReads = 0;
let gate: Promise<void> | undefined;
let failing = false;
/** While set, a book's request is 503 (as at http.max_in_flight). */
let bookRefused = false;

const source: StatusSource = {
  book: (_venue, _market, symbol, depth) => {
    if (bookRefused) throw new Unavailable("refused for the test");
    const b = books.find((x) => x.instrument.symbol === symbol);
    return b && levelsOf(b, true, depth);
  },
  metricsText: () => "",
  readiness: async () => {
    statusReads++;
    if (failing) throw new Error("gone");
    if (gate) {
      heldReads++;
      await gate;
    }
    return { books: books.map((b) => summarize(b, true)), unresolved: [], connections: [], workersDown: [] };
  },
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

/** Run in the page before its script: the page's fetches in flight, and the most at once. */
const COUNT_FETCHES = `
  window.__fetches = { inFlight: 0, max: 0 };
  const realFetch = window.fetch.bind(window);
  window.fetch = (...args) => {
    const f = window.__fetches;
    f.inFlight++;
    f.max = Math.max(f.max, f.inFlight);
    return realFetch(...args).finally(() => f.inFlight--);
  };
`;

/** What the last test's own server answers to /status (200): not what a feeder answers. */
let statusBody = "";
const GOOD = JSON.stringify({
  version: "t",
  nowMs: Date.UTC(2026, 11, 7),
  ready: true,
  reasons: [],
  books: [],
  latency: { receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} },
});

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what} (last ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(CHROMIUM === undefined)("status page polls", { timeout: 120_000 }, () => {
  let http: HttpServerHandle;
  /** One browser for the file (a launch costs seconds); each test's page in a browser context of its own. */
  let browser: CdpBrowser;
  beforeAll(async () => {
    browser = await launchBrowser(CHROMIUM!);
    http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await http?.stop();
  });

  test("a click while a poll is in flight starts none beside it: the page asks once more when it ends", async () => {
    const page = await browser.open(`${http.url}/?book=bybit/linear/AAA`, { beforeLoad: COUNT_FETCHES });
    let open: () => void = () => {};
    try {
      await until(() => page.evaluate<number>(`document.querySelectorAll("tr.book").length`), (n) => n === 2, "both rows drawn");
      gate = new Promise((r) => (open = r));
      heldReads = 0;
      await waitFor(() => heldReads === 1, "the next poll's /status in flight", 30_000);
      // Two clicks while it is in flight (the page aborts a request unanswered for 3 s; this takes milliseconds).
      const maxAtClick = await page.evaluate<number>(`
        document.querySelector('tr.book[data-book="bybit/linear/BBB"]').click();
        document.querySelector('tr.book[data-book="bybit/linear/AAA"]').click();
        document.querySelector('tr.book[data-book="bybit/linear/BBB"]').click();
        window.__fetches.max`);
      const readsAtRelease = statusReads;
      gate = undefined;
      open();
      // The poll asked for by the clicks comes once the one in flight has ended, and shows the book clicked last.
      await waitFor(() => statusReads > readsAtRelease, "the poll the clicks asked for", 30_000);
      await until(() => page.evaluate<string>(`document.getElementById("depth-title").textContent`), (t) => t.startsWith("bybit/linear/BBB"), "BBB's depth drawn");
      expect(maxAtClick, "fetches in flight at once when clicked").toBe(1);
      expect(await page.evaluate<number>(`window.__fetches.max`), "fetches in flight at once").toBe(1);
    } finally {
      gate = undefined;
      open();
      await page.close();
    }
  });

  test("a book whose request fails is said to be not shown, with why: not \"no book selected\"", async () => {
    const page = await browser.open(`${http.url}/?book=bybit/linear/AAA`);
    const title = () => page.evaluate<string>(`document.getElementById("depth-title")?.textContent ?? ""`);
    const drawn = (t: string) => t.startsWith("bybit/linear/AAA  ") && !t.includes("not shown");
    try {
      await until(title, drawn, "AAA's depth drawn");
      bookRefused = true;
      // Before, the title read "no book selected" and the error line was blank while the book was refused.
      await until(title, (t) => !drawn(t), "the depth view after a refused book request");
      expect(await title()).toMatch(/^bybit\/linear\/AAA {2}not shown: \/books\/bybit\/linear\/AAA\?depth=20: HTTP 503: refused for the test$/);
      expect(await page.evaluate<string>(`document.getElementById("error").textContent`)).toContain("HTTP 503");
      expect(await page.evaluate<number>(`document.querySelectorAll("#depth tr").length`), "levels shown").toBe(0);
      bookRefused = false;
      await until(title, drawn, "AAA's depth drawn again");
      expect(await page.evaluate<string>(`document.getElementById("error").textContent`)).toBe("");
    } finally {
      bookRefused = false;
      await page.close();
    }
  });

  test("a token given as ?token= keeps its + (a base64 token's): before, it became a space, and the page asked for the token", async () => {
    const token = "ab+cd/ef+g==";
    const secured = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: token }, source, silentLogger);
    const page = await browser.open(`${secured.url}/?token=${token}&book=bybit/linear/AAA`);
    try {
      const rowsOrAuth = `document.querySelectorAll("tr.book").length + (document.getElementById("auth")?.hidden === false ? 100 : 0)`;
      expect(await until(() => page.evaluate<number>(rowsOrAuth), (n) => n > 0, "rows drawn or the token asked for"), "rows (100: token asked for)").toBe(2);
      expect(await page.evaluate<string>(`location.search`), "the token is gone from the address bar").toBe("?book=bybit%2Flinear%2FAAA");
    } finally {
      await page.close();
      await secured.stop();
    }
  });

  test("after failed polls the page waits longer each time", async () => {
    failing = true;
    statusReads = 0;
    try {
      // 20 s of the page's own time: every second before (21 polls); now at 0, 2, 6 and 14 s.
      const page = await browser.open(`${http.url}/`, { virtualTimeBudgetMs: 20_000 });
      const html = await page.evaluate<string>("document.documentElement.outerHTML").finally(() => page.close());
      expect(html).toContain('class="ready stale">NO DATA');
      expect(statusReads, "polls of /status in 20 s of failures").toBeGreaterThanOrEqual(3);
      expect(statusReads, "polls of /status in 20 s of failures").toBeLessThanOrEqual(5);
    } finally {
      failing = false;
    }
  });

  /** The header's badge, error and retry lines. */
  const header = (page: CdpPage) =>
    page.evaluate<{ badge: string; error: string; retry: string }>(
      `({ badge: document.getElementById("ready")?.textContent ?? "", error: document.getElementById("error")?.textContent ?? "", retry: document.getElementById("retry")?.textContent ?? "" })`,
    );

  test("each failure names the request and what failed, counts the failures in a row, and a good answer clears it", async () => {
    statusBody = "<html><body>502 Bad Gateway</body></html>"; // a proxy's error page, answered 200
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/") return new Response(STATUS_PAGE_HTML, { headers: STATUS_PAGE_HEADERS });
        return path === "/status" ? new Response(statusBody, { headers: { "content-type": "application/json" } }) : new Response(null, { status: 404 });
      },
    });
    const page = await browser.open(`http://127.0.0.1:${server.port}/`);
    /** The header once `error` is said with the retry line (written after a failure only), and the failures it counts. */
    const failure = async (error: RegExp) => {
      const h = await until(() => header(page), (x) => error.test(x.error) && x.retry !== "", `${error} said`);
      return { ...h, failures: Number(/^(\d+) failed polls?\b/.exec(h.retry)?.[1]) };
    };
    // The token form asks for a poll at once: the next failure without waiting out the backoff (2 s, 4 s, …).
    const askNow = () => page.evaluate(`document.getElementById("auth").requestSubmit(); 0`);
    try {
      const notJson = await failure(/^\/status: the answer is not JSON \(.+\)$/);
      expect(notJson.badge).toBe("NO DATA");
      // Read as soon as said, it counts 1; a loaded machine may read it only after the 2 s backoff's next failure.
      expect(notJson.retry).toMatch(notJson.failures === 1 ? /^1 failed poll: asking again (in [0-2] s|now)$/ : /^\d+ failed polls in a row: asking again (in \d+ s|now)$/);

      statusBody = "{}"; // another program's JSON on the port
      await askNow();
      const notStatus = await failure(/^\/status: the answer is not a feeder's status \(no nowMs, books, reasons or latency in it\)$/);
      expect(notStatus.retry).toMatch(/^\d+ failed polls in a row: asking again (in \d+ s|now)$/);
      expect(notStatus.failures).toBeGreaterThan(1);

      // The feeder not reached (the page's fetch rejects as the network's does).
      await page.evaluate(`window.realFetch = window.fetch; window.fetch = () => Promise.reject(new TypeError("Failed to fetch")); 0`);
      await askNow();
      const unreachable = await failure(/^\/status: the feeder cannot be reached \(Failed to fetch\)$/);
      expect(unreachable.badge).toBe("NO DATA");
      expect(unreachable.failures).toBeGreaterThan(notStatus.failures);

      statusBody = GOOD;
      await page.evaluate(`window.fetch = window.realFetch; 0`);
      await askNow();
      expect(await until(() => header(page), (h) => h.badge === "READY", "a good answer drawn")).toEqual({ badge: "READY", error: "", retry: "" });
    } finally {
      await page.close();
      await server.stop(true);
    }
  });
});
