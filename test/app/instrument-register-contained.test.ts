/**
 * A book's instrument that the publisher refuses to register (src/app/feeder.ts VenuePipeline): (1) a changed
 * instrument whose new definition is refused leaves the book RESYNCING / instrument_changed with the error logged
 * naming the symbol, and the venue's updates (at the new exponents) are not applied nor published through the handle
 * that still holds the old definition, until a later change registers; before, the new builder was stored first and
 * the exception went into the adapter. (2) a late symbol whose first status cannot be encoded is still added and
 * leaves the unresolved list (the status contained); before, the exception left it listed unresolved for good.
 * (3) a refused book says instrument_changed until a change registers: a stale check does not replace the reason (a
 * refresh failure then made it parse_error), and one closed then listed again at the refused definition leaves
 * halted / instrument_closed at its first (dropped) update.
 * Real Feeder, scripted venue, publisher methods made to throw.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import type { VenueMetric } from "../../src/venues/venue.ts";
import { rng } from "../support/mulberry32.ts";
import { evaluateReadiness, evaluateSummary } from "../../src/app/readiness.ts";
import { ScriptedVenue, scriptedFeederConfig, update } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const instrument: Instrument = { instrumentId: instrumentIdOf("bybit", "spot", "BTCUSDT"), venue: "bybit", market: "spot", symbol: "BTCUSDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };

async function start(venue: ScriptedVenue, log: Logger = silentLogger): Promise<Feeder> {
  const { group, port } = uniqueDestination(81);
  const { spec, config } = scriptedFeederConfig({ venue, venueName: "bybit", market: "spot", depth: 25, symbols: [instrument.symbol], group, port });
  const feeder = new Feeder({ config, log, venues: { bybit: spec } });
  cleanups.push(() => feeder.stop());
  await feeder.start();
  return feeder;
}

test("a changed instrument whose definition is refused stays RESYNCING, its updates never published at the old exponents", { timeout: 20_000 }, async () => {
  const errors: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = { ...silentLogger, error: (msg, fields) => void errors.push({ msg, fields }), child: () => log };
  const venue = new ScriptedVenue(instrument);
  const feeder = await start(venue, log);
  const sink = venue.sink!;
  const u = new BookUpdate();
  update(u, true, 1, [[1000, 5]], [[1001, 3]]);
  sink.onBookUpdate(0, u);
  expect(feeder.books()[0]!.state).toBe(BookState.LIVE);

  const publisher = feeder.publisher;
  const register = publisher.register.bind(publisher);
  publisher.register = () => {
    throw new RangeError("definition refused (test)");
  };
  let booksPublished = 0;
  const publishSnapshot = publisher.publishSnapshot.bind(publisher);
  const publishDelta = publisher.publishDelta.bind(publisher);
  publisher.publishSnapshot = (h, v) => (booksPublished++, publishSnapshot(h, v));
  publisher.publishDelta = (h, v, c) => (booksPublished++, publishDelta(h, v, c));
  const statuses: BookView[] = [];
  const publishStatus = publisher.publishStatus.bind(publisher);
  publisher.publishStatus = (h, v) => (statuses.push(v), publishStatus(h, v));

  const changed: Instrument = { ...instrument, priceExp: 2, tickSize: "0.01" };
  sink.onInstrumentChanged!(0, changed);
  const book = feeder.books()[0]!;
  expect(book.state).toBe(BookState.RESYNCING);
  expect(book.reason).toBe(StatusReason.INSTRUMENT_CHANGED);
  expect(statuses.map((s) => s.state)).toEqual([BookState.RESYNCING]); // subscribers told, through the old handle
  expect(errors.some((e) => e.fields?.symbol === "BTCUSDT" && String(e.fields?.error).includes("definition refused"))).toBe(true);
  expect(feeder.stats().applyErrors).toBe(1);

  // The venue's snapshot at the new exponents: not applied, nothing published, never LIVE.
  update(u, true, 2, [[10000, 5]], [[10010, 3]]);
  sink.onBookUpdate(0, u);
  update(u, false, 3, [[10000, 6]], []);
  sink.onBookUpdate(0, u);
  expect(booksPublished).toBe(0);
  expect(feeder.books()[0]!.state).toBe(BookState.RESYNCING);
  expect(feeder.readinessSummary().live).toBe(0);
  // /books says why it stays resyncing (before, nothing but resyncing / instrument_changed, as any change in progress).
  expect(feeder.bookSummaries()[0]!.detail).toBe("changed definition refused (definition refused (test)): the venue's updates are dropped until a later change registers");
  // /readyz's and /status's reasons (the status page's list) name it too: until s-httpops "is resyncing
  // (instrument_changed)", as a change awaiting its snapshot (which comes back by itself).
  // (Without the venue: the scripted adapter is "okx", the instrument "bybit"; /readyz names the adapter's, /status the book's.)
  const notLive = (reasons: { check: string; detail: string }[]) => reasons.filter((r) => r.check === "book_not_live").map((r) => r.detail.replace(/^\w+ /, ""));
  const named = ["spot:BTCUSDT is resyncing (instrument_changed): changed definition refused (definition refused (test)): the venue's updates are dropped until a later change registers"];
  expect(notLive(evaluateSummary(feeder.readinessSummary()).reasons)).toEqual(named);
  expect(notLive(evaluateReadiness(feeder.readinessInput()).reasons)).toEqual(named);
  // The log line says what was refused (the new definition) and what to do (until s-httpops neither).
  const refusal = errors.find((e) => e.fields?.symbol === "BTCUSDT")!;
  expect(refusal.msg).toBe(
    "instrument changed but the publisher refused its new definition: the book stays resyncing / instrument_changed, not usable (its updates dropped) until the venue changes the instrument again; nothing to configure (to be ready without it, remove the symbol from the config)",
  );
  expect(refusal.fields).toEqual({ symbol: "BTCUSDT", market: "spot", tickSize: "0.01", lotSize: "0.01", priceExp: 2, qtyExp: 2, error: "definition refused (test)" });

  // A later change that registers: the book comes back from the next snapshot.
  publisher.register = register;
  sink.onInstrumentChanged!(0, changed);
  update(u, true, 4, [[10000, 5]], [[10010, 3]]);
  sink.onBookUpdate(0, u);
  expect(booksPublished).toBe(1);
  expect(feeder.books()[0]!.state).toBe(BookState.LIVE);
  expect(feeder.books()[0]!.instrument.priceExp).toBe(2);
  expect(feeder.bookSummaries()[0]!.detail).toBeUndefined();
});

test("a late symbol whose first status cannot be encoded is added and leaves the unresolved list", { timeout: 20_000 }, async () => {
  const venue = new ScriptedVenue(instrument);
  venue.loadInstruments = () => Promise.resolve([undefined]);
  const feeder = await start(venue);
  expect(feeder.readinessInput().unresolved.map((u) => u.symbol)).toEqual(["BTCUSDT"]);

  const publisher = feeder.publisher;
  const publishStatus = publisher.publishStatus.bind(publisher);
  publisher.publishStatus = () => {
    throw new RangeError("status refused (test)");
  };
  venue.sink!.onInstrumentResolved!(0, instrument);
  publisher.publishStatus = publishStatus;

  expect(feeder.readinessInput().unresolved).toEqual([]);
  expect(feeder.books().map((b) => b.instrument.symbol)).toEqual(["BTCUSDT"]);
  expect(feeder.stats().applyErrors).toBe(1); // the status contained, counted
  const u = new BookUpdate();
  update(u, true, 1, [[1000, 5]], [[1001, 3]]);
  venue.sink!.onBookUpdate(0, u);
  expect(feeder.books()[0]!.state).toBe(BookState.LIVE);
});

test("a refused change on a book already resyncing (a gap) says instrument_changed, in /books and a new status", { timeout: 20_000 }, async () => {
  // Before: markInvalid(RESYNCING) was a no-op on a RESYNCING book, so it stayed RESYNCING / sequence_gap for good (the
  // venue's snapshots dropped) and the status sent repeated the last instrSeq: /books named a gap, not the refusal.
  const venue = new ScriptedVenue(instrument);
  const feeder = await start(venue);
  const sink = venue.sink!;
  const u = new BookUpdate();
  update(u, true, 1, [[1000, 5]], [[1001, 3]]);
  sink.onBookUpdate(0, u);
  sink.onBookInvalid(0, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  const publisher = feeder.publisher;
  publisher.register = () => {
    throw new RangeError("definition refused (test)");
  };
  const statuses: [number, number][] = [];
  const publishStatus = publisher.publishStatus.bind(publisher);
  publisher.publishStatus = (h, v) => (statuses.push([v.reason, v.instrSeq]), publishStatus(h, v));
  const seqBefore = feeder.books()[0]!.instrSeq;
  sink.onInstrumentChanged!(0, { ...instrument, priceExp: 2, tickSize: "0.01" });
  const book = feeder.books()[0]!;
  expect([book.state, book.reason]).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  expect(statuses).toEqual([[StatusReason.INSTRUMENT_CHANGED, seqBefore + 1]]);
});

/** The rig of the tests below: a LIVE book whose changed instrument the publisher refuses (RESYNCING / instrument_changed). */
async function refusedBook(): Promise<{ feeder: Feeder; venue: ScriptedVenue; u: BookUpdate }> {
  const venue = new ScriptedVenue(instrument);
  const feeder = await start(venue);
  const u = new BookUpdate();
  update(u, true, 1, [[1000, 5]], [[1001, 3]]);
  venue.sink!.onBookUpdate(0, u);
  feeder.publisher.register = () => {
    throw new RangeError("definition refused (test)");
  };
  venue.sink!.onInstrumentChanged!(0, { ...instrument, priceExp: 2, tickSize: "0.01" });
  return { feeder, venue, u };
}

