/**
 * Recordings for the Binance simulator: a cryptofeed pair (`<NAME>.ws.1.0` frames + `<NAME>.http.0.0` REST
 * snapshots, test/fixtures/README.md) becomes, per symbol, its diff payloads in order and its recorded depth
 * snapshot, plus tick and step sizes that fit every number (the simulator's exchangeInfo for those symbols); a line of
 * another shape is said in a warning (loadBinanceRecording). Cold.
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

/**
 * Reads a cryptofeed Binance pair; `wsFile` ends in `.ws.1.0`, the REST file is found beside it. `warn: false` for a
 * reading whose file is read again to be served (`feeder sim`'s check): the serving one says it, once.
 */
export function loadBinanceRecording(wsFile: string, opts: { warn?: boolean } = {}): ReplaySymbol[] {
  const httpFile = wsFile.replace(/\.ws\.\d+\.\d+$/, ".http.0.0");
  if (httpFile === wsFile) throw new Error(`sim: ${wsFile} is not a cryptofeed .ws.N.N recording`);
  const bySymbol = new Map<string, { diffs: string[]; snapshot: string; price: number; qty: number; restMarket: ReplaySymbol["restMarket"] }>();
  const entry = (s: string) => {
    let e = bySymbol.get(s);
    if (!e) bySymbol.set(s, (e = { diffs: [], snapshot: "", price: 0, qty: 0, restMarket: undefined }));
    return e;
  };
  // Lines of another shape (a recorded error answer, a malformed frame) are served as recorded, not read for the
  // tick and step; a frame that is not JSON has no symbol to be served under and is skipped. Said in one warning.
  let notJson = 0;
  let otherShape = 0;
  /** Widens the sizes to the levels' decimals; false (nothing taken) when a side is no array of [string, string]. */
  const widen = (e: { price: number; qty: number }, sides: unknown[]): boolean => {
    const levels = (side: unknown) => Array.isArray(side) && side.every((l) => Array.isArray(l) && typeof l[0] === "string" && typeof l[1] === "string");
    if (!sides.every(levels)) return false;
    for (const side of sides as [string, string][][]) {
      for (const [p, q] of side) {
        e.price = Math.max(e.price, places(p));
        e.qty = Math.max(e.qty, places(q));
      }
    }
    return true;
  };
  const parsed = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
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
    const body = parsed(m[2]!) as { bids?: unknown; asks?: unknown } | null | undefined;
    if (!widen(e, [body?.bids, body?.asks])) otherShape++;
  }
  for (const line of readFileSync(wsFile, "utf8").split("\n")) {
    const m = /^[\d.]+: (\{.*\})$/.exec(line);
    if (!m) continue;
    const msg = parsed(m[1]!) as { data?: { e?: unknown; s?: unknown; b?: unknown; a?: unknown } | null } | undefined;
    if (msg === undefined) {
      notJson++;
      continue;
    }
    const d = msg.data;
    if (d?.e !== "depthUpdate" || typeof d.s !== "string" || !bySymbol.has(d.s)) continue;
    const e = entry(d.s);
    // The payload text exactly as recorded: the frame minus its envelope.
    const text = m[1]!;
    e.diffs.push(text.slice(text.indexOf('"data":') + 7, -1));
    if (!widen(e, [d.b, d.a])) otherShape++;
  }
  if ((notJson > 0 || otherShape > 0) && opts.warn !== false) {
    process.emitWarning(
      `sim: replay ${wsFile}: ${notJson} line(s) that are not JSON skipped; ${otherShape} depth update(s) or REST answer(s) not of the [price, size] shape served as recorded, not used for the tick and step sizes`,
    );
  }
  return [...bySymbol].map(([symbol, e]) => ({ symbol, diffs: e.diffs, snapshot: e.snapshot, tickSize: stepOf(e.price), stepSize: stepOf(e.qty), restMarket: e.restMarket }));
}
