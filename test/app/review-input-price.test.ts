/**
 * A bid at price 0 (every venue's reader parses "0" as a valid mantissa) is refused by the book builder: the
 * publisher's book goes RESYNCING / parse_error, the venue is asked to resync it, the error names the field, and
 * the subscriber never sees it usable; another book of the same venue stays LIVE. Before, the bid went out LIVE.
 * Real Feeder, real publisher, real multicast on 127.0.0.1 (TTL 1).
 */
import { afterEach, expect, test } from "vitest";
import type { BookSummary } from "../../src/app/book-json.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { evaluateReadiness, evaluateSummary } from "../../src/app/readiness.ts";
import { captureLog } from "../support/capture-log.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { levelsOfView, sameLevels, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { ScriptedVenue, startScriptedOkxSpot, update } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A Feeder over a scripted OKX venue with two books (BTC-USDT, book 0, and ETH-USDT) and a subscriber, both started. */
async function startTwoOkxBooks(destination: number) {
  const mk = (symbol: string): Instrument => ({ instrumentId: instrumentIdOf("okx", "spot", symbol), venue: "okx", market: "spot", symbol, priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" });
  const instrument = mk("BTC-USDT");
  const other = mk("ETH-USDT");
  const venue = new ScriptedVenue(instrument);
  venue.loadInstruments = () => Promise.resolve([instrument, other]);
  const { log, lines } = captureLog();
  const { feeder, subscriber } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT", "ETH-USDT"], dest: uniqueDestination(destination), cleanups, log });
  return { instrument, other, venue, subscriber, feeder, lines };
}

/** startTwoOkxBooks with both books LIVE (a snapshot each, seen usable by the subscriber). */
async function startTwoLiveOkxBooks(destination: number) {
  const books = await startTwoOkxBooks(destination);
  const { instrument, other, venue, subscriber, feeder } = books;
  const u = new BookUpdate();
  const sub = (i: Instrument) => subscriber.books.get(i.instrumentId);
  const pub = (k: number) => feeder.books()[k]!;
  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5]], [[1001, 3]]));
  venue.sink!.onBookUpdate(1, update(u, true, 1, [[20000, 5]], [[20001, 3]]));
  await waitFor(() => sub(instrument)?.usable === true && sub(other)?.usable === true, "both books, usable");
  return { ...books, u, sub, pub };
}

test("a snapshot with a bid at price 0 is refused: RESYNCING / parse_error, resynced, named; the other book stays LIVE", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, subscriber, feeder, lines } = await startTwoOkxBooks(78);
  const u = new BookUpdate();
  const sub = (i: Instrument) => subscriber.books.get(i.instrumentId);
  const pub = (k: number) => feeder.books()[k]!;

  venue.sink!.onBookUpdate(1, update(u, true, 1, [[20000, 5]], [[20001, 3]]));
  await waitFor(() => sub(other)?.usable === true, "the other book, usable");
  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5], [0, 7]], [[1001, 3], [1002, 1]]));
  await waitFor(() => sub(instrument)?.state === BookState.RESYNCING, "the refused book's status");
  expect([pub(0).state, pub(0).reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  expect(sub(instrument)!.usable).toBe(false);
  expect(sub(instrument)!.reason).toBe(StatusReason.PARSE_ERROR);
  expect(lines.map((l) => String(l.fields.error))).toEqual(["BTC-USDT: bid price 0 at level 1 of the message: a price must be > 0"]);
  // A LIVE book: a delta setting a bid at price 0 is refused the same way.
  venue.sink!.onBookUpdate(0, update(u, true, 2, [[1000, 5]], [[1001, 3]]));
  await waitFor(() => sub(instrument)?.usable === true, "the book, LIVE again");
  venue.sink!.onBookUpdate(0, update(u, false, 3, [[0, 3]], []));
  await waitFor(() => sub(instrument)?.state === BookState.RESYNCING, "the refused delta's status");
  expect(pub(0).reason).toBe(StatusReason.PARSE_ERROR);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR, StatusReason.PARSE_ERROR]);
  // The other book of the venue was never touched.
  expect(pub(1).state).toBe(BookState.LIVE);
  expect(sub(other)!.usable).toBe(true);
});

