/**
 * The instrument-closed scenario the Binance, Coinbase, OKX and Upbit/Bithumb tests share: two books live, the
 * first stops trading (the simulator's close()), its stream goes silent while the second's goes on; the stale book
 * asks its listing and is HALTED / instrument_closed, not resynced while the listing is checked again, logged once;
 * trading again (reopen()), both books are LIVE and the venue counts one reopen. Each venue adds its own checks
 * (afterHalt, afterChecks): how it shows the halt differs (a sink's last status, topicInfo, the request list).
 */
import { expect } from "vitest";
import { createLogger, type Logger } from "../../../src/core/log.ts";
import type { BookSink, VenueAdapter } from "../../../src/venues/venue.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { waitFor } from "../../e2e/harness.ts";

/** Waits up to `waitMs` for `cond`, the simulator stepped one message before each check (at rate 0 it moves only so). */
export function stepSimUntil(sim: { step(messages: number): unknown }, cond: () => boolean, what: string, waitMs: number): Promise<void> {
  return waitFor(() => {
    sim.step(1);
    return cond();
  }, what, waitMs);
}

/** A JSON logger at info whose lines the test reads. */
export function recordedLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) }), lines };
}

/** A sink that keeps each book's last invalid status (`last[i]`). */
export function lastStatusSink(): { sink: BookSink; last: { state: BookState; reason: StatusReason }[] } {
  const last: { state: BookState; reason: StatusReason }[] = [];
  const sink: BookSink = { onBookUpdate: () => {}, onBookInvalid: (i, state, reason) => void (last[i] = { state, reason }), onInstrumentChanged: () => {} };
  return { sink, last };
}

export interface ClosedScenario {
  adapter: Pick<VenueAdapter, "stats">;
  /** The simulator, stepped once per poll: the book left open keeps moving. */
  sim: { step(n: number): void };
  lines: string[];
  waitMs: number;
  close(): void;
  reopen(): void;
  /** The closed book (index 0) is HALTED, as this venue shows it; `haltedWhat` names it in a timeout. */
  halted(): boolean;
  haltedWhat: string;
  afterHalt(): void;
  /** The listing requests made so far. */
  listingChecks(): number;
  afterChecks(): void;
  reopenedWhat: string;
}

/** Runs the scenario on a started adapter whose two books are coming up. */
export async function closeThenReopen(s: ClosedScenario): Promise<void> {
  const live = () => s.adapter.stats().topicsLive;
  const stepUntil = (cond: () => boolean, what: string) => stepSimUntil(s.sim, cond, what, s.waitMs);
  await stepUntil(() => live() === 2, "both books live");

  s.close();
  await stepUntil(s.halted, s.haltedWhat);
  s.afterHalt();
  // Several stale periods later: no stale resync, no new warning, still halted.
  const asked = s.listingChecks();
  const stale = s.adapter.stats().staleResyncs;
  await stepUntil(() => s.listingChecks() >= asked + 3, "a few listing checks");
  expect(s.adapter.stats().staleResyncs).toBe(stale); // no stale resync of a closed book
  s.afterChecks();
  expect(s.lines.filter((l) => l.includes("no longer listed as trading"))).toHaveLength(1);

  s.reopen();
  await stepUntil(() => live() === 2, s.reopenedWhat);
  expect(s.adapter.stats()).toMatchObject({ instrumentsClosed: 0, instrumentReopens: 1 });
}

/** The expected last status of a book closed by its venue. */
export const CLOSED = { state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED };
