/**
 * A Coinbase Advanced Trade market-data simulator: a Bun.serve WebSocket (any path) plus the public REST
 * `GET /api/v3/brokerage/market/products`, speaking the protocol as docs/venues/coinbase.md describes it: one
 * channel per subscribe message (`level2`, `heartbeats`), data on `l2_data` with events[] of several products, a
 * full-depth `snapshot` event per product (sent before the `subscriptions` event unless ackFirst), `update` events
 * with absolute sizes, sides `bid`/`offer`, one `sequence_num` per connection counting every message, heartbeats
 * each second with `heartbeat_counter` (its subscribe needs no products), unknown products left out of the
 * subscriptions event (or, with unknownProductReply, the whole subscribe, of either channel, refused by an error
 * frame), error frames for bad requests, a close for a client that does not subscribe within 5 s or idles without
 * heartbeats. Generates books (sim-book.ts) and injects faults (coinbase-sim-types.ts) from code or over HTTP (coinbase-sim-control.ts).
 * Loopback only; a test tool, so cold code.
 * @module
 */
import { arrivalAllowanceMs, ConnectLimit } from "./connect-limit.ts";
import { closeIdle } from "./idle-close.ts";
import { instrumentsLimitControl, RestLimitFault, RestRate } from "./rest-limit.ts";
import type { Server, ServerWebSocket } from "bun";
import { Rng } from "./rng.ts";
import { diffLevels, SimBook, defaultSpec, type Levels } from "./sim-book.ts";
import { monoMs } from "../core/clock.ts"; // every deadline, interval and rate window: a wall-clock step neither stretches nor ends one (Date.now only for times sent)
import { formatFixed } from "../core/fixed.ts";
import { HEARTBEAT_INTERVAL_MS, IDLE_CLOSE_MS, MESSAGES_PER_SECOND, PRODUCTS_PATH, SUBSCRIBE_DEADLINE_MS } from "../venues/coinbase/protocol.ts";
import { handleCoinbaseControl } from "./coinbase-sim-control.ts";
import { envelope, errorFrame, eventJson, heartbeatEvent, subscriptionsEvent, timestamp } from "./coinbase-sim-frames.ts";
import { SLOW_CONSUMER_BYTES, type CoinbaseSim, type CoinbaseSimFault, type CoinbaseSimFaultSummary, type CoinbaseSimOptions, type CoinbaseSimStats } from "./coinbase-sim-types.ts";

export type { CoinbaseSim, CoinbaseSimFault, CoinbaseSimFaultSummary, CoinbaseSimOptions, CoinbaseSimStats } from "./coinbase-sim-types.ts";
export { COINBASE_SIM_FAULTS, SLOW_CONSUMER_BYTES } from "./coinbase-sim-types.ts";

const TICK_MS = 10;
/** Longest request target the products endpoint takes (a common server limit, e.g. nginx's 8 KB line buffer): longer is 414. */
export const MAX_REQUEST_TARGET_CHARS = 8_192;

interface ConnData {
  id: number;
  seq: number;
  products: Set<string>;
  heartbeats: boolean;
  heartbeatCounter: number;
  /** The deadlines' times, monoMs: the last heartbeat, the open (the subscribe deadline's start), the last frame sent. */
  lastHeartbeatMs: number;
  openedMs: number;
  lastSentMs: number;
  subscribed: boolean;
  lastFrame: string | null;
  /** Client messages in the current second (the 8/s limit is counted, not enforced). */
  rateWindowMs: number;
  rateCount: number;
}
type Ws = ServerWebSocket<ConnData>;

class Product {
  published: { bids: Levels; asks: Levels };
  /** sequence_num of the last frame that carried this product, per connection id (each has its own sequence). */
  readonly lastSeq = new Map<number, number>();
  constructor(
    readonly id: string,
    readonly book: SimBook,
  ) {
    this.published = { bids: book.windowLevels(true, Infinity), asks: book.windowLevels(false, Infinity) };
  }
}

export async function startCoinbaseSimulator(opts: CoinbaseSimOptions): Promise<CoinbaseSim> {
  const sim = new CoinbaseSimulator(opts);
  await sim.start();
  return sim;
}

