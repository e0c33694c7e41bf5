/**
 * A WebSocket handshake the venue answers with an over-limit status instead of 101: 429 (too many connects), 418
 * (Binance's IP ban after ignored 429s) or 403 (Bybit's "access too frequent"; a block of the address). Connecting
 * on into it (the reconnect backoff alone: ~0.5 s, then 1 s, 2 s, …, per connection, per worker) is what turns a
 * 429 into a ban. Bun's WebSocket client gives the status only in its error text ("Expected 101 status code: 429");
 * not the response's headers, so a Retry-After is not seen: the hold is this module's, doubling while the venue
 * keeps refusing. Cold.
 * @module
 */

/** The first hold after a refused handshake, by status. */
export const CONNECT_HOLD_MS: Readonly<Record<number, number>> = { 429: 10_000, 418: 60_000, 403: 60_000 };
/** The longest hold: refusals in a row double it up to this (Bybit's REST block after a 403 is 10 min). */
export const CONNECT_HOLD_MAX_MS = 600_000;

/** The HTTP status a refused handshake was answered with (Bun's error text), or undefined (no answer: refused, reset, TLS). */
export function handshakeStatus(errorText: string): number | undefined {
  const m = /Expected 101 status code: (\d{3})\b/.exec(errorText);
  return m === null ? undefined : Number(m[1]);
}

/**
 * How long every connect waits after a handshake answered `status` (undefined: not an over-limit status); `first`:
 * the first hold by status (CommonAdapterOptions.connectHoldMs; tests shorten it).
 */
export function connectHoldMs(status: number, refusedInRow: number, first: Readonly<Record<number, number>> = CONNECT_HOLD_MS): number | undefined {
  const base = first[status];
  if (base === undefined) return undefined;
  return Math.min(CONNECT_HOLD_MAX_MS, base * 2 ** Math.min(Math.max(0, refusedInRow), 16));
}
