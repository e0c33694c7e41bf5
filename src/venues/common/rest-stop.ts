/**
 * An adapter's REST requests end when the adapter stops (cold): stop() aborts every request under way (instrument
 * lists, exchangeInfo, depth snapshots) and every wait for a REST budget, so a stop during start-up (a SIGTERM while
 * instruments resolve) or while a snapshot is in flight returns at once instead of after the REST timeout, with no
 * socket left open. A request made after the stop fails at once (RestStopped). Instrument resolution reads the
 * signal to tell a stop from a failure: no "REST unreachable" warning, nothing written to the instrument cache.
 * @module
 */

/** The reason every request of a stopped adapter fails with. */
export class RestStopped extends Error {
  constructor(venue: string) {
    super(`${venue}: stopped; REST request abandoned`);
    this.name = "RestStopped";
  }
}

export class RestStop {
  private readonly controller = new AbortController();

  constructor(private readonly venue: string) {}

  /** Aborted by stop(); budget waits and requests listen to it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborts every request and budget wait under way; later requests fail at once. Idempotent. */
  stop(): void {
    if (!this.stopped) this.controller.abort(new RestStopped(this.venue));
  }

  /** `fetchFn` whose every request also ends when stop() is called (its own signal, a timeout, still applies). */
  wrap(fetchFn: typeof fetch): typeof fetch {
    const stop = this.controller.signal;
    const wrapped = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (stop.aborted) return Promise.reject(stop.reason);
      const own = init?.signal ?? undefined;
      return fetchFn(input, { ...init, signal: own ? AbortSignal.any([own, stop]) : stop });
    };
    return wrapped as typeof fetch;
  }
}
