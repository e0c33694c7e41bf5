/**
 * A simulated venue's over-limit answer on its instrument REST endpoint (a test tool, cold): armed with a count, the
 * next requests are answered 429 with the venue's error body, and a `Retry-After` when given, as a venue does when a
 * client exceeds its REST limit. Used by the OKX, Deribit and Coinbase simulators (`/sim/instruments-limit`).
 * @module
 */

export class RestLimitFault {
  private left = 0;
  private retryAfterS: number | undefined;
  /** 429 answers served so far. */
  served = 0;

  constructor(private readonly body: string) {}

  /** The next `count` requests get 429 (Retry-After: `retryAfterS` seconds when given); 0 disarms. */
  arm(count: number, retryAfterS?: number): void {
    this.left = count;
    this.retryAfterS = retryAfterS;
  }

  /** The 429 to answer instead of the listing, or null when not armed. */
  take(): Response | null {
    if (this.left <= 0) return null;
    this.left--;
    this.served++;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.retryAfterS !== undefined) headers["retry-after"] = String(this.retryAfterS);
    return new Response(this.body, { status: 429, headers });
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
