/**
 * The publish path against the rule subscribers trade on, randomized: a scripted venue drives one book through
 * snapshots, deltas and full books (replace) that are good, crossed, or hold a level at price 0 (refused after the
 * apply) or refused by the venue's checksum after it, invalidations of every state, tick changes at unchanged
 * exponents and refreshes; even seeds publish in the smallest datagrams (856 bytes: 46 levels a message) with levels
 * spread over 50 ticks a side, so long messages go out as chunks and parts,
 * odd seeds cut snapshots at 4 levels a side (a copy is then compared down to its floors).
 * After each step (a marker book on the same stream says everything before it has arrived) the subscriber's copy is
 * checked against the publisher's: `valid` ⇒ identical levels (wire-protocol §6.8), `usable` ⇒ identical and the
 * publisher's book LIVE; after a refresh, or a snapshot that made the book LIVE, the copy is valid again and usable
 * exactly when the book is LIVE (every skipped instrSeq is recovered); /books' `valid` ⇔ LIVE and its `invalidations`
 * the times the book went from LIVE to another state (operations.md). Real Feeder, real publisher, real multicast on
 * 127.0.0.1 (TTL 1); ~200 steps a seed. SEEDS=3,4,… runs others.
 */
import { afterEach, expect, test } from "vitest";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { levelsOfView, sameLevels, uniqueDestination, waitFor } from "../e2e/harness.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import { rng } from "../support/mulberry32.ts";
import { deltaLevelsPerDatagram, MIN_PUBLISH_DATAGRAM_BYTES } from "../../src/wire/layout.ts";
import { ScriptedVenue, startScriptedOkxSpot } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const STEPS = 200;