const stateOf = (feeder: Feeder) => [feeder.books()[0]!.state, feeder.books()[0]!.reason];

test("a second refused change on a book already resyncing / instrument_changed sends no status (nothing changed), still logged and counted", { timeout: 20_000 }, async () => {
  // Before: the status went out unconditionally, a repeat of the last one at the same instrSeq (subscribers took it as
  // another state change, `listen` printed it again) though neither the state nor the reason had changed.
  const { feeder, venue } = await refusedBook();
  const statuses: [number, number, number][] = [];
  const publishStatus = feeder.publisher.publishStatus.bind(feeder.publisher);
  feeder.publisher.publishStatus = (h, v) => (statuses.push([v.state, v.reason, v.instrSeq]), publishStatus(h, v));
  const errorsBefore = feeder.stats().applyErrors;
  venue.sink!.onInstrumentChanged!(0, { ...instrument, priceExp: 3, tickSize: "0.001" });
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  expect(statuses).toEqual([]);
  expect(feeder.stats().applyErrors).toBe(errorsBefore + 1);
  // Closed meanwhile, a refused change is news again: resyncing / instrument_changed, one status.
  venue.sink!.onBookInvalid(0, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED);
  venue.sink!.onInstrumentChanged!(0, { ...instrument, priceExp: 2, tickSize: "0.01" });
  expect(statuses.map(([state, reason]) => [state, reason])).toEqual([
    [BookState.HALTED, StatusReason.INSTRUMENT_CLOSED],
    [BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED],
  ]);
});