/**
 * A venueSeq the wire cannot carry (2^53 or more, negative) is refused by the builder before it changes the book:
 * published, every subscriber refused its whole datagram (unsafe_integer), so the other book's snapshot sent in the
 * same turn never arrived either (before, "the other book, usable" timed out).
 */
test("a venueSeq of 2^53 is refused (RESYNCING / parse_error, named): the other book's message of the same turn arrives", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, subscriber, feeder, lines } = await startTwoOkxBooks(85);
  const u = new BookUpdate();
  const sub = (i: Instrument) => subscriber.books.get(i.instrumentId);
  venue.sink!.onBookUpdate(0, update(u, true, 2 ** 53, [[1000, 5]], [[1001, 3]]));
  venue.sink!.onBookUpdate(1, update(u, true, 1, [[20000, 5]], [[20001, 3]]));
  await waitFor(() => sub(other)?.usable === true && sub(instrument)?.state === BookState.RESYNCING, "the other book, usable; the refused one's status");
  expect([feeder.books()[0]!.state, feeder.books()[0]!.reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  expect(lines.map((l) => String(l.fields.error))).toEqual(["BTC-USDT: venueSeq 9007199254740992 of the message is not an integer in 0 … 2^53 − 1 (subscribers refuse a datagram carrying it)"]);
});

/**
 * A timestamp the same way: a negative one (here tsEventUs −1, the wire's i64 of ns negative) had every subscriber
 * refuse the whole datagram (unsafe_integer), so the other book's snapshot of the same turn never arrived (before,
 * "the other book, usable" timed out), nor any refresh of the book.
 */
test("a negative tsEventUs is refused (RESYNCING / parse_error, named): the other book's message of the same turn arrives", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, subscriber, feeder, lines } = await startTwoOkxBooks(86);
  const u = new BookUpdate();
  const sub = (i: Instrument) => subscriber.books.get(i.instrumentId);
  update(u, true, 1, [[1000, 5]], [[1001, 3]]).tsEventUs = -1;
  venue.sink!.onBookUpdate(0, u);
  venue.sink!.onBookUpdate(1, update(u, true, 1, [[20000, 5]], [[20001, 3]]));
  await waitFor(() => sub(other)?.usable === true && sub(instrument)?.state === BookState.RESYNCING, "the other book, usable; the refused one's status");
  expect([feeder.books()[0]!.state, feeder.books()[0]!.reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  expect(lines.map((l) => String(l.fields.error))).toEqual(["BTC-USDT: tsEventUs -1 of the message is not an integer in 0 … 2^53 − 1 µs (subscribers refuse a datagram carrying a negative one)"]);
});

/**
 * A refused update has already changed the publisher's book when the refusal comes (the price-0 check runs after the
 * apply: a delta's other levels are in, a snapshot has replaced the book), and no event carries that change. The
 * status that follows must not let a subscriber keep calling its copy the publisher's (`valid`: "the levels are
 * identical to the publisher's book as of instrSeq", wire-protocol §6.8): before, the status came with the next
 * instrSeq, so the subscriber's book stayed `valid` with the levels of before the refused update; and when the book
 * was RESYNCING already, nothing was published at all.
 */
