/**
 * The status page's script, as text (it is served inline: no build step, no external asset). It reads the token
 * once from `?token=` (a "+" in it kept as a plus) into sessionStorage, removes it from the address bar, and sends it as a bearer header on
 * every poll of /status and of the chosen book. Data is only ever written with textContent, never as HTML.
 * Data the page can no longer confirm is not shown as current: when a poll fails, or none has succeeded for
 * STALE_MS (a feeder that stopped answering: a request that hangs is aborted then), the badge says NO DATA and no
 * book is shown usable, so a dead or stuck feeder never leaves READY and "yes" on the screen.
 * One poll at a time: a click or the token form while a poll is in flight asks for one more right after it (before,
 * each started its own, and an older answer could be drawn over a newer one). After a failure the next poll waits
 * twice as long each time (2 s, 4 s, … up to BACKOFF_MAX_MS): a feeder that refuses (503 at http.max_in_flight)
 * or is down is not asked every second by every open tab. A failure names its request and what failed (not JSON, not a
 * feeder's status, not reached), and the line beside it counts the failures in a row and says when the page asks next.
 * Kept free of backticks and dollar-brace so it can live in this template literal unchanged.
 * @module
 */
export const STATUS_PAGE_SCRIPT = String.raw`
"use strict";
(() => {
  const TOKEN_KEY = "feeder.token";
  const POLL_MS = 1000;
  const DEPTH = 20;
  /** Book rows drawn at most (every poll redraws them): the rest are counted in a last row. */
  const MAX_ROWS = 500;
  /** Without a successful poll for this long, what is shown is marked stale (and a hung request aborted). */
  const STALE_MS = 3 * POLL_MS;
  /** The longest wait between polls after failures (doubling from 2 s). */
  const BACKOFF_MAX_MS = 30 * POLL_MS;
  // A "+" in the address is a plus, not a space as in a submitted form: base64 tokens have them (the page took
  // ?token=ab+cd as "ab cd", was refused, and asked for the token).
  const params = new URLSearchParams(location.search.replace(/\+/g, "%2B"));
  if (params.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, params.get("token") || "");
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  let selected = params.get("book") || "";
  const lastSeq = new Map();
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  class AuthError extends Error {}

  /** "name": what an error calls the request (its path without the query unless given). */
  async function api(path, name = path) {
    const token = sessionStorage.getItem(TOKEN_KEY) || "";
    const headers = token ? { authorization: "Bearer " + token } : {};
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), STALE_MS);
    try {
      let r;
      try {
        r = await fetch(path, { headers, cache: "no-store", signal: abort.signal });
      } catch (err) {
        // The network's own words ("Failed to fetch") named no request: until 2026-12-07 they were all the page said.
        if (!abort.signal.aborted) throw new Error(name + ": the feeder cannot be reached (" + String(err.message || err) + ")");
        throw err;
      }
      return await answer(name, r);
    } catch (err) {
      if (abort.signal.aborted) throw new Error(name + ": no answer within " + STALE_MS / 1000 + " s");
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async function answer(path, r) {
    if (r.status === 401) throw new AuthError("this feeder needs its bearer token");
    if (!r.ok) {
      // With the answer's own why (a symbol not resolved, a book that cannot be read: its error, state and reason):
      // until s-httpops only the status, so a book's "HTTP 500" said nothing of what failed.
      let why = "";
      try {
        const body = await r.json();
        if (body && typeof body.error === "string") why = ": " + body.error.slice(0, 300);
      } catch (_) {
        // not JSON: the status alone
      }
      throw new Error(path + ": HTTP " + r.status + why);
    }
    // A proxy's error page answered 200 read as "Unexpected token '<' …", naming no request (until 2026-12-07).
    const text = await r.text();
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error(path + ": the answer is not JSON (" + String(err.message || err).slice(0, 100) + ")");
    }
  }

  /** Another program's JSON on this port ({}, null) read as "Invalid time value" or a TypeError (until 2026-12-07). */
  function checkStatus(s) {
    const ok = s !== null && typeof s === "object" && typeof s.nowMs === "number" && Array.isArray(s.books) && Array.isArray(s.reasons) &&
      s.latency !== null && typeof s.latency === "object";
    if (!ok) throw new Error("/status: the answer is not a feeder's status (no nowMs, books, reasons or latency in it)");
  }

  function fmtUs(us) {
    if (!isFinite(us)) return "> 10 s";
    if (us < 1000) return Math.round(us) + " µs";
    if (us < 1e6) return +(us / 1000).toPrecision(3) + " ms";
    return +(us / 1e6).toPrecision(3) + " s";
  }

  function fmtRate(r) {
    if (r === undefined) return "…";
    return r < 10 ? r.toFixed(1) : String(Math.round(r));
  }

  function quantileUs(h, q) {
    if (!h || h.count === 0) return NaN;
    const target = Math.max(1, Math.ceil(q * h.count));
    let seen = 0;
    for (let i = 0; i < h.counts.length; i++) {
      seen += h.counts[i];
      if (seen >= target) return i < h.boundsUs.length ? h.boundsUs[i] : Infinity;
    }
    return Infinity;
  }

  function level(l) {
    return l ? l[0] + " × " + l[1] : "—";
  }

  function renderReadiness(s) {
    const badge = $("ready");
    badge.textContent = s.ready ? "READY" : "NOT READY";
    badge.className = "ready " + (s.ready ? "yes" : "no");
    const list = $("reasons");
    list.classList.remove("stale");
    list.replaceChildren();
    for (const r of s.reasons.slice(0, 50)) {
      const li = el("li", "reason", r.detail);
      li.dataset.check = r.check;
      list.append(li);
    }
    const total = s.totals ? s.totals.reasons : s.reasons.length;
    if (total > 50) list.append(el("li", "reason", "… and " + (total - 50) + " more"));
  }

  // feeder record's capture (absent otherwise: nothing drawn) and the warnings that do not stop readiness (a capture
  // that cannot write): said above the books, where they are seen. lastError and file come from the server: textContent.
  function renderCapture(s) {
    const warnings = $("warnings");
    warnings.classList.remove("stale");
    warnings.replaceChildren(...(s.warnings || []).slice(0, 50).map((w) => {
      const li = el("li", "warning", w.detail);
      li.dataset.check = w.check;
      return li;
    }));
    const box = $("capture");
    const c = s.capture;
    box.hidden = !c;
    box.classList.remove("stale");
    if (!c) return;
    const failing = c.state === "failing";
    const since = typeof c.failingSinceMs === "number" ? " since " + new Date(c.failingSinceMs).toISOString().slice(0, 19).replace("T", " ") + " UTC" : "";
    const lasting = typeof c.failingForMs === "number" ? " (" + fmtUs(c.failingForMs * 1000) + ")" : "";
    $("capture-state").textContent = failing ? "FAILING" + since + lasting : "ok";
    $("capture-state").className = "capture-state " + (failing ? "failing" : "ok");
    $("capture-error").textContent = c.lastError ? "last error: " + c.lastError : "";
    $("capture-detail").textContent = "file " + (c.file || "(none open)") + "   records " + c.records + "   lost " + c.lostRecords +
      "   write errors " + c.writeErrors + "   written " + c.writtenBytes + " bytes";
  }

  function renderBooks(s) {
    const body = $("books");
    const keyed = s.books.map((b) => ({ b, key: keyOf(b) }));
    keyed.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    const books = keyed.map((x) => x.b);
    if (!selected && books.length > 0) selected = keyOf(books.find((b) => b.valid) || books[0]);
    const rates = new Map();
    const atMs = performance.now();
    for (const { b, key } of keyed) rates.set(key, rateOf(key, b.instrSeq, atMs));
    for (const key of lastSeq.keys()) if (!rates.has(key)) lastSeq.delete(key); // books gone (a restart, a delisting) or not asked for
    // Drawing every row each second kept a tab with 20,000 books busy for good (it stopped answering), and their
    // /status was 7.6 MB each second. The page asks for MAX_ROWS books (/status?books=): the selected one, then those
    // not usable (none hidden behind usable ones), then usable ones; drawn in that order when some are left out,
    // and the last row says how many.
    const t = s.totals || { books: books.length, usable: books.filter((b) => b.valid).length, unresolved: 0 };
    const total = t.books + t.unresolved;
    let drawn = keyed;
    if (total > keyed.length) {
      const rank = (x) => (x.key === selected ? 0 : x.b.valid ? 2 : 1);
      drawn = [0, 1, 2].flatMap((r) => keyed.filter((x) => rank(x) === r));
    }
    const rows = [];
    for (const { b, key } of drawn) {
      const rate = rates.get(key);
      const tr = el("tr", "book" + (key === selected ? " selected" : ""));
      tr.dataset.book = key;
      tr.dataset.state = b.state;
      const state = el("span", "state state-" + b.state, b.state);
      // A book that is not usable (resyncing, stale, halted, expired, awaiting its snapshot) keeps the levels it last
      // held, for inspection through /books: they are not current, so they are not drawn as its best bid and ask.
      const cells = [b.venue, b.market, b.symbol, state, b.reason, b.valid ? "yes" : "no", b.valid ? level(b.bestBid) : "—", b.valid ? level(b.bestAsk) : "—",
        b.bidLevels + " / " + b.askLevels, fmtRate(rate), b.gaps, b.invalidations,
        typeof b.recvAgeUs === "number" ? fmtUs(b.recvAgeUs) : "—"]; // null: never updated (no age)
      cells.forEach((c, i) => {
        const td = el("td", "c" + i);
        if (c instanceof Node) td.append(c); else td.textContent = String(c);
        tr.append(td);
      });
      tr.children[5].className += b.valid ? " usable" : " unusable";
      if (b.detail) tr.title = b.detail; // a configured symbol without a book: why
      rows.push(tr);
    }
    if (total > drawn.length) {
      const hiddenUnusable = total - t.usable - drawn.filter((x) => !x.b.valid).length;
      const tr = el("tr", "more");
      const td = el("td", "", "… " + (total - drawn.length) + " more books not drawn (" + hiddenUnusable + " of them not usable); /books lists every one");
      td.colSpan = 13;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    const unresolved = s.totals ? t.unresolved : books.filter((b) => b.state === "symbol_unresolved").length;
    const built = s.totals ? t.books : books.length - unresolved;
    $("count").textContent = built + " books, " + t.usable + " usable" + (unresolved > 0 ? ", " + unresolved + " symbols unresolved (no book)" : "");
  }

  // Events per second over the last RATE_WINDOW_MS of polls, from the book's instrSeq, timed by this page's monotonic
  // clock as each answer is drawn: by the server's wall clock (nowMs) a step back of it showed no rate ("…") and kept
  // every sample for the step's length, and a step forward showed every rate near 0.
  const RATE_WINDOW_MS = 5000;
  function rateOf(key, seq, nowMs) {
    let samples = lastSeq.get(key);
    if (!samples || (samples.length > 0 && seq < samples[samples.length - 1].seq)) lastSeq.set(key, (samples = []));
    samples.push({ seq, atMs: nowMs });
    while (samples.length > 2 && nowMs - samples[1].atMs >= RATE_WINDOW_MS) samples.shift();
    const first = samples[0];
    return nowMs > first.atMs ? ((seq - first.seq) * 1000) / (nowMs - first.atMs) : undefined;
  }

  function keyOf(b) {
    return b.venue + "/" + b.market + "/" + b.symbol;
  }

  function histogram(title, h) {
    const box = el("div", "hist");
    box.append(el("h3", "", title));
    if (!h || h.count === 0) {
      box.append(el("p", "muted", "no samples yet"));
      return box;
    }
    box.append(el("p", "stats", "n = " + h.count + "   mean " + fmtUs(h.sumUs / h.count) + "   p50 ≤ " + fmtUs(quantileUs(h, 0.5)) +
      "   p90 ≤ " + fmtUs(quantileUs(h, 0.9)) + "   p99 ≤ " + fmtUs(quantileUs(h, 0.99))));
    let first = h.counts.findIndex((c) => c > 0);
    let last = h.counts.length - 1;
    while (last > first && h.counts[last] === 0) last--;
    const max = Math.max(...h.counts);
    const bars = el("div", "bars");
    for (let i = first; i <= last; i++) {
      const row = el("div", "bar-row");
      row.append(el("span", "bar-label", i < h.boundsUs.length ? "≤ " + fmtUs(h.boundsUs[i]) : "> " + fmtUs(h.boundsUs[h.boundsUs.length - 1])));
      const track = el("span", "bar-track");
      const bar = el("span", "bar");
      bar.style.width = ((100 * h.counts[i]) / max).toFixed(1) + "%";
      track.append(bar);
      row.append(track, el("span", "bar-count", h.counts[i]));
      bars.append(row);
    }
    box.append(bars);
    return box;
  }

  function renderLatency(s) {
    const parts = [histogram("receipt → send (frame read to datagram sent)", s.latency.receiptToSend)];
    for (const [venue, h] of Object.entries(s.latency.exchangeToReceipt)) parts.push(histogram("exchange → receipt (" + venue + ")", h));
    $("latency").replaceChildren(...parts);
    $("latency").classList.remove("stale");
    $("latency-asof").textContent = "";
  }

  function renderDepth(book) {
    const notCurrent = book && !book.valid ? " (" + book.reason + "): not usable, its levels are not current and not shown" : "";
    $("depth-title").textContent = book ? keyOf(book) + "  " + book.state + notCurrent + "  tick " + book.tickSize + "  lot " + book.lotSize : "no book selected";
    const body = $("depth");
    if (!book || !book.valid) return body.replaceChildren();
    const max = Math.max(1e-300, ...book.bids.map((l) => +l[1]), ...book.asks.map((l) => +l[1]));
    const row = (side, l) => {
      const tr = el("tr", "level " + side);
      const bidQty = el("td", "qty bid-qty");
      const price = el("td", "price " + side, l[0]);
      const askQty = el("td", "qty ask-qty");
      const cell = side === "bid" ? bidQty : askQty;
      const bar = el("span", "depth-bar " + side);
      bar.style.width = ((100 * +l[1]) / max).toFixed(1) + "%";
      cell.append(bar, el("span", "depth-qty", l[1]));
      tr.append(bidQty, price, askQty);
      return tr;
    };
    const rows = [];
    for (let i = book.asks.length - 1; i >= 0; i--) rows.push(row("ask", book.asks[i]));
    for (const l of book.bids) rows.push(row("bid", l));
    body.replaceChildren(...rows);
  }

  $("books").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr.book");
    if (tr) select(tr.dataset.book);
  });

  function select(key) {
    selected = key;
    const p = new URLSearchParams(location.search);
    p.set("book", key);
    history.replaceState(null, "", location.pathname + "?" + p.toString());
    for (const tr of document.querySelectorAll("tr.book")) tr.classList.toggle("selected", tr.dataset.book === key);
    refresh();
  }

  $("auth").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = "";
    $("auth").hidden = true;
    refresh();
  });

  // What is on screen is only as current as the last successful poll: past STALE_MS, or on any failure, nothing
  // is shown ready or usable any more (nor the capture ok), no best bid or ask; the rows, the readiness reasons, the warnings, the capture
  // line and the latency histograms stay, greyed, for what they last said (before, only the badge and the rows were: the reasons and histograms looked current).
  let lastOkMs = performance.now();
  let lastOkAt = "";
  let stale = false;
  function markStale(why) {
    stale = true;
    const badge = $("ready");
    badge.textContent = "NO DATA";
    badge.className = "ready stale";
    for (const tr of document.querySelectorAll("tr.book")) {
      tr.classList.add("stale");
      const usable = tr.children[5];
      usable.textContent = "unknown";
      usable.className = "c5 unknown";
      // Its last best bid and ask are no more current than a resyncing book's: not drawn (until 2026-12-07 they stayed).
      tr.children[6].textContent = "—";
      tr.children[7].textContent = "—";
    }
    $("reasons").classList.add("stale");
    $("warnings").classList.add("stale");
    $("capture").classList.add("stale");
    $("capture-state").textContent = "unknown";
    $("capture-state").className = "capture-state";
    $("latency").classList.add("stale");
    $("latency-asof").textContent = lastOkAt ? "as of " + lastOkAt + " UTC, not current" : "";
    $("count").textContent = lastOkAt ? "no current data: shown as of " + lastOkAt + " UTC" : "no data";
    $("depth-title").textContent = "";
    $("depth").replaceChildren();
    $("error").textContent = why;
  }
  setInterval(() => {
    if (!stale && performance.now() - lastOkMs > STALE_MS) markStale("no answer from the feeder for " + STALE_MS / 1000 + " s");
    showRetry();
  }, POLL_MS);

  let timer = 0;
  let inFlight = false;
  /** Asked for (a click, the token form) while a poll was in flight: run as soon as it ends. */
  let queued = false;
  let failures = 0;
  /** When the poll after a failure is due (performance.now()). */
  let nextPollAtMs = 0;

  // That the page is still asking, and when next: until 2026-12-07 one error stayed through up to 30 s of backoff,
  // as on a page that had stopped polling.
  function showRetry() {
    const left = inFlight ? "now" : "in " + Math.max(0, Math.ceil((nextPollAtMs - performance.now()) / 1000)) + " s";
    $("retry").textContent = failures === 0 ? "" : (failures === 1 ? "1 failed poll" : failures + " failed polls in a row") + ": asking again " + left;
  }

  /** A poll now, or right after the one in flight: never two at once. */
  function refresh() {
    if (inFlight) {
      queued = true;
      return;
    }
    poll();
  }

  async function poll() {
    clearTimeout(timer);
    inFlight = true;
    showRetry();
    let ok = false;
    try {
      const s = await api("/status?books=" + MAX_ROWS + (selected ? "&book=" + encodeURIComponent(selected) : ""), "/status");
      checkStatus(s);
      lastOkMs = performance.now();
      lastOkAt = new Date(s.nowMs).toISOString().slice(11, 19);
      stale = false;
      $("auth").hidden = true;
      $("version").textContent = "feeder " + s.version;
      renderReadiness(s);
      renderCapture(s);
      renderBooks(s);
      renderLatency(s);
      // A failed book request (503 at http.max_in_flight, 404, no answer) is said, with the book it was for: before,
      // it read "no book selected" and the error line was cleared, as though nothing had been asked.
      let bookError = "";
      if (selected) {
        const key = selected;
        const parts = key.split("/").map(encodeURIComponent);
        try {
          renderDepth(await api("/books/" + parts.join("/") + "?depth=" + DEPTH));
        } catch (err) {
          if (err instanceof AuthError) throw err;
          bookError = String(err.message || err);
          renderDepth(undefined);
          $("depth-title").textContent = key + "  not shown: " + bookError;
        }
      }
      $("error").textContent = bookError;
      $("updated").textContent = "updated " + lastOkAt + " UTC";
      ok = true;
    } catch (err) {
      if (err instanceof AuthError) $("auth").hidden = false;
      markStale(String(err.message || err));
    }
    inFlight = false;
    failures = ok ? 0 : failures + 1;
    if (queued) {
      queued = false;
      poll();
      return;
    }
    const waitMs = ok ? POLL_MS : Math.min(BACKOFF_MAX_MS, POLL_MS * 2 ** failures);
    nextPollAtMs = performance.now() + waitMs;
    showRetry();
    timer = setTimeout(poll, waitMs);
  }
  poll();
})();
`;
