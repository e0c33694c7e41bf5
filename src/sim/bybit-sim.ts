/**
 * A Bybit v5 public-market simulator: Bun.serve WebSocket on /v5/public/{market} plus the REST
 * `/v5/market/instruments-info` endpoint, speaking the protocol as shared/docs/bybit-v5.md describes it:
 * per-category ack and pong shapes (§2.2, §3), `error:handler not found,topic:X`, `error:already subscribed,topic:X`
 * (poisons the whole batch, §2.4), spot's `args size >10`, the per-connection args limits (§2.3), snapshot first then deltas with u + 1, qty "0" when a
 * level leaves the top-N window (§4.4), spot/L1 key order `ts` before `type` (§4.2), option `id`, level-1 snapshots
 * only, re-pushed with the same u every 3 s. Generates books (random-walk mid, bursts) or replays a recording,
 * and injects faults on demand. Loopback only; a test tool, so cold code.
 * @module
 */
import type { Server, ServerWebSocket } from "bun";
import { readFileSync } from "node:fs";
import { exponentOf } from "../core/fixed.ts";
import type { MarketName } from "../core/types.ts";
import {
  BYBIT_DEPTHS,
  L1_REPUSH_MS,
  MAX_ARGS_CHARS_PER_CONNECTION,
  OPTION_MAX_ARGS_PER_CONNECTION,
  SPOT_MAX_ARGS_PER_REQUEST,
  optionBaseCoin,
} from "../venues/bybit/protocol.ts";
import { CAPTURE_EXTENSION, readCapture } from "../record/capture.ts";
import { Rng } from "./rng.ts";
import { SimBook, defaultSpec, diffLevels, formatNumber, type Levels, type SymbolSpec } from "./sim-book.ts";

export type SimFault = "gap" | "reset" | "disconnect" | "stall" | "malformed" | "duplicate";

export interface BybitSimOptions {
  /** 0 = ephemeral. */
  port?: number;
  hostname?: "127.0.0.1";
  markets: { market: MarketName; symbols: string[] }[];
  /** Total book messages (deltas; level-1 snapshots) per second across subscribed topics. 0 = only step(). */
  messagesPerSecond?: number;
  seed?: number;
  /** JSONL of recorded payloads (one WebSocket message per line), served to whoever subscribes their topic. */
  replayFile?: string;
  /** Probability that a step is a burst of many level changes (default 0.05). */
  burstiness?: number;
  /** Level-1 re-push interval (default 3000 ms, §4.2). */
  l1RepushMs?: number;
  /** Per-symbol tick/lot/price overrides, keyed "market:SYMBOL". */
  specs?: Record<string, Partial<SymbolSpec>>;
  /** Largest page the REST endpoint returns (tests use a small one to exercise the cursor). Default 1000. */
  restPageLimit?: number;
}

export interface BybitSim {
  /** ws://127.0.0.1:PORT/v5/public (market appended by clients). */
  readonly wsUrl: string;
  /** http://127.0.0.1:PORT */
  readonly restUrl: string;
  /**
   * The simulator's true book for a topic, as decimal-string maps, for tests. `depth` picks the topic (default: the
   * deepest subscribed one for the symbol); u is that topic's last u (0 when nobody subscribed).
   */
  book(market: MarketName, symbol: string, depth?: number): { bids: Map<string, string>; asks: Map<string, string>; u: number };
  inject(fault: SimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number }): void;
  /** Emits n steps per subscribed symbol now (n deltas per subscribed topic; replay: n recorded lines per topic). */
  step(n?: number): void;
  /** Changes a symbol's tick/lot like Bybit does: REST shows the new values and every topic restarts at u = 1 with a snapshot. */
  changeInstrument(market: MarketName, symbol: string, change: { tickSize?: string; lotSize?: string }): void;
  /** Makes the REST endpoint answer 503 (false) or normally (true). */
  setRestAvailable(ok: boolean): void;
  readonly stats: SimStats;
  stop(): Promise<void>;
}

export interface SimStats {
  connections: number;
  connectionsTotal: number;
  messagesSent: number;
  bytesSent: number;
  subscribes: number;
  unsubscribes: number;
  pings: number;
  errorsSent: number;
  restRequests: number;
}

interface ConnData {
  id: number;
  market: MarketName;
  connId: string;
  topics: Set<string>;
}
type Ws = ServerWebSocket<ConnData>;

class SymbolSim {
  book: SimBook;
  seq: number;
  stalledUntilMs = 0;
  constructor(
    readonly market: MarketName,
    readonly symbol: string,
    spec: SymbolSpec,
    rng: Rng,
  ) {
    this.book = new SimBook(spec, rng, market === "option" ? 150 : 1200);
    this.seq = rng.int(1e9, 2e9);
  }
}