test("a refused update that changed the book leaves no subscriber holding a `valid` copy that differs from it", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, subscriber, feeder } = await startTwoOkxBooks(79);
  const u = new BookUpdate();
  const sub = () => subscriber.books.get(instrument.instrumentId);
  const pub = () => feeder.books()[0]!;
  // Holds when the subscriber does not claim its copy is the publisher's, or when it is.
  const honest = () => !sub()!.valid || sameLevels(levelsOfView(sub()!), levelsOfView(pub()));
  // A marker on the same stream, sent after the step under test: once it is in, everything before it is too.
  let marker = 0;
  const afterMarker = async (what: string) => {
    marker++;
    venue.sink!.onBookUpdate(1, update(u, true, marker, [[20000, marker]], [[20001, 3]]));
    await waitFor(() => subscriber.books.get(other.instrumentId)?.venueSeq === marker, what);
  };

  // A LIVE book; a delta changes the bid at 99.9 and puts one at price 0.
  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5], [999, 7]], [[1001, 3], [1002, 1]]));
  await waitFor(() => sub()?.usable === true, "the snapshot, usable");
  venue.sink!.onBookUpdate(0, update(u, false, 2, [[999, 9], [0, 3]], []));
  await afterMarker("the marker after the refused delta");
  expect([pub().state, pub().reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(pub().bidQtyAt(1)).toBe(9); // the refused delta's other level is in the publisher's book
  expect(sub()!.state).toBe(BookState.RESYNCING);
  expect(honest()).toBe(true);

  // LIVE again, then RESYNCING for a gap (the subscriber's copy is still exact), then a snapshot with a bid at 0:
  // the publisher's book is that snapshot now, and its state did not change.
  venue.sink!.onBookUpdate(0, update(u, true, 3, [[1000, 5], [999, 7]], [[1001, 3]]));
  await waitFor(() => sub()?.usable === true, "the book, LIVE again");
  venue.sink!.onBookInvalid(0, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  await waitFor(() => sub()?.state === BookState.RESYNCING, "the gap's status");
  expect(sub()!.valid).toBe(true);
  venue.sink!.onBookUpdate(0, update(u, true, 4, [[990, 1], [0, 2]], [[995, 4]]));
  await afterMarker("the marker after the refused snapshot");
  expect(pub().bidPriceAt(0)).toBe(990);
  expect(honest()).toBe(true);
});

/**
 * A venue whose every message is a full book (Upbit; a Deribit grouped book; OKX's replace channels) applies each one
 * as a snapshot while the book is not LIVE, so a level at price 0 it keeps sending is refused message after message.
 * Each refusal skips one instrSeq and publishes a status (the book did change: a refresh may have made a copy valid
 * meanwhile), at most the venue's own message rate, and feeder_book_apply_errors_total counts each; the log names
 * the first in full and the rest rate-limited, where before it wrote one error line per message.
 */
test("a venue that keeps sending a full book with a bid at 0: a status each (one instrSeq skipped), one error line", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, subscriber, feeder, lines } = await startTwoOkxBooks(80);
  const u = new BookUpdate();
  const sub = () => subscriber.books.get(instrument.instrumentId);
  const pub = () => feeder.books()[0]!;
  const full = (seq: number, bids: [number, number][], asks: [number, number][]) => {
    update(u, false, seq, bids, asks);
    u.replace = true;
    return u;
  };

  venue.sink!.onBookUpdate(0, full(1, [[1000, 5]], [[1001, 3]]));
  await waitFor(() => sub()?.usable === true, "the first full book, usable");
  const seqBefore = pub().instrSeq;
  const REFUSED = 40;
  for (let i = 0; i < REFUSED; i++) venue.sink!.onBookUpdate(0, full(2 + i, [[1000, 5 + i], [0, 1]], [[1001, 3]]));
  venue.sink!.onBookUpdate(1, update(u, true, 1, [[20000, 1]], [[20001, 3]]));
  await waitFor(() => subscriber.books.get(other.instrumentId)?.venueSeq === 1, "the marker");
  expect(feeder.stats().applyErrors).toBe(REFUSED);
  expect(pub().instrSeq - seqBefore).toBe(2 * REFUSED); // each: one skipped, one status
  expect(sub()!.instrSeq).toBe(pub().instrSeq); // every status arrived
  expect(sub()!.valid).toBe(false);
  expect(venue.resyncs.length).toBe(REFUSED);
  const refusals = lines.filter((l) => l.level === "error");
  expect(refusals.length, "error lines").toBeLessThanOrEqual(2);
  expect(String(refusals[0]!.fields.error)).toBe("BTC-USDT: bid price 0 at level 1 of the message: a price must be > 0");
});

/**
 * A book whose periodic refresh cannot be encoded (here its ask ladder throws when read; a bug of the kind no input
 * check catches) is that book's problem alone: nothing of its refresh goes out, it goes RESYNCING / parse_error for
 * the publisher, /books and subscribers, is resynced and named in an error line; the other book's refresh goes out
 * and it stays LIVE. Before, the exception left the refresh timer: the books after it were skipped and, under Bun,
 * the process ended (here refreshAll threw).
 */
