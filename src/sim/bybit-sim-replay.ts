/**
 * Replay for the Bybit simulator: loads a recording into per-topic line lists, steps a topic through its lines
 * while keeping the book they build, and writes a snapshot of that book for late joiners and injected resets.
 * @module
 */
import { readFileSync } from "node:fs";
import type { MarketName } from "../core/types.ts";
import { CAPTURE_EXTENSION, readCapture } from "../record/capture.ts";
import { BYBIT_DEPTHS } from "../venues/bybit/protocol.ts";
import { ReplayTopic } from "./bybit-sim-topics.ts";

/**
 * Loads a recording: JSONL of Bybit payloads (one per line; no category, so the market comes from the
 * configured symbols), or a feeder capture file (`feeder record`, .fcap), whose records name their market.
 * Only order-book frames are served; acks and pongs in a capture are the simulator's own business. Per line, at
 * load: a line that is not JSON is skipped (counted in one warning); a frame of an `orderbook.` topic that is not a
 * snapshot/delta of the expected shape (bookMessage) is served verbatim in its place but never applied to the
 * replay book (so a feeder meets the venue's malformed frames as they were), also counted in the warning.
 * Tick and lot sizes are inferred from the most decimals seen. With `replayDepth`, every topic is served as
 * `orderbook.{replayDepth}.{symbol}` (name and each frame's `topic` field rewritten); see BybitSimOptions.replayDepth.
 */
export function loadReplay(path: string, markets: readonly { market: MarketName; symbols: string[] }[], replayDepth?: number): ReplayTopic[] {
  const recorded: { line: string; market: MarketName | undefined }[] = [];
  if (path.endsWith(CAPTURE_EXTENSION)) {
    const { records, truncated } = readCapture(path);
    if (truncated) process.emitWarning(`sim: capture ${path} ends early: ${truncated}`);
    for (const r of records) if (typeof r.frame === "string" && r.url === undefined) recorded.push({ line: r.frame, market: r.market as MarketName });
  } else {
    for (const line of readFileSync(path, "utf8").split(/\r?\n/)) if (line.trim().length > 0) recorded.push({ line, market: undefined });
  }
  const byTopic = new Map<string, { lines: string[]; book: boolean[]; topic: string; market: MarketName | undefined; symbol: string; priceDec: number; qtyDec: number }>();
  let notJson = 0;
  for (const { line, market: recordedMarket } of recorded) {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      notJson++; // a capture holds whatever the venue sent, malformed frames included; with no topic, nobody to serve it to
      continue;
    }
    const topic = (msg as { topic?: unknown } | null)?.topic;
    if (typeof topic !== "string" || !topic.startsWith("orderbook.")) continue; // acks, pongs, other channels
    const book = bookMessage(msg);
    const s = (msg as { data?: { s?: unknown } }).data?.s;
    const symbol = typeof s === "string" ? s : topic.split(".").slice(2).join(".");
    const key = `${recordedMarket ?? ""}|${topic}`;
    const entry = byTopic.get(key) ?? { lines: [], book: [], topic, market: recordedMarket, symbol, priceDec: 0, qtyDec: 0 };
    if (book !== null) {
      for (const [p, q] of [...book.b, ...book.a]) {
        entry.priceDec = Math.max(entry.priceDec, decimals(p));
        entry.qtyDec = Math.max(entry.qtyDec, decimals(q));
      }
    }
    entry.lines.push(line);
    entry.book.push(book !== null);
    byTopic.set(key, entry);
  }
  const verbatim = [...byTopic.values()].reduce((n, e) => n + e.book.filter((b) => !b).length, 0);
  if (notJson > 0 || verbatim > 0) {
    process.emitWarning(
      `sim: replay ${path}: ${notJson} line(s) that are not JSON skipped; ${verbatim} order-book line(s) not of the snapshot/delta shape served verbatim, not applied to the replay book`,
    );
  }
  const out: ReplayTopic[] = [];
  const served = new Map<string, string>(); // "market|topic" → recorded topic
  for (const e of byTopic.values()) {
    // JSONL names no category: serve it on the market configured for its symbol (linear by default).
    const market = e.market ?? markets.find((m) => m.symbols.includes(e.symbol))?.market ?? "linear";
    const step = (d: number) => (d === 0 ? "1" : `0.${"0".repeat(d - 1)}1`);
    let topic = e.topic;
    let lines = e.lines;
    if (replayDepth !== undefined) {
      topic = relabelledTopic(e.topic, market, replayDepth);
      if (topic !== e.topic) lines = lines.map((l) => relabelLine(l, e.topic, topic));
    }
    const key = `${market}|${topic}`;
    const clash = served.get(key);
    if (clash !== undefined) throw new Error(`sim: replay depth ${replayDepth}: ${market} topics ${clash} and ${e.topic} would both be served as ${topic}`);
    served.set(key, e.topic);
    out.push(new ReplayTopic(market, topic, e.symbol, lines, e.book, step(e.priceDec), step(e.qtyDec)));
  }
  return out;
}

