/**
 * The Deribit simulator's channels and frame text: per instrument a generated book (sim-book.ts) with one
 * change_id sequence, per channel the levels last published, the JSON-RPC notification text (bare JSON numbers, some
 * in exponent form, as Deribit's own encoder may print them), and replayed channels from a recording. Cold code.
 * @module
 */
import { readFileSync } from "node:fs";
import type { ServerWebSocket } from "bun";
import { formatFixed } from "../core/fixed.ts";
import type { MarketName } from "../core/types.ts";
import { CAPTURE_EXTENSION, readCapture } from "../record/capture.ts";
import { boundedText } from "../core/terminal-text.ts";
import type { Rng } from "./rng.ts";
import { garbleFrame } from "./garble-frame.ts";
import { SimBook, diffLevels, type Levels, type SymbolSpec } from "./sim-book.ts";
import { REVERSION_S } from "./sim-spec.ts";

export interface DeribitConnData {
  id: number;
  channels: Set<string>;
  /** A test_request sent and not yet answered with public/test (when sent, monoMs; -1 = none). */
  testPendingSinceMs: number;
  heartbeatMs: number;
  /** When the last heartbeat went (or set_heartbeat came), monoMs. */
  lastHeartbeatMs: number;
}
export type DWs = ServerWebSocket<DeribitConnData>;

/** Deribit-like instrument specs (tick, lot, price level) for generated symbols. */
export function deribitSpec(market: MarketName, symbol: string): SymbolSpec {
  const s = symbol.toUpperCase();
  // The demo market's dynamics (sim-spec.ts): mean-reverting mid, a few ticks of spread.
  const m = { reversionS: REVERSION_S, volPerSqrtS: 1e-4 };
  if (market === "option") return { ...m, tickSize: "0.0005", lotSize: "0.1", priceDecimals: 4, typicalLots: 50, mid: 0.05, spreadTicks: 4, volPerSqrtS: 4e-4 };
  if (market === "spot") return { ...m, tickSize: "1", lotSize: "0.0001", priceDecimals: 0, typicalLots: 5_000, mid: s.startsWith("ETH") ? 3_500 : 95_000, spreadTicks: 2 };
  if (market === "linear") return { ...m, tickSize: s.startsWith("ETH") ? "0.1" : "1", lotSize: "0.001", priceDecimals: 1, typicalLots: 500, mid: s.startsWith("ETH") ? 3_500 : 95_000, spreadTicks: 1 };
  // Inverse perpetuals and futures: amounts in USD.
  return s.startsWith("ETH")
    ? { ...m, tickSize: "0.05", lotSize: "1", priceDecimals: 2, typicalLots: 5_000, mid: 3_500, spreadTicks: 1 }
    : { ...m, tickSize: "0.5", lotSize: "10", priceDecimals: 1, typicalLots: 50_000, mid: 95_000, spreadTicks: 1 };
}

/** A generated instrument: its book and change_id, shared by all its channels. */
export class InstrumentSim {
  readonly book: SimBook;
  changeId: number;
  stalledUntilMs = 0; // monoMs
  /** Its expiry (ms since the epoch; setExpiration): listed with it, silent and not listed (`expired=false`) from then. */
  expiresMs: number | undefined = undefined;
  /** Listed with `is_active: false` (setActive): its channels silent, a subscribe still taken. */
  inactive = false;
  readonly channels: ChannelSim[] = [];
  constructor(
    readonly market: MarketName,
    readonly symbol: string,
    readonly spec: SymbolSpec,
    rng: Rng,
  ) {
    this.book = new SimBook(spec, rng, market === "option" ? 30 : 200);
    this.changeId = rng.int(1e9, 5e10);
  }
}

/** One channel of a generated instrument: `book.X.100ms` (depth 0) or `book.X.none.N.100ms`. */
export class ChannelSim {
  readonly subs = new Set<DWs>();
  bids: Levels = { px: [], qty: [] };
  asks: Levels = { px: [], qty: [] };
  /** The change_id of the last message built for this channel (sent or not). */
  changeId = 0;
  lastMessage = "";
  /** Fault: the next change carries a prev_change_id that is not the last change_id. */
  breakNext = false;
  constructor(
    readonly name: string,
    readonly depth: number,
    readonly inst: InstrumentSim,
  ) {}
}

/** A JSON number for mantissa m at exp: plain and trimmed, sometimes with ".0" or in exponent form (both exact). */
export function jsonNumber(m: number, exp: number, rng: Rng): string {
  const r = rng.next();
  if (r < 0.1 && m > 0) return `${m}e-${exp}`.replace(/e-0$/, "");
  let s = formatFixed(m, exp);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  if (r > 0.85 && !s.includes(".")) s += ".0";
  return s;
}

function frameOf(channel: string, data: string): string {
  return `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${channel}","data":{${data}}}}`;
}

