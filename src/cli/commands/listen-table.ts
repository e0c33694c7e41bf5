/**
 * The table `feeder listen` draws: a title line, one row per book, a footer of counters. It fits the given width
 * (the terminal's, 80 when there is none): columns are given up in a fixed order until it fits, and the footer
 * wraps (what an empty table waits for wraps at spaces). The INVAL column and the footer's `invalidations` count
 * the same thing (SubscriberBook.invalidations), so the footer is the column's sum; channel gaps are a separate
 * count (one gap invalidates every book on it), as are the streams' numberings gone back (`seq lines back`) and the
 * datagrams sent further ahead of this host's clock than sendAheadMaxMs (`send times ahead`), and so are the
 * datagrams already had (`duplicates`), late behind a jump (`late`) and the jumps and sessions undone (`reverted`).
 * STATE carries a `*` while the book's stream is stale; REASON (shown while a book is not live) says why the
 * publisher's book left LIVE, from the wire's status reason; REP counts refreshes that repaired the book. A book
 * that is not usable shows `—` for its best bid and ask, as the status page does: its last levels may differ.
 * @module
 */
import type { SubscriberCounters } from "../../subscriber/subscriber-types.ts";
import { formatDecimal } from "../../subscriber/format.ts";
import type { SubscriberBook } from "../../subscriber/subscriber-book.ts";
import { BookState, StatusReason } from "../../core/types.ts";

export const DEFAULT_TABLE_WIDTH = 80;
const GUTTER = "  ";

/** Short state names so the column stays narrow (BOOK_STATE_NAMES order). */
export const STATE_SHORT: readonly string[] = ["await", "live", "resync", "stale", "halted"];
/**
 * Short status-reason names (STATUS_REASON_NAMES order) so the column fits 80 columns beside the prices; NDJSON
 * and the docs carry the full names. An unknown (newer) value is shown as its number.
 */
export const REASON_SHORT: readonly string[] = [
  "-",
  "startup",
  "gap",
  "reset",
  "crossed",
  "parse",
  "disconn",
  "stale",
  "shutdown",
  "rejected",
  "changed",
  "snapshot",
  "checksum",
  "closed",
  "depth",
];

/** Why the publisher's book is not live, or undefined when it is (a live book's reason is how it got there). */
function reasonOf(b: SubscriberBook): string | undefined {
  if (b.state === BookState.LIVE || b.reason === StatusReason.NONE) return undefined;
  return REASON_SHORT[b.reason] ?? String(b.reason);
}

export interface TableRow {
  readonly book: SubscriberBook;
  readonly updatesPerSec: number;
  /** Latency samples in µs (send time → receive), any order; may be empty. */
  readonly latenciesUs: Float64Array;
}

export interface TableFrame {
  /** Printed above the table, wrapped to the width: what is listened to, and (demo) where the status page is. */
  readonly title: readonly string[];
  /** Shown instead of rows while no book has arrived. */
  readonly waitingFor: string;
  readonly counters: SubscriberCounters;
  /** Columns available (the terminal's width). */
  readonly width: number;
  /** Below the footer, what each column shown means (the demo: its viewer has no help page open). */
  readonly legend?: boolean;
}

/** A column's header (BID's, ASK's without sizes share one) and what it means, for the legend. */
const LEGEND: Readonly<Record<string, string>> = {
  USABLE: "USABLE yes = safe to trade on",
  STATE: "STATE = the publisher's book (* = stream silent)",
  REASON: "REASON = why not live",
  VALID: "VALID = identical to the publisher's book",
  "BID QTY@PX": "QTY@PX, PX@QTY = best level's size and price (— = not usable)",
  BID: "BID/ASK = best price (— = not usable)",
  "UPD/S": "UPD/S = updates a second",
  INVAL: "INVAL = times invalidated",
  REP: "REP = refreshes that repaired it",
  "µs p50/p99": "µs p50/p99 = send → receive latency",
};
/** A not-usable book's best bid and ask: the status page's mark for levels that are not current. */
const NOT_CURRENT = "—";
/** Where every column and counter is explained. */
const LEGEND_MORE = "all columns and counters: feeder help listen";

