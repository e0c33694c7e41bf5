/**
 * Counts full passes over a Map (values() / iteration) while fn runs: the cost tests' way to show that a flood is
 * handled without walking a whole table per datagram (a count, not a timing).
 * @module
 */
export function passes(map: Map<number, unknown>, fn: () => void): number {
  let n = 0;
  const values = map.values.bind(map);
  const iter = map[Symbol.iterator].bind(map);
  map.values = () => (n++, values());
  map[Symbol.iterator] = () => (n++, iter());
  try {
    fn();
  } finally {
    delete (map as Partial<Map<number, unknown>>).values;
    delete (map as Partial<Map<number, unknown>>)[Symbol.iterator];
  }
  return n;
}