class CoinbaseSimulator implements CoinbaseSim {
  readonly stats: CoinbaseSimStats = {
    connections: 0, connectionsTotal: 0, messagesSent: 0, bytesSent: 0, subscribes: 0, unsubscribes: 0, heartbeatsSent: 0,
    errorsSent: 0, restRequests: 0, idleClosedNoSubscribe: 0, idleClosedNoHeartbeats: 0, overRate: 0, overRateIp: 0, framesDropped: 0, slowConsumerCloses: 0,
  };
  private server: Server<ConnData> | null = null;
  private readonly rng: Rng;
  private readonly products = new Map<string, Product>();
  private readonly conns = new Set<Ws>();
  private connSeq = 0;
  /** Heartbeats subscribes refused so far (opts.refuseHeartbeats). */
  private heartbeatsRefused = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private stepBudget = 0;
  private lastTickMs = 0;
  private stallUntilMs = 0; // on monoMs, as every stall deadline here
  /** Arrival times of client messages over all connections in the last (counted) second: stats.overRateIp. */
  private readonly ipMessageTimesMs: number[] = [];
  private stalledInbox: { ws: Ws; text: string }[] = [];
  /** With opts.history: "product|sequence_num" → the books frames with that number carried, by their text. */
  private readonly history = new Map<string, Map<string, { bids: Map<string, string>; asks: Map<string, string> }>>();
  private restAvailable = true;
  readonly connectLimit: ConnectLimit;
  /** Coinbase's public REST rate per IP [F11] (opts.restRate): a burst past it answered as instrumentsLimit does. */
  private readonly restRate: RestRate;
  /** The products endpoint's 429 answers (`POST /sim/instruments-limit`, rateLimitInstruments). */
  readonly instrumentsLimit = new RestLimitFault(JSON.stringify({ error: "RATE_LIMIT_EXCEEDED", message: "Too many requests (simulated)" }));

