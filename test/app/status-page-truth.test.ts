/**
 * What the status page shows of books that are not usable, in headless Chromium against a real HTTP server on
 * 127.0.0.1 (over the DevTools protocol):
 * - a book resyncing, stale, halted or awaiting its snapshot keeps the levels it last held (for inspection through
 *   /books), and before, the page drew them as its best bid and ask and as its depth ladder, looking current beside
 *   usable "no"; now neither is drawn, and the depth title says why;
 * - a book that flaps (live, resyncing, live) is drawn as each poll finds it;
 * - a server restarted under the open page: NO DATA while it is gone (the rows, the readiness reasons and the
 *   latency histograms greyed, as of the last good poll; no row's best bid or ask drawn), then what the new server says;
 * - many books (20,000): the tab kept busy for good before (every row redrawn each second from a 7.6 MB /status);
 *   now it asks /status for the 500 rows it draws (the selected book and those not usable first);
 * - `feeder record`'s capture and /status's warnings: until 2026-12-07 the page showed neither (a capture failing for
 *   a full disk looked fine on it); now a Capture line (ok, or FAILING since when, the last error, file, records, lost)
 *   and the warnings above the books, the server's text drawn as text (no HTML from it), and nothing when not recording.
 * Without Chromium it fails under CI=true and is skipped elsewhere, saying why.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { levelsOf, summarize, type BookSummary } from "../../src/app/book-json.ts";
import type { CaptureHealth } from "../../src/app/capture-health.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { launchBrowser, type CdpBrowser, type CdpPage } from "./support/cdp.ts";
import { chromiumForTests } from "./support/chromium.ts";

const CHROMIUM = chromiumForTests("status-page-truth.test.ts");

let venueSeq = 1;
function snapshot(b: BookBuilder): void {
  const u = new BookUpdate();
  u.isSnapshot = true;
  u.venueSeq = venueSeq++;
  for (let i = 0; i < 5; i++) u.pushBid(1_000_000 - i, 1000 + i);
  for (let i = 0; i < 5; i++) u.pushAsk(1_000_001 + i, 2000 + i);
  b.applySnapshot(u);
}
function book(symbol: string, state: BookState, reason: StatusReason = StatusReason.NONE): BookBuilder {
  const b = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" });
  if (state === BookState.AWAITING_SNAPSHOT) return b;
  snapshot(b);
  if (state !== BookState.LIVE) b.markInvalid(state, reason);
  return b;
}

const books = [
  book("LIVE", BookState.LIVE),
  book("FLAP", BookState.LIVE),
  book("RESYNC", BookState.RESYNCING, StatusReason.CROSSED_BOOK),
  book("STALE", BookState.STALE, StatusReason.STALE_FEED),
  book("HALTED", BookState.HALTED, StatusReason.SHUTDOWN),
  book("AWAIT", BookState.AWAITING_SNAPSHOT),
];
const flap = books[1]!;
/** When set, /status and /books answer these summaries instead (many books). */
let many: BookSummary[] | undefined;
/** `feeder record`'s capture writer as /status gives it (undefined: not recording). */
let capture: CaptureHealth | undefined;
/** While set, /status fails (500): the page's data is no longer current. */
let statusFails = false;