/** The channel's whole book at its change_id: a snapshot, or a grouped full book. */
export function snapshotFrame(c: ChannelSim, rng: Rng): string {
  const b = c.inst.book;
  const ts = Date.now();
  if (c.depth > 0) {
    const lv = (l: Levels) => l.px.map((p, i) => `[${jsonNumber(p, b.priceExp, rng)},${jsonNumber(l.qty[i]!, b.qtyExp, rng)}]`).join(",");
    return frameOf(c.name, `"timestamp":${ts},"instrument_name":"${c.inst.symbol}","change_id":${c.changeId},"bids":[${lv(c.bids)}],"asks":[${lv(c.asks)}]`);
  }
  const lv = (l: Levels) => l.px.map((p, i) => `["new",${jsonNumber(p, b.priceExp, rng)},${jsonNumber(l.qty[i]!, b.qtyExp, rng)}]`).join(",");
  return frameOf(c.name, `"type":"snapshot","timestamp":${ts},"instrument_name":"${c.inst.symbol}","change_id":${c.changeId},"bids":[${lv(c.bids)}],"asks":[${lv(c.asks)}]`);
}

/** Moves the channel to the book's present; returns the message (null when its levels did not change). */
export function advanceChannel(c: ChannelSim, rng: Rng): string | null {
  const b = c.inst.book;
  const n = c.depth > 0 ? c.depth : Infinity;
  const nb = b.windowLevels(true, n);
  const na = b.windowLevels(false, n);
  const db = diffLevels(c.bids, nb, true);
  const da = diffLevels(c.asks, na, false);
  if (db.length === 0 && da.length === 0) return null;
  const prevBids = new Set(c.bids.px);
  const prevAsks = new Set(c.asks.px);
  c.bids = nb;
  c.asks = na;
  const prev = c.changeId;
  c.changeId = c.inst.changeId;
  if (c.depth > 0) return snapshotFrame(c, rng);
  const lv = (d: [number, number][], had: Set<number>) =>
    d.map(([p, q]) => `["${q === 0 ? "delete" : had.has(p) ? "change" : "new"}",${jsonNumber(p, b.priceExp, rng)},${q === 0 ? "0.0" : jsonNumber(q, b.qtyExp, rng)}]`).join(",");
  const prevId = c.breakNext ? prev - 1 : prev;
  c.breakNext = false;
  return frameOf(c.name, `"type":"change","timestamp":${Date.now()},"prev_change_id":${prevId},"instrument_name":"${c.inst.symbol}","change_id":${c.changeId},"bids":[${lv(db, prevBids)}],"asks":[${lv(da, prevAsks)}]`);
}

/**
 * Garbles a frame after its channel name (so a reader can tell whose it was): truncation or a broken number (a
 * level's price: `["new",1x…`, a delete's or a whole book's `[1x…`; truncated when it has no level). Until 2026-12-07
 * the number was broken only in a "new"/"change" level: a whole book (grouped channel) or a change of deletes only
 * was sent intact half the time, the `malformed` fault testing nothing.
 */
