/**
 * The subscriber's event listeners, one array per event, and the safe way to call them: a listener that throws is
 * counted and reported as an 'error' event, and never breaks the receive loop or corrupts sequencing state.
 * @module
 */
import { errorText } from "../core/error-text.ts";
import type { WireDecodeError } from "../wire/decoder.ts";
import type { FeedSubscriberEvents, SubscriberCounters } from "./subscriber-types.ts";

/**
 * Every event, for the message naming an unknown one. A record, not a list: the compiler refuses one missing or extra
 * against FeedSubscriberEvents, as it does a missing listener field of the class (`implements`).
 */
const EVENTS: { readonly [K in keyof FeedSubscriberEvents]: true } = {
  update: true,
  status: true,
  gap: true,
  session: true,
  supersede: true,
  repair: true,
  exponent: true,
  evict: true,
  stale: true,
  definition: true,
  error: true,
};
const EVENT_NAMES = Object.keys(EVENTS);

type ListenerArrays = { [K in keyof FeedSubscriberEvents]: FeedSubscriberEvents[K][] };

export class Listeners implements ListenerArrays {
  // Read directly by the receive path (`listeners.update`), so plain arrays. Copied on write (add, remove: cold), never
  // changed in place: a dispatch loop holds the array it started with, so a listener calling off() or on() while an
  // event is dispatched neither makes the loop skip the listener after it nor adds one to the event under way.
  update: FeedSubscriberEvents["update"][] = [];
  gap: FeedSubscriberEvents["gap"][] = [];
  session: FeedSubscriberEvents["session"][] = [];
  status: FeedSubscriberEvents["status"][] = [];
  stale: FeedSubscriberEvents["stale"][] = [];
  repair: FeedSubscriberEvents["repair"][] = [];
  supersede: FeedSubscriberEvents["supersede"][] = [];
  evict: FeedSubscriberEvents["evict"][] = [];
  exponent: FeedSubscriberEvents["exponent"][] = [];
  definition: FeedSubscriberEvents["definition"][] = [];
  error: FeedSubscriberEvents["error"][] = [];

  constructor(private readonly counters: SubscriberCounters) {}

  add<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): void {
    this.listOf(event);
    // Checked here: a non-function was taken and threw at every event (counted as a listener error per message).
    if (typeof listener !== "function") throw new TypeError(`on("${event}", listener): the listener must be a function, got ${typeof listener}`);
    (this as unknown as Record<K, FeedSubscriberEvents[K][]>)[event] = [...(this[event] as FeedSubscriberEvents[K][]), listener];
  }

  remove<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): void {
    const list = this.listOf(event);
    const i = list.indexOf(listener);
    if (i >= 0) (this as unknown as Record<K, FeedSubscriberEvents[K][]>)[event] = [...list.slice(0, i), ...list.slice(i + 1)];
  }

  /** The listeners of `event`; an unknown name (JS callers, a typo) throws naming it, not "Spread syntax requires …". */
  private listOf<K extends keyof FeedSubscriberEvents>(event: K): FeedSubscriberEvents[K][] {
    const list = Object.hasOwn(this, event) ? (this as unknown as Record<string, unknown>)[event] : undefined;
    if (!Array.isArray(list)) throw new TypeError(`no subscriber event ${JSON.stringify(event)}: one of ${EVENT_NAMES.join(", ")}`);
    return list as FeedSubscriberEvents[K][];
  }

  /** Calls a cold-path listener; a throwing listener is reported and never corrupts sequencing state. */
  call<T>(listener: (e: T) => void, e: T): void {
    try {
      listener(e);
    } catch (err) {
      this.failed(err);
    }
  }

  /** A listener threw `err`. */
  failed(err: unknown): void {
    this.counters.listenerErrors++;
    this.reportError(err instanceof Error ? err : new Error(errorText(err)), "listener");
  }

  reportError(error: WireDecodeError | Error, from: string): void {
    for (const l of this.error) {
      try {
        l({ error, from });
      } catch {
        // an error listener must not break the receive loop
      }
    }
  }
}
