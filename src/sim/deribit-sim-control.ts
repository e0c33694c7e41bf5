/**
 * The Deribit simulator's control surface on its own (loopback) HTTP port: inject faults, emit steps, read counters.
 * @module
 */
import type { MarketName } from "../core/types.ts";
import { controlInt } from "./control-int.ts";
import { DERIBIT_SIM_FAULTS, type DeribitSim, type DeribitSimFault } from "./deribit-sim.ts";

/**
 * POST /sim/fault?type=T[&market=M&symbol=S][&stallMs=N][&count=N], POST /sim/step?n=N, GET /sim/stats. Parameters
 * in the query string; answers JSON, 400 naming the bad field.
 */
export function handleDeribitControl(host: DeribitSim, req: Request, url: URL): Response {
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body) + "\n", { status, headers: { "content-type": "application/json" } });
  const bad = (field: string, error: string) => json({ ok: false, field, error: `${field}: ${error}` }, 400);
  const p = url.searchParams;
  const int = (name: string, dflt: number, max: number): number | string => {
    const v = p.get(name);
    return v === null ? dflt : controlInt(v, 1, max);
  };
  try {
    if (url.pathname === "/sim/stats" && req.method === "GET") return json({ ok: true, stats: { ...host.stats }, channels: host.channels() });
    if (req.method !== "POST") return json({ ok: false, field: "method", error: `method: ${url.pathname} takes POST` }, 405);
    if (url.pathname === "/sim/step") {
      const n = int("n", 1, 100_000);
      if (typeof n === "string") return bad("n", n);
      host.step(n);
      return json({ ok: true, n });
    }
    if (url.pathname === "/sim/fault") {
      const type = p.get("type") as DeribitSimFault | null;
      if (type === null || !DERIBIT_SIM_FAULTS.includes(type)) return bad("type", `${JSON.stringify(type)} is not one of ${DERIBIT_SIM_FAULTS.join(", ")}`);
      const market = p.get("market") as MarketName | null;
      const symbol = p.get("symbol");
      if ((market === null) !== (symbol === null)) return bad(market === null ? "market" : "symbol", "give market and symbol together, or neither");
      const stallMs = int("stallMs", 5_000, 3_600_000);
      if (typeof stallMs === "string") return bad("stallMs", stallMs);
      const count = int("count", 1, 1_000);
      if (typeof count === "string") return bad("count", count);
      const target = market !== null && symbol !== null ? { market, symbol } : undefined;
      return json({ ok: true, fault: type, ...host.inject(type, target, { stallMs, count }) });
    }
    return json({ ok: false, field: "path", error: `path: no such endpoint ${url.pathname} (POST /sim/fault, POST /sim/step, GET /sim/stats)` }, 404);
  } catch (err) {
    return bad("symbol", err instanceof Error ? err.message : String(err));
  }
}
