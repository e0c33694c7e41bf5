/** The book engine: price ladders and the per-instrument book builder. Imports only core. @module */
export { DEFAULT_LADDER_CAPACITY, Ladder, SMALL_MOVE } from "./ladder.ts";
export { LadderBook } from "./ladder-book.ts";
export { ApplyResult, BookBuilder, type BookBuilderOptions, type BookCounters, RepeatedPriceError } from "./book-builder.ts";
