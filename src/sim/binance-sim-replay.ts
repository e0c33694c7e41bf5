/**
 * Recordings for the Binance simulator: a cryptofeed pair (`<NAME>.ws.1.0` frames + `<NAME>.http.0.0` REST
 * snapshots, test/fixtures/README.md) becomes, per symbol, its diff payloads in order and its recorded depth
 * snapshot, plus tick and step sizes that fit every number (the simulator's exchangeInfo for those symbols). Cold.
 * @module
 */
import { readFileSync } from "node:fs";

export interface ReplaySymbol {
  symbol: string;
  /** `data` payloads of the recorded depthUpdate events, in order (text, exactly as recorded). */
  diffs: string[];
  /** The recorded REST depth answer (body text). */
  snapshot: string;
  tickSize: string;
  stepSize: string;
  /** The market its REST snapshot was asked of: spot (/api/v3/), linear (USD-M, /fapi/), else undefined. */
  restMarket: "spot" | "linear" | undefined;
}

function places(s: string): number {
  return (s.split(".")[1] ?? "").replace(/0+$/, "").length;
}

function stepOf(n: number): string {
  return n === 0 ? "1" : "0." + "0".repeat(n - 1) + "1";
}

/** The `symbol` query value of a recorded REST URL, percent-decoded (as written when it is no valid encoding). */
function symbolOf(url: string): string | undefined {
  const raw = /[?&]symbol=([^&#\s]+)/.exec(url)?.[1];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Reads a cryptofeed Binance pair; `wsFile` ends in `.ws.1.0`, the REST file is found beside it. */
export function loadBinanceRecording(wsFile: string): ReplaySymbol[] {
  const httpFile = wsFile.replace(/\.ws\.\d+\.\d+$/, ".http.0.0");
  if (httpFile === wsFile) throw new Error(`sim: ${wsFile} is not a cryptofeed .ws.N.N recording`);
  const bySymbol = new Map<string, { diffs: string[]; snapshot: string; price: number; qty: number; restMarket: ReplaySymbol["restMarket"] }>();
  const entry = (s: string) => {
    let e = bySymbol.get(s);
    if (!e) bySymbol.set(s, (e = { diffs: [], snapshot: "", price: 0, qty: 0, restMarket: undefined }));
    return e;
  };
  const widen = (e: { price: number; qty: number }, levels: [string, string][]) => {
    for (const [p, q] of levels) {
      e.price = Math.max(e.price, places(p));
      e.qty = Math.max(e.qty, places(q));
    }
  };
  for (const line of readFileSync(httpFile, "utf8").split("\n")) {
    const m = /^(\S+) -> [\d.]+: (.*)$/.exec(line);
    // The symbol as the URL carries it, percent-encoded or not: `[A-Z0-9]+` lost a symbol beyond ASCII
    // (symbol=%E5%B8%81…USDT), and with its snapshot its diffs, from the replay without a word.
    const sym = m ? symbolOf(m[1]!) : undefined;
    if (!m || !sym) continue;
    const e = entry(sym);
    e.snapshot = m[2]!;
    e.restMarket = /\/fapi\//.test(m[1]!) ? "linear" : /\/api\/v3\//.test(m[1]!) ? "spot" : undefined;
    const body = JSON.parse(m[2]!) as { bids: [string, string][]; asks: [string, string][] };
    widen(e, body.bids);
    widen(e, body.asks);
  }
  for (const line of readFileSync(wsFile, "utf8").split("\n")) {
    const m = /^[\d.]+: (\{.*\})$/.exec(line);
    if (!m) continue;
    const msg = JSON.parse(m[1]!) as { data?: { e?: string; s?: string; b: [string, string][]; a: [string, string][] } };
    const d = msg.data;
    if (d?.e !== "depthUpdate" || typeof d.s !== "string" || !bySymbol.has(d.s)) continue;
    const e = entry(d.s);
    // The payload text exactly as recorded: the frame minus its envelope.
    const text = m[1]!;
    e.diffs.push(text.slice(text.indexOf('"data":') + 7, -1));
    widen(e, d.b);
    widen(e, d.a);
  }
  return [...bySymbol].map(([symbol, e]) => ({ symbol, diffs: e.diffs, snapshot: e.snapshot, tickSize: stepOf(e.price), stepSize: stepOf(e.qty), restMarket: e.restMarket }));
}