test("a refused book whose periodic refresh throws, or that the venue calls stale, still says instrument_changed", { timeout: 20_000 }, async () => {
  const { feeder, venue } = await refusedBook();
  const pipeline = (feeder as unknown as { pipelines: { onRefreshFailed(v: BookView, e: unknown): boolean }[] }).pipelines[0]!;
  expect(pipeline.onRefreshFailed(feeder.books()[0]!, new RangeError("refresh refused (test)"))).toBe(true);
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  venue.sink!.onBookInvalid(0, BookState.STALE, StatusReason.STALE_FEED);
  expect(pipeline.onRefreshFailed(feeder.books()[0]!, new RangeError("refresh refused (test)"))).toBe(true);
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
});

test("a refused book closed then listed again (its updates dropped) says instrument_changed, not instrument_closed", { timeout: 20_000 }, async () => {
  const { feeder, venue, u } = await refusedBook();
  venue.sink!.onBookInvalid(0, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED);
  expect(stateOf(feeder)).toEqual([BookState.HALTED, StatusReason.INSTRUMENT_CLOSED]); // closed: true while it is
  const statuses: [number, number][] = [];
  const publishStatus = feeder.publisher.publishStatus.bind(feeder.publisher);
  feeder.publisher.publishStatus = (h, v) => (statuses.push([v.state, v.reason]), publishStatus(h, v));
  // Listed as trading again at the refused definition (no change to tell): subscribed, its snapshot dropped.
  update(u, true, 2, [[10000, 5]], [[10010, 3]]);
  venue.sink!.onBookUpdate(0, u);
  venue.sink!.onBookUpdate(0, u);
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  expect(statuses).toEqual([[BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]]); // one status, not one per update
  expect(feeder.readinessSummary().live).toBe(0);
});

