/**
 * The status page served at `GET /`: one self-contained HTML document (inline style and script, no external
 * asset, no build step). It holds no data itself; its script polls /status and /books/{venue}/{market}/{symbol}
 * with the bearer token (client.ts). The Content-Security-Policy allows exactly this style and script (by hash)
 * and connections to this origin only.
 * @module
 */
import { createHash } from "node:crypto";
import { STATUS_PAGE_SCRIPT } from "./client.ts";

const STYLE = `
:root { color-scheme: light; --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg2: #f6f8fa; --bid: #1a7f37; --ask: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
header { display: flex; gap: 16px; align-items: center; padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--bg2); }
header h1 { font-size: 16px; margin: 0; }
.muted, #updated, #count, #retry { color: var(--muted); }
#error { color: var(--ask); }
.ready { font-weight: 700; padding: 2px 10px; border-radius: 10px; color: #fff; background: #8c959f; }
.ready.yes { background: #1a7f37; }
.ready.no { background: #cf222e; }
.ready.stale { background: #8c959f; }
tr.book.stale, #reasons.stale, #latency.stale { opacity: 0.45; }
main { padding: 8px 16px 24px; }
section { margin-top: 14px; }
h2 { font-size: 14px; margin: 0 0 6px; }
h3 { font-size: 13px; margin: 0 0 4px; }
#reasons { margin: 4px 0 0; padding-left: 20px; color: #9a6700; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--bg2); font-weight: 600; }
tr.book { cursor: pointer; }
tr.book:hover { background: #f3f6fa; }
tr.book.selected { background: #ddf4ff; }
td.c5.usable { color: var(--bid); font-weight: 600; }
td.c5.unusable { color: var(--ask); font-weight: 600; }
td.c5.unknown { color: var(--muted); font-weight: 600; }
.state { display: inline-block; min-width: 92px; text-align: center; padding: 1px 6px; border-radius: 4px; color: #fff; font-weight: 600; }
.state-live { background: #2da44e; }
.state-awaiting_snapshot { background: #6e7781; }
.state-resyncing { background: #bf8700; }
.state-stale { background: #bc4c00; }
.state-halted { background: #cf222e; }
.state-symbol_unresolved { background: #8250df; }
.cols { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
.stack { display: flex; flex-direction: column; gap: 12px; }
.hist { min-width: 360px; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.stats { margin: 0 0 6px; white-space: pre; color: var(--muted); }
.bar-row { display: flex; align-items: center; gap: 6px; height: 16px; }
.bar-label { width: 80px; text-align: right; color: var(--muted); }
.bar-track { width: 200px; height: 11px; background: var(--bg2); }
.bar { display: block; height: 11px; background: #0969da; }
.bar-count { color: var(--muted); }
#depth-table td { border: none; padding: 1px 8px; }
td.qty { width: 180px; position: relative; }
.depth-bar { position: absolute; top: 2px; bottom: 2px; opacity: 0.25; }
td.bid-qty .depth-bar { right: 0; background: var(--bid); }
td.ask-qty .depth-bar { left: 0; background: var(--ask); }
td.bid-qty { text-align: right; }
.depth-qty { position: relative; }
td.price.bid { color: var(--bid); font-weight: 600; text-align: center; }
td.price.ask { color: var(--ask); font-weight: 600; text-align: center; }
#warnings { margin: 8px 0 0; padding: 6px 10px 6px 28px; border: 1px solid #cf222e; border-radius: 6px; background: #ffebe9; color: #82071e; font-weight: 600; }
#warnings:empty { display: none; }
#warnings.stale, #capture.stale { opacity: 0.45; }
.capture-state { font-weight: 700; padding: 1px 8px; border-radius: 4px; color: #fff; background: #8c959f; }
.capture-state.ok { background: #1a7f37; }
.capture-state.failing { background: #cf222e; }
#capture p { margin: 2px 0; }
#capture-error { color: var(--ask); }
#auth { margin-top: 12px; padding: 10px; border: 1px solid #d4a72c; background: #fff8c5; border-radius: 6px; }
`;

const BODY = `
<header>
  <h1 id="version">feeder</h1>
  <span id="ready" class="ready">…</span>
  <span id="count"></span>
  <span id="updated"></span>
  <span id="error"></span>
  <span id="retry"></span>
</header>
<main>
  <form id="auth" hidden>
    <label>Bearer token <input id="token" type="password" autocomplete="off"></label>
    <button type="submit">Use</button>
    <span class="muted">kept in this tab's sessionStorage only</span>
  </form>
  <ul id="reasons"></ul>
  <ul id="warnings"></ul>
  <section id="capture" hidden>
    <h2>Capture <span id="capture-state" class="capture-state"></span></h2>
    <p id="capture-error"></p>
    <p id="capture-detail" class="muted"></p>
  </section>
  <section>
    <h2>Books</h2>
    <table id="books-table">
      <thead><tr><th>venue</th><th>market</th><th>symbol</th><th>state</th><th>reason</th><th>usable</th><th>best bid</th><th>best ask</th><th>levels bid / ask</th><th>events/s</th><th>gaps</th><th>invalidations</th><th>last update</th></tr></thead>
      <tbody id="books"></tbody>
    </table>
  </section>
  <section class="cols">
    <div>
      <h2>Latency <span id="latency-asof" class="muted"></span></h2>
      <div id="latency" class="stack"></div>
    </div>
    <div>
      <h2>Depth <span id="depth-title" class="muted"></span></h2>
      <p class="muted">click a book to show its top levels</p>
      <table id="depth-table"><thead><tr><th>bid qty</th><th>price</th><th>ask qty</th></tr></thead><tbody id="depth"></tbody></table>
    </div>
  </section>
</main>
`;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>feeder status</title>
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>${STATUS_PAGE_SCRIPT}</script>
</body>
</html>
`;

function cspHash(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

export const STATUS_PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy": `default-src 'none'; script-src ${cspHash(STATUS_PAGE_SCRIPT)}; style-src ${cspHash(STYLE)}; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};
