/**
 * A quiet book's age (/books and /status `recvAgeUs`, the status page's age column, a dead worker's books) across a
 * step of the host's wall clock. tsRecvUs is stamped on nowUs, which follows the step within about a second
 * (core/clock.ts checkWallClock); the age was nowUs − tsRecvUs, so a book not updated since the step was shown an hour
 * old after a step forward of an hour, and 0 after one back, until its next update. Now the age is read from the
 * receipt on the monotonic timeline (BookCounts.recvMonoUs), while tsRecvUs stays the wall-clock receipt it was.
 * Real Feeder, scripted venue (publisher on 127.0.0.1, TTL 1); Date.now stubbed (test/support/stepped-wall-clock.ts).
 */
import { expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { checkWallClock, nowUs } from "../../src/core/clock.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, type Instrument } from "../../src/core/types.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ScriptedVenue, scriptedFeederConfig, update } from "../support/scripted-venue.ts";
import { untilMono, useSteppedWallClock } from "../support/stepped-wall-clock.ts";

const HOUR_MS = 3_600_000;
const clock = useSteppedWallClock();

test("after a step of the wall clock either way, a quiet book's age is still the time since its update", async () => {
  const instrument: Instrument = { instrumentId: instrumentIdOf("bybit", "linear", "QUIETUSDT"), venue: "bybit", market: "linear", symbol: "QUIETUSDT", priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" };
  const venue = new ScriptedVenue(instrument);
  const { group, port } = uniqueDestination(276);
  const { spec, config } = scriptedFeederConfig({ venue, venueName: "bybit", market: "linear", depth: 50, symbols: [instrument.symbol], group, port });
  const feeder = new Feeder({ config, log: silentLogger, venues: { bybit: spec } });
  let stepMs = 0;
  clock.cleanups.push(() => feeder.stop());
  // Last (cleanups run newest first, before the stub is restored): back on the real wall clock for the next test.
  clock.cleanups.push(async () => {
    clock.step(-stepMs);
    checkWallClock();
  });
  await feeder.start();
  checkWallClock(); // on the real clock: no earlier stub's origin

  const u = new BookUpdate();
  update(u, true, 1, [[1000, 5]], [[1001, 3]]);
  const beforeMs = performance.now();
  u.tsRecvUs = nowUs();
  venue.sink!.onBookUpdate(0, u);
  const afterMs = performance.now();
  const recvUs = u.tsRecvUs;
  expect(feeder.books()[0]!.state).toBe(BookState.LIVE);

  /** The book's age must be the monotonic time since its update: at least since `afterMs`, at most since `beforeMs`. */
  const checkAge = (what: string) => {
    const lowUs = (performance.now() - afterMs) * 1000;
    const [s] = feeder.bookSummaries();
    const highUs = (performance.now() - beforeMs) * 1000;
    expect(s!.tsRecvUs, `${what}: the published receipt time`).toBe(recvUs);
    expect(s!.recvAgeUs, what).toBeGreaterThanOrEqual(Math.floor(lowUs) - 1);
    expect(s!.recvAgeUs, what).toBeLessThanOrEqual(Math.ceil(highUs) + 1);
    const d = feeder.bookDetail(venue.venue, "linear", "QUIETUSDT", 1)!;
    expect(d.recvAgeUs, `${what}: /books/{…}`).toBeGreaterThanOrEqual(Math.floor(lowUs) - 1);
    expect(d.recvAgeUs, `${what}: /books/{…}`).toBeLessThanOrEqual(Math.ceil((performance.now() - beforeMs) * 1000) + 1);
  };
  checkAge("before any step");

  clock.step(HOUR_MS);
  stepMs += HOUR_MS;
  expect(checkWallClock()).toBe(true); // nowUs follows the step (as the turn's end does within a second)
  checkAge("an hour ahead"); // before: an hour old

  // Some monotonic time passes, so that an age clamped at 0 cannot pass for the right one.
  const quietFromMs = performance.now();
  await untilMono(() => performance.now() - quietFromMs >= 20, "20 ms");
  clock.step(-2 * HOUR_MS);
  stepMs -= 2 * HOUR_MS;
  expect(checkWallClock()).toBe(true);
  checkAge("an hour behind where it started"); // before: 0 (nowUs − tsRecvUs below 0, clamped)

  // The next update's age starts from it, and its receipt time is on the moved wall clock.
  update(u, false, 2, [[1000, 6]], []);
  u.tsRecvUs = nowUs();
  venue.sink!.onBookUpdate(0, u);
  const [s] = feeder.bookSummaries();
  expect(s!.tsRecvUs).toBe(u.tsRecvUs);
  expect(Math.abs(s!.tsRecvUs! / 1000 - Date.now())).toBeLessThan(50);
  expect(s!.recvAgeUs).toBeLessThan((performance.now() - quietFromMs) * 1000);
});
