/**
 * The subscriber's event listeners, one array per event, and the safe way to call them: a listener that throws is
 * counted and reported as an 'error' event, and never breaks the receive loop or corrupts sequencing state.
 * @module
 */
import type { WireDecodeError } from "../wire/decoder.ts";
import type { FeedSubscriberEvents, SubscriberCounters } from "./subscriber-types.ts";

export class Listeners {
  // Read directly by the receive path (`listeners.update`), so plain arrays.
  readonly update: FeedSubscriberEvents["update"][] = [];
  readonly gap: FeedSubscriberEvents["gap"][] = [];
  readonly session: FeedSubscriberEvents["session"][] = [];
  readonly status: FeedSubscriberEvents["status"][] = [];
  readonly stale: FeedSubscriberEvents["stale"][] = [];
  readonly repair: FeedSubscriberEvents["repair"][] = [];
  readonly supersede: FeedSubscriberEvents["supersede"][] = [];
  readonly exponent: FeedSubscriberEvents["exponent"][] = [];
  readonly definition: FeedSubscriberEvents["definition"][] = [];
  readonly error: FeedSubscriberEvents["error"][] = [];

  constructor(private readonly counters: SubscriberCounters) {}

  add<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): void {
    (this[event] as FeedSubscriberEvents[K][]).push(listener);
  }

  remove<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): void {
    const list = this[event] as FeedSubscriberEvents[K][];
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
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
    this.reportError(err instanceof Error ? err : new Error(String(err)), "listener");
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