class TopicSim {
  u: number;
  readonly subs = new Set<Ws>();
  /** The window as last published, best first. */
  bids: Levels = { px: [], qty: [] };
  asks: Levels = { px: [], qty: [] };
  lastMessage = "";
  lastSentMs = 0;
  constructor(
    readonly market: MarketName,
    readonly topic: string,
    readonly depth: number,
    readonly sym: SymbolSim,
    startU: number,
  ) {
    this.u = startU;
  }
}

/** A recorded topic: lines as received, a cursor, and the book they build (decimal strings). */
class ReplayTopic {
  readonly subs = new Set<Ws>();
  cursor = 0;
  u = 0;
  /** Added to recorded u after an injected reset (re-serialised lines). */
  uShift = 0;
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();
  lastMessage = "";
  stalledUntilMs = 0;
  constructor(
    readonly market: MarketName,
    readonly topic: string,
    readonly symbol: string,
    readonly lines: string[],
    readonly tickSize: string,
    readonly lotSize: string,
  ) {}
}

const TICK_MS = 10;

export async function startBybitSimulator(opts: BybitSimOptions): Promise<BybitSim> {
  const sim = new BybitSimulator(opts);
  await sim.start();
  return sim;
}

class BybitSimulator implements BybitSim {
  readonly stats: SimStats = { connections: 0, connectionsTotal: 0, messagesSent: 0, bytesSent: 0, subscribes: 0, unsubscribes: 0, pings: 0, errorsSent: 0, restRequests: 0 };
  private server: Server<ConnData> | null = null;
  private readonly rng: Rng;
  private readonly symbols = new Map<string, SymbolSim>(); // "market:SYMBOL"
  private readonly topics = new Map<string, TopicSim>(); // "market|topic"
  private readonly replay = new Map<string, ReplayTopic>(); // "market|topic"
  private readonly conns = new Set<Ws>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stepBudget = 0;
  private lastTickMs = 0;
  private globalStallUntilMs = 0;
  private stalledInbox: { ws: Ws; text: string }[] = [];
  private restAvailable = true;
  private nextConnId = 0;

