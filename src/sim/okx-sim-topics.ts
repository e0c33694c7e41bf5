/**
 * The OKX simulator's state per instrument and channel, and the frame text it sends (docs/venues/okx.md,
 * "Frames"): `books` (snapshot with prevSeqId -1, then updates chaining prevSeqId = last seqId, seqIds jumping by
 * 1–5 as OKX's do), `books5` / `bbo-tbt` (full books with seqId, no action), levels `[px, sz, "0", n]` with numbers
 * in shortest form, and the checksum of the top 25 (real, or 0 as in production since June 2026). Replayed topics
 * hold a recording's `books` frames and the book they build. Cold code (a test tool).
 * @module
 */
import type { ServerWebSocket } from "bun";
import { monoMs } from "../core/clock.ts";
import type { MarketName } from "../core/types.ts";
import { checksumOfStrings } from "../venues/okx/checksum.ts";
import type { Rng } from "./rng.ts";
import { garbleFrame } from "./garble-frame.ts";
import { SimBook, diffLevels, formatNumber, type Levels, type SymbolSpec } from "./sim-book.ts";

export interface OkxConnData {
  connId: string;
  topics: Set<string>;
  /** When each subscribe / unsubscribe request of the last window arrived, monoMs (OKX: 480 per hour per connection). */
  requestTimesMs: number[];
  /** When the server last pushed this connection anything (data, an ack, a pong; at first: when it opened), monoMs. */
  lastPushMs: number;
}
export type OkxWs = ServerWebSocket<OkxConnData>;

/** A generated instrument: its book, shared by its channels. */
export class OkxSymbolSim {
  readonly book: SimBook;
  readonly topics: OkxTopicSim[] = [];
  stalledUntilMs = 0; // monoMs
  constructor(
    readonly market: MarketName,
    readonly instId: string,
    spec: SymbolSpec,
    rng: Rng,
  ) {
    this.book = new SimBook(spec, rng, 500);
  }
}

/** Pending faults of one topic, consumed by its next message. */
export interface TopicFaults {
  gap: boolean;
  duplicate: boolean;
  malformed: boolean;
  reset: boolean;
  /** A full book's reset stamped this many ms earlier than the book before it (0: later, as ever). */
  resetBackMs: number;
  /** A maintenance reset into the run of seqIds (a few below the last), lost: the next message chains on it. */
  lostReset: boolean;
  checksum: boolean;
}

export function noFaults(): TopicFaults {
  return { gap: false, duplicate: false, malformed: false, reset: false, resetBackMs: 0, lostReset: false, checksum: false };
}

/** One channel of a generated instrument (`books:BTC-USDT`). */
export class OkxTopicSim {
  readonly subs = new Set<OkxWs>();
  seq: number;
  bids: Levels = { px: [], qty: [] };
  asks: Levels = { px: [], qty: [] };
  readonly faults = noFaults();
  /** When the window last changed (or a keepalive went), monoMs: the keepalive's clock. */
  lastChangeMonoMs = monoMs();
  /**
   * Full books: the book's generation time (OKX's `ts`), a later millisecond for each book (books5 pushes every
   * 100 ms, bbo-tbt every 10 ms [F4]); every socket gets a book with its time, a subscribe book too. Before
   * 2026-12-07 each frame was stamped when built, several books of a step in one millisecond alike.
   */
  bookTsMs = Date.now();
  /**
   * The `stale_snapshot` fault: the snapshot as it was when the fault was set and the messages sent since, which the
   * next subscribe gets instead of the current snapshot (a replacement socket behind the one already subscribed).
   */
  stale: { snapshot: string; frames: string[] } | null = null;
  constructor(
    readonly channel: string,
    readonly depth: number,
    readonly sym: OkxSymbolSim,
    rng: Rng,
  ) {
    this.seq = rng.int(1_000_000, 9_000_000);
    this.bids = sym.book.windowLevels(true, depth);
    this.asks = sym.book.windowLevels(false, depth);
  }

  get name(): string {
    return `${this.channel}:${this.sym.instId}`;
  }

  get fullBook(): boolean {
    return this.channel !== "books";
  }
}

export function depthOfChannel(channel: string): number {
  return channel === "books" ? 400 : channel === "books5" ? 5 : channel === "bbo-tbt" ? 1 : -1;
}

function px(t: OkxTopicSim, m: number): string {
  return formatNumber(m, t.sym.book.priceExp, t.sym.book.priceExp, "spot");
}
function sz(t: OkxTopicSim, m: number): string {
  return formatNumber(m, t.sym.book.qtyExp, t.sym.book.qtyExp, "spot");
}

