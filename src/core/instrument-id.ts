/**
 * Stable instrument ids: FNV-1a (32 bit) of "venue:market:SYMBOL", so ids survive restarts and are the same on
 * every host without coordination. Collisions among configured instruments are rejected at start (app layer).
 * @module
 */
export function instrumentIdOf(venue: string, market: string, symbol: string): number {
  const key = `${venue}:${market}:${symbol}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
