/**
 * A simulated venue's over-limit answer on its instrument REST endpoint (a test tool, cold): armed with a count, the
 * next requests are answered 429 with the venue's error body, and a `Retry-After` when given, as a venue does when a
 * client exceeds its REST limit. Used by the OKX, Deribit, Coinbase and Bybit (403) simulators (`/sim/instruments-limit`);
 * `RestRequestWindow` enforces a venue's per-IP request limit with the same answer (Bybit's block), `RestRate` a limit
 * whose excess requests alone are refused (OKX, Coinbase).
 * @module
 */
import { ConnectLimit, type ConnectWindow } from "./connect-limit.ts";

export class RestLimitFault {
  private left = 0;
  private retryAfterS: number | undefined;
  /** 429 answers served so far. */
  served = 0;

  constructor(
    private readonly body: string,
    private readonly status = 429,
    private readonly contentType = "application/json",
  ) {}

  /** The next `count` requests get 429 (Retry-After: `retryAfterS` seconds when given); 0 disarms. */
  arm(count: number, retryAfterS?: number): void {
    this.left = count;
    this.retryAfterS = retryAfterS;
  }

  /** The 429 to answer instead of the listing, or null when not armed. */
  take(): Response | null {
    if (this.left <= 0) return null;
    this.left--;
    return this.answer(this.retryAfterS);
  }

  /** The venue's over-limit answer (counted in `served`). */
  answer(retryAfterS?: number): Response {
    this.served++;
    const headers: Record<string, string> = { "content-type": this.contentType };
    if (retryAfterS !== undefined) headers["retry-after"] = String(retryAfterS);
    return new Response(this.body, { status: this.status, headers });
  }
}

/**
 * A venue's per-IP REST request limit, enforced (a test tool, cold): more than `perWindow` requests in any `windowMs`
 * and every request is refused with `fault`'s answer for `blockedMs`, as Bybit does (600 per 5 s, then 403 for
 * 10 minutes, docs/venues/bybit.md §1.2). A refused request counts too, as it does at the venue.
 */
export class RestRequestWindow {
  private readonly timesMs: number[] = [];
  private blockedUntilMs = 0;

  constructor(
    private readonly fault: RestLimitFault,
    private readonly perWindow: number,
    private readonly windowMs: number,
    private readonly blockedMs: number,
  ) {}

  /** The refusal to answer instead of the listing at `nowMs`, or null when within the limit. */
  take(nowMs: number): Response | null {
    this.timesMs.push(nowMs);
    while (this.timesMs.length > 0 && this.timesMs[0]! <= nowMs - this.windowMs) this.timesMs.shift();
    if (this.timesMs.length > this.perWindow) {
      this.timesMs.length = 0; // the block, not the window, decides until it ends
      this.blockedUntilMs = nowMs + this.blockedMs;
    }
    return nowMs < this.blockedUntilMs ? this.fault.answer() : null;
  }
}

/**
 * A venue's per-IP REST rate, enforced: a request past any window's count is answered with `fault`'s answer (no
 * Retry-After: neither OKX nor Coinbase documents one); only requests let through count. The windows are counted a
 * quarter shorter (at most 250 ms) as the connect limit's are (connect-limit.ts): the simulator sees arrivals, not
 * sends, so a client keeping the rate exactly is not refused for a late arrival, while a burst is.
 */
export class RestRate {
  private readonly limit: ConnectLimit;

  constructor(
    private readonly fault: RestLimitFault,
    windows: readonly ConnectWindow[],
  ) {
    this.limit = new ConnectLimit(windows);
  }

  /** Requests refused so far. */
  get refused(): number {
    return this.limit.refused;
  }

  /** The refusal to answer instead at `nowMs`, or null when within the rate. */
  take(nowMs: number): Response | null {
    return this.limit.admit(nowMs) === null ? null : this.fault.answer();
  }
}

/** `POST /sim/instruments-limit?count=N[&retry_after=S]`: arms `fault`; 400 naming a bad field. */
export function instrumentsLimitControl(fault: RestLimitFault, url: URL): Response {
  const count = Number(url.searchParams.get("count") ?? "1");
  const ra = url.searchParams.get("retry_after");
  const retryAfter = ra === null ? undefined : Number(ra);
  if (!Number.isInteger(count) || count < 0 || count > 1_000) return Response.json({ ok: false, field: "count", error: "count: an integer in 0..1000" }, { status: 400 });
  if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && retryAfter >= 0 && retryAfter <= 86_400)) return Response.json({ ok: false, field: "retry_after", error: "retry_after: whole seconds in 0..86400" }, { status: 400 });
  fault.arm(count, retryAfter);
  return Response.json({ ok: true, count, ...(retryAfter !== undefined ? { retryAfter } : {}) });
}