test("a book whose refresh throws goes RESYNCING / parse_error alone; the others are refreshed and stay LIVE", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, feeder, lines, sub, pub } = await startTwoLiveOkxBooks(80);
  const broken = pub(0) as unknown as { copyAsks: unknown };
  broken.copyAsks = () => {
    throw new Error("ask ladder unreadable (test)");
  };
  const sentBefore = feeder.publisher.counters.messages;
  feeder.publisher.refreshAll();
  await waitFor(() => sub(instrument)?.state === BookState.RESYNCING, "the broken book's status");
  expect([pub(0).state, pub(0).reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(sub(instrument)!.usable).toBe(false);
  expect(sub(instrument)!.reason).toBe(StatusReason.PARSE_ERROR);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  // The other book's definition and snapshot, and the broken book's status: nothing of the broken refresh.
  expect(feeder.publisher.counters.messages - sentBefore).toBe(3);
  expect(pub(1).state).toBe(BookState.LIVE);
  expect(sub(other)!.usable).toBe(true);
  expect(lines.filter((l) => l.level === "error").map((l) => [l.msg, l.fields.detail])).toEqual([
    ["exception while encoding a book's periodic refresh (not sent); book resyncs", "spot BTC-USDT: ask ladder unreadable (test)"],
  ]);
});

/**
 * A book whose refresh throws at every refresh, resynced LIVE in between (the venue's snapshot comes): each failure
 * finds it LIVE, so "refused again while it resyncs" never applies. The error line is at most one per 5 s all the
 * same (with the count); before, every failure wrote one in full: with a bug common to many books, a line per book
 * per refresh interval.
 */
test("a refresh that keeps failing, the book LIVE again between failures: one error line, counted", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, subscriber, feeder, lines } = await startTwoOkxBooks(84);
  const u = new BookUpdate();
  const sub = (i: Instrument) => subscriber.books.get(i.instrumentId);
  const pub = (k: number) => feeder.books()[k]!;
  venue.sink!.onBookUpdate(1, update(u, true, 1, [[20000, 5]], [[20001, 3]]));
  await waitFor(() => sub(other)?.usable === true, "the other book, usable");
  for (let round = 1; round <= 3; round++) {
    venue.sink!.onBookUpdate(0, update(u, true, round, [[1000, 5]], [[1001, 3]]));
    expect(pub(0).state).toBe(BookState.LIVE);
    const broken = pub(0) as unknown as { copyAsks?: unknown };
    broken.copyAsks = () => {
      throw new Error("ask ladder unreadable (test)");
    };
    feeder.publisher.refreshAll();
    expect([pub(0).state, pub(0).reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
    delete broken.copyAsks; // the prototype's again
  }
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR, StatusReason.PARSE_ERROR, StatusReason.PARSE_ERROR]);
  expect(lines.filter((l) => l.level === "error").map((l) => [l.msg, l.fields.detail])).toEqual([
    ["exception while encoding a book's periodic refresh (not sent); book resyncs", "spot BTC-USDT: ask ladder unreadable (test)"],
  ]);
});

/**
 * A halted book (its instrument closed or expired, the venue's word) is refreshed too; one whose refresh throws must
 * stay halted: nothing of the refresh goes out, the error is logged, and no resync is asked for an instrument that is
 * gone. Before, the refresh's failure was contained as an apply's: the book went RESYNCING / parse_error (subscribers
 * told it would come back) and the venue was asked to resubscribe it.
 */
test("a halted book whose refresh throws stays halted: logged, not resynced", { timeout: 20_000 }, async () => {
  const { instrument, venue, feeder, lines, sub, pub } = await startTwoLiveOkxBooks(83);
  venue.sink!.onBookInvalid(0, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED);
  await waitFor(() => sub(instrument)?.state === BookState.HALTED, "the halted status");
  const broken = pub(0) as unknown as { copyAsks: unknown };
  broken.copyAsks = () => {
    throw new Error("ask ladder unreadable (test)");
  };
  expect(() => feeder.publisher.refreshAll()).not.toThrow();
  expect([pub(0).state, pub(0).reason]).toEqual([BookState.HALTED, StatusReason.INSTRUMENT_CLOSED]);
  expect(venue.resyncs).toEqual([]);
  expect(lines.filter((l) => l.level === "error").map((l) => [l.msg, l.fields.detail])).toEqual([
    ["exception while encoding a halted book's periodic refresh (not sent); it stays halted", "spot BTC-USDT: ask ladder unreadable (test)"],
  ]);
});