function levelText(t: OkxTopicSim, pairs: [number, number][], rng: Rng): string {
  return pairs.map(([p, q]) => `["${px(t, p)}","${sz(t, q)}","0","${q === 0 ? 0 : rng.int(1, 9)}"]`).join(",");
}

function pairsOf(l: Levels): [number, number][] {
  return l.px.map((p, i) => [p, l.qty[i]!]);
}

/** The checksum of the topic's published window (top 25), or 0 when the simulator sends production's 0. */
export function windowChecksum(t: OkxTopicSim, enabled: boolean): number {
  if (!enabled) return 0;
  const strings = (l: Levels) => l.px.slice(0, 25).map((p, i) => [px(t, p), sz(t, l.qty[i]!)]);
  return checksumOfStrings(strings(t.bids), strings(t.asks));
}

export function bookFrame(t: OkxTopicSim, action: "snapshot" | "update", bids: [number, number][], asks: [number, number][], prevSeqId: number, checksum: number, rng: Rng): string {
  const arg = `{"arg":{"channel":"${t.channel}","instId":"${t.sym.instId}"}`;
  const ts = t.fullBook ? t.bookTsMs : Date.now();
  if (t.fullBook) return `${arg},"data":[{"asks":[${levelText(t, asks, rng)}],"bids":[${levelText(t, bids, rng)}],"instId":"${t.sym.instId}","ts":"${ts}","seqId":${t.seq}}]}`;
  return `${arg},"action":"${action}","data":[{"asks":[${levelText(t, asks, rng)}],"bids":[${levelText(t, bids, rng)}],"ts":"${ts}","checksum":${checksum},"prevSeqId":${prevSeqId},"seqId":${t.seq}}]}`;
}

export function snapshotFrame(t: OkxTopicSim, checksums: boolean, rng: Rng): string {
  return bookFrame(t, "snapshot", pairsOf(t.bids), pairsOf(t.asks), -1, windowChecksum(t, checksums), rng);
}

/** A `books` keepalive: nothing changed for a while (prevSeqId == seqId, empty sides). */
export function keepaliveFrame(t: OkxTopicSim): string {
  return `{"arg":{"channel":"${t.channel}","instId":"${t.sym.instId}"},"action":"update","data":[{"asks":[],"bids":[],"ts":"${Date.now()}","checksum":0,"prevSeqId":${t.seq},"seqId":${t.seq}}]}`;
}

/**
 * Diffs the window against the book and advances seqId; the message, or null when nothing changed. A pending
 * `reset` fault makes this the maintenance reset (seqId < prevSeqId = the last seqId; a full book's seqId below its
 * last); a pending `lostReset` one (`books` only) makes it a reset a few seqIds below the last, which stepSymbol then
 * loses.
 */
export function advanceTopic(t: OkxTopicSim, checksums: boolean, rng: Rng): string | null {
  const book = t.sym.book;
  const nb = book.windowLevels(true, t.depth);
  const na = book.windowLevels(false, t.depth);
  const db = diffLevels(t.bids, nb, true);
  const da = diffLevels(t.asks, na, false);
  if (db.length === 0 && da.length === 0) return null;
  t.bids = nb;
  t.asks = na;
  t.lastChangeMonoMs = monoMs();
  const prevTsMs = t.bookTsMs;
  t.bookTsMs = Math.max(Date.now(), t.bookTsMs + 1);
  const prev = t.seq;
  // A full book's reset too (its seqId below the last, its ts later as ever): before 2026-12-07 the flag was never
  // read there, and no chaos run took a books5 / bbo-tbt book through a maintenance reset. Stamped back when asked
  // (resetBackMs): OKX documents `ts` as the book's generation time, no more (a reset served from another machine).
  if (t.faults.reset) {
    t.faults.reset = false;
    t.seq = rng.int(1, Math.max(1, Math.min(prev - 1, 9)));
    if (t.fullBook && t.faults.resetBackMs > 0) t.bookTsMs = prevTsMs - t.faults.resetBackMs;
    t.faults.resetBackMs = 0;
  } else if (t.faults.lostReset && !t.fullBook) {
    // Into the run a client holds (6-10 below its last seqId), so the next seqIds are ones it has seen; the sender drops this message.
    t.seq = Math.max(1, prev - rng.int(6, 10));
  } else t.seq += rng.int(1, 5);
  if (t.fullBook) return bookFrame(t, "snapshot", pairsOf(nb), pairsOf(na), -1, 0, rng);
  let checksum = windowChecksum(t, checksums);
  if (t.faults.checksum) {
    t.faults.checksum = false;
    checksum = checksum === 0 ? 123456789 : checksum ^ 1;
  }
  return bookFrame(t, "update", db, da, prev, checksum, rng);
}