for (const seed of (process.env.SEEDS ?? "1,2").split(",").map(Number)) {
  test(`seed ${seed}: a subscriber's valid copy is the publisher's book, a usable one also LIVE`, { timeout: 30_000 }, async () => {
    const r = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const mk = (symbol: string, tickSize = "0.1"): Instrument => ({ instrumentId: instrumentIdOf("okx", "spot", symbol), venue: "okx", market: "spot", symbol, priceExp: 1, qtyExp: 2, tickSize, lotSize: "0.01" });
    let instrument = mk("BTC-USDT");
    const marker = mk("ETH-USDT");
    const venue = new ScriptedVenue(instrument);
    // OKX's checksum, scripted: the next applied update of the book is found different from the venue's.
    let checksumFails = false;
    let checksumRefused = 0;
    (venue as ScriptedVenue & { verify(index: number): boolean }).verify = (index) => {
      if (index !== 0 || !checksumFails) return true;
      checksumFails = false;
      checksumRefused++;
      return false;
    };
    venue.loadInstruments = () => Promise.resolve([instrument, marker]);
    // Even seeds: the smallest datagrams, so snapshots go out in chunks and long deltas in parts (§4.3, §4.4); odd
    // seeds: snapshots cut at 4 levels a side (publish.snapshot_depth), a copy then known down to its floors (§6.6).
    const publish = (p: PublishConfig): PublishConfig => (seed % 2 === 0 ? { ...p, maxDatagramBytes: MIN_PUBLISH_DATAGRAM_BYTES } : { ...p, snapshotDepth: 4 });
    // Levels a side spread over this many ticks; even seeds wide enough for messages beyond one datagram.
    const spread = seed % 2 === 0 ? 50 : 12;
    const levelsPerMessage = deltaLevelsPerDatagram(MIN_PUBLISH_DATAGRAM_BYTES);
    let longMessages = 0;
    const { feeder, subscriber } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT", "ETH-USDT"], dest: uniqueDestination(81 + seed), cleanups, publish });
    const u = new BookUpdate();
    const sub = () => subscriber.books.get(instrument.instrumentId);
    const pub = () => feeder.books()[0]!;
    let venueSeq = 0;
    let markerSeq = 0;
    const history: string[] = [];
    // /books' invalidations: the times the book stopped being LIVE (operations.md), counted from outside.
    let stoppedLive = 0;
    let cutCopies = 0;

    // Levels around a mid of 100.0 (mantissa 1000): bids below, asks above, now and then one across (crossed) or at 0.
    const side = (isBid: boolean, n: number, deletes: boolean): [number, number][] =>
      Array.from({ length: n }, () => {
        const across = r() < 0.03;
        const zero = r() < 0.03;
        const offset = 1 + Math.floor(r() * spread);
        const price = zero ? 0 : isBid !== across ? 1000 - offset : 1000 + offset;
        return [price, deletes && r() < 0.35 ? 0 : 1 + Math.floor(r() * 50)] as [number, number];
      });
    // Now and then a message long enough to take several datagrams at the smallest size (even seeds).
    const wide = () => (r() < 0.15 ? (seed % 2 === 0 ? 60 : 14) : 6);
    const fill = (kind: "snapshot" | "delta" | "replace", bids: [number, number][], asks: [number, number][]) => {
      u.reset();
      u.isSnapshot = kind === "snapshot";
      u.replace = kind === "replace";
      u.venueSeq = ++venueSeq;
      if (bids.length + asks.length > levelsPerMessage) longMessages++;
      for (const [p, q] of bids) u.pushBid(p, q);
      for (const [p, q] of asks) u.pushAsk(p, q);
      return u;
    };
    const sorted = (levels: [number, number][], isBid: boolean) => {
      const m = new Map(levels.filter(([, q]) => q !== 0));
      return [...m].sort((a, b) => (isBid ? b[0] - a[0] : a[0] - b[0]));
    };

    for (let step = 0; step < STEPS; step++) {
      const op = r();
      const wasLive = pub().state === BookState.LIVE;
      let refreshed = false;
      if (r() < 0.05) {
        checksumFails = true;
        history.push("checksum fails next");
      }
      if (op < 0.2) {
        const [b, a] = [side(true, Math.floor(r() * wide()), false), side(false, Math.floor(r() * wide()), false)];
        history.push(`snapshot ${JSON.stringify([b, a])}`);
        venue.sink!.onBookUpdate(0, fill("snapshot", sorted(b, true), sorted(a, false)));
      } else if (op < 0.7) {
        const [b, a] = [side(true, Math.floor(r() * (wide() - 2)), true), side(false, Math.floor(r() * (wide() - 2)), true)];
        history.push(`delta ${JSON.stringify([b, a])}`);
        venue.sink!.onBookUpdate(0, fill("delta", b, a));
      } else if (op < 0.82) {
        const [b, a] = [side(true, Math.floor(r() * wide()), false), side(false, Math.floor(r() * wide()), false)];
        history.push(`replace ${JSON.stringify([b, a])}`);
        venue.sink!.onBookUpdate(0, fill("replace", sorted(b, true), sorted(a, false)));
      } else if (op < 0.88) {
        // Every book's refresh (definition + snapshot at the current instrSeq): it must make the copy the publisher's.
        history.push("refresh");
        feeder.publisher.refreshAll();
        refreshed = true;
      } else if (op < 0.96) {
        const state = pick([BookState.RESYNCING, BookState.STALE, BookState.HALTED]);
        const reason = pick([StatusReason.SEQUENCE_GAP, StatusReason.DISCONNECTED, StatusReason.STALE_FEED, StatusReason.VENUE_RESET]);
        history.push(`invalid ${state}/${reason}`);
        venue.sink!.onBookInvalid(0, state, reason);
      } else {
        // A tick change at the same exponents, as the instrument watch applies it (common/instrument-watch.ts).
        instrument = mk("BTC-USDT", instrument.tickSize === "0.1" ? "0.5" : "0.1");
        history.push(`tick ${instrument.tickSize}`);
        venue.sink!.onBookInvalid(0, BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
        venue.sink!.onInstrumentChanged(0, instrument);
      }
      // The marker, on the same stream after the step: once it is in, so is everything the step published.
      markerSeq++;
      u.reset();
      u.isSnapshot = true;
      u.venueSeq = markerSeq;
      u.pushBid(20000, markerSeq);
      u.pushAsk(20001, 1);
      venue.sink!.onBookUpdate(1, u);
      await waitFor(() => subscriber.books.get(marker.instrumentId)?.venueSeq === markerSeq, `marker ${markerSeq}`);
      const s = sub();
      const p = pub();
      const at = `seed ${seed} step ${step}: ${history.slice(-4).join(" | ")}`;
      // The publisher's levels as far as the copy knows them (a cut side down to its floor: wire-protocol §6.6 item 4).
      const known = () => {
        const l = levelsOfView(p);
        return { bids: l.bids.filter(([px]) => px >= s!.bidFloorPx), asks: l.asks.filter(([px]) => px <= s!.askCeilPx) };
      };
      if (s !== undefined && s.valid) expect(sameLevels(levelsOfView(s), known()), `valid copy differs; ${at}`).toBe(true);
      if (s !== undefined && (s.bidFloorPx !== -Infinity || s.askCeilPx !== Infinity)) cutCopies++;
      if (s !== undefined && s.usable) expect(p.state, `usable while the publisher's book is not LIVE; ${at}`).toBe(BookState.LIVE);
      // Recovered: a refresh, or a snapshot the publisher took (LIVE after a step that was not), leaves the copy valid.
      if (refreshed || (p.state === BookState.LIVE && !wasLive)) {
        expect(s?.valid, `not valid after ${refreshed ? "a refresh" : "a snapshot"}; ${at}`).toBe(true);
        expect(s!.usable, `usable ≠ LIVE after ${refreshed ? "a refresh" : "a snapshot"}; ${at}`).toBe(p.state === BookState.LIVE);
      }
      checksumFails = false;
      if (wasLive && p.state !== BookState.LIVE) stoppedLive++;
      const summary = feeder.bookSummaries()[0]!;
      expect(summary.valid, at).toBe(p.state === BookState.LIVE);
      expect(summary.invalidations, `invalidations; ${at}`).toBe(stoppedLive);
    }
    // The run went through the cases it is about.
    expect(feeder.stats().applyErrors).toBeGreaterThan(0);
    expect(history.some((h) => h.startsWith("tick"))).toBe(true);
    expect(checksumRefused).toBeGreaterThan(0);
    if (seed % 2 === 1) expect(cutCopies).toBeGreaterThan(10);
    if (seed % 2 === 0) expect(longMessages).toBeGreaterThan(3);
    expect(history.filter((h) => h === "refresh").length).toBeGreaterThan(5);
  });
}