  constructor(private readonly opts: BybitSimOptions) {
    this.rng = new Rng(opts.seed ?? 1);
    for (const m of opts.markets) {
      for (const symbol of m.symbols) {
        const key = `${m.market}:${symbol}`;
        const spec = { ...defaultSpec(m.market, symbol), ...(opts.specs?.[key] ?? {}) };
        this.symbols.set(key, new SymbolSim(m.market, symbol, spec, this.rng));
      }
    }
    if (opts.replayFile) this.loadReplay(opts.replayFile);
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.server!.port}/v5/public`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.server!.port}`;
  }

  async start(): Promise<void> {
    this.server = Bun.serve<ConnData>({
      hostname: this.opts.hostname ?? "127.0.0.1",
      port: this.opts.port ?? 0,
      fetch: (req, server) => {
        const url = new URL(req.url);
        const m = /^\/v5\/public\/(spot|linear|inverse|option)\/?$/.exec(url.pathname);
        if (m) {
          const data: ConnData = { id: ++this.nextConnId, market: m[1] as MarketName, connId: crypto.randomUUID(), topics: new Set() };
          if (server.upgrade(req, { data })) return undefined;
          return new Response("expected a WebSocket upgrade", { status: 400 });
        }
        if (url.pathname === "/v5/market/instruments-info") return this.instrumentsInfo(url);
        return new Response("not found", { status: 404 });
      },
      websocket: {
        perMessageDeflate: false,
        open: (ws) => {
          this.conns.add(ws);
          this.stats.connections++;
          this.stats.connectionsTotal++;
        },
        message: (ws, message) => this.onClientMessage(ws, typeof message === "string" ? message : new TextDecoder().decode(message)),
        close: (ws) => {
          this.conns.delete(ws);
          this.stats.connections--;
          for (const t of ws.data.topics) {
            this.topics.get(`${ws.data.market}|${t}`)?.subs.delete(ws);
            this.replay.get(`${ws.data.market}|${t}`)?.subs.delete(ws);
          }
        },
      },
    });
    this.lastTickMs = Date.now();
    this.timer = setInterval(() => this.onTick(), TICK_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const ws of this.conns) ws.terminate();
    await this.server?.stop(true);
    this.server = null;
  }

  // ───────────────────────── REST ─────────────────────────

  private instrumentsInfo(url: URL): Response {
    this.stats.restRequests++;
    if (!this.restAvailable) return new Response("service unavailable", { status: 503 });
    const category = url.searchParams.get("category") as MarketName | null;
    if (!category || !(category in BYBIT_DEPTHS)) return json({ retCode: 10001, retMsg: "params error: category is invalid", result: {}, retExtInfo: {}, time: Date.now() });
    const symbol = url.searchParams.get("symbol");
    const baseCoin = url.searchParams.get("baseCoin") ?? (category === "option" ? "BTC" : null); // option default is BTC (§1.3)
    let items: { symbol: string; tickSize: string; lotSize: string; priceDecimals: number }[] = [];
    for (const s of this.symbols.values()) {
      if (s.market === category) items.push({ symbol: s.symbol, tickSize: s.book.spec.tickSize, lotSize: s.book.spec.lotSize, priceDecimals: s.book.spec.priceDecimals });
    }
    for (const r of this.replay.values()) {
      if (r.market === category) items.push({ symbol: r.symbol, tickSize: r.tickSize, lotSize: r.lotSize, priceDecimals: exponentOf(r.tickSize) });
    }
    items = items.filter((i) => (symbol === null || i.symbol === symbol) && (baseCoin === null || baseOf(category, i.symbol) === baseCoin));
    items.sort((a, b) => a.symbol.localeCompare(b.symbol));
    let nextPageCursor = "";
    if (category !== "spot") {
      // Spot does not paginate (§1.3). The cursor is opaque and URL-encoded like Bybit's ("first%3D…").
      const limit = Math.min(Number(url.searchParams.get("limit") ?? 500) || 500, 1000, this.opts.restPageLimit ?? 1000);
      const cursor = url.searchParams.get("cursor");
      let offset = 0;
      if (cursor !== null) {
        const m = /^next=(\d+)$/.exec(cursor);
        if (!m) return json({ retCode: 10001, retMsg: "params error: cursor invalid", result: {}, retExtInfo: {}, time: Date.now() });
        offset = Number(m[1]);
      }
      const page = items.slice(offset, offset + limit);
      if (offset + limit < items.length) nextPageCursor = encodeURIComponent(`next=${offset + limit}`);
      items = page;
    }
    const list = items.map((i) => instrumentItem(category, i));
    return json({ retCode: 0, retMsg: "OK", result: { category, list, nextPageCursor }, retExtInfo: {}, time: Date.now() });
  }

  setRestAvailable(ok: boolean): void {
    this.restAvailable = ok;
  }

  // ───────────────────────── WebSocket protocol ─────────────────────────

  private onClientMessage(ws: Ws, text: string): void {
    if (Date.now() < this.globalStallUntilMs) {
      // A stalled server answers nothing now, and everything once it resumes (like a paused process).
      this.stalledInbox.push({ ws, text });
      return;
    }
    let msg: { op?: unknown; args?: unknown; req_id?: unknown };
    try {
      msg = JSON.parse(text);
    } catch (err) {
      this.sendError(ws, { success: false, ret_msg: `Failed to decode incoming data: ${String(err)}`, conn_id: ws.data.connId, op: "" });
      return;
    }
    const market = ws.data.market;
    const reqId = typeof msg.req_id === "string" ? msg.req_id : undefined;
    if (msg.op === "ping") {
      this.stats.pings++;
      if (market === "option") this.send(ws, JSON.stringify({ args: [String(Date.now())], op: "pong" }));
      else if (market === "spot") this.send(ws, JSON.stringify({ success: true, ret_msg: "pong", conn_id: ws.data.connId, ...(reqId !== undefined ? { req_id: reqId } : {}), op: "ping" }));
      else this.send(ws, JSON.stringify({ success: true, ret_msg: "pong", conn_id: ws.data.connId, req_id: reqId ?? "", op: "ping" }));
      return;
    }
    if (msg.op !== "subscribe" && msg.op !== "unsubscribe") {
      this.sendError(ws, { success: false, ret_msg: "error:invalid op", conn_id: ws.data.connId, ...(reqId !== undefined ? { req_id: reqId } : {}), op: msg.op ?? "" });
      return;
    }
    const args = Array.isArray(msg.args) ? msg.args.filter((a): a is string => typeof a === "string") : [];
    if (msg.op === "subscribe") this.onSubscribe(ws, args, reqId);
    else this.onUnsubscribe(ws, args, reqId);
  }

  private ackFrame(ws: Ws, op: string, reqId: string | undefined, success: boolean, retMsg: string): string {
    const market = ws.data.market;
    if (market === "spot") {
      // Spot: ret_msg is the op on success; req_id only when the request had one (§2.2).
      const body: Record<string, unknown> = { success, ret_msg: success ? op : retMsg, conn_id: ws.data.connId };
      if (reqId !== undefined) body.req_id = reqId;
      body.op = op;
      return escapeGt(JSON.stringify(body));
    }
    return escapeGt(JSON.stringify({ success, ret_msg: success ? "" : retMsg, conn_id: ws.data.connId, req_id: reqId ?? "", op }));
  }

  private onSubscribe(ws: Ws, args: string[], reqId: string | undefined): void {
    this.stats.subscribes++;
    const market = ws.data.market;
    // Connection limits (§2.3): 21,000 characters of args, 2000 args on option. Bybit's reply to a breach is
    // undocumented; this one rejects the request and names the limit.
    let addChars = 0;
    for (const t of args) addChars += argChars(t);
    if (argsCharsOf(ws.data.topics) + addChars > MAX_ARGS_CHARS_PER_CONNECTION) {
      this.stats.errorsSent++;
      this.send(ws, this.ackFrame(ws, "subscribe", reqId, false, `error:args exceed ${MAX_ARGS_CHARS_PER_CONNECTION} characters per connection (simulator)`));
      return;
    }
    if (market === "option" && ws.data.topics.size + args.length > OPTION_MAX_ARGS_PER_CONNECTION) {
      this.stats.errorsSent++;
      this.send(ws, JSON.stringify({ success: false, ret_msg: `error:more than ${OPTION_MAX_ARGS_PER_CONNECTION} args per connection (simulator)`, conn_id: ws.data.connId, type: "COMMAND_RESP" }));
      return;
    }
    if (market === "option") {
      // Option: per-topic lists in a COMMAND_RESP (§2.2); no batch-wide failure.
      const ok: string[] = [];
      const failed: string[] = [];
      for (const t of args) (this.isValidTopic(market, t) && !ws.data.topics.has(t) ? ok : failed).push(t);
      this.send(ws, JSON.stringify({ success: failed.length === 0, conn_id: ws.data.connId, data: { failTopics: failed, successTopics: ok }, type: "COMMAND_RESP" }));
      if (failed.length > 0) this.stats.errorsSent++;
      for (const t of ok) this.attach(ws, t);
      return;
    }
    if (market === "spot" && args.length > SPOT_MAX_ARGS_PER_REQUEST) {
      this.stats.errorsSent++;
      this.send(ws, this.ackFrame(ws, "subscribe", reqId, false, "args size >10"));
      return;
    }
    // One bad topic fails the whole batch, as seen in the wild (§2.4, §6.3).
    for (const t of args) {
      if (!this.isValidTopic(market, t)) {
        this.stats.errorsSent++;
        this.send(ws, this.ackFrame(ws, "subscribe", reqId, false, `error:handler not found,topic:${t}`));
        return;
      }
      if (ws.data.topics.has(t)) {
        this.stats.errorsSent++;
        this.send(ws, this.ackFrame(ws, "subscribe", reqId, false, `error:already subscribed,topic:${t}`));
        return;
      }
    }
    this.send(ws, this.ackFrame(ws, "subscribe", reqId, true, ""));
    for (const t of args) this.attach(ws, t);
  }

  private onUnsubscribe(ws: Ws, args: string[], reqId: string | undefined): void {
    this.stats.unsubscribes++;
    const market = ws.data.market;
    for (const t of args) {
      ws.data.topics.delete(t);
      this.topics.get(`${market}|${t}`)?.subs.delete(ws);
      this.replay.get(`${market}|${t}`)?.subs.delete(ws);
    }
    // Unsubscribing a topic that is not subscribed is answered with success here; Bybit's answer is undocumented.
    if (market === "option") this.send(ws, JSON.stringify({ success: true, conn_id: ws.data.connId, data: { failTopics: [], successTopics: args }, type: "COMMAND_RESP" }));
    else this.send(ws, this.ackFrame(ws, "unsubscribe", reqId, true, ""));
  }

  private isValidTopic(market: MarketName, topic: string): boolean {
    if (this.replay.has(`${market}|${topic}`)) return true;
    const m = /^orderbook\.(\d+)\.(.+)$/.exec(topic);
    if (!m) return false;
    return BYBIT_DEPTHS[market].includes(Number(m[1])) && this.symbols.has(`${market}:${m[2]}`);
  }

  /** Subscribes a connection and sends its first message: a snapshot with the topic's current u. */
  private attach(ws: Ws, topic: string): void {
    const market = ws.data.market;
    ws.data.topics.add(topic);
    const key = `${market}|${topic}`;
    const r = this.replay.get(key);
    if (r) {
      r.subs.add(ws);
      if (r.cursor === 0) this.replayNext(r, true);
      else this.send(ws, this.replaySnapshot(r, r.u));
      return;
    }
    let t = this.topics.get(key);
    const [, depthText, symbol] = /^orderbook\.(\d+)\.(.+)$/.exec(topic)!;
    const sym = this.symbols.get(`${market}:${symbol}`)!;
    if (!t) {
      t = new TopicSim(market, topic, Number(depthText), sym, this.rng.int(1_000_000, 90_000_000));
      this.topics.set(key, t);
    }
    if (t.subs.size === 0) {
      // Nobody listened: move the window to the present (u advances once, as if changes happened meanwhile).
      t.bids = sym.book.windowLevels(true, t.depth);
      t.asks = sym.book.windowLevels(false, t.depth);
      t.u++;
      sym.seq += this.rng.int(50, 400);
    }
    t.subs.add(ws);
    t.lastSentMs = Date.now();
    this.send(ws, this.snapshotFrame(t));
  }

  // ───────────────────────── generation ─────────────────────────

  step(n = 1): void {
    const now = Date.now();
    if (now < this.globalStallUntilMs) return;
    for (let i = 0; i < n; i++) {
      for (const sym of this.symbols.values()) if (this.hasSubscribers(sym) && now >= sym.stalledUntilMs) this.stepSymbol(sym, true);
      for (const r of this.replay.values()) if (r.subs.size > 0 && now >= r.stalledUntilMs) this.replayNext(r, true);
    }
  }

  private onTick(): void {
    const now = Date.now();
    const dt = now - this.lastTickMs;
    this.lastTickMs = now;
    if (now < this.globalStallUntilMs) return;
    if (this.stalledInbox.length > 0) {
      const inbox = this.stalledInbox;
      this.stalledInbox = [];
      for (const m of inbox) if (this.conns.has(m.ws)) this.onClientMessage(m.ws, m.text);
    }
    const rate = this.opts.messagesPerSecond ?? 0;
    if (rate > 0) {
      this.stepBudget = Math.min(this.stepBudget + (rate * dt) / 1000, rate); // at most 1 s of backlog
      const active = [...this.symbols.values()].filter((s) => this.hasSubscribers(s) && now >= s.stalledUntilMs);
      const replaying = [...this.replay.values()].filter((r) => r.subs.size > 0 && r.cursor < r.lines.length && now >= r.stalledUntilMs);
      const n = active.length + replaying.length;
      while (this.stepBudget >= 1 && n > 0) {
        const k = this.rng.int(0, n - 1);
        // The budget counts messages: a step on a symbol with two subscribed depths sends two.
        if (k < active.length) this.stepBudget -= Math.max(1, this.stepSymbol(active[k]!, true));
        else {
          this.replayNext(replaying[k - active.length]!, true);
          this.stepBudget--;
        }
      }
    }
    // Level 1 re-pushes an unchanged snapshot with the same u every 3 s (§4.2).
    const repush = this.opts.l1RepushMs ?? L1_REPUSH_MS;
    for (const t of this.topics.values()) {
      if (t.depth === 1 && t.subs.size > 0 && now - t.lastSentMs >= repush && now >= t.sym.stalledUntilMs) this.publish(t, this.snapshotFrame(t));
    }
  }

  private hasSubscribers(sym: SymbolSim): boolean {
    for (const t of this.topics.values()) if (t.sym === sym && t.subs.size > 0) return true;
    return false;
  }

  /** One burst on a symbol, then one message per subscribed topic whose window changed. */
  private stepSymbol(sym: SymbolSim, send: boolean, corrupt = false): number {
    const burst = this.rng.next() < (this.opts.burstiness ?? 0.05);
    sym.book.mutate(burst ? this.rng.int(20, 150) : this.rng.int(1, 5));
    sym.seq += this.rng.int(50, 400);
    let messages = 0;
    for (const t of this.topics.values()) {
      if (t.sym !== sym || t.subs.size === 0) continue;
      const frame = this.advanceTopic(t);
      if (frame === null) continue;
      messages++;
      if (send) this.publish(t, corrupt ? corruptFrame(frame, this.rng) : frame);
    }
    return messages;
  }

  /** Diffs the topic's window against the book, bumps u and returns the message (null when nothing changed). */
  private advanceTopic(t: TopicSim): string | null {
    const book = t.sym.book;
    const nb = book.windowLevels(true, t.depth);
    const na = book.windowLevels(false, t.depth);
    const db = diffLevels(t.bids, nb, true);
    const da = diffLevels(t.asks, na, false);
    if (db.length === 0 && da.length === 0) return null;
    t.bids = nb;
    t.asks = na;
    t.u++;
    // Level 1 is snapshot-only (§4.1 history, 2025-03-20).
    if (t.depth === 1) return this.snapshotFrame(t);
    return this.frame(t, "delta", db, da); // diffLevels lists bids descending, asks ascending
  }

  private snapshotFrame(t: TopicSim): string {
    const pairs = (l: Levels) => l.px.map((p, i) => [p, l.qty[i]!] as [number, number]);
    return this.frame(t, "snapshot", pairs(t.bids), pairs(t.asks));
  }

  /** Key order as Bybit sends it: spot and futures level 1 put ts before type; option adds id (§4.2, §4.3). */
  private frame(t: TopicSim, type: "snapshot" | "delta", bids: [number, number][], asks: [number, number][]): string {
    const book = t.sym.book;
    const ts = Date.now();
    const cts = ts - this.rng.int(2, 15);
    const levels = (side: [number, number][]) => side.map(([p, q]) => `["${book.formatPrice(p, t.market)}","${book.formatQty(q, t.market)}"]`).join(",");
    const data = `"data":{"s":"${t.sym.symbol}","b":[${levels(bids)}],"a":[${levels(asks)}],"u":${t.u},"seq":${t.sym.seq}}`;
    const topic = `"topic":"${t.topic}"`;
    if (t.market === "option") return `{${topic},"ts":${ts},"type":"${type}","id":"${t.topic}-${t.sym.seq}-${ts}",${data},"cts":${cts}}`;
    if (t.market === "spot" || t.depth === 1) return `{${topic},"ts":${ts},"type":"${type}",${data},"cts":${cts}}`;
    return `{${topic},"type":"${type}","ts":${ts},${data},"cts":${cts}}`;
  }

  private publish(t: TopicSim, frame: string): void {
    t.lastMessage = frame;
    t.lastSentMs = Date.now();
    for (const ws of t.subs) this.send(ws, frame);
  }

  private send(ws: Ws, frame: string): void {
    if (Date.now() < this.globalStallUntilMs) return;
    ws.send(frame);
    this.stats.messagesSent++;
    this.stats.bytesSent += frame.length;
  }

  private sendError(ws: Ws, body: Record<string, unknown>): void {
    this.stats.errorsSent++;
    this.send(ws, escapeGt(JSON.stringify(body)));
  }

  // ───────────────────────── replay ─────────────────────────

  /**
   * Loads a recording: JSONL of Bybit payloads (one per line; no category, so the market comes from the
   * configured symbols), or a feeder capture file (`feeder record`, .fcap), whose records name their market.
   * Only order-book frames are served; acks and pongs in a capture are the simulator's own business.
   */
  private loadReplay(path: string): void {
    const recorded: { line: string; market: MarketName | undefined }[] = [];
    if (path.endsWith(CAPTURE_EXTENSION)) {
      const { records, truncated } = readCapture(path);
      if (truncated) process.emitWarning(`sim: capture ${path} ends early: ${truncated}`);
      for (const r of records) if (typeof r.frame === "string") recorded.push({ line: r.frame, market: r.market as MarketName });
    } else {
      for (const line of readFileSync(path, "utf8").split(/\r?\n/)) if (line.trim().length > 0) recorded.push({ line, market: undefined });
    }
    const byTopic = new Map<string, { lines: string[]; topic: string; market: MarketName | undefined; symbol: string; priceDec: number; qtyDec: number }>();
    for (const { line, market: recordedMarket } of recorded) {
      let msg: { topic?: string; data?: { s?: string; b?: string[][]; a?: string[][] } };
      try {
        msg = JSON.parse(line);
      } catch {
        continue; // a capture holds whatever the venue sent, malformed frames included
      }
      if (typeof msg.topic !== "string" || !msg.topic.startsWith("orderbook.")) continue;
      const symbol = msg.data?.s ?? msg.topic.split(".").slice(2).join(".");
      const key = `${recordedMarket ?? ""}|${msg.topic}`;
      const entry = byTopic.get(key) ?? { lines: [], topic: msg.topic, market: recordedMarket, symbol, priceDec: 0, qtyDec: 0 };
      for (const [p, q] of [...(msg.data?.b ?? []), ...(msg.data?.a ?? [])]) {
        entry.priceDec = Math.max(entry.priceDec, decimals(p!));
        entry.qtyDec = Math.max(entry.qtyDec, decimals(q!));
      }
      entry.lines.push(line);
      byTopic.set(key, entry);
    }
    for (const e of byTopic.values()) {
      const topic = e.topic;
      // JSONL names no category: serve it on the market configured for its symbol (linear by default).
      const market = e.market ?? this.opts.markets.find((m) => m.symbols.includes(e.symbol))?.market ?? "linear";
      this.symbols.delete(`${market}:${e.symbol}`);
      const step = (d: number) => (d === 0 ? "1" : `0.${"0".repeat(d - 1)}1`);
      this.replay.set(`${market}|${topic}`, new ReplayTopic(market, topic, e.symbol, e.lines, step(e.priceDec), step(e.qtyDec)));
    }
  }

  /** Sends the next recorded line to the topic's subscribers and applies it to the replay book. */
  private replayNext(r: ReplayTopic, send: boolean, corrupt = false): void {
    if (r.cursor >= r.lines.length) return;
    let line = r.lines[r.cursor++]!;
    const msg = JSON.parse(line) as { type: string; data: { b: string[][]; a: string[][]; u: number } };
    if (msg.type === "snapshot") {
      r.bids.clear();
      r.asks.clear();
    }
    for (const [p, q] of msg.data.b) if (q === "0" || Number(q) === 0) r.bids.delete(p!); else r.bids.set(p!, q!);
    for (const [p, q] of msg.data.a) if (q === "0" || Number(q) === 0) r.asks.delete(p!); else r.asks.set(p!, q!);
    r.u = msg.data.u + r.uShift;
    if (r.uShift !== 0) line = line.replace(/"u":\d+/, `"u":${r.u}`);
    r.lastMessage = line;
    if (send) for (const ws of r.subs) this.send(ws, corrupt ? corruptFrame(line, this.rng) : line);
  }

  private replaySnapshot(r: ReplayTopic, u: number): string {
    const b = [...r.bids].sort((x, y) => Number(y[0]) - Number(x[0]));
    const a = [...r.asks].sort((x, y) => Number(x[0]) - Number(y[0]));
    const levels = (side: [string, string][]) => side.map(([p, q]) => `["${p}","${q}"]`).join(",");
    const ts = Date.now();
    return `{"topic":"${r.topic}","type":"snapshot","ts":${ts},"data":{"s":"${r.symbol}","b":[${levels(b)}],"a":[${levels(a)}],"u":${u},"seq":${ts}},"cts":${ts - 3}}`;
  }

  // ───────────────────────── faults and test hooks ─────────────────────────

  inject(fault: SimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number }): void {
    const syms = [...this.symbols.values()].filter((s) => !target || (s.market === target.market && s.symbol === target.symbol));
    const reps = [...this.replay.values()].filter((r) => !target || (r.market === target.market && r.symbol === target.symbol));
    if (target && syms.length === 0 && reps.length === 0) throw new Error(`sim: no such symbol ${target.market}:${target.symbol}`);
    switch (fault) {
      case "gap": // a delta is produced (u advances) but never sent
        for (const s of syms) if (this.hasSubscribers(s)) this.stepSymbol(s, false);
        for (const r of reps) if (r.subs.size > 0) this.replayNext(r, false);
        return;
      case "malformed": // the next message is sent garbled (its u is consumed)
        for (const s of syms) if (this.hasSubscribers(s)) this.stepSymbol(s, true, true);
        for (const r of reps) if (r.subs.size > 0) this.replayNext(r, true, true);
        return;
      case "duplicate":
        for (const t of this.topics.values()) if (syms.includes(t.sym) && t.subs.size > 0 && t.lastMessage) this.publish(t, t.lastMessage);
        for (const r of reps) if (r.lastMessage) for (const ws of r.subs) this.send(ws, r.lastMessage);
        return;
      case "reset": // service restart: u restarts at 1 with a snapshot (§4.3)
        for (const t of this.topics.values()) {
          if (!syms.includes(t.sym)) continue;
          t.u = 1;
          if (t.subs.size > 0) this.publish(t, this.snapshotFrame(t));
        }
        for (const r of reps) {
          r.uShift = 1 - (r.u - r.uShift);
          r.u = 1;
          const snap = this.replaySnapshot(r, 1);
          r.lastMessage = snap;
          for (const ws of r.subs) this.send(ws, snap);
        }
        return;
      case "disconnect": {
        for (const ws of [...this.conns]) {
          if (!target || [...ws.data.topics].some((t) => this.topicSymbol(ws.data.market, t) === `${target.market}:${target.symbol}`)) ws.terminate();
        }
        return;
      }
      case "stall": {
        const until = Date.now() + (opts?.stallMs ?? 5_000);
        if (!target) this.globalStallUntilMs = until;
        for (const s of syms) if (target) s.stalledUntilMs = until;
        for (const r of reps) if (target) r.stalledUntilMs = until;
        return;
      }
    }
  }

  private topicSymbol(market: MarketName, topic: string): string {
    const r = this.replay.get(`${market}|${topic}`);
    if (r) return `${market}:${r.symbol}`;
    return `${market}:${topic.split(".").slice(2).join(".")}`;
  }

  changeInstrument(market: MarketName, symbol: string, change: { tickSize?: string; lotSize?: string }): void {
    const sym = this.symbols.get(`${market}:${symbol}`);
    if (!sym) throw new Error(`sim: no generated symbol ${market}:${symbol}`);
    const spec = { ...sym.book.spec, ...change };
    sym.book.changeSpec({ ...spec, priceDecimals: exponentOf(spec.tickSize) });
    // Lot/tick change: u restarts at 1 (full-ob.mdx table in shared/docs/bybit-v5.md §4.4); send the new book.
    for (const t of this.topics.values()) {
      if (t.sym !== sym) continue;
      t.u = 1;
      t.bids = sym.book.windowLevels(true, t.depth);
      t.asks = sym.book.windowLevels(false, t.depth);
      if (t.subs.size > 0) this.publish(t, this.snapshotFrame(t));
    }
  }

  book(market: MarketName, symbol: string, depth?: number): { bids: Map<string, string>; asks: Map<string, string>; u: number } {
    for (const r of this.replay.values()) {
      if (r.market === market && r.symbol === symbol && (depth === undefined || r.topic === `orderbook.${depth}.${symbol}`)) {
        return { bids: new Map(r.bids), asks: new Map(r.asks), u: r.u };
      }
    }
    const sym = this.symbols.get(`${market}:${symbol}`);
    if (!sym) throw new Error(`sim: no symbol ${market}:${symbol}`);
    let topic: TopicSim | undefined;
    for (const t of this.topics.values()) {
      if (t.sym !== sym) continue;
      if (depth !== undefined ? t.depth === depth : t.subs.size > 0 && (!topic || t.depth > topic.depth)) topic = t;
    }
    const fmt = (l: Levels) => {
      const out = new Map<string, string>();
      for (let i = 0; i < l.px.length; i++) out.set(sym.book.formatPrice(l.px[i]!, market), sym.book.formatQty(l.qty[i]!, market));
      return out;
    };
    if (!topic) {
      const n = depth ?? Infinity;
      return { bids: fmt(sym.book.windowLevels(true, n)), asks: fmt(sym.book.windowLevels(false, n)), u: 0 };
    }
    return { bids: fmt(topic.bids), asks: fmt(topic.asks), u: topic.u };
  }
}

