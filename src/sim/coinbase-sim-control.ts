/**
 * The Coinbase simulator's control surface on its own loopback server, for `feeder sim --venue coinbase`:
 *
 *   POST /sim/fault  {type, product?, stallMs?}   inject a fault (coinbase-sim-types.ts CoinbaseSimFault); stallMs 1..3600000
 *   POST /sim/step   {n?}                         emit n steps now, 1..100000 (default 1)
 *   POST /sim/rest   {available}                  make the products endpoint answer 503 (false) or normally
 *   GET  /sim/stats                               counters and connections
 *
 * Parameters come from the query string or a JSON object body (the body wins). Answers are JSON: `{"ok":true,…}`,
 * or 400 `{"ok":false,"field":F,"error":"F: …"}` naming the bad field; nothing thrown here escapes.
 * @module
 */
import { controlInt } from "./control-int.ts";
import { COINBASE_SIM_FAULTS, type CoinbaseSimFault, type CoinbaseSimFaultSummary, type CoinbaseSimStats } from "./coinbase-sim-types.ts";

export interface CoinbaseControlHost {
  readonly stats: CoinbaseSimStats;
  inject(fault: CoinbaseSimFault, product?: string, opts?: { stallMs?: number }): CoinbaseSimFaultSummary;
  step(n?: number): void;
  setRestAvailable(ok: boolean): void;
  productIds(): string[];
  connectionInfo(): unknown[];
}

class BadRequest extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

/** An integer in min..max, or `dflt` when absent. Until 2026-12-07 0 was taken (stallMs=0, n=0), unlike the others'. */
function intParam(v: unknown, field: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = controlInt(v, min, max);
  if (typeof n === "string") throw new BadRequest(field, n);
  return n;
}

export async function handleCoinbaseControl(host: CoinbaseControlHost, req: Request, url: URL): Promise<Response> {
  try {
    const p: Record<string, unknown> = Object.fromEntries(url.searchParams);
    if (req.method === "POST") {
      const text = await req.text();
      if (text.trim() !== "") {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new BadRequest("body", "not JSON");
        }
        if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequest("body", "must be a JSON object");
        Object.assign(p, body);
      }
    }
    const path = url.pathname;
    if (path === "/sim/stats" && req.method === "GET") return Response.json({ ok: true, stats: { ...host.stats }, connections: host.connectionInfo() });
    if (req.method !== "POST") throw new BadRequest("method", `${path} takes POST`);
    if (path === "/sim/fault") {
      const type = p.type;
      if (typeof type !== "string" || !COINBASE_SIM_FAULTS.includes(type as CoinbaseSimFault)) throw new BadRequest("type", `one of ${COINBASE_SIM_FAULTS.join(", ")}, got ${JSON.stringify(type)}`);
      const product = p.product;
      if (product !== undefined && (typeof product !== "string" || !host.productIds().includes(product))) throw new BadRequest("product", `one of ${host.productIds().join(", ")}, got ${JSON.stringify(product)}`);
      const stallMs = intParam(p.stallMs, "stallMs", 5_000, 1, 3_600_000);
      return Response.json({ ok: true, ...host.inject(type as CoinbaseSimFault, product as string | undefined, { stallMs }) });
    }
    if (path === "/sim/step") {
      const n = intParam(p.n, "n", 1, 1, 100_000);
      host.step(n);
      return Response.json({ ok: true, steps: n });
    }
    if (path === "/sim/rest") {
      const a = p.available;
      if (a !== true && a !== false && a !== "true" && a !== "false") throw new BadRequest("available", `true or false, got ${JSON.stringify(a)}`);
      host.setRestAvailable(a === true || a === "true");
      return Response.json({ ok: true });
    }
    throw new BadRequest("path", `unknown control endpoint ${path}`);
  } catch (err) {
    if (err instanceof BadRequest) return Response.json({ ok: false, field: err.field, error: err.message }, { status: 400 });
    return Response.json({ ok: false, field: "", error: String(err) }, { status: 500 });
  }
}
