/**
 * Attributing a frame no reader could read down to its topic (cold: parse errors and frame faults only).
 * @module
 */

/**
 * The one topic whose name (a key of `byName`, without a `"`) appears quoted in `frame`, or undefined when none or
 * several do. A string value can look like another topic's name; with two names the lost message may be either's, so
 * the caller treats the frame as unattributed (every book of the connection resyncs) rather than resyncing the first
 * one named and leaving the frame's own book LIVE. Every run between two neighbouring quotes of the frame is looked
 * up, so the work grows with the frame, not with the connection's topics: until 2026-12-06 the frame was searched
 * once per topic (~0.1 ms a frame on a Binance connection of 1,024 streams, paid by every frame while a bug makes
 * each throw: VenueConnection.frameFailed).
 */
export function topicQuotedIn<T>(byName: ReadonlyMap<string, T>, frame: string): T | undefined {
  return quotedIn(frame, byName, inMap<T>, false);
}

/**
 * True when `frame` quotes one of `names` (a run between two neighbouring quotes): a frame of a topic a recorded
 * request named (replay: VenueConnection.replayAsked). Cold: a frame naming no topic of the connection.
 */
export function quotesOneOf(names: ReadonlySet<string>, frame: string): boolean {
  return quotedIn(frame, names, inSet, true) === true;
}

const inMap = <T>(byName: ReadonlyMap<string, T>, name: string): T | undefined => byName.get(name);
const inSet = (names: ReadonlySet<string>, name: string): true | undefined => (names.has(name) ? true : undefined);

/**
 * The one scan of both: what `lookup` finds in `names` for a run between two neighbouring quotes of `frame`. The
 * first found when `first` (quotesOneOf: the scan ends there, the rest of the frame's runs not cut out), else the one
 * found (undefined when none, or two different ones). `lookup` is a module-level function, not a closure over
 * `names`: nothing is allocated per frame beyond the runs looked up.
 */
function quotedIn<N, T>(frame: string, names: N, lookup: (names: N, name: string) => T | undefined, first: boolean): T | undefined {
  let found: T | undefined;
  let open = frame.indexOf('"');
  while (open >= 0) {
    const close = frame.indexOf('"', open + 1);
    if (close < 0) break;
    const t = lookup(names, frame.slice(open + 1, close));
    if (t !== undefined) {
      if (first) return t;
      if (found !== undefined && found !== t) return undefined;
      found = t;
    }
    open = close;
  }
  return found;
}