/**
 * Garbles a frame after its arg (a reader can tell which book was hit): truncation or a broken number (a level's
 * price, `["1x.5",…`; truncated when it has no level). Until 2026-12-07 a frame without a level (a recorded update
 * with both sides empty: a keepalive) went out intact on the broken-number branch, half the time.
 */
export function corruptFrame(frame: string, rng: Rng): string {
  return garbleFrame(frame, rng, /\["(\d+)/, '["$1x');
}

/** A recorded instrument's `books` frames (as received), a cursor, and the book they build (decimal strings). */
export class OkxReplayTopic {
  readonly subs = new Set<OkxWs>();
  cursor = 0;
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();
  readonly faults = noFaults();
  stalledUntilMs = 0; // monoMs
  constructor(
    readonly market: MarketName,
    readonly instId: string,
    readonly frames: string[],
    readonly tickSize: string,
    readonly lotSize: string,
  ) {}

  get name(): string {
    return `books:${this.instId}`;
  }

  /**
   * Applies a recorded frame to the replay book. The frame is served as recorded whatever its shape (a parser test
   * for the client); what of it is not a side of `[price, size, …]` strings is not applied (before, a frame without
   * `data[0]` or a side threw out of the replay's step and timer, and the frame was never sent).
   */
  apply(frame: string): void {
    const msg = JSON.parse(frame) as { action?: unknown; data?: unknown };
    const data: unknown = Array.isArray(msg.data) ? msg.data[0] : undefined;
    if (typeof data !== "object" || data === null) return;
    if (msg.action === "snapshot") {
      this.bids.clear();
      this.asks.clear();
    }
    const book = data as { bids?: unknown; asks?: unknown };
    for (const [side, levels] of [[this.bids, book.bids], [this.asks, book.asks]] as const) {
      if (!Array.isArray(levels)) continue;
      for (const l of levels as unknown[]) {
        if (!Array.isArray(l) || typeof l[0] !== "string" || typeof l[1] !== "string") continue;
        if (Number(l[1]) === 0) side.delete(l[0]);
        else side.set(l[0], l[1]);
      }
    }
  }

  sorted(bid: boolean): [string, string][] {
    return [...(bid ? this.bids : this.asks)].sort((a, b) => (bid ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
  }

  /** The current replay book as a snapshot frame with its checksum (for a subscriber joining mid-recording). */
  snapshotFrame(): string {
    const b = this.sorted(true);
    const a = this.sorted(false);
    const lv = (l: [string, string][]) => l.map(([p, q]) => `["${p}","${q}","0","1"]`).join(",");
    const checksum = checksumOfStrings(b, a);
    return `{"arg":{"channel":"books","instId":"${this.instId}"},"action":"snapshot","data":[{"asks":[${lv(a)}],"bids":[${lv(b)}],"ts":"${Date.now()}","checksum":${checksum}}]}`;
  }
}

/**
 * Reads a recording: cryptofeed's `OKX.ws` format (`RECV_TS: PAYLOAD` lines, test/fixtures/README.md) or JSONL
 * (one payload per line). Returns each instrument's `books` frames in order. A payload that is not JSON names no
 * instrument to serve it under and is skipped, counted in one warning naming `file` (as Bybit's and Binance's loaders
 * do; before, without a word).
 */
export function loadOkxRecording(text: string, file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let notJson = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("wss://") || line.startsWith("ws://")) continue;
    const brace = line.indexOf("{");
    if (brace < 0) continue;
    const payload = line.slice(brace);
    let msg: { arg?: { channel?: string; instId?: string }; data?: unknown };
    try {
      msg = JSON.parse(payload);
    } catch {
      notJson++;
      continue;
    }
    if (msg.arg?.channel !== "books" || typeof msg.arg.instId !== "string" || !Array.isArray(msg.data)) continue;
    const list = out.get(msg.arg.instId) ?? [];
    list.push(payload);
    out.set(msg.arg.instId, list);
  }
  if (notJson > 0) process.emitWarning(`sim: replay ${file}: ${notJson} line(s) that are not JSON skipped`);
  return out;
}