/**
 * A venue marks a book invalid from its own loops (housekeeping's stale check, a resync after a refused request): a
 * status that cannot be encoded for that book must not be thrown back into them. Before, it was: the venue's loop over
 * its books stopped there (the rest skipped, this one never resubscribed) and, from a timer, the process ended.
 */
test("a book whose status cannot be encoded is marked and logged; the venue's call does not throw, the other book's status goes out", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, feeder, lines, sub, pub } = await startTwoLiveOkxBooks(81);
  Object.defineProperty(pub(0), "venueSeq", {
    get() {
      throw new Error("book header unreadable (test)");
    },
  });
  expect(() => venue.sink!.onBookInvalid(0, BookState.STALE, StatusReason.STALE_FEED)).not.toThrow();
  venue.sink!.onBookInvalid(1, BookState.STALE, StatusReason.STALE_FEED);
  await waitFor(() => sub(other)?.state === BookState.STALE, "the other book's status");
  expect(pub(0).state).toBe(BookState.STALE); // marked: /books shows it
  // And subscribers are told, by a bare status packed before the other book's (before, nothing was sent).
  expect([sub(instrument)!.state, sub(instrument)!.usable, sub(instrument)!.venueSeq]).toEqual([BookState.STALE, false, 0]);
  expect(lines.filter((l) => l.level === "error").map((l) => [l.msg, l.fields.detail])).toEqual([
    ["exception while encoding a book's status; the book is marked, a bare status sent instead (no venueSeq, no times), the others go on", "spot BTC-USDT: book header unreadable (test)"],
  ]);
  // The lists of every book (/books, /status, a worker's start reply) show it marked, unusable, why; the other as
  // usual. Before, its summary's exception left the whole list: /books and /status answered 500, a worker's start failed.
  const shown = (books: BookSummary[]) => books.map((b) => [b.symbol, b.state, b.reason, b.valid, b.detail]);
  const expected = [
    ["BTC-USDT", "stale", "stale_feed", false, "book unreadable: book header unreadable (test)"],
    ["ETH-USDT", "stale", "stale_feed", false, undefined],
  ];
  expect(shown(feeder.bookSummaries())).toEqual(expected);
  expect(shown((await feeder.readinessInputInTurns(() => Promise.resolve())).books)).toEqual(expected);
  expect(shown(feeder.readinessInput().books)).toEqual(expected);
  expect(feeder.readinessInput().books[0]!.instrumentId).toBe(instrument.instrumentId);
  // /readyz's summary and the metrics read only states: the same.
  expect(feeder.readinessSummary().notLiveFirst.map((b) => [b.symbol, b.state])).toEqual([["BTC-USDT", "stale"], ["ETH-USDT", "stale"]]);
  expect(feeder.metricsSnapshot().books.filter((c) => c.count > 0).map((c) => [c.state, c.count])).toEqual([["stale", 2]]);
  expect(lines.filter((l) => l.level === "error").map((l) => l.msg).at(-1)).toBe("exception while reading a book's summary (/books, /status); listed as unreadable, the others as usual");
});

/**
 * A LIVE book whose fields cannot be read (a bug): /books lists it `live`, valid false. It may differ from the venue's
 * (nothing can show it does not), so readiness never counts it live: /status's and /readyz's (which reads again a book
 * whose summary threw, and only such a book: the others' states alone). Before, both counted it live: /readyz could
 * be 200 with a book /books showed unusable; /metrics' feeder_books{state="live"} counted it until s-livecount (now
 * `unreadable`). Readable again, it counts live again.
 */