/** What a layout keeps; layouts are tried widest first. */
interface Layout {
  readonly venue: boolean;
  readonly qty: boolean;
  readonly rate: boolean;
  readonly latency: boolean;
}

/** The other columns given up in this order: latency, rate, sizes. */
const DROPS: readonly Omit<Layout, "venue">[] = [
  { qty: true, rate: true, latency: true },
  { qty: true, rate: true, latency: false },
  { qty: true, rate: false, latency: false },
  { qty: false, rate: false, latency: false },
];
/** Books of one venue: the venue goes first (the title names it). */
const ONE_VENUE: readonly Layout[] = [{ venue: true, ...DROPS[0]! }, ...DROPS.map((d) => ({ venue: false, ...d }))];
/**
 * Books of several venues: each row keeps its venue, the other columns go as above. Until 2026-12-07 only the widest
 * layout had the venue, so at 80 columns (output not a terminal) every name was cut to "bybi…" before any column went.
 */
const SEVERAL_VENUES: readonly Layout[] = DROPS.map((d) => ({ venue: true, ...d }));

interface Column {
  readonly header: string;
  readonly right: boolean;
  readonly cells: string[];
}

/**
 * A name from the wire as the terminal shows it: the symbol is whatever a datagram says, and an ESC sequence or line
 * break in it went to the operator's terminal as it was (a retitled window, a cleared screen, rows broken). Printable
 * ASCII and letters, marks and digits beyond it (Binance's 币安人生USDT) are shown as they are; anything else (controls,
 * format characters such as a bidi override or a zero-width joiner, other spaces, symbols, letters and marks drawn as
 * nothing) as \xNN or \u{N}.
 */