/** `orderbook.{d}.{symbol}` → `orderbook.{depth}.{symbol}`, checking that Bybit serves that depth and the recording fits it. */
function relabelledTopic(topic: string, market: MarketName, depth: number): string {
  const m = /^orderbook\.(\d+)\.(.+)$/.exec(topic);
  if (!m) throw new Error(`sim: replay depth: cannot relabel topic ${topic}`);
  if (!BYBIT_DEPTHS[market].includes(depth)) throw new Error(`sim: replay depth ${depth} is not a ${market} depth (${BYBIT_DEPTHS[market].join(", ")})`);
  const recorded = Number(m[1]);
  if (depth < recorded) throw new Error(`sim: replay depth ${depth} is below the recorded depth ${recorded} of ${topic}: the recorded book would not fit its window`);
  return `orderbook.${depth}.${m[2]}`;
}

/** Rewrites a frame's `topic` field (the first occurrence of `"topic":"<from>"`); the rest of the line is kept verbatim. */
function relabelLine(line: string, from: string, to: string): string {
  const re = new RegExp(`"topic"\\s*:\\s*"${from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`);
  const out = line.replace(re, `"topic":"${to}"`);
  if (out === line) throw new Error(`sim: replay depth: no "topic":"${from}" field in a recorded line`);
  return out;
}

/** A recorded order-book message the replay book can apply. */
interface BookMessage {
  type: "snapshot" | "delta";
  b: [string, string][];
  a: [string, string][];
  u: number;
}

/**
 * The message as a book update when it has the shape the replay book applies: `type` snapshot or delta, `data.b`
 * and `data.a` arrays of [price, size] decimal strings, `data.u` a non-negative safe integer. Null otherwise.
 */
export function bookMessage(msg: unknown): BookMessage | null {
  if (msg === null || typeof msg !== "object") return null;
  const { type, data } = msg as { type?: unknown; data?: unknown };
  if ((type !== "snapshot" && type !== "delta") || data === null || typeof data !== "object") return null;
  const { b, a, u } = data as { b?: unknown; a?: unknown; u?: unknown };
  const levels = (side: unknown): side is [string, string][] =>
    Array.isArray(side) && side.every((l) => Array.isArray(l) && l.length >= 2 && isDecimal(l[0]) && isDecimal(l[1]));
  if (!levels(b) || !levels(a) || typeof u !== "number" || !Number.isSafeInteger(u) || u < 0) return null;
  return { type, b, a, u };
}

function isDecimal(v: unknown): boolean {
  return typeof v === "string" && /^\d+(\.\d+)?$/.test(v);
}

