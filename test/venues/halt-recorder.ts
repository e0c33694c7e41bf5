/** A sink for instrument-expiry tests: records each halt with its wall time, and counts updates after a book's halt. */
import type { BookUpdate } from "../../src/core/book-update.ts";
import type { BookState, StatusReason } from "../../src/core/types.ts";
import type { BookSink } from "../../src/venues/venue.ts";

export interface Halt {
  index: number;
  state: BookState;
  reason: StatusReason;
  atMs: number;
}

export function haltRecorder(books: number): { sink: BookSink; halted: Halt[]; updatesAfterHalt: number[] } {
  const halted: Halt[] = [];
  const updatesAfterHalt = new Array<number>(books).fill(0);
  const sink: BookSink = {
    onBookUpdate: (i: number, _u: BookUpdate) => void (halted.some((h) => h.index === i) && updatesAfterHalt[i]!++),
    onBookInvalid: (index, state, reason) => void halted.push({ index, state, reason, atMs: Date.now() }),
    onInstrumentChanged: () => {},
  };
  return { sink, halted, updatesAfterHalt };
}
