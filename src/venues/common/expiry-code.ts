/**
 * An expiry as Bybit and Deribit spell it inside a symbol (config shape checks): day without a leading zero, month,
 * two-digit year: 6JAN23, 27DEC24. A regular expression source, without anchors.
 * @module
 */
export const EXPIRY_CODE = String.raw`([1-9]|[12]\d|3[01])(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{2}`;