/**
 * Advances the topic by one recorded line and applies it to the replay book. Returns the line to send (u rewritten
 * after an injected reset), or null at the end of the recording. A line the loader found not to be a book message
 * of the expected shape is returned verbatim and changes neither the book nor u. Never throws.
 */
export function nextReplayLine(r: ReplayTopic): string | null {
  if (r.cursor >= r.lines.length) return null;
  const i = r.cursor++;
  let line = r.lines[i]!;
  const msg = r.isBook[i] ? bookMessage(JSON.parse(line)) : null;
  if (msg === null) {
    r.lastMessage = line;
    return line;
  }
  if (msg.type === "snapshot") {
    r.bids.clear();
    r.asks.clear();
    r.gapped = false;
  } else if (r.recordedU >= 0 && msg.u !== r.recordedU + 1) {
    r.gapped = true;
  }
  r.recordedU = msg.u;
  for (const [p, q] of msg.b) if (Number(q) === 0) r.bids.delete(p); else r.bids.set(p, q);
  for (const [p, q] of msg.a) if (Number(q) === 0) r.asks.delete(p); else r.asks.set(p, q);
  r.u = msg.u + r.uShift;
  if (r.uShift !== 0) line = line.replace(/"u":\d+/, `"u":${r.u}`);
  r.lastMessage = line;
  return line;
}

/**
 * For a subscriber joining a gapped recording (ReplayTopic.gapped): a snapshot built from the replay book would
 * carry what the lost deltas should have changed (a level a lost delta took can end up crossed by later quotes),
 * so the replay moves on, without sending, to the recording's next snapshot and returns that line (the caller
 * sends it to every subscriber; the others see a u jump and resync, as from a venue). Null, with nothing
 * consumed, when no snapshot follows.
 */
export function skipToSnapshot(r: ReplayTopic): string | null {
  let next = -1;
  for (let i = r.cursor; i < r.lines.length && next < 0; i++) if (r.isBook[i] && bookMessage(JSON.parse(r.lines[i]!))?.type === "snapshot") next = i;
  if (next < 0) return null;
  let line: string | null = null;
  while (r.cursor <= next) line = nextReplayLine(r);
  return line;
}

/**
 * A snapshot of the replay book as it stands (its best levels, at most the topic's depth a side; until 2026-12-07 the
 * whole book), stamped with u, in the key order Bybit uses for the topic's market and depth (§4.2: spot, option and
 * level 1 put `ts` before `type`, option adds `id`; futures at other depths `type` first), as generated topics are.
 * Before, every market got the futures order.
 */
export function replaySnapshotFrame(r: ReplayTopic, u: number): string {
  // The best `depth` a side, as Bybit's snapshot: a recording's deltas may grow the replay book past its topic's depth
  // (their count is not bounded), and a deeper snapshot is refused (over_depth), the resync's snapshot as well.
  const depth = Number(/^orderbook\.(\d+)\./.exec(r.topic)?.[1] ?? Infinity);
  const b = [...r.bids].sort((x, y) => Number(y[0]) - Number(x[0])).slice(0, depth);
  const a = [...r.asks].sort((x, y) => Number(x[0]) - Number(y[0])).slice(0, depth);
  const levels = (side: [string, string][]) => side.map(([p, q]) => `["${p}","${q}"]`).join(",");
  const ts = Date.now();
  const topic = `"topic":"${r.topic}"`;
  const data = `"data":{"s":"${r.symbol}","b":[${levels(b)}],"a":[${levels(a)}],"u":${u},"seq":${ts}},"cts":${ts - 3}`;
  if (r.market === "option") return `{${topic},"ts":${ts},"type":"snapshot","id":"${r.topic}-${ts}-${ts}",${data}}`;
  if (r.market === "spot" || /^orderbook\.1\./.test(r.topic)) return `{${topic},"ts":${ts},"type":"snapshot",${data}}`;
  return `{${topic},"type":"snapshot","ts":${ts},${data}}`;
}

function decimals(s: string): number {
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}
