/** The listen table at any width: columns given up in order, every line within the width, footer = column sums. */
import { describe, expect, test } from "vitest";
import { REASON_SHORT, renderTable, type TableRow } from "../../src/cli/commands/listen-table.ts";
import { listenCommand } from "../../src/cli/commands/listen.ts";
import { STATUS_REASON_NAMES } from "../../src/core/types.ts";
import { FeedSubscriber } from "../../src/subscriber/feed-subscriber.ts";
import { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import type { SubscriberCounters } from "../../src/subscriber/subscriber-types.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";

// Every counter at zero as a fresh subscriber has them (no socket is opened before start()), then the few shown.
const COUNTERS: SubscriberCounters = {
  ...new FeedSubscriber({ groups: [{ group: "239.255.0.1", port: 31001 }] }).counters,
  datagrams: 123456,
  heartbeats: 7,
  messages: 654321,
  gaps: 2,
  lostMessages: 5,
  seqLinesBack: 3,
  sendTimesAhead: 4,
  duplicates: 8,
  lateDatagrams: 9,
  seqJumpsReverted: 10,
  sessionsReverted: 11,
};

function row(market: "linear" | "spot" | "option", symbol: string, exps: [number, number], bid: [number, number], ask: [number, number], invalidations: number): TableRow {
  const inst = makeInstrument("bybit", market, symbol, exps[0], exps[1]);
  const book = new SubscriberBook(inst.instrumentId, exps[0], exps[1]);
  book.instrument = book.definition = inst; // as its InstrumentDefinition sets them
  book.state = 1;
  book.valid = invalidations === 0;
  book.invalidations = invalidations;
  book.bids.set(bid[0], bid[1]);
  book.asks.set(ask[0], ask[1]);
  return { book, updatesPerSec: 321.4, latenciesUs: Float64Array.from([40, 45, 300]) };
}

const ROWS = [
  row("spot", "BTCUSDT", [1, 6], [949_149, 6_328], [949_150, 2_578_000], 1),
  row("linear", "ETHUSDT", [2, 2], [349_999, 551], [350_000, 503], 0),
  row("option", "BTC-27MAR26-70000-P", [0, 2], [1500, 1], [1505, 2], 2),
];

describe("listen table layout", () => {
  test.each([200, 120, 100, 80, 72, 60])("width %i: every line fits, the footer's invalidations is the INVAL column's sum", (width) => {
    const text = renderTable(ROWS, { title: ["feeder listen", "239.255.0.1:31001 on 127.0.0.1"], waitingFor: "-", counters: COUNTERS, width });
    const lines = text.split("\n");
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(width);
    const header = lines.find((l) => l.startsWith("INSTRUM"))!;
    const end = header.indexOf("INVAL") + 5;
    const cells = lines.slice(lines.indexOf(header) + 1, lines.indexOf(header) + 4).map((l) => Number(l.slice(0, end).trim().split(/\s+/).at(-1)));
    expect(cells.reduce((a, b) => a + b, 0)).toBe(3);
    expect(text).toMatch(/invalidations 3\s+channel gaps 2 \(lost 5\)/);
    // The other sequence counters beside the gaps (before 2026-12-07 not shown: a publisher's numbering gone back,
    // or its clock ahead of this host's, went unseen by whoever watched the table).
    expect(text).toMatch(/channel gaps 2 \(lost 5\)\s+seq lines back 3\s+send times ahead 4\s+repairs 0/);
    // The line seen from behind (before 2026-12-07 only in the library's counters).
    expect(text).toMatch(/errors 0\s+duplicates 8\s+late 9\s+jumps reverted 10\s+sessions reverted 11\s+datagrams 123456/);
  });

  test.each([40, 24])("width %i, narrower than any layout: lines are cut, never wrapped", (width) => {
    const text = renderTable(ROWS, { title: ["feeder listen"], waitingFor: "-", counters: COUNTERS, width });
    for (const l of text.split("\n")) expect(l.length).toBeLessThanOrEqual(width);
  });

  test("a side shown empty: '-' when the publisher's is empty too; a side cut at publish.snapshot_depth that lost every level it knew (its best unknown) makes the book not usable: '—' both sides", () => {
    const cut = row("linear", "ETHUSDT", [2, 2], [349_999, 551], [350_000, 503], 0);
    cut.book.bids.clear();
    cut.book.bidFloorPx = 349_999; // known down to there: the publisher may have bids below
    const whole = row("linear", "SOLUSDT", [2, 2], [14_999, 5], [15_000, 7], 0);
    whole.book.bids.clear();
    const text = renderTable([cut, whole], { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 200 });
    // Old: both rows showed "-" (and the cut one USABLE yes). Then "?" for the cut side and its ask's last price;
    // since 2026-12-07 a book not usable shows no price at all, "—" on both sides (its ask is no more current).
    expect(text).toMatch(/^bybit linear ETHUSDT +NO +live +yes +— +— /m);
    expect(text).toMatch(/^bybit linear SOLUSDT +yes +live +yes +- +150\.00@0\.07 /m);
    expect(listenCommand.help).toMatch(/- none; — both for a book not\s+USABLE/);
    expect(listenCommand.help).not.toContain("? unknown");
  });

  test.each([200, 92, 80, 60])("width %i: a book not usable shows — for its best bid and ask, never the prices it last held (they may not be the publisher's)", (width) => {
    const notUsable = (symbol: string, set: (b: SubscriberBook) => void): TableRow => {
      const r = row("linear", symbol, [2, 2], [349_999, 551], [350_000, 503], 0);
      set(r.book);
      expect(r.book.usable, symbol).toBe(false);
      return r;
    };
    const rows = [
      notUsable("AAAUSDT", (b) => (b.valid = false)), // after a gap: VALID NO, the publisher's book live
      notUsable("BBBUSDT", (b) => (b.state = 2)), // resyncing
      notUsable("CCCUSDT", (b) => (b.stale = true)), // stream silent: live*
      notUsable("DDDUSDT", (b) => (b.state = 4)), // halted
      notUsable("EEEUSDT", (b) => (b.state = 0)), // awaiting its snapshot
      notUsable("FFFUSDT", (b) => (b.exponentsInDoubt = true)),
      notUsable("GGGUSDT", (b) => { b.bids.clear(); b.bidFloorPx = 349_999; }), // a cut side emptied: its ask is no more current
      row("linear", "ZZZUSDT", [2, 2], [14_999, 5], [15_000, 7], 0), // usable: its prices drawn
    ];
    const text = renderTable(rows, { title: ["t"], waitingFor: "-", counters: COUNTERS, width });
    const lines = text.split("\n");
    for (const l of lines) expect(Bun.stringWidth(l)).toBeLessThanOrEqual(width);
    // Old: every one of them showed 3499.99 / 3500.00 as a current row does, only USABLE and STATE said otherwise.
    expect(text).not.toMatch(/3499\.99|3500\.00|5\.51|5\.03/);
    const header = lines.findIndex((l) => l.startsWith("INSTRUM"));
    const body = lines.slice(header + 1, header + 1 + rows.length);
    for (const l of body.slice(0, -1)) expect(l).toMatch(/ NO .* — +— /);
    expect(body.at(-1)).toMatch(/ yes .*149\.99 +150\.00/);
  });

  test("columns are given up in order: venue (then named in the title), latency, rate, sizes", () => {
    const at = (width: number) => renderTable(ROWS, { title: ["t"], waitingFor: "-", counters: COUNTERS, width });
    // BTCUSDT is not usable (VALID NO): "—" for its bid and ask, no more its last prices (until 2026-12-07), so the
    // price columns are as wide as the usable ETHUSDT's and each column goes a few widths narrower than it did.
    expect(at(200)).toMatch(/^bybit spot BTCUSDT +NO +live +NO +— +— +321 +1 +0 +45\/300$/m);
    expect(at(200)).toMatch(/^bybit linear ETHUSDT +yes +live +yes +5\.51@3499\.99 +3500\.00@5\.03 +321 +0 +0 +45\/300$/m);
    expect(at(200)).not.toContain("venue bybit");
    expect(at(112)).toMatch(/^t {2}venue bybit$/m);
    expect(at(112)).toContain("µs p50/p99");
    expect(at(106)).not.toContain("µs p50/p99");
    expect(at(106)).toMatch(/UPD\/S/);
    expect(at(94)).not.toMatch(/UPD\/S/);
    expect(at(94)).toMatch(/BID QTY@PX/);
    expect(at(87)).toMatch(/^INSTRUMENT +USABLE +STATE +VALID +BID +ASK +INVAL +REP$/m);
    expect(at(87)).toMatch(/^spot BTCUSDT +NO +live +NO +— +— +1 +0$/m);
    expect(at(87)).toMatch(/^linear ETHUSDT +yes +live +yes +3499\.99 +3500\.00 +0 +0$/m);
    expect(at(60)).toMatch(/^INSTRUM… +USABLE +STATE +VALID +BID +ASK +INVAL +REP$/m); // narrower still: names are cut, lines never wrap
  });

  test("books of several venues (the venue stays in each row): latency, rate and sizes are given up before a name is cut", () => {
    const okx = makeInstrument("okx", "spot", "BTC-USDT", 1, 8);
    const book = new SubscriberBook(okx.instrumentId, 1, 8);
    book.instrument = book.definition = okx;
    book.state = 1;
    book.valid = true;
    book.bids.set(949_149, 12_345_678);
    book.asks.set(949_150, 1);
    const rows = [ROWS[0]!, ROWS[1]!, { book, updatesPerSec: 12, latenciesUs: Float64Array.from([50]) }];
    const at = (width: number) => renderTable(rows, { title: ["t"], waitingFor: "-", counters: COUNTERS, width });
    // Old: only the widest layout kept the venue, so at 80 columns (output not a terminal) every name was cut
    // to "bybit…" / "okx s…": no row said which book it was.
    for (const width of [120, 100, 80]) {
      const text = at(width);
      for (const l of text.split("\n")) expect(l.length).toBeLessThanOrEqual(width);
      expect(text, `width ${width}`).toMatch(/^bybit linear ETHUSDT +yes +live /m);
      expect(text, `width ${width}`).toMatch(/^okx spot BTC-USDT +yes +live /m);
      expect(text).not.toContain("…");
      expect(text).not.toContain("venue ");
    }
    expect(at(100)).not.toContain("µs p50/p99");
    expect(at(100)).toMatch(/BID QTY@PX/);
    expect(at(80)).toMatch(/^INSTRUMENT +USABLE +STATE +VALID +BID +ASK +INVAL +REP$/m);
    expect(at(80)).toMatch(/^okx spot BTC-USDT +yes +live +yes +94914\.9 +94915\.0 +0 +0$/m);
  });

  test("legend (the demo's): below the footer, what each column shown means, and where the rest is", () => {
    const at = (width: number, legend?: boolean) => renderTable(ROWS, { title: ["t"], waitingFor: "-", counters: COUNTERS, width, legend });
    expect(at(200)).not.toContain("USABLE yes =");
    const wide = at(200, true);
    for (const l of wide.split("\n")) expect(l.length).toBeLessThanOrEqual(200);
    const legend = wide.slice(wide.indexOf("heartbeats 7\n") + 13).split("\n");
    expect(legend.join("  ")).toBe(
      "USABLE yes = safe to trade on  STATE = the publisher's book (* = stream silent)  VALID = identical to the publisher's book  " +
        "QTY@PX, PX@QTY = best level's size and price (— = not usable)  UPD/S = updates a second  INVAL = times invalidated  REP = refreshes that repaired it  " +
        "µs p50/p99 = send → receive latency  all columns and counters: feeder help listen",
    );
    const narrow = at(80, true);
    for (const l of narrow.split("\n")) expect(l.length).toBeLessThanOrEqual(80);
    expect(narrow).toContain("BID/ASK = best price (— = not usable)");
    expect(narrow).not.toMatch(/UPD\/S =|µs p50\/p99 =|QTY@PX/);
    expect(renderTable([], { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 80, legend: true })).not.toContain("USABLE yes =");
  });

  test("an empty table says what it waits for", () => {
    const text = renderTable([], { title: ["feeder listen"], waitingFor: "waiting for the first datagram on 239.255.0.1:31001 on 127.0.0.1", counters: COUNTERS, width: 80 });
    expect(text.split("\n")[1]).toBe("waiting for the first datagram on 239.255.0.1:31001 on 127.0.0.1");
    expect(text).toContain("books 0 (0 usable, 0 valid)");
  });
});

describe("listen table: why a book is not live", () => {
  /** A row whose publisher's book is in `state` for `reason` (wire values). */
  function notLive(symbol: string, state: number, reason: number): TableRow {
    const r = row("linear", symbol, [2, 2], [349_999, 551], [350_000, 503], 0);
    (r.book as { state: number }).state = state;
    (r.book as { reason: number }).reason = reason;
    return r;
  }

  test("REASON names the status reason of every book that is not live (instrument_closed, a gap, a stale venue feed, a newer value as its number)", () => {
    const rows = [
      notLive("BTCUSDT", 4, 13), // halted, instrument_closed
      notLive("DOTUSDT", 2, 2), // resyncing, sequence_gap
      notLive("SOLUSDT", 3, 7), // stale, stale_feed
      notLive("XRPUSDT", 4, 9), // halted, subscribe_rejected
      notLive("ADAUSDT", 2, 99), // a reason this version does not know
      ROWS[1]!, // live: no reason shown
    ];
    const text = renderTable(rows, { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 200 });
    expect(text).toMatch(/^INSTRUMENT +USABLE +STATE +REASON +VALID /m);
    expect(text).toMatch(/^bybit linear BTCUSDT +NO +halted +closed +yes /m);
    expect(text).toMatch(/^bybit linear DOTUSDT +NO +resync +gap +yes /m);
    expect(text).toMatch(/^bybit linear SOLUSDT +NO +stale +stale +yes /m);
    expect(text).toMatch(/^bybit linear XRPUSDT +NO +halted +rejected +yes /m);
    expect(text).toMatch(/^bybit linear ADAUSDT +NO +resync +99 +yes /m);
    expect(text).toMatch(/^bybit linear ETHUSDT +\S+ +live +- +yes /m);
  });

  test("at 80 columns (output not a terminal) the reason stays and names are not cut", () => {
    const text = renderTable([notLive("BTCUSDT", 4, 13), ROWS[1]!], { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 80 });
    for (const l of text.split("\n")) expect(l.length).toBeLessThanOrEqual(80);
    expect(text).toMatch(/^linear BTCUSDT +NO +halted +closed +yes /m);
  });

  test("every wire status reason (docs/wire-protocol.md §4) has its own short name, and listen --help names each", () => {
    expect(REASON_SHORT).toHaveLength(STATUS_REASON_NAMES.length);
    expect(new Set(REASON_SHORT).size).toBe(REASON_SHORT.length);
    for (const short of REASON_SHORT.slice(1)) expect(listenCommand.help).toMatch(new RegExp(`\\b${short}\\b`));
  });

  test("every book live: no REASON column", () => {
    expect(renderTable(ROWS, { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 200 })).not.toContain("REASON");
  });
});

test("at 80 columns what the empty table waits for is wrapped at spaces, not cut: the hint at its end stays", () => {
  const waitingFor = "waiting for the first datagram on 239.255.0.1:31001 on 127.0.0.1 (is a feeder publishing to this group, on this interface?)";
  const text = renderTable([], { title: ["feeder listen"], waitingFor, counters: COUNTERS, width: 80 });
  const lines = text.split("\n");
  for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
  expect(lines.slice(1, 3).join(" ")).toBe(waitingFor);
});

describe("listen table: names from the wire are untrusted", () => {
  test("a symbol with terminal escapes and line breaks (a forged definition) is shown escaped: one line per book, no control character reaches the terminal", () => {
    // Through the decoder and subscriber, as a datagram brings it: the wire says ASCII, nothing checks it is printable.
    const evil = "EVIL\x1b]0;owned\x07\x1b[2J\r\nUSDT\x9b";
    const inst = makeInstrument("bybit", "linear", evil, 2, 2);
    const p = packer();
    const book = new TestBook(inst);
    book.load([[349_999, 551]], [[350_000, 503]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(inst), false);
    packBookSnapshot(p, book, 0, false);
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    for (const d of take(p)) sub.ingest(d, T0);
    const got = sub.book(inst.instrumentId)!;
    expect(got.instrument.symbol).toBe(evil);
    const text = renderTable([{ book: got, updatesPerSec: 0, latenciesUs: new Float64Array(0) }, ROWS[1]!], { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 200 });
    // Old: the ESC sequences (a window title, a cleared screen) and the line break went to the terminal as they were.
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const lines = text.split("\n");
    expect(lines).toHaveLength(renderTable([ROWS[0]!, ROWS[1]!], { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 200 }).split("\n").length);
    expect(text).toMatch(/^bybit linear EVIL\\x1b\]0;owned\\x07\\x1b\[2J\\x0d\\x0aUSDT\\x9b +yes +live /m);
  });
});

describe("listen table: symbols beyond ASCII", () => {
  /** The terminal column where `needle` starts in `line`. */
  const columnOf = (line: string, needle: string) => Bun.stringWidth(line.slice(0, line.indexOf(needle)));

  test.each([200, 100, 80, 60, 30])("width %i: 币安人生USDT is shown as it is, every column in line, no line wider than the terminal", (width) => {
    const cjk = row("spot", "币安人生USDT", [4, 0], [1_234, 5], [1_235, 7], 0);
    const text = renderTable([cjk, ...ROWS], { title: ["t"], waitingFor: "-", counters: COUNTERS, width });
    const lines = text.split("\n");
    for (const l of lines) expect(Bun.stringWidth(l)).toBeLessThanOrEqual(width);
    // Old: shown as \u{5e01}\u{5b89}\u{4eba}\u{751f}USDT.
    if (width >= 80) expect(text).toContain("币安人生USDT");
    expect(text).not.toContain("\\u{");
    const header = lines.findIndex((l) => l.startsWith("INSTRUM"));
    const body = lines.slice(header + 1, header + 5);
    // STATE is left-aligned (every row's state starts under it), the last column right-aligned (every row ends with it).
    // Old: measured in UTF-16 units, the 币安人生USDT row's cells came 4 columns right of everyone else's.
    for (const l of width >= 60 ? body : []) {
      expect(columnOf(l, " live ") + 1, l).toBe(columnOf(lines[header]!, " STATE") + 1);
      expect(Bun.stringWidth(l), l).toBe(Bun.stringWidth(lines[header]!));
    }
  });

  test("a format character (bidi override, zero-width joiner) or another space in a symbol is escaped; letters beyond ASCII are not", () => {
    const odd = row("spot", "币安\u202eUSDT\u200d\u3000X", [4, 0], [1_234, 5], [1_235, 7], 0);
    const text = renderTable([odd], { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 200 });
    expect(text).toContain("币安\\u{202e}USDT\\u{200d}\\u{3000}X");
  });

  test("a letter or mark drawn as nothing (Hangul filler, variation selector, grapheme joiner) is escaped: the row does not read as BTCUSDT", () => {
    const odd = row("spot", "BTC\u034fUSDT\ufe0f\u3164", [4, 0], [1_234, 5], [1_235, 7], 0);
    const text = renderTable([odd], { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 200 });
    expect(text).toContain("BTC\\u{34f}USDT\\u{fe0f}\\u{3164}");
  });
});

describe("listen table: a book whose definition has not arrived", () => {
  test("its row says so (#<id> (definition pending)), not 'unknown unknown #<id>', and it does not hide the one venue's name", () => {
    const pending = new SubscriberBook(4242, 2, 2); // a book message came, its InstrumentDefinition not yet
    pending.state = 1;
    pending.bids.set(349_999, 551);
    pending.asks.set(350_000, 503);
    const rows = [ROWS[1]!, { book: pending, updatesPerSec: 1, latenciesUs: Float64Array.from([50]) }];
    for (const width of [200, 80]) {
      const text = renderTable(rows, { title: ["t"], waitingFor: "-", counters: COUNTERS, width });
      for (const l of text.split("\n")) expect(l.length).toBeLessThanOrEqual(width);
      expect(text, `width ${width}`).toMatch(/^#4242 \(definition pending\) +NO +live /m);
      expect(text).not.toContain("unknown");
    }
    // The one venue of the defined books is still the title's, the other rows without it, at 80 columns.
    const narrow = renderTable(rows, { title: ["t"], waitingFor: "-", counters: COUNTERS, width: 80 });
    expect(narrow).toMatch(/^t {2}venue bybit$/m);
    expect(narrow).toMatch(/^linear ETHUSDT +yes +live /m);
    expect(listenCommand.help).toContain("(definition pending)");
  });
});
