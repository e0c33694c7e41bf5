/**
 * Default stale thresholds for OKX books (docs/venues/okx.md, "Staleness"): `books` sends a keepalive after ~60 s
 * without change, so a book silent for 90 s is stale; books5 and bbo-tbt push only on change and have no keepalive,
 * so a quiet instrument gets a fresh subscription after 120 s (harmless).
 * @module
 */
import { BOOKS_KEEPALIVE_MS } from "./protocol.ts";

export const BOOKS_STALE_MS = BOOKS_KEEPALIVE_MS + 30_000;
export const FULL_BOOK_STALE_MS = 120_000;

export function defaultStaleAfterMs(depth: number): number {
  return depth === 400 ? BOOKS_STALE_MS : FULL_BOOK_STALE_MS;
}
