/**
 * The genuine Deribit recording (test/fixtures/cryptofeed/DERIBIT.ws.1.0, cryptofeed's format: a header line, the
 * sent subscribe, then `RECV_TS: PAYLOAD` per received frame) and an independent reference book: levels kept as
 * exact decimal strings taken from the frame text (JSON.parse's source access) and normalised with BigInt, never
 * through a double or the adapter's parsers.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const DERIBIT_FIXTURE = resolve(import.meta.dirname, "../../fixtures/cryptofeed/DERIBIT.ws.1.0");

export interface RecordedFrame {
  tsRecvUs: number;
  frame: string;
}

/** Every received frame in order (acks, tickers, trades and books). */
export function recordedFrames(): RecordedFrame[] {
  const out: RecordedFrame[] = [];
  for (const line of readFileSync(DERIBIT_FIXTURE, "utf8").split("\n")) {
    const m = /^(\d+\.\d+): (.*)$/.exec(line);
    if (!m) continue;
    out.push({ tsRecvUs: Math.round(Number(m[1]) * 1e6), frame: m[2]! });
  }
  return out;
}

/** The 10 instruments of the recording's book channels. */
export function recordedInstruments(): string[] {
  const names = new Set<string>();
  for (const f of recordedFrames()) {
    const m = /"channel":"book\.([^"]+)\.raw"/.exec(f.frame);
    if (m) names.add(m[1]!);
  }
  return [...names];
}

/** Exact decimal text of a JSON number (exponent form included) → canonical decimal string ("4714.0" → "4714"). */
export function canonical(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new Error(`not a JSON number: ${text}`);
  const frac = m[3] ?? "";
  let digits = BigInt(m[2]! + frac);
  let scale = frac.length - Number(m[4] ?? 0); // value = digits / 10^scale
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n;
    scale--;
  }
  const s = digits.toString().padStart(scale + 1, "0");
  return scale === 0 ? s : `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
}

/** A mantissa at an exponent as the same canonical decimal. */
export function canonicalOf(mantissa: number, exp: number): string {
  const s = BigInt(mantissa).toString().padStart(exp + 1, "0");
  return canonical(exp === 0 ? s : `${s.slice(0, s.length - exp)}.${s.slice(s.length - exp)}`);
}

/** JSON.parse keeping every number's source text. */
export function parseWithSource(text: string): unknown {
  return JSON.parse(text, function (_k: string, v: unknown, ctx?: { source?: string }) {
    return typeof v === "number" && ctx?.source !== undefined ? { num: ctx.source } : v;
  } as (k: string, v: unknown) => unknown);
}

export interface RefBook {
  bids: Map<string, string>;
  asks: Map<string, string>;
  changeId: string;
}

/**
 * Applies one book notification to reference books by channel (snapshot replaces; new/change set; delete removes),
 * checking the chain: returns "snapshot", "change", or "break" when prev_change_id is not the last change_id.
 */
export function applyReference(books: Map<string, RefBook>, frame: string): { channel: string; kind: "snapshot" | "change" | "break" } | null {
  const msg = parseWithSource(frame) as { method?: string; params?: { channel: string; data: Record<string, unknown> } };
  if (msg.method !== "subscription" || !msg.params?.channel.startsWith("book.")) return null;
  const d = msg.params.data as { type: string; change_id: { num: string }; prev_change_id?: { num: string }; bids: [string, { num: string }, { num: string }][]; asks: [string, { num: string }, { num: string }][] };
  const ch = msg.params.channel;
  let book = books.get(ch);
  let kind: "snapshot" | "change" | "break" = "change";
  if (d.type === "snapshot") {
    book = { bids: new Map(), asks: new Map(), changeId: d.change_id.num };
    books.set(ch, book);
    kind = "snapshot";
  } else if (!book || d.prev_change_id?.num !== book.changeId) {
    return { channel: ch, kind: "break" };
  }
  for (const [side, levels] of [[book.bids, d.bids], [book.asks, d.asks]] as const) {
    for (const [action, p, a] of levels) {
      if (action === "delete") side.delete(canonical(p.num));
      else side.set(canonical(p.num), canonical(a.num));
    }
  }
  book.changeId = d.change_id.num;
  return { channel: ch, kind };
}