const summaries = () => many ?? books.map((b) => summarize(b, b.state === BookState.LIVE));
const source: StatusSource = {
  book: (_venue, _market, symbol, depth) => {
    const b = books.find((x) => x.instrument.symbol === symbol);
    return b && levelsOf(b, b.state === BookState.LIVE, depth);
  },
  metricsText: () => "",
  readiness: () => {
    if (statusFails) throw new Error("gone");
    return { books: summaries(), unresolved: [], connections: [], workersDown: [], capture };
  },
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what} (last ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every row as its cells' text, by book key. */
function rows(page: CdpPage): Promise<Record<string, string[]>> {
  return page.evaluate(`Object.fromEntries([...document.querySelectorAll("tr.book")].map((tr) => [tr.dataset.book, [...tr.children].map((td) => td.textContent)]))`);
}
const depth = (page: CdpPage) => page.evaluate<{ title: string; levels: number }>(`({ title: document.getElementById("depth-title")?.textContent ?? "", levels: document.querySelectorAll("#depth tr").length })`);
/** Whether the reasons list and the latency histograms are marked stale, and the latency heading's note. */
const asOf = (page: CdpPage) =>
  page.evaluate<{ reasons: boolean; latency: boolean; note: string }>(
    `({ reasons: document.getElementById("reasons").classList.contains("stale"), latency: document.getElementById("latency").classList.contains("stale"), note: document.getElementById("latency-asof")?.textContent ?? "" })`,
  );
/**
 * The page's clock run CLOCK_SPEED times as fast (its timers' delays divided, performance.now() multiplied): it polls
 * every 500 ms, marks data stale after 1.5 s and backs off 1 s, 2 s, … instead of 1 s, 3 s and 2 s, 4 s, … Its logic
 * is unchanged (every delay and every elapsed time it measures scaled alike); most of these tests' time was spent
 * waiting for its next poll (22 s for the file, each state change one poll or a backoff away). Not for the 20,000
 * books, whose polls take long on a loaded machine: 1.5 s would grey them more often.
 */
const CLOCK_SPEED = 2;
const FAST_CLOCK = `(() => {
  const setT = window.setTimeout.bind(window);
  const setI = window.setInterval.bind(window);
  const now = performance.now.bind(performance);
  window.setTimeout = (fn, ms, ...args) => setT(fn, (Number(ms) || 0) / ${CLOCK_SPEED}, ...args);
  window.setInterval = (fn, ms, ...args) => setI(fn, (Number(ms) || 0) / ${CLOCK_SPEED}, ...args);
  performance.now = () => now() * ${CLOCK_SPEED};
})();`;
const BEST_BID = "100000.0 × 1.000";
const BEST_ASK = "100000.1 × 2.000";

describe.skipIf(CHROMIUM === undefined)("status page: what is not usable never looks current", { timeout: 120_000 }, () => {
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

  test("books resyncing, stale, halted or awaiting a snapshot: no best bid or ask, no depth; a flapping book as each poll finds it", async () => {
    const page = await browser.open(`${http.url}/?book=bybit/linear/FLAP`, { beforeLoad: FAST_CLOCK });
    try {
      const r = await until(() => rows(page), (x) => Object.keys(x).length === books.length, "every row drawn");
      expect(r["bybit/linear/LIVE"]!.slice(3, 8)).toEqual(["live", "snapshot_applied", "yes", BEST_BID, BEST_ASK]);
      expect(r["bybit/linear/RESYNC"]!.slice(3, 8)).toEqual(["resyncing", "crossed_book", "no", "—", "—"]);
      expect(r["bybit/linear/STALE"]!.slice(3, 8)).toEqual(["stale", "stale_feed", "no", "—", "—"]);
      expect(r["bybit/linear/HALTED"]!.slice(3, 8)).toEqual(["halted", "shutdown", "no", "—", "—"]);
      expect(r["bybit/linear/AWAIT"]!.slice(3, 8)).toEqual(["awaiting_snapshot", "startup", "no", "—", "—"]);

      await until(() => depth(page), (d) => d.levels === 10, "FLAP's depth while live");
      // A poll reads /status (the rows) then /books (the depth): a change between the two shows in the depth first,
      // and in the row at the next poll. Both are waited for (before, the row was read once the depth changed: it
      // failed on a loaded machine with the row one poll behind).
      const flapNow = async () => ({ depth: await depth(page), row: (await rows(page))["bybit/linear/FLAP"]!.slice(3, 8) });
      flap.markInvalid(BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
      const down = await until(flapNow, (x) => x.depth.title.includes("resyncing") && x.row[0] === "resyncing", "FLAP's depth and row once resyncing");
      expect(down.depth).toEqual({ title: "bybit/linear/FLAP  resyncing (sequence_gap): not usable, its levels are not current and not shown  tick 0.1  lot 0.001", levels: 0 });
      expect(down.row).toEqual(["resyncing", "sequence_gap", "no", "—", "—"]);
      snapshot(flap);
      const up = await until(flapNow, (x) => x.depth.title.includes("live") && x.row[0] === "live", "FLAP's depth and row live again");
      expect(up.depth).toEqual({ title: "bybit/linear/FLAP  live  tick 0.1  lot 0.001", levels: 10 });
      expect(up.row).toEqual(["live", "snapshot_applied", "yes", BEST_BID, BEST_ASK]);
    } finally {
      await page.close();
    }
  });

  test("a server restarted under the open page: NO DATA while it is gone, then what the new one says", async () => {
    const page = await browser.open(`${http.url}/?book=bybit/linear/FLAP`, { beforeLoad: FAST_CLOCK });
    const badge = () => page.evaluate<string>(`document.getElementById("ready")?.textContent ?? ""`);
    try {
      await until(() => depth(page), (d) => d.levels === 10, "FLAP's depth while live");
      const port = http.port;
      await http.stop();
      await until(badge, (b) => b === "NO DATA", "NO DATA while the server is gone");
      // Its last levels are no more current than a resyncing book's: not drawn as its best bid and ask (before, they
      // stayed on the greyed row while the feeder was gone, prices nobody could confirm beside usable "unknown").
      expect((await rows(page))["bybit/linear/FLAP"]!.slice(5, 8)).toEqual(["unknown", "—", "—"]);
      // The readiness reasons and the latency histograms are as of the last good poll too: greyed and said so
      // (before, only the badge and the rows were, and the reasons and histograms looked current).
      expect(await asOf(page)).toEqual({ reasons: true, latency: true, note: expect.stringMatching(/^as of \d\d:\d\d:\d\d UTC, not current$/) as unknown as string });
      expect((await depth(page)).levels).toBe(0);
      flap.markInvalid(BookState.RESYNCING, StatusReason.DISCONNECTED);
      http = startHttpServer({ enabled: true, host: "127.0.0.1", port, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
      // The page backs off after failures (2 s, 4 s, … of its clock): it asks again within a few seconds.
      await until(badge, (b) => b !== "NO DATA", "the page polling the new server", 60_000);
      expect(await badge()).toBe("NOT READY");
      expect((await rows(page))["bybit/linear/FLAP"]!.slice(3, 8)).toEqual(["resyncing", "disconnected", "no", "—", "—"]);
      const d = await until(() => depth(page), (x) => x.title.startsWith("bybit/linear/FLAP"), "FLAP's depth title again");
      expect(d.levels).toBe(0);
      expect(await page.evaluate<number>(`document.querySelectorAll("tr.book.stale").length`)).toBe(0);
      expect(await asOf(page)).toEqual({ reasons: false, latency: false, note: "" });
    } finally {
      snapshot(flap);
      await page.close();
    }
  });

  test("feeder record's capture: ok, then FAILING with its last error and warning, drawn as text; nothing when not recording", async () => {
    const page = await browser.open(`${http.url}/`, { beforeLoad: FAST_CLOCK });
    const shown = () =>
      page.evaluate<{ hidden: boolean; state: string; error: string; detail: string; warnings: string[]; injected: number }>(`({
        hidden: document.getElementById("capture").hidden,
        state: document.getElementById("capture-state").textContent,
        error: document.getElementById("capture-error").textContent,
        detail: document.getElementById("capture-detail").textContent,
        warnings: [...document.querySelectorAll("#warnings li")].map((li) => li.dataset.check + ": " + li.textContent),
        injected: document.querySelectorAll("#inj, #inj2, #inj3").length,
      })`);
    try {
      await until(() => rows(page), (x) => Object.keys(x).length === books.length, "every row drawn");
      expect(await shown()).toMatchObject({ hidden: true, warnings: [] });
      capture = { records: 120, lostRecords: 0, writeErrors: 0, writtenBytes: 4096, file: "/data/feeder-1.cap", failing: undefined };
      const ok = await until(shown, (x) => !x.hidden, "the capture line");
      expect(ok).toEqual({ hidden: false, state: "ok", error: "", detail: "file /data/feeder-1.cap   records 120   lost 0   write errors 0   written 4096 bytes", warnings: [], injected: 0 });
      // The server's text (an error message, a file name) holds markup: shown as it is, never parsed as HTML.
      const lastError = `ENOSPC <b id="inj">no space</b><img id="inj2" src="x">`;
      const file = `/data/<i id="inj3">f</i>.cap`;
      capture = { records: 180, lostRecords: 7, writeErrors: 2, writtenBytes: 4096, file, failing: { sinceMs: Date.UTC(2026, 11, 7, 6, 0, 0), forMs: 65_000, lastError } };
      const failing = await until(shown, (x) => x.state.startsWith("FAILING"), "the capture failing");
      expect(failing).toEqual({
        hidden: false,
        state: "FAILING since 2026-12-07 06:00:00 UTC (65 s)",
        error: `last error: ${lastError}`,
        detail: `file ${file}   records 180   lost 7   write errors 2   written 4096 bytes`,
        warnings: [`capture_failing: capture blocks cannot be written since 2026-12-07T06:00:00.000Z (65 s; ${lastError}): their records are lost (7 since start); books are published all the same`],
        injected: 0,
      });
      capture = undefined;
      expect(await until(shown, (x) => x.hidden, "no capture line once not recording")).toMatchObject({ warnings: [], injected: 0 });
      // A capture shown ok is not left ok on screen once /status fails: "unknown", greyed with the warnings.
      capture = { records: 1, lostRecords: 0, writeErrors: 0, writtenBytes: 1, file: "/data/f.cap", failing: undefined };
      await until(shown, (x) => x.state === "ok", "the capture ok again");
      statusFails = true;
      await until(shown, (x) => x.state === "unknown", "the capture unknown once /status fails");
      expect(await page.evaluate<boolean[]>(`["capture", "warnings"].map((id) => document.getElementById(id).classList.contains("stale"))`)).toEqual([true, true]);
    } finally {
      statusFails = false;
      capture = undefined;
      await page.close();
    }
  });

  test("20,000 books: the page keeps answering; the rows drawn are bounded, the unusable ones first and without levels", async () => {
    const template = summarize(books[0]!, true);
    many = Array.from({ length: 20_000 }, (_, i) => ({ ...template, symbol: `S${i}`, ...(i % 40 === 1 ? { state: "resyncing", reason: "sequence_gap", valid: false } : {}) }));
    const page = await browser.open(`${http.url}/?book=bybit/linear/S7`);
    try {
      const count = () => page.evaluate<string>(`document.getElementById("count")?.textContent ?? ""`);
      // Before, drawing 20,000 rows every second left the tab no time to answer (this evaluation timed out).
      expect(await until(count, (c) => c.startsWith("20000"), "20,000 books counted", 60_000)).toBe("20000 books, 19500 usable");
      // Read from a current drawing (on a loaded machine a poll may time out, greying every row: not what is checked here).
      const shown = await until(() => page.evaluate<{ stale: boolean; rows: number; unusable: number; unusableWithLevels: number; first: string[]; more: string }>(`(() => {
        const trs = [...document.querySelectorAll("tr.book")];
        const unusable = trs.filter((tr) => tr.children[5].textContent !== "yes");
        return {
          stale: document.getElementById("ready").textContent === "NO DATA",
          rows: trs.length,
          unusable: unusable.length,
          unusableWithLevels: unusable.filter((tr) => tr.children[6].textContent !== "—" || tr.children[7].textContent !== "—").length,
          first: trs.slice(0, 3).map((tr) => tr.dataset.book),
          more: document.querySelector("tr.more")?.textContent ?? "",
        };
      })()`), (x) => !x.stale, "a current drawing", 60_000);
      expect(shown).toEqual({
        stale: false,
        rows: 500,
        unusable: 499,
        unusableWithLevels: 0,
        first: ["bybit/linear/S7", "bybit/linear/S1", "bybit/linear/S10001"],
        more: "… 19500 more books not drawn (1 of them not usable); /books lists every one",
      });
      // The page asked for the books it draws: before, every poll's /status carried all 20,000 (7.6 MB).
      const statusBytes = await page.evaluate<number>(`performance.getEntriesByType("resource").filter((e) => e.name.includes("/status")).at(-1).decodedBodySize`);
      expect(statusBytes).toBeLessThan(2 ** 20);
      // A click on a drawn row still selects it (one listener for the table).
      await page.evaluate(`document.querySelector('tr.book[data-book="bybit/linear/S1"]').click()`);
      await until(() => page.evaluate<string>(`new URLSearchParams(location.search).get("book")`), (b) => b === "bybit/linear/S1", "S1 selected");
    } finally {
      many = undefined;
      await page.close();
    }
  });
});
