/**
 * Attributing a frame no reader could read down to its topic (cold: parse errors only).
 * @module
 */

/**
 * The one topic of `topics` whose name appears quoted in `frame`, or undefined when none or several do. A string value
 * can look like another topic's name; with two names the lost message may be either's, so the caller treats the
 * frame as unattributed (every book of the connection resyncs) rather than resyncing the first one named and
 * leaving the frame's own book LIVE.
 */
export function topicNamedIn<T extends { readonly topic: string }>(topics: readonly T[], frame: string): T | undefined {
  let found: T | undefined;
  for (const t of topics) {
    if (!frame.includes(`"${t.topic}"`)) continue;
    if (found !== undefined) return undefined;
    found = t;
  }
  return found;
}
