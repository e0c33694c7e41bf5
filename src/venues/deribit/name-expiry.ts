/**
 * The expiry a Deribit instrument name gives (cold): futures BTC-27DEC24, BTC_USDC-27DEC24 and options
 * BTC-27DEC24-100000-C carry their expiry date, and Deribit expires them on that date at 08:00 UTC (its contract
 * introduction policy; get_instruments' expiration_timestamp says the same: BTC-27MAR26 is 2026-03-27T08:00Z). Used
 * for a symbol whose tick/lot come from a config override, which has no listing to give the expiry.
 * @module
 */
import { EXPIRY_CODE } from "../common/expiry-code.ts";

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
/** The expiry segment: the second of the name's dash-separated parts (BASE[_QUOTE]-EXPIRY[-STRIKE-C|P]). */
const SEGMENT = new RegExp(`^${EXPIRY_CODE}$`);
const EXPIRY_HOUR_UTC = 8;

/**
 * Ms since the epoch when the named instrument expires; undefined for a name without an expiry (perpetual, spot) or
 * whose date is not a real one (31FEB25): no error, the book then goes stale as before.
 */
export function expiryOfName(symbol: string): number | undefined {
  const parts = symbol.split("-");
  if (parts.length !== 2 && parts.length !== 4) return undefined;
  const code = parts[1]!;
  if (!SEGMENT.test(code)) return undefined;
  const day = Number(code.slice(0, code.length - 5));
  const month = MONTHS.indexOf(code.slice(-5, -2));
  const year = 2000 + Number(code.slice(-2));
  const ms = Date.UTC(year, month, day, EXPIRY_HOUR_UTC);
  // Date.UTC rolls 31FEB over into March: a date that does not round-trip is no date.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}