export function corruptFrame(frame: string, rng: Rng): string {
  return garbleFrame(frame, rng, /(\[(?:"(?:new|change|delete)",)?-?\d+)/, "$1x");
}

/** A replayed channel: the recording's book frames, served under the channel name a client can subscribe. */
export class ReplayChannel {
  readonly subs = new Set<DWs>();
  cursor = 0;
  changeId = 0;
  /** The book the frames sent so far build, as JSON number texts (price text → amount text). */
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();
  lastMessage = "";
  stalledUntilMs = 0; // monoMs
  constructor(
    readonly market: MarketName,
    readonly name: string,
    readonly symbol: string,
    readonly frames: string[],
    /** 0: a change stream (`book.X.100ms`, snapshot then changes); N: a grouped channel (`book.X.none.N.100ms`, whole books). */
    readonly depth = 0,
  ) {}
}

/** Book channels a recording is served under: a change stream (`raw` served as `100ms`) or a grouped one [D8]. */
const CHANGE_CHANNEL = /^book\.([^.]+)\.(raw|100ms|agg2)$/;
const GROUPED_CHANNEL = /^book\.([^.]+)\.none\.(1|10|20)\.(100ms|agg2)$/;

/**
 * Loads a recording of Deribit book notifications: cryptofeed's `RECV_TS: PAYLOAD` lines, JSONL payloads or a
 * `feeder record` capture. Served: change streams `book.X.{raw,100ms,agg2}` (`raw` renamed to `100ms`, in the name and
 * in each frame: an unauthorised client cannot subscribe raw) and grouped `book.X.none.{1,10,20}.{100ms,agg2}`. Any
 * other `book.` channel (a price grouping, another depth) is skipped and said in one warning naming the first (until
 * 2026-12-07 grouped channels were dropped without a word); other channels (ticker, trades) are no book and are
 * skipped. A line or record that is not JSON has no channel to be served under and is skipped, counted in one
 * warning naming the file and the first one (as the other simulators' loaders do; before, without a word).
 */
export function loadDeribitReplay(path: string, market: MarketName): ReplayChannel[] {
  const payloads: string[] = [];
  const notJson = { count: 0, first: "" };
  const take = (text: string, where: string) => {
    if (isJson(text)) payloads.push(text);
    else if (notJson.count++ === 0) notJson.first = where;
  };
  if (path.endsWith(CAPTURE_EXTENSION)) {
    const { records, truncated } = readCapture(path);
    // Served up to where it ends, said as Bybit's simulator says it (before, the rest went missing without a word).
    if (truncated) process.emitWarning(`sim: capture ${path} ends early: ${truncated}`);
    for (const [i, r] of records.entries()) if (typeof r.frame === "string" && r.url === undefined) take(r.frame, `record ${i + 1}`);
  } else {
    for (const [i, line] of readFileSync(path, "utf8").split(/\r?\n/).entries()) {
      if (line.trim() === "" || /^wss?:\/\//.test(line)) continue; // cryptofeed's connection and request lines
      take(/^\d+(?:\.\d+)?: (.*)$/.exec(line)?.[1] ?? line, `line ${i + 1}`);
    }
  }
  if (notJson.count > 0) process.emitWarning(`sim: replay ${path}: ${notJson.count} line(s) that are not JSON skipped (the first: ${notJson.first})`);
  const byChannel = new Map<string, ReplayChannel>();
  const unserved = { count: 0, first: "" };
  for (const p of payloads) {
    const channel = /"channel":"(book\.[^"\\]*)"/.exec(p)?.[1];
    if (channel === undefined) continue; // an answer, a heartbeat, another channel's notification
    const change = CHANGE_CHANNEL.exec(channel);
    const grouped = change ? null : GROUPED_CHANNEL.exec(channel);
    if (!change && !grouped) {
      if (unserved.count++ === 0) unserved.first = channel;
      continue;
    }
    const served = change?.[2] === "raw" ? `book.${change[1]}.100ms` : channel;
    const frame = served === channel ? p : p.replace(`"channel":"${channel}"`, `"channel":"${served}"`);
    let r = byChannel.get(served);
    if (!r) byChannel.set(served, (r = new ReplayChannel(market, served, (change ?? grouped)![1]!, [], grouped ? Number(grouped[2]) : 0)));
    r.frames.push(frame);
  }
  if (unserved.count > 0) process.emitWarning(`sim: replay ${path}: ${unserved.count} frame(s) of book channels the simulator does not serve skipped (the first: ${boundedText(unserved.first, 100)}; served: book.X.raw/100ms/agg2, book.X.none.{1,10,20}.100ms/agg2)`);
  return [...byChannel.values()];
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Applies a replayed frame to the replay book (numbers kept as text) and takes its change_id: a change stream's
 * snapshot or change (`["new"|"change"|"delete", price, amount]` levels), or a grouped channel's whole book
 * (`[price, amount]` levels; until 2026-12-07 not read: the book stayed empty).
 */
export function applyReplayFrame(r: ReplayChannel, frame: string): void {
  const data = frame.slice(frame.indexOf('"data":{'));
  const type = /"type":"(snapshot|change)"/.exec(data)?.[1];
  if (type === "snapshot" || r.depth > 0) {
    r.bids.clear();
    r.asks.clear();
  }
  for (const side of ["bids", "asks"] as const) {
    const at = data.indexOf(`"${side}":[`);
    if (at < 0) continue;
    const open = at + side.length + 4; // just after the side's "["
    // An empty side ends at once: before, its "]]" was looked for further on, in the other side's levels, so a change
    // with `"bids":[]` applied the asks' levels to the bids too (a crossed replay book, served to late subscribers).
    if (data[open] === "]") continue;
    const end = data.indexOf("]]", open);
    const body = data.slice(open, end < 0 ? undefined : end + 2);
    const book = side === "bids" ? r.bids : r.asks;
    if (r.depth > 0) {
      for (const lm of body.matchAll(/\[([0-9.eE+-]+),([0-9.eE+-]+)\]/g)) book.set(lm[1]!, lm[2]!);
      continue;
    }
    for (const lm of body.matchAll(/\["(new|change|delete)",([0-9.eE+-]+),([0-9.eE+-]+)\]/g)) {
      if (lm[1] === "delete") book.delete(lm[2]!);
      else book.set(lm[2]!, lm[3]!);
    }
  }
  r.changeId = Number(/"change_id":(\d+)/.exec(data)?.[1] ?? r.changeId);
}

/**
 * A snapshot of the replay book at its change_id (for late joiners and injected resets), best first as Deribit's: a
 * grouped channel's whole book as its frames are (`[price, amount]`, no type), a change stream's as a snapshot.
 */
export function replaySnapshot(r: ReplayChannel): string {
  // Sorted by value: the map holds levels in the order they were first seen, not in price order.
  const lv = (m: Map<string, string>, bid: boolean) =>
    [...m]
      .sort((x, y) => (bid ? Number(y[0]) - Number(x[0]) : Number(x[0]) - Number(y[0])))
      .map(([p, q]) => (r.depth > 0 ? `[${p},${q}]` : `["new",${p},${q}]`))
      .join(",");
  const type = r.depth > 0 ? "" : `"type":"snapshot",`;
  return frameOf(r.name, `${type}"timestamp":${Date.now()},"instrument_name":"${r.symbol}","change_id":${r.changeId},"bids":[${lv(r.bids, true)}],"asks":[${lv(r.asks, false)}]`);
}