  constructor(private readonly opts: CoinbaseSimOptions) {
    this.connectLimit = new ConnectLimit(opts.connectLimit ?? [{ max: 8, windowMs: 1_000 }]);
    this.restRate = new RestRate(this.instrumentsLimit, opts.restRate ?? [{ max: 15, windowMs: 1_000 }]);
    this.rng = new Rng(opts.seed ?? 1);
    for (const id of opts.products) {
      const spec = { ...defaultSpec("spot", id), ...(opts.specs?.[id] ?? {}) };
      this.products.set(id, new Product(id, new SimBook(spec, this.rng, opts.levels ?? 200)));
    }
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.server!.port}`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.server!.port}`;
  }

  async start(): Promise<void> {
    this.server = Bun.serve<ConnData>({
      hostname: "127.0.0.1",
      port: this.opts.port ?? 0,
      fetch: (req, server) => {
        const url = new URL(req.url);
        if (url.pathname === PRODUCTS_PATH) return this.productsRest(url);
        if (url.pathname === "/sim/instruments-limit" && req.method === "POST") return instrumentsLimitControl(this.instrumentsLimit, url);
        if (url.pathname.startsWith("/sim/")) return handleCoinbaseControl(this, req, url);
        const now = monoMs();
        const refused = req.headers.get("upgrade")?.toLowerCase() === "websocket" ? this.connectLimit.admit(now) : null;
        if (refused) return refused;
        const data: ConnData = {
          id: ++this.connSeq, seq: 0, products: new Set(), heartbeats: false, heartbeatCounter: 0, lastHeartbeatMs: now,
          openedMs: now, lastSentMs: now, subscribed: false, lastFrame: null, rateWindowMs: now, rateCount: 0,
        };
        if (server.upgrade(req, { data })) return undefined;
        return new Response("expected a WebSocket upgrade or a REST path", { status: 404 });
      },
      websocket: {
        perMessageDeflate: false,
        // Bun's default (16 MiB) silently drops every frame sent while more than that is buffered, its sequence_num
        // spent: a full-depth snapshot of 100k levels a side is ~22 MB, so the frames after it were lost and the
        // feeder saw a sequence gap after every snapshot (and resynced in a loop). Room for the largest snapshot;
        // a client that falls further behind is disconnected first (slowConsumerBytes, in send), as Coinbase's feeds
        // document for a slow consumer;
        // a frame dropped anyway is counted (stats.framesDropped).
        backpressureLimit: 1 << 30,
        open: (ws) => {
          this.conns.add(ws);
          this.stats.connections++;
          this.stats.connectionsTotal++;
        },
        message: (ws, m) => this.onClientMessage(ws, typeof m === "string" ? m : new TextDecoder().decode(m)),
        close: (ws) => {
          if (this.conns.delete(ws)) this.stats.connections--;
        },
      },
    });
    this.lastTickMs = monoMs();
    this.timer = setInterval(() => {
      try {
        this.onTick();
      } catch (err) {
        console.error("coinbase sim: tick failed, going on:", err);
      }
    }, TICK_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const ws of this.conns) ws.terminate();
    await this.server?.stop(true);
    this.server = null;
  }

  // ───────────────────────── REST ─────────────────────────

  private productsRest(url: URL): Response {
    this.stats.restRequests++;
    if (url.pathname.length + url.search.length > MAX_REQUEST_TARGET_CHARS) return new Response("request URI too long", { status: 414 });
    if (!this.restAvailable) return new Response("service unavailable", { status: 503 });
    const limited = this.instrumentsLimit.take() ?? this.restRate.take((this.opts.restClock ?? monoMs)());
    if (limited) return limited;
    const wanted = url.searchParams.getAll("product_ids");
    const list = [...this.products.values()]
      .filter((p) => wanted.length === 0 || wanted.includes(p.id))
      .map((p) => {
        const status = this.statusOf(p);
        const [base, quote] = p.id.split("-");
        return {
          product_id: p.id, price_increment: p.book.spec.tickSize, base_increment: p.book.spec.lotSize, quote_increment: p.book.spec.tickSize,
          base_min_size: p.book.spec.lotSize, status, trading_disabled: status !== "online", is_disabled: false, cancel_only: false,
          limit_only: false, post_only: false, auction_mode: false, product_type: "SPOT", base_currency_id: base ?? "", quote_currency_id: quote ?? "",
        };
      });
    return Response.json({ products: list, num_products: list.length });
  }

  /** Products whose status setProductStatus changed (over opts.productStatus). */
  private readonly statuses = new Map<string, string>();

  setProductStatus(productId: string, status: string): void {
    if (!this.products.has(productId)) throw new Error(`sim: no such product ${productId}`);
    this.statuses.set(productId, status);
  }

  private statusOf(p: Product): string {
    return this.statuses.get(p.id) ?? this.opts.productStatus?.[p.id] ?? "online";
  }

  setRestAvailable(ok: boolean): void {
    this.restAvailable = ok;
  }

  /** The next `count` products requests answer 429 (with Retry-After: `retryAfterS` when given). */
  rateLimitInstruments(count: number, retryAfterS?: number): void {
    this.instrumentsLimit.arm(count, retryAfterS);
  }

  // ───────────────────────── WebSocket protocol ─────────────────────────

  private onClientMessage(ws: Ws, text: string): void {
    if (monoMs() < this.stallUntilMs) {
      this.stalledInbox.push({ ws, text });
      return;
    }
    const d = ws.data;
    const now = monoMs();
    if (now - d.rateWindowMs >= 1000) {
      d.rateWindowMs = now;
      d.rateCount = 0;
    }
    if (++d.rateCount > MESSAGES_PER_SECOND) this.stats.overRate++;
    const ip = this.ipMessageTimesMs;
    while (ip.length > 0 && now - ip[0]! >= 1000 - arrivalAllowanceMs(1000)) ip.shift();
    if (ip.length >= MESSAGES_PER_SECOND) this.stats.overRateIp++;
    ip.push(now);
    let m: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
      m = v as Record<string, unknown>;
    } catch {
      this.sendError(ws, "failed to parse the message as a JSON object");
      return;
    }
    if (m.type !== "subscribe" && m.type !== "unsubscribe") return this.sendError(ws, `unknown type ${JSON.stringify(m.type)}`);
    const unknown = Array.isArray(m.product_ids) ? (m.product_ids as unknown[]).filter((id) => typeof id !== "string" || !this.products.has(id)) : [];
    const reply = this.opts.unknownProductReply ?? "omit";
    if (m.type === "subscribe" && unknown.length > 0 && reply !== "omit") {
      // The whole subscribe refused, as the Exchange feed does (coinbase-pro-node#174): nothing subscribed, no event.
      if (m.channel === "level2") this.stats.subscribes++;
      return this.sendError(ws, "Failed to subscribe", reply === "error_named" ? `${String(unknown[0])} is not a valid product` : undefined);
    }
    if (m.channel === "heartbeats" && m.type === "subscribe" && this.heartbeatsRefused < (this.opts.refuseHeartbeats ?? 0)) {
      this.heartbeatsRefused++;
      return this.sendError(ws, "Failed to subscribe", "rate limit exceeded");
    }
    if (m.channel === "heartbeats") {
      // Only a subscribe counts against the 5 s deadline: an unsubscribe used to mark the socket subscribed.
      if (m.type === "subscribe") d.subscribed = true;
      d.heartbeats = m.type === "subscribe";
      this.sendSubscriptions(ws);
      return;
    }
    if (m.channel !== "level2") return this.sendError(ws, `unknown channel ${JSON.stringify(m.channel)}`);
    const ids = m.product_ids;
    if (!Array.isArray(ids) || ids.some((x) => typeof x !== "string")) return this.sendError(ws, "level2 needs product_ids, an array of strings");
    const known = (ids as string[]).filter((id) => this.products.has(id));
    if (m.type === "unsubscribe") {
      this.stats.unsubscribes++;
      for (const id of known) d.products.delete(id);
      this.sendSubscriptions(ws);
      return;
    }
    this.stats.subscribes++;
    d.subscribed = true;
    for (const id of known) d.products.add(id);
    if (this.opts.ackFirst) this.sendSubscriptions(ws);
    for (const id of known) if (this.statusOf(this.products.get(id)!) === "online") this.sendSnapshot(ws, this.products.get(id)!); // not online: silent
    if (!this.opts.ackFirst) this.sendSubscriptions(ws);
  }

  private sendSubscriptions(ws: Ws): void {
    this.sendOn(ws, "subscriptions", [subscriptionsEvent([...ws.data.products], ws.data.heartbeats)]);
  }

  private sendSnapshot(ws: Ws, p: Product): void {
    const time = timestamp();
    const toPairs = (l: Levels): [number, number][] => l.px.map((px, i) => [px, l.qty[i]!]);
    const seq = this.sendOn(ws, "l2_data", [eventJson("snapshot", p.id, p.book, toPairs(p.published.bids), toPairs(p.published.asks), time)], time);
    p.lastSeq.set(ws.data.id, seq);
    this.remember(p, seq);
  }

  private sendError(ws: Ws, message: string, reason?: string): void {
    this.stats.errorsSent++;
    this.send(ws, errorFrame(message, reason));
  }

  /** Sends one message on the connection's sequence; returns its sequence_num. */
  private sendOn(ws: Ws, channel: string, events: string[], time = timestamp(), send = true, garble = false): number {
    const seq = ws.data.seq++;
    const frame = envelope(channel, seq, events, time);
    if (channel === "l2_data") ws.data.lastFrame = frame;
    if (send) this.send(ws, garble ? garbled(frame, this.rng) : frame);
    return seq;
  }

  private send(ws: Ws, frame: string): void {
    const nowMonoMs = monoMs();
    if (nowMonoMs < this.stallUntilMs || !this.conns.has(ws)) return;
    ws.data.lastSentMs = nowMonoMs;
    if (ws.send(frame) === 0) this.stats.framesDropped++;
    this.stats.messagesSent++;
    this.stats.bytesSent += frame.length;
    // A slow consumer is disconnected, never sent a stream with holes: before, nothing bounded what a client that
    // stopped reading (SIGSTOPped, its thread held) had queued here but the socket's 1 GiB, then frames were dropped.
    if (ws.getBufferedAmount() > (this.opts.slowConsumerBytes ?? SLOW_CONSUMER_BYTES)) {
      this.stats.slowConsumerCloses++;
      this.conns.delete(ws);
      this.stats.connections--;
      ws.terminate();
    }
  }

  // ───────────────────────── generation ─────────────────────────

  private subscribed(p: Product): boolean {
    for (const ws of this.conns) if (ws.data.products.has(p.id)) return true;
    return false;
  }

  /** Moves the products' books; returns the changed levels per product. */
  private advance(products: Iterable<Product>): Map<Product, { bids: [number, number][]; asks: [number, number][] }> {
    const out = new Map<Product, { bids: [number, number][]; asks: [number, number][] }>();
    for (const p of products) {
      const burst = this.rng.next() < 0.05;
      p.book.mutate(burst ? this.rng.int(20, 150) : this.rng.int(1, 5));
      const bids = p.book.windowLevels(true, Infinity);
      const asks = p.book.windowLevels(false, Infinity);
      out.set(p, { bids: diffLevels(p.published.bids, bids, true), asks: diffLevels(p.published.asks, asks, false) });
      p.published = { bids, asks };
    }
    return out;
  }

  /** One l2_data frame per connection holding its products' changes (several products: several events). */
  private publish(changes: Map<Product, { bids: [number, number][]; asks: [number, number][] }>, only?: (ws: Ws) => boolean, mode: "send" | "drop" | "garble" = "send"): number {
    const time = timestamp();
    let n = 0;
    for (const ws of this.conns) {
      if (only && !only(ws)) continue;
      const events: string[] = [];
      const carried: Product[] = [];
      for (const [p, c] of changes) {
        if (!ws.data.products.has(p.id) || (c.bids.length === 0 && c.asks.length === 0)) continue;
        events.push(eventJson("update", p.id, p.book, c.bids, c.asks, time));
        carried.push(p);
      }
      if (events.length === 0) continue;
      const seq = this.sendOn(ws, "l2_data", events, time, mode !== "drop", mode === "garble");
      for (const p of carried) {
        p.lastSeq.set(ws.data.id, seq);
        this.remember(p, seq);
      }
      n++;
    }
    return n;
  }

  step(n = 1): void {
    if (monoMs() < this.stallUntilMs) return;
    for (let i = 0; i < n; i++) this.publish(this.advance([...this.products.values()].filter((p) => this.subscribed(p) && this.statusOf(p) === "online")));
  }

  private onTick(): void {
    const nowMonoMs = monoMs(); // the clock of the pacing, the stall, the idle closes and the heartbeats
    const dt = nowMonoMs - this.lastTickMs;
    this.lastTickMs = nowMonoMs;
    if (nowMonoMs < this.stallUntilMs) return;
    if (this.stalledInbox.length > 0) {
      const inbox = this.stalledInbox;
      this.stalledInbox = [];
      for (const m of inbox) if (this.conns.has(m.ws)) this.onClientMessage(m.ws, m.text);
    }
    const rate = this.opts.messagesPerSecond ?? 0;
    if (rate > 0) {
      // At most 1 s of backlog, but never less than one message: a rate below 1/s (0.5: one every 2 s) capped at
      // itself never reached 1 and sent nothing (until 2026-12-07).
      this.stepBudget = Math.min(this.stepBudget + (rate * Math.max(0, dt)) / 1000, Math.max(1, rate));
      const active = [...this.products.values()].filter((p) => this.subscribed(p) && this.statusOf(p) === "online");
      while (this.stepBudget >= 1 && active.length > 0) {
        // One product at a time: most frames carry one event; step() shows frames with several.
        this.stepBudget -= Math.max(1, this.publish(this.advance([active[this.rng.int(0, active.length - 1)]!])));
      }
    }
    const hbMs = this.opts.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
    const subscribeMs = this.opts.subscribeDeadlineMs ?? SUBSCRIBE_DEADLINE_MS;
    const idleMs = this.opts.idleCloseMs ?? IDLE_CLOSE_MS;
    // Time this process was held up (a subscribe or the client's traffic waiting unread) is not counted (idle-close.ts).
    const tick = { nowMs: nowMonoMs, sinceTickMs: dt, tickMs: TICK_MS };
    const unsubscribed = [...this.conns].filter((ws) => !ws.data.subscribed);
    const quiet = [...this.conns].filter((ws) => ws.data.subscribed && !ws.data.heartbeats);
    const unsubscribedLeft = new Set(unsubscribed);
    const quietLeft = new Set(quiet);
    this.stats.idleClosedNoSubscribe += closeIdle(unsubscribedLeft, "openedMs", { ...tick, idleMs: subscribeMs, reason: "no subscribe within the deadline", code: 1008 });
    this.stats.idleClosedNoHeartbeats += closeIdle(quietLeft, "lastSentMs", { ...tick, idleMs, reason: "idle" });
    // Those closed are gone at once (not when their close completes), as before.
    for (const ws of unsubscribed) if (!unsubscribedLeft.has(ws) && this.conns.delete(ws)) this.stats.connections--;
    for (const ws of quiet) if (!quietLeft.has(ws) && this.conns.delete(ws)) this.stats.connections--;
    for (const ws of this.conns) {
      const d = ws.data;
      if (d.heartbeats && nowMonoMs - d.lastHeartbeatMs >= hbMs) {
        d.lastHeartbeatMs = nowMonoMs;
        const time = timestamp();
        this.sendOn(ws, "heartbeats", [heartbeatEvent(d.heartbeatCounter++, time)], time);
        this.stats.heartbeatsSent++;
      }
    }
  }

  // ───────────────────────── faults and test hooks ─────────────────────────

  inject(fault: CoinbaseSimFault, product?: string, opts?: { stallMs?: number }): CoinbaseSimFaultSummary {
    if (product !== undefined && !this.products.has(product)) throw new Error(`sim: no such product ${product}`);
    const carries = (ws: Ws) => product === undefined || ws.data.products.has(product);
    const targets = [...this.conns].filter(carries);
    const summary: CoinbaseSimFaultSummary = { fault, product: product ?? null, connections: targets.length };
    const productsOf = (ws: Ws) => [...ws.data.products].map((id) => this.products.get(id)!);
    switch (fault) {
      case "gap":
      case "malformed":
        // Every product of the connection moves; the frame carrying them is lost (gap) or garbled on it alone. Another
        // connection carrying one of them gets the change as usual (before, it got nothing and its book was wrong
        // from then on, with no gap to show it).
        for (const ws of targets) {
          const changes = this.advance(productsOf(ws));
          this.publish(changes, (w) => w === ws, fault === "gap" ? "drop" : "garble");
          this.publish(changes, (w) => w !== ws);
        }
        break;
      case "duplicate":
        for (const ws of targets) if (ws.data.lastFrame) this.send(ws, ws.data.lastFrame);
        break;
      case "reset":
        for (const p of product === undefined ? this.products.values() : [this.products.get(product)!]) {
          p.book.rebuild(p.book.spec.mid);
          p.published = { bids: p.book.windowLevels(true, Infinity), asks: p.book.windowLevels(false, Infinity) };
          for (const ws of this.conns) if (ws.data.products.has(p.id)) this.sendSnapshot(ws, p);
        }
        break;
      case "disconnect":
        for (const ws of targets) ws.terminate();
        break;
      case "stall":
        this.stallUntilMs = monoMs() + (opts?.stallMs ?? 5_000);
        break;
      case "error":
        for (const ws of targets) this.sendError(ws, "simulated error");
        break;
      case "sequence_reset":
        for (const ws of targets) ws.data.seq = 0;
        break;
    }
    return summary;
  }

  /** With opts.history: the product's book as a frame with this sequence_num carried it (cold: a test option). */
  private remember(p: Product, seq: number): void {
    if (!this.opts.history) return;
    const b = this.book(p.id);
    const key = `${p.id}|${seq}`;
    let states = this.history.get(key);
    if (!states) this.history.set(key, (states = new Map()));
    // The text tells a state already kept; the first Maps of it are kept beside it and handed out as they are.
    const text = JSON.stringify([[...b.bids], [...b.asks]]);
    if (!states.has(text)) states.set(text, { bids: b.bids, asks: b.asks });
  }

  booksAt(product: string, seq: number): { bids: Map<string, string>; asks: Map<string, string> }[] {
    // The same Maps every call (never changed: a new book is new Maps), so a caller may key work by them.
    return [...(this.history.get(`${product}|${seq}`)?.values() ?? [])];
  }

  book(product: string): { bids: Map<string, string>; asks: Map<string, string>; seq: number; conn: number } {
    const p = this.products.get(product);
    if (!p) throw new Error(`sim: no product ${product}`);
    const fmt = (l: Levels, exp: number, qexp: number) => new Map(l.px.map((px, i) => [formatFixed(px, exp), formatFixed(l.qty[i]!, qexp)] as [string, string]));
    // The newest connection carrying the product: an old one may linger until its close arrives.
    let conn = -1;
    for (const ws of this.conns) if (ws.data.products.has(product) && ws.data.id > conn) conn = ws.data.id;
    return { bids: fmt(p.published.bids, p.book.priceExp, p.book.qtyExp), asks: fmt(p.published.asks, p.book.priceExp, p.book.qtyExp), seq: p.lastSeq.get(conn) ?? 0, conn };
  }

  /** Product ids served. */
  productIds(): string[] {
    return [...this.products.keys()];
  }

  /** Per connection: its id, sequence_num so far and level2 products (GET /sim/stats). */
  connectionInfo(): { id: number; seq: number; products: string[]; heartbeats: boolean }[] {
    return [...this.conns].map((ws) => ({ id: ws.data.id, seq: ws.data.seq, products: [...ws.data.products], heartbeats: ws.data.heartbeats }));
  }
}

/** A frame cut short: no JSON reader accepts it (its sequence_num is lost with it). */
function garbled(frame: string, rng: Rng): string {
  return frame.slice(0, rng.int(1, Math.max(1, frame.length - 2)));
}