test("a refused book is counted live by no reader: feeder_books, /readyz, nor the venue's topics_live once its channel is live", { timeout: 20_000 }, async () => {
  // The adapter's channel goes LIVE with the snapshot it passes on (as every venue's TopicResync.onLive), dropped here.
  // Before, feeder_venue_topics_live passed the adapter's count: 1 while /books, /readyz and feeder_books said resyncing.
  const { feeder, venue, u } = await refusedBook();
  let channelLive = false;
  const metrics = (): VenueMetric[] => [{ name: "topics_live", help: "Book channels whose book is LIVE", type: "gauge", labels: {}, value: channelLive ? 1 : 0 }];
  Object.assign(venue, { metrics });
  venue.stats = () => ({ topicsLive: channelLive ? 1 : 0 });
  const readers = () => {
    const m = feeder.metricsSnapshot();
    return {
      topicsLive: m.venues.okx!.find((s) => s.name === "topics_live")!.value,
      statsTopicsLive: feeder.stats().venues.okx!.topicsLive,
      booksLive: m.books.find((b) => b.state === "live")!.count,
      readyzLive: feeder.readinessSummary().live,
      listedLive: feeder.bookSummaries().filter((b) => b.valid).length,
    };
  };
  channelLive = true;
  venue.sink!.onBookUpdate(0, update(u, true, 2, [[10000, 5]], [[10010, 3]]));
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  expect(readers()).toEqual({ topicsLive: 0, statsTopicsLive: 0, booksLive: 0, readyzLive: 0, listedLive: 0 });
  // A change that registers, then the channel's next snapshot: live in every reader again.
  delete (feeder.publisher as { register?: unknown }).register;
  venue.sink!.onInstrumentChanged!(0, { ...instrument, priceExp: 2, tickSize: "0.01" });
  venue.sink!.onBookUpdate(0, update(u, true, 3, [[10000, 5]], [[10010, 3]]));
  expect(readers()).toEqual({ topicsLive: 1, statsTopicsLive: 1, booksLive: 1, readyzLive: 1, listedLive: 1 });
});

const gapsOf = (feeder: Feeder) => feeder.bookSummaries()[0]!.gaps;