/** Garbles a frame after its topic (so a reader can tell which topic was hit): truncation or a broken number. */
function corruptFrame(frame: string, rng: Rng): string {
  const dataAt = frame.indexOf('"data"');
  if (rng.next() < 0.5 || dataAt < 0) return frame.slice(0, Math.max(dataAt + 12, Math.floor(frame.length * 0.6)));
  return frame.replace(/\["(\d+)(\.?)/, '["$1x$2');
}

function decimals(s: string): number {
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

function baseOf(category: MarketName, symbol: string): string {
  if (category === "option") return optionBaseCoin(symbol);
  return symbol.replace(/(USDT|USDC|USD|PERP|EUR|BTC)$/, "") || symbol;
}

/** Characters one topic adds to a connection's args: its JSON string and a comma (as the adapter counts them). */
function argChars(topic: string): number {
  return JSON.stringify(topic).length + 1;
}

function argsCharsOf(topics: Set<string>): number {
  let n = 0;
  for (const t of topics) n += argChars(t);
  return n;
}

/** Bybit's server writes ">" as \u003e inside JSON strings ("args size \u003e10", §2.4). */
function escapeGt(text: string): string {
  return text.replace(/>/g, "\\u003e");
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
}

function instrumentItem(category: MarketName, i: { symbol: string; tickSize: string; lotSize: string; priceDecimals: number }): Record<string, unknown> {
  const base = baseOf(category, i.symbol);
  if (category === "spot") {
    return {
      symbol: i.symbol,
      baseCoin: base,
      quoteCoin: i.symbol.slice(base.length) || "USDT",
      innovation: "0",
      status: "Trading",
      marginTrading: "utaOnly",
      lotSizeFilter: { basePrecision: i.lotSize, quotePrecision: "0.0000001", minOrderQty: i.lotSize, maxOrderQty: "10000", minOrderAmt: "1", maxOrderAmt: "4000000" },
      priceFilter: { tickSize: i.tickSize },
    };
  }
  if (category === "option") {
    return {
      symbol: i.symbol,
      optionsType: i.symbol.split("-")[3] === "C" ? "Call" : "Put",
      status: "Trading",
      baseCoin: base,
      quoteCoin: "USD",
      settleCoin: "USDT",
      launchTime: "1700000000000",
      deliveryTime: "1790000000000",
      deliveryFeeRate: "0.00015",
      priceFilter: { minPrice: i.tickSize, maxPrice: "10000000", tickSize: i.tickSize },
      lotSizeFilter: { maxOrderQty: "10000", minOrderQty: i.lotSize, qtyStep: i.lotSize },
    };
  }
  return {
    symbol: i.symbol,
    contractType: category === "inverse" ? "InversePerpetual" : "LinearPerpetual",
    status: "Trading",
    baseCoin: base,
    quoteCoin: category === "inverse" ? "USD" : "USDT",
    launchTime: "1585526400000",
    deliveryTime: "0",
    priceScale: String(i.priceDecimals),
    priceFilter: { minPrice: i.tickSize, maxPrice: "1999999.80", tickSize: i.tickSize },
    lotSizeFilter: { maxOrderQty: "1190.000", minOrderQty: i.lotSize, qtyStep: i.lotSize, postOnlyMaxOrderQty: "1190.000", maxMktOrderQty: "500.000", minNotionalValue: "5" },
    unifiedMarginTrade: true,
    fundingInterval: 480,
    settleCoin: category === "inverse" ? base : "USDT",
  };
}

export { formatNumber };