test("a LIVE book whose summary cannot be read is not counted live by /status, /readyz or /metrics; readable again, it is", { timeout: 20_000 }, async () => {
  const { feeder } = await startTwoLiveOkxBooks(82);
  const before = evaluateSummary(feeder.readinessSummary());
  expect([before.live, before.reasonCounts.book_not_live]).toEqual([2, undefined]);
  // Read synchronously from here: no refresh of the book runs in between (its encoding would throw too).
  const savedUs = feeder.books()[0]!.tsExchangeUs;
  Object.defineProperty(feeder.books()[0]!, "tsExchangeUs", {
    configurable: true,
    get() {
      throw new Error("book times unreadable (test)");
    },
  });
  expect(feeder.bookSummaries().map((b) => [b.symbol, b.state, b.valid])).toEqual([["BTC-USDT", "live", false], ["ETH-USDT", "live", true]]);
  const status = evaluateReadiness(feeder.readinessInput());
  expect([status.ready, status.live]).toEqual([false, 1]);
  expect(status.reasons.filter((r) => r.check === "book_not_live").map((r) => [r.symbol, r.state])).toEqual([["BTC-USDT", "live"]]);
  const readyz = evaluateSummary(feeder.readinessSummary());
  expect([readyz.ready, readyz.live, readyz.reasonCounts.book_not_live]).toEqual([false, 1, 1]);
  expect(readyz.reasons.filter((r) => r.check === "book_not_live").map((r) => r.detail)).toEqual(["okx spot:BTC-USDT is live (snapshot_applied) but its book cannot be read (/books names the error)"]);
  // /metrics agrees: feeder_books counts it `unreadable`, not live (until s-livecount it counted it live).
  const books = () => feeder.metricsSnapshot().books.filter((c) => c.count > 0).map((c) => [c.state, c.count]);
  expect(books()).toEqual([["live", 1], ["unreadable", 1]]);
  Object.defineProperty(feeder.books()[0]!, "tsExchangeUs", { value: savedUs, writable: true, configurable: true, enumerable: true });
  const after = evaluateSummary(feeder.readinessSummary());
  expect([after.live, after.reasonCounts.book_not_live]).toEqual([2, undefined]);
  expect(books()).toEqual([["live", 2]]);
});

/**
 * A book whose message throws while applied and whose status then cannot be encoded either: the resync must still be
 * asked for. Before, contain() published the status and asked for the resync in one try: the status threw, the resync
 * was never asked for, and the book stayed RESYNCING for good ("could not resync after an exception").
 */
test("a book whose apply and status both throw is still resynced; the other book goes on", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, u, sub, pub } = await startTwoLiveOkxBooks(82);
  // Read by every encoding (the status's too), written by every apply: both throw.
  Object.defineProperty(pub(0), "venueSeq", {
    get() {
      throw new Error("book header unreadable (test)");
    },
    set() {
      throw new Error("book header unwritable (test)");
    },
  });
  venue.sink!.onBookUpdate(0, update(u, false, 2, [[999, 1]], []));
  expect(pub(0).state).toBe(BookState.RESYNCING);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  venue.sink!.onBookUpdate(1, update(u, false, 2, [[19999, 1]], []));
  await waitFor(() => sub(other)?.venueSeq === 2, "the other book's delta");
  expect(sub(other)!.usable).toBe(true);
  // Its status could not be encoded from the book: a fallback status (instrument, state, reason, instrSeq only) went
  // out before the other book's delta, so subscribers no longer show it usable. Before, nothing was sent and they did
  // until the venue's next snapshot.
  expect(sub(instrument)!.usable).toBe(false);
  expect(sub(instrument)!.state).toBe(BookState.RESYNCING);
});

/**
 * A book whose status cannot be encoded because its instrument cannot be read (a bug): the handler named the book by
 * reading that instrument again, so it threw too, out of the venue's call and out of Feeder.stop() (until s-smallleft).
 * Now it names the book by the subscription's names, sends the bare status, and stop() halts the others.
 */
test("a book whose instrument cannot be read: its status failure is logged by the subscription's names; stop() does not throw", { timeout: 20_000 }, async () => {
  const { instrument, other, venue, feeder, lines, sub, pub } = await startTwoLiveOkxBooks(84);
  Object.defineProperty(pub(0), "instrument", {
    get() {
      throw new Error("instrument unreadable (test)");
    },
  });
  expect(() => venue.sink!.onBookInvalid(0, BookState.STALE, StatusReason.STALE_FEED)).not.toThrow();
  venue.sink!.onBookInvalid(1, BookState.STALE, StatusReason.STALE_FEED);
  await waitFor(() => sub(other)?.state === BookState.STALE, "the other book's status");
  expect([sub(instrument)!.state, sub(instrument)!.usable]).toEqual([BookState.STALE, false]); // the bare status
  expect(lines.filter((l) => l.level === "error").map((l) => l.fields.detail)).toEqual(["spot BTC-USDT: instrument unreadable (test)"]);
  await expect(feeder.stop()).resolves.toBeUndefined();
  expect(pub(1).state).toBe(BookState.HALTED);
});