test("a refused book that was closed follows the venue's STALE and resync (never halted while the venue trades it)", { timeout: 20_000 }, async () => {
  // Before: onBookInvalid returned for every state but HALTED, so a closed refused book listed again stayed halted /
  // instrument_closed through the venue's stale check and its resync, until its first (dropped) update.
  const { feeder, venue } = await refusedBook();
  const sink = venue.sink!;
  sink.onBookInvalid(0, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED);
  const statuses: [number, number][] = [];
  const publishStatus = feeder.publisher.publishStatus.bind(feeder.publisher);
  feeder.publisher.publishStatus = (h, v) => (statuses.push([v.state, v.reason]), publishStatus(h, v));
  sink.onBookInvalid(0, BookState.STALE, StatusReason.STALE_FEED); // subscribed again, silent: stale, as the venue says
  expect(stateOf(feeder)).toEqual([BookState.STALE, StatusReason.STALE_FEED]);
  sink.onBookInvalid(0, BookState.RESYNCING, StatusReason.DISCONNECTED); // its resync's snapshot will be dropped
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  sink.onBookInvalid(0, BookState.STALE, StatusReason.STALE_FEED); // never better than resyncing while refused
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  sink.onBookInvalid(0, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED);
  sink.onBookInvalid(0, BookState.RESYNCING, StatusReason.SEQUENCE_GAP); // a resync straight from halted
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  expect(statuses).toEqual([
    [BookState.STALE, StatusReason.STALE_FEED],
    [BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED],
    [BookState.HALTED, StatusReason.INSTRUMENT_CLOSED],
    [BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED],
  ]);
});

test("a refused book counts no gaps in /books (its updates are dropped: the gap is its sequence's, not its book's)", { timeout: 20_000 }, async () => {
  // Before: every gap the venue reported for it added to `gaps` while the book stayed resyncing / instrument_changed.
  const { feeder, venue } = await refusedBook();
  venue.sink!.onBookInvalid(0, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  venue.sink!.onBookInvalid(0, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  expect(gapsOf(feeder)).toBe(0);
  expect(stateOf(feeder)).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  // A change that registers (the publisher's own register again): its gaps count again, once each.
  delete (feeder.publisher as { register?: unknown }).register;
  venue.sink!.onInstrumentChanged!(0, instrument);
  const u = new BookUpdate();
  venue.sink!.onBookUpdate(0, update(u, true, 9, [[1000, 5]], [[1001, 3]]));
  venue.sink!.onBookInvalid(0, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  expect(gapsOf(feeder)).toBe(1);
});

test("randomized: a refused book's state follows the venue's events as the reference model says (never live, no gaps)", { timeout: 20_000 }, async () => {
  const { feeder, venue, u } = await refusedBook();
  const sink = venue.sink!;
  const random = rng(0x5ef05ed);
  // The model: halted while closed; the venue's stale shown only over halted; anything else (a resync, an update)
  // resyncing / instrument_changed, as its updates are dropped. One status per change of state or reason.
  let model: [number, number] = [BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED];
  let statuses = 0;
  const publishStatus = feeder.publisher.publishStatus.bind(feeder.publisher);
  feeder.publisher.publishStatus = (h, v) => (statuses++, publishStatus(h, v));
  const refused: [number, number] = [BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED];
  const resyncReasons = [StatusReason.SEQUENCE_GAP, StatusReason.DISCONNECTED, StatusReason.VENUE_RESET, StatusReason.CROSSED_BOOK];
  let expectedStatuses = 0;
  for (let step = 0; step < 300; step++) {
    const before = model;
    const pick = Math.floor(random() * 4);
    if (pick === 0) {
      sink.onBookInvalid(0, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED);
      model = [BookState.HALTED, StatusReason.INSTRUMENT_CLOSED];
    } else if (pick === 1) {
      sink.onBookInvalid(0, BookState.STALE, StatusReason.STALE_FEED);
      if (model[0] === BookState.HALTED) model = [BookState.STALE, StatusReason.STALE_FEED];
    } else if (pick === 2) {
      sink.onBookInvalid(0, BookState.RESYNCING, resyncReasons[Math.floor(random() * resyncReasons.length)]!);
      model = refused;
    } else {
      sink.onBookUpdate(0, update(u, random() < 0.5, 100 + step, [[10000, 5]], [[10010, 3]]));
      model = refused;
    }
    if (before[0] !== model[0] || before[1] !== model[1]) expectedStatuses++;
    expect(stateOf(feeder), `step ${step}`).toEqual(model);
  }
  expect(statuses).toBe(expectedStatuses);
  expect(gapsOf(feeder)).toBe(0);
  expect(feeder.readinessSummary().live).toBe(0);
});
