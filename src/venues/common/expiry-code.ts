/**
 * An expiry as Bybit and Deribit spell it inside a symbol (config shape checks): day, month, two-digit year. A
 * regular expression source, without anchors.
 * @module
 */
const MONTH = "(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)";

/** Deribit's, day without a leading zero: 3JAN25, 27DEC24. */
export const EXPIRY_CODE = String.raw`([1-9]|[12]\d|3[01])${MONTH}\d{2}`;

/**
 * Bybit's, day with or without a leading zero: its options write 4JAN26, its dated futures 04APR25 (BTCUSDT-04APR25,
 * ETH-02MAY25). Until 2026-12-06 the Deribit form was used for both, and every Bybit future expiring on days 1 to 9
 * was refused.
 */
export const EXPIRY_CODE_BYBIT = String.raw`(0?[1-9]|[12]\d|3[01])${MONTH}\d{2}`;