export function printable(s: string): string {
  return SHOWN.test(s) ? s : s.replace(NOT_SHOWN, (c) => {
    const n = c.codePointAt(0)!;
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u{${n.toString(16)}}`;
  });
}
// A letter or mark drawn as nothing (\p{Default_Ignorable_Code_Point}: the Hangul filler U+3164, a variation selector,
// the combining grapheme joiner) is escaped too: shown as it was until 2026-12-06, "BTCUSDT\u3164" read as BTCUSDT.
const SHOWN = /^(?:[\x20-\x7e]|(?!\p{Default_Ignorable_Code_Point})[\p{L}\p{M}\p{N}])*$/u;
const NOT_SHOWN = /(?![\x20-\x7e])(?:\p{Default_Ignorable_Code_Point}|[^\p{L}\p{M}\p{N}])/gu;

/**
 * Terminal columns of `s`: a Chinese letter takes two (East Asian Wide), a combining mark none. Until 2026-12-06 a
 * symbol beyond ASCII was shown as \u{5e01}\u{5b89}… and cells were measured in UTF-16 units; shown as it is and
 * measured so, a 币安人生USDT row would be 4 columns wider than its cell, every column after it out of line.
 */
export function columnsOf(s: string): number {
  return Bun.stringWidth(s);
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function rate(perSec: number): string {
  return perSec >= 10 ? String(Math.round(perSec)) : perSec.toFixed(1);
}

/**
 * A book whose InstrumentDefinition has not come (up to the publisher's snapshot_interval_ms after joining) has only
 * its id: said so, where the placeholder's names read "unknown unknown #<id>" as if the feed were broken.
 */
function instrumentCell(book: SubscriberBook, venue: boolean): string {
  const i = book.instrument;
  if (book.definition === undefined) return `${i.symbol} (definition pending)`;
  return printable(`${venue ? i.venue + " " : ""}${i.market} ${i.symbol}`);
}

function columns(rows: readonly TableRow[], l: Layout): Column[] {
  const cols: Column[] = [];
  const add = (header: string, right: boolean, cell: (r: TableRow) => string) => cols.push({ header, right, cells: rows.map(cell) });
  add("INSTRUMENT", false, (r) => instrumentCell(r.book, l.venue));
  // USABLE first: the one flag to trade on (identical to the publisher's book, which is live, stream not stale).
  add("USABLE", false, (r) => (r.book.usable ? "yes" : "NO"));
  add("STATE", false, (r) => (STATE_SHORT[r.book.state] ?? String(r.book.state)) + (r.book.stale ? "*" : ""));
  // Only while some book is not live: a halted or resyncing book's reason outranks sizes, rate and latency.
  if (rows.some((r) => reasonOf(r.book) !== undefined)) add("REASON", false, (r) => reasonOf(r.book) ?? "-");
  add("VALID", false, (r) => (r.book.valid ? "yes" : "NO"));
  // A book not usable (invalid, not live, stale, exponents in doubt, a cut side emptied) may differ from the
  // publisher's: no price of it is drawn as if current. Until 2026-12-07 its last levels were, only USABLE said NO.
  add(l.qty ? "BID QTY@PX" : "BID", true, (r) => {
    const b = r.book;
    if (!b.usable) return NOT_CURRENT;
    if (b.bidCount === 0) return "-"; // usable: the publisher's side is empty too
    const px = formatDecimal(b.bidPriceAt(0), b.instrument.priceExp);
    return l.qty ? `${formatDecimal(b.bidQtyAt(0), b.instrument.qtyExp)}@${px}` : px;
  });
  add(l.qty ? "ASK PX@QTY" : "ASK", true, (r) => {
    const b = r.book;
    if (!b.usable) return NOT_CURRENT;
    if (b.askCount === 0) return "-";
    const px = formatDecimal(b.askPriceAt(0), b.instrument.priceExp);
    return l.qty ? `${px}@${formatDecimal(b.askQtyAt(0), b.instrument.qtyExp)}` : px;
  });
  if (l.rate) add("UPD/S", true, (r) => rate(r.updatesPerSec));
  add("INVAL", true, (r) => String(r.book.invalidations));
  add("REP", true, (r) => String(r.book.repairs));
  if (l.latency) {
    add("µs p50/p99", true, (r) => {
      if (r.latenciesUs.length === 0) return "-";
      const s = r.latenciesUs.slice().sort();
      return `${Math.round(percentile(s, 0.5))}/${Math.round(percentile(s, 0.99))}`;
    });
  }
  return cols;
}

function widthsOf(cols: readonly Column[]): number[] {
  return cols.map((c) => Math.max(columnsOf(c.header), ...c.cells.map(columnsOf)));
}

function totalWidth(widths: readonly number[]): number {
  return widths.reduce((a, b) => a + b, 0) + GUTTER.length * (widths.length - 1);
}

/** Cuts `s` to `n` terminal columns, marking the cut; never inside a character (a surrogate pair, a wide letter). */
function fit(s: string, n: number): string {
  if (columnsOf(s) <= n) return s;
  const room = n <= 1 ? n : n - 1;
  let out = "";
  for (const ch of s) {
    if (columnsOf(out + ch) > room) break;
    out += ch;
  }
  return n <= 1 ? out : out + "…";
}

/** `s` padded with spaces to `n` columns, on the right (`start` false) or the left. */
function pad(s: string, n: number, start: boolean): string {
  const fill = " ".repeat(Math.max(0, n - columnsOf(s)));
  return start ? fill + s : s + fill;
}

/** Items joined by `sep` (the gutter), wrapped so no line is wider than `width` (an item wider alone is cut). */
function wrap(items: readonly string[], width: number, sep = GUTTER): string[] {
  const lines: string[] = [];
  let line = "";
  for (const item of items) {
    if (line !== "" && columnsOf(line) + sep.length + columnsOf(item) > width) {
      lines.push(line);
      line = "";
    }
    line = line === "" ? fit(item, width) : line + sep + item;
  }
  if (line !== "") lines.push(line);
  return lines;
}

export function renderTable(rowsIn: readonly TableRow[], frame: TableFrame): string {
  const width = Math.max(20, frame.width);
  const rows = [...rowsIn].sort(
    (a, b) =>
      a.book.instrument.symbol.localeCompare(b.book.instrument.symbol) ||
      a.book.instrument.market.localeCompare(b.book.instrument.market) ||
      a.book.instrumentId - b.book.instrumentId,
  );
  // A book still waiting for its definition has no venue yet ("unknown"): it neither names nor adds one.
  const venues = [...new Set(rows.filter((r) => r.book.definition !== undefined).map((r) => r.book.instrument.venue))];
  // Leaving the venue out of the rows is only allowed when the title can name the one venue.
  const layouts = venues.length === 1 ? ONE_VENUE : SEVERAL_VENUES;
  let cols: Column[] = [];
  let widths: number[] = [];
  let layout = layouts[layouts.length - 1]!;
  for (const l of layouts) {
    layout = l;
    cols = columns(rows, l);
    widths = widthsOf(cols);
    if (totalWidth(widths) <= width) break;
  }
  const over = totalWidth(widths) - width;
  if (over > 0) widths[0] = Math.max(4, widths[0]! - over); // the narrowest layout still too wide: cut instrument names

  const title = !layout.venue && venues.length === 1 ? [...frame.title, `venue ${printable(venues[0]!)}`] : frame.title;
  const lines: string[] = wrap(title, width);
  if (rows.length === 0) {
    // Word-wrapped, not cut: at 80 columns (output not a terminal) the cut took the hint at its end.
    lines.push(...wrap(frame.waitingFor.split(" "), width, " "));
  } else {
    // Cut as a last resort (a terminal narrower than even the narrowest layout): a line never wraps.
    const line = (cells: readonly string[]) =>
      fit(cells.map((cell, c) => pad(fit(cell, widths[c]!), widths[c]!, cols[c]!.right)).join(GUTTER).trimEnd(), width);
    lines.push(line(cols.map((c) => c.header)));
    for (let i = 0; i < rows.length; i++) lines.push(line(cols.map((c) => c.cells[i]!)));
  }
  const c = frame.counters;
  let invalidations = 0;
  let valid = 0;
  let usable = 0;
  let repairs = 0;
  for (const r of rows) {
    invalidations += r.book.invalidations;
    repairs += r.book.repairs;
    if (r.book.valid) valid++;
    if (r.book.usable) usable++;
  }
  lines.push(
    ...wrap(
      [
        `books ${rows.length} (${usable} usable, ${valid} valid)`,
        `invalidations ${invalidations}`,
        `channel gaps ${c.gaps} (lost ${c.lostMessages})`,
        // Beside the gaps, as always shown: a publisher whose numbering went back, or whose clock runs ahead of
        // this host's (its send times past sendAheadMaxMs), was seen only by a library caller reading the counters.
        `seq lines back ${c.seqLinesBack}`,
        `send times ahead ${c.sendTimesAhead}`,
        `repairs ${repairs}`,
        `errors ${c.errors}`,
        // The stream's line seen from behind (before 2026-12-07 only in the counters): copies and repeats already
        // had, datagrams late behind a jump, jumps and sessions proved bogus and undone.
        `duplicates ${c.duplicates}`,
        `late ${c.lateDatagrams}`,
        `jumps reverted ${c.seqJumpsReverted}`,
        `sessions reverted ${c.sessionsReverted}`,
        `datagrams ${c.datagrams}`,
        `messages ${c.messages}`,
        `heartbeats ${c.heartbeats}`,
      ],
      width,
    ),
  );
  if (frame.legend === true && rows.length > 0) {
    lines.push(...wrap([...cols.flatMap((col) => LEGEND[col.header] ?? []), LEGEND_MORE], width));
  }
  return lines.join("\n");
}
