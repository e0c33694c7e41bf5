/**
 * A Binance spot and USD-M public-market simulator on 127.0.0.1 (docs/venues/binance.md): combined streams at
 * `/stream` (spot) and `/public/stream` (USD-M) with `SUBSCRIBE` / `UNSUBSCRIBE` / `GET_PROPERTY` /
 * `LIST_SUBSCRIPTIONS` and their acks and `{"error":{"code","msg"},"id"}` errors (USD-M refuses an id that is not an
 * unsigned integer), unknown symbols accepted (and silent), streams refused (refuseStreams), the
 * incoming-message limit (5 / 10 per second, then a close), diff events with `U`/`u` (spot) and `pu` (USD-M, whose
 * `U` does not follow the previous `u`), REST `/api/v3|/fapi/v1` `depth` (weights, `X-MBX-USED-WEIGHT-1M`, 429)
 * and `exchangeInfo` (filters, status, rateLimits). Generated books, or a cryptofeed recording replayed. Faults:
 * gap, duplicate, malformed, disconnect, stall, serverShutdown (notice, then close), the 24 h close (maxConnectionAgeMs),
 * the server's pings and the close of a connection that leaves them unanswered (keepalive),
 * and REST ones: refused (429 / 418 with Retry-After, 500) and a stale snapshot that cannot bridge. Instrument
 * changes under a running client: a listing that alone changes (setListing), a tick/step change that re-prices the
 * book (changeInstrument), a halt or delisting (setTrading) and a USD-M contract's delivery (setDelivery). A test tool: cold.
 * @module
 */
import type { Server } from "bun";
import { monoMs } from "../core/clock.ts"; // every deadline, interval and rate window: a wall-clock step neither stretches nor ends one (Date.now only for times sent)
import { formatFixed } from "../core/fixed.ts";
import type { MarketName } from "../core/types.ts";
import { CONNECTION_LIFETIME_MS, MAX_STREAMS_PER_CONNECTION } from "../venues/binance/protocol.ts";
import { ConnectLimit } from "./connect-limit.ts";
import { closeIdle } from "./idle-close.ts";
import { Rng } from "./rng.ts";
import { loadBinanceRecording } from "./binance-sim-replay.ts";
import { BINANCE_SIM_FAULTS, IN_LIMIT, KEEPALIVE, PING_PAYLOAD, SymSim, type BinanceRestFault, type BinanceSim, type BinanceSimFault, type BinanceSimOptions, type ConnData, type Ws } from "./binance-sim-types.ts";
import { defaultSpec, diffLevels, SimBook, stepExponent, type Levels } from "./sim-book.ts";

export { BINANCE_SIM_FAULTS, type BinanceRestFault, type BinanceSim, type BinanceSimFault, type BinanceSimOptions } from "./binance-sim-types.ts";

/** What USD-M's exchangeInfo gives as a perpetual's deliveryDate (2100-12-25). */
const PERPETUAL_DELIVERY_MS = 4_133_404_800_000;

export async function startBinanceSimulator(opts: BinanceSimOptions): Promise<BinanceSim> {
  const sim = new Simulator(opts);
  await sim.start();
  return sim;
}

class Simulator implements BinanceSim {
  private instrumentsOk = true;
  setInstrumentsAvailable(ok: boolean): void {
    this.instrumentsOk = ok;
  }
  setListing(market: MarketName, symbol: string, change: { tickSize?: string; stepSize?: string }): void {
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s) throw new Error(`binance sim: ${market}:${symbol} is not simulated`);
    s.spec = { ...s.spec, ...change };
  }
  changeInstrument(market: MarketName, symbol: string, change: { tickSize?: string; stepSize?: string }): void {
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s?.book) throw new Error(`binance sim: ${market}:${symbol} has no generated book`);
    const book = s.book;
    const [oldPriceExp, oldQtyExp] = [book.priceExp, book.qtyExp];
    const prev = [book.windowLevels(true, Infinity), book.windowLevels(false, Infinity)] as const;
    const tickSize = change.tickSize ?? book.spec.tickSize;
    this.rememberNow(s);
    // Throws SimSpecError before anything changes (sim-book.ts changeSpec).
    book.changeSpec({ ...book.spec, tickSize, lotSize: change.stepSize ?? book.spec.lotSize, priceDecimals: stepExponent(tickSize, "tickSize") });
    s.spec = { tickSize, stepSize: change.stepSize ?? s.spec.stepSize };
    // The move as one diff, every number at the finer of both exponents.
    const pe = Math.max(oldPriceExp, book.priceExp);
    const qe = Math.max(oldQtyExp, book.qtyExp);
    const scaled = (l: Levels, pFrom: number, qFrom: number): Levels => ({ px: l.px.map((p) => p * 10 ** (pe - pFrom)), qty: l.qty.map((q) => q * 10 ** (qe - qFrom)) });
    const b = diffLevels(scaled(prev[0], oldPriceExp, oldQtyExp), scaled(book.windowLevels(true, Infinity), book.priceExp, book.qtyExp), true);
    const a = diffLevels(scaled(prev[1], oldPriceExp, oldQtyExp), scaled(book.windowLevels(false, Infinity), book.priceExp, book.qtyExp), false);
    this.sendDiff(s, this.diffEvent(s, b, a, pe, qe));
    s.lagBodies = []; // bodies in the old units: a lagging REST starts over from the re-priced book
  }
  moveBook(market: MarketName, symbol: string, ticks: number): void {
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s?.book) throw new Error(`binance sim: ${market}:${symbol} has no generated book`);
    const book = s.book;
    const prev = [book.windowLevels(true, Infinity), book.windowLevels(false, Infinity)] as const;
    this.rememberNow(s);
    this.keepLagBody(s);
    book.shift(ticks);
    const b = diffLevels(prev[0], book.windowLevels(true, Infinity), true);
    const a = diffLevels(prev[1], book.windowLevels(false, Infinity), false);
    this.sendDiff(s, this.diffEvent(s, b, a, book.priceExp, book.qtyExp));
  }
  setTrading(market: MarketName, symbol: string, trading: boolean): void {
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s) throw new Error(`binance sim: ${market}:${symbol} is not simulated`);
    s.trading = trading;
  }
  setDelivery(market: MarketName, symbol: string, atMs: number): void {
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s || s.market !== "linear") throw new Error(`binance sim: ${market}:${symbol} is no simulated USD-M contract`);
    s.deliveryMs = atMs;
  }
  setRestLag(market: MarketName, symbol: string, diffs: number): void {
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s) throw new Error(`binance sim: ${market}:${symbol} is not simulated`);
    s.restLagDiffs = diffs;
    s.lagBodies = [];
  }
  readonly connectLimit: ConnectLimit;
  readonly linearConnectLimit: ConnectLimit;
  readonly stats = { connections: 0, connectionsTotal: 0, messagesSent: 0, subscribes: 0, depthRequests: 0, closedForRate: 0, closedForNoPong: 0, closedForShutdown: 0 };
  private server: Server<ConnData> | null = null;
  private readonly rng: Rng;
  private readonly syms = new Map<string, SymSim>(); // "market:SYMBOL"
  private readonly conns = new Set<Ws>();
  /** A whole-server stall's end, on the monotonic clock (monoMs): a wall clock stepped back held it past its timer. */
  private stallUntilMs = 0;
  private stalled: { ws: Ws; text: string }[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private keepaliveTimer: ReturnType<typeof setInterval> | null = null;
  private readonly weight: { atMs: number; w: number }[] = [];
  private readonly pendingTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Diffs a subscription or a depth snapshot scheduled (soon) that have not gone out yet. */
  diffsDue = 0;
  private readonly history = new Map<string, { bids: Map<string, string>; asks: Map<string, string> }>();

  constructor(private readonly opts: BinanceSimOptions) {
    this.connectLimit = new ConnectLimit(opts.connectLimit ?? [{ max: 300, windowMs: 300_000 }]);
    this.linearConnectLimit = new ConnectLimit(opts.linearConnectLimit ?? []); // none documented for USD-M
    this.rng = new Rng(opts.seed ?? 1);
    const levels = opts.levels ?? 40;
    for (const m of opts.markets) {
      for (const symbol of m.symbols) {
        const spec = { ...defaultSpec(m.market, symbol), ...(opts.specs?.[`${m.market}:${symbol}`] ?? {}) };
        const book = new SimBook(spec, this.rng, levels);
        this.syms.set(`${m.market}:${symbol}`, new SymSim(m.market, symbol, book, null, { tickSize: spec.tickSize, stepSize: spec.lotSize }, 1_000_000 + this.rng.int(0, 1_000_000)));
      }
    }
    if (opts.replay) {
      for (const r of loadBinanceRecording(opts.replay.wsFile)) {
        this.syms.set(`${opts.replay.market}:${r.symbol}`, new SymSim(opts.replay.market, r.symbol, null, r, { tickSize: r.tickSize, stepSize: r.stepSize }, 0));
      }
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
      fetch: (req, server) => this.onHttp(req, server),
      websocket: {
        open: (ws) => this.onOpen(ws),
        message: (ws, msg) => this.onMessage(ws, typeof msg === "string" ? msg : new TextDecoder().decode(msg)),
        // Ping and pong frames count against the incoming-message limit as requests do [limits].
        ping: (ws) => void this.overRate(ws),
        pong: (ws, data) => {
          if (this.overRate(ws)) return;
          // Spot: only an echo of a ping of ours keeps the connection (unsolicited pongs "will not prevent
          // disconnection"); USD-M: any pong does (unsolicited ones "maintain the connection") [keepalive].
          if (ws.data.market === "linear" || data.toString().startsWith(PING_PAYLOAD)) ws.data.lastPongMs = monoMs();
        },
        close: (ws) => this.onClose(ws),
      },
    });
    const rate = this.opts.messagesPerSecond ?? 0;
    if (rate > 0) {
      const tickMs = 10;
      let budget = 0;
      this.timer = setInterval(() => {
        budget += (rate * tickMs) / 1000;
        const subscribed = [...this.syms.values()].filter((s) => this.subscribers(s).length > 0);
        while (budget >= 1 && subscribed.length > 0) {
          budget -= 1;
          this.emit(subscribed[this.rng.int(0, subscribed.length - 1)]!);
        }
        if (subscribed.length === 0) budget = 0;
      }, tickMs);
    }
    this.startKeepalive();
  }

  /**
   * The server's pings [keepalive], and the close (1000) of a connection that has not echoed one within the pong
   * time: idle-close.ts's rule on the last pong, due a ping interval plus the pong time after it, so time this
   * process was held up (a pong waiting unread) is not counted. A whole-server stall sends no pings and closes
   * nothing: it counts as held-up time.
   */
  private startKeepalive(): void {
    const per = (m: "spot" | "linear") => this.opts.keepalive ?? KEEPALIVE[m];
    const tickMs = Math.max(10, Math.min(1000, Math.floor(Math.min(per("spot").pingIntervalMs, per("linear").pingIntervalMs) / 4)));
    let lastTickMs = monoMs();
    this.keepaliveTimer = setInterval(() => {
      const now = monoMs();
      if (now < this.stallUntilMs) return;
      const sinceTickMs = now - lastTickMs;
      lastTickMs = now;
      for (const market of ["spot", "linear"] as const) {
        const k = per(market);
        // Open ones only: a connection closed on an earlier tick stays in this.conns until its close completes.
        const conns = new Set([...this.conns].filter((ws) => ws.data.market === market && ws.readyState === 1));
        const closed = closeIdle(conns, "lastPongMs", { nowMs: now, sinceTickMs, tickMs, idleMs: k.pingIntervalMs + k.pongTimeoutMs, reason: "no pong within the pong time" });
        this.stats.closedForNoPong += closed;
        for (const ws of conns) {
          if (now - ws.data.lastPingMs < k.pingIntervalMs) continue;
          ws.data.lastPingMs = now;
          ws.ping(PING_PAYLOAD);
        }
      }
    }, tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    for (const t of this.pendingTimers) clearTimeout(t);
    for (const ws of this.conns) ws.close(1001, "stop");
    this.server?.stop(true);
  }

  // ───────────── WebSocket ─────────────

  private onHttp(req: Request, server: Server<ConnData>): Response | undefined {
    const url = new URL(req.url);
    const market = url.pathname === "/stream" || url.pathname === "/ws" ? "spot" : url.pathname === "/public/stream" || url.pathname === "/public/ws" ? "linear" : null;
    if (market && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      // Each market's host its own count: spot's upgrades never spend USD-M's, nor the other way round.
      const refused = (market === "spot" ? this.connectLimit : this.linearConnectLimit).admit(monoMs());
      if (refused) return refused;
      const streams = new Set((url.searchParams.get("streams") ?? "").split("/").filter((s) => s !== ""));
      if (streams.size > MAX_STREAMS_PER_CONNECTION) return new Response(`more than ${MAX_STREAMS_PER_CONNECTION} streams per connection (simulator)`, { status: 400 });
      const nowMonoMs = monoMs();
      if (server.upgrade(req, { data: { market, streams, inTimes: [], openedMs: nowMonoMs, timer: null, lastPingMs: nowMonoMs, lastPongMs: nowMonoMs } })) return undefined;
      return new Response("upgrade failed", { status: 400 });
    }
    if (url.pathname.startsWith("/sim/")) return this.onControl(url, req.method);
    return this.onRest(url);
  }

  /**
   * Control over HTTP (cold): POST /sim/fault?type=…[&market=&symbol=&stallMs=], POST /sim/step?n=,
   * POST /sim/rest?kind=refuse|ban|error|no_bridge&market=&symbol=, GET /sim/stats. 400 names the bad field.
   */
  private onControl(url: URL, method: string): Response {
    const q = url.searchParams;
    const market = q.get("market");
    const symbol = q.get("symbol");
    const target = market && symbol ? { market: market as MarketName, symbol: symbol.toUpperCase() } : undefined;
    if ((market || symbol) && (!target || !this.syms.has(`${target.market}:${target.symbol}`))) return json(400, { error: `market/symbol: no simulated symbol ${market}:${symbol}` });
    if (url.pathname === "/sim/stats" && method === "GET") return json(200, { ...this.stats, symbols: [...this.syms.values()].map((s) => ({ market: s.market, symbol: s.symbol, u: s.id, subscribers: this.subscribers(s).length })) });
    if (method !== "POST") return json(405, { error: "use POST" });
    if (url.pathname === "/sim/step") {
      const n = Number(q.get("n") ?? "1");
      if (!Number.isInteger(n) || n < 1 || n > 100_000) return json(400, { error: `n: an integer in 1..100000, got ${q.get("n")}` });
      this.step(n);
      return json(200, { stepped: n });
    }
    if (url.pathname === "/sim/fault") {
      const type = q.get("type") as BinanceSimFault;
      if (!BINANCE_SIM_FAULTS.includes(type)) return json(400, { error: `type: one of ${BINANCE_SIM_FAULTS.join(", ")}, got ${q.get("type")}` });
      const stallMs = q.get("stallMs") === null ? undefined : Number(q.get("stallMs"));
      // At most an hour, as every simulator's: past 2^31 ms the stall's timer fired at once, answering into the stall.
      if (stallMs !== undefined && !(Number.isInteger(stallMs) && stallMs > 0 && stallMs <= 3_600_000)) return json(400, { error: `stallMs: an integer in 1..3600000, got ${q.get("stallMs")}` });
      return json(200, { fault: type, affected: this.inject(type, target, { stallMs }) });
    }
    if (url.pathname === "/sim/rest") {
      const kind = q.get("kind") as BinanceRestFault;
      if (!["refuse", "ban", "error", "no_bridge"].includes(kind)) return json(400, { error: `kind: one of refuse, ban, error, no_bridge, got ${q.get("kind")}` });
      if (!target) return json(400, { error: "market and symbol: required" });
      this.restFault(kind, target);
      return json(200, { rest: kind, target });
    }
    return json(404, { error: `no such control endpoint ${url.pathname}` });
  }

  private onOpen(ws: Ws): void {
    this.conns.add(ws);
    this.stats.connections++;
    this.stats.connectionsTotal++;
    // No notice first: Binance documents none before the 24 h close [limits] (serverShutdown is a server going down).
    ws.data.timer = setTimeout(() => ws.close(1000, "24 h lifetime reached"), this.opts.maxConnectionAgeMs ?? CONNECTION_LIFETIME_MS);
  }

  private onClose(ws: Ws): void {
    if (this.conns.delete(ws)) this.stats.connections--;
    if (ws.data.timer) clearTimeout(ws.data.timer);
  }

  /** Counts one incoming message (text, ping or pong); past the limit the connection is closed [limits]. */
  private overRate(ws: Ws): boolean {
    const now = monoMs();
    const times = ws.data.inTimes;
    times.push(now);
    while (times.length > 0 && now - times[0]! >= 1000) times.shift();
    if (times.length <= IN_LIMIT[ws.data.market]) return false;
    if (times.length === IN_LIMIT[ws.data.market] + 1) {
      this.stats.closedForRate++;
      ws.close(1008, "Too many requests");
    }
    return true;
  }

  private onMessage(ws: Ws, text: string): void {
    if (this.overRate(ws)) return;
    if (monoMs() < this.stallUntilMs) {
      this.stalled.push({ ws, text });
      return;
    }
    this.answer(ws, text);
  }

  private answer(ws: Ws, text: string): void {
    let req: { method?: unknown; params?: unknown; id?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      this.refuse(ws, 3, "Invalid JSON: expected value at line 1 column 1", undefined);
      return;
    }
    if (typeof req !== "object" || req === null) {
      this.refuse(ws, 2, "Invalid request: expected an object", undefined);
      return;
    }
    // Ids: USD-M takes an unsigned integer only, spot an int64, an alphanumeric string of ≤ 36 characters or null
    // [subscribe]; a request with another id is refused without one.
    const id = req.id === undefined ? null : req.id;
    const intId = typeof id === "number" && Number.isSafeInteger(id) && (id >= 0 || ws.data.market === "spot");
    const strId = ws.data.market === "spot" && typeof id === "string" && /^[A-Za-z0-9]{1,36}$/.test(id);
    if (!(intId || strId || id === null)) {
      this.refuse(ws, 2, `Invalid request: request ID must be ${ws.data.market === "spot" ? "an integer, a string of at most 36 alphanumerics or null" : "an unsigned integer"}`, undefined);
      return;
    }
    if (typeof req.method !== "string") {
      this.refuse(ws, 2, "Invalid request: request must have a method", id);
      return;
    }
    const params = Array.isArray(req.params) ? req.params : [];
    switch (req.method) {
      case "SUBSCRIBE":
      case "UNSUBSCRIBE": {
        // No list of names (absent, a string, null, a number in it): refused with Binance's generic code 2 (its
        // words for it are undocumented). Before, acked as a success that subscribed nothing, hiding a client's bug.
        if (!Array.isArray(req.params) || !params.every((p) => typeof p === "string")) {
          this.refuse(ws, 2, "Invalid request: params must be a list of stream names (simulator)", id);
          return;
        }
        if (!params.every((p) => typeof p === "string" && p === p.toLowerCase())) {
          this.refuse(ws, 2, "Invalid request: stream names must be lower case strings", id);
          return;
        }
        if (req.method === "SUBSCRIBE" && new Set([...ws.data.streams, ...(params as string[])]).size > MAX_STREAMS_PER_CONNECTION) {
          // 1024 streams per connection [limits]: the whole request refused (Binance's words are undocumented).
          this.refuse(ws, 2, `Invalid request: more than ${MAX_STREAMS_PER_CONNECTION} streams on this connection (simulator)`, id);
          return;
        }
        if (req.method === "SUBSCRIBE" && params.some((p) => this.opts.refuseStreams?.includes(p as string))) {
          this.refuse(ws, 2, "Invalid request: invalid stream", id); // the whole request; the error names no stream
          return;
        }
        for (const p of params as string[]) {
          if (req.method === "SUBSCRIBE") ws.data.streams.add(p);
          else ws.data.streams.delete(p);
        }
        // Unknown symbols are accepted: nothing ever comes for them [subscribe].
        this.send(ws, JSON.stringify({ result: null, id }));
        if (req.method === "SUBSCRIBE") {
          this.stats.subscribes++;
          // Busy books: a diff follows a subscription soon (a client buffers one before it asks for a snapshot).
          for (const s of this.syms.values()) if (s.market === ws.data.market && params.includes(s.stream) && !s.replay) this.soon(s);
        }
        return;
      }
      case "GET_PROPERTY":
        this.send(ws, JSON.stringify({ result: true, id }));
        return;
      case "SET_PROPERTY":
        this.send(ws, JSON.stringify({ result: null, id }));
        return;
      case "LIST_SUBSCRIPTIONS":
        this.send(ws, JSON.stringify({ result: [...ws.data.streams], id }));
        return;
      default:
        this.refuse(ws, 2, `Invalid request: unknown method ${req.method}`, id);
    }
  }

  /**
   * An error as Binance sends it: `{"error":{"code","msg"},"id"}` (the doc's table prints the inner object alone),
   * without an id when the request's id could not be read.
   */
  private refuse(ws: Ws, code: number, msg: string, id: unknown): void {
    this.send(ws, JSON.stringify(id === undefined ? { error: { code, msg } } : { error: { code, msg }, id }));
  }

  private send(ws: Ws, text: string): void {
    if (monoMs() < this.stallUntilMs) return;
    ws.send(text);
    this.stats.messagesSent++;
  }

  private subscribers(s: SymSim): Ws[] {
    const out: Ws[] = [];
    for (const ws of this.conns) if (ws.data.market === s.market && (ws.data.streams.has(s.stream) || ws.data.streams.has(s.symbol.toLowerCase() + "@depth"))) out.push(ws);
    return out;
  }

  // ───────────── books ─────────────

  step(n = 1): void {
    for (let i = 0; i < n; i++) for (const s of this.syms.values()) if (this.subscribers(s).length > 0) this.emit(s);
  }

  /** One diff event for a symbol: the book changes, the event goes to every subscriber (unless a fault eats it). */
  private emit(s: SymSim): void {
    if (!s.trading) return; // halted or delisted: its stream is silent
    if (monoMs() < s.stalledUntilMs) return; // its stream stalled (a stall fault aimed at it)
    // A gap: one event is lost (the book moves on, nobody hears of it), the next one goes out.
    const events = s.gapNext ? 2 : 1;
    s.gapNext = false;
    let payload = "";
    for (let i = 0; i < events; i++) {
      if (s.replay) {
        if (s.replayCursor >= s.replay.diffs.length) return;
        payload = s.replay.diffs[s.replayCursor++]!;
        s.id = Number(/"u":(\d+)/.exec(payload)?.[1] ?? s.id);
      } else {
        payload = this.generate(s);
      }
    }
    this.sendDiff(s, payload);
  }

  /** A diff event's data to every subscriber of the symbol (a pending malformed fault cuts it short). */
  private sendDiff(s: SymSim, payload: string): void {
    const frame = (stream: string) => `{"stream":"${stream}","data":${payload}}`;
    const malformed = s.malformNext;
    s.malformNext = false;
    for (const ws of this.subscribers(s)) {
      const stream = ws.data.streams.has(s.stream) ? s.stream : s.symbol.toLowerCase() + "@depth";
      const f = frame(stream);
      this.send(ws, malformed ? f.slice(0, Math.max(30, f.length - 9)) : f);
      s.lastFrame = f;
    }
  }

  private generate(s: SymSim): string {
    const book = s.book!;
    const prevB = book.windowLevels(true, Infinity);
    const prevA = book.windowLevels(false, Infinity);
    this.rememberNow(s);
    this.keepLagBody(s);
    book.mutate(1 + this.rng.int(0, 3));
    const b = diffLevels(prevB, book.windowLevels(true, Infinity), true);
    const a = diffLevels(prevA, book.windowLevels(false, Infinity), false);
    return this.diffEvent(s, b, a, book.priceExp, book.qtyExp);
  }

  /** The next diff event of `s` (new update ids, history kept) with these changes, numbers printed at these exponents. */
  private diffEvent(s: SymSim, b: [number, number][], a: [number, number][], priceExp: number, qtyExp: number): string {
    const prev = s.id;
    // USD-M's U does not follow the previous u (other streams' updates share the id space); spot's does.
    let first = s.market === "spot" ? prev + 1 : prev + this.rng.int(1, 40);
    let last = first + this.rng.int(0, 3);
    if (s.reservedId > prev) {
      // A depth snapshot was stamped inside this event's range, before its changes: U ≤ lastUpdateId < u.
      first = Math.min(first, s.reservedId);
      last = Math.max(last, s.reservedId + 1);
    }
    s.reservedId = 0;
    s.id = last;
    if (this.opts.history) this.history.set(`${s.market}:${s.symbol}:${last}`, this.book(s.market, s.symbol));
    const num = (m: number, exp: number) => (s.market === "spot" ? pad8(formatFixed(m, exp)) : formatFixed(m, exp));
    const lv = (l: [number, number][]) => l.map(([p, q]) => `["${num(p, priceExp)}","${num(q, qtyExp)}"]`).join(",");
    const E = Date.now();
    return s.market === "spot"
      ? `{"e":"depthUpdate","E":${E},"s":"${s.symbol}","U":${first},"u":${last},"b":[${lv(b)}],"a":[${lv(a)}]}`
      : `{"e":"depthUpdate","E":${E},"T":${E - 1},"s":"${s.symbol}","U":${first},"u":${last},"pu":${prev},"b":[${lv(b)}],"a":[${lv(a)}]}`;
  }

  /** Spot prints 8 decimals ("0.35130000"); USD-M the tick's decimals ("7.5040"). */
  private price(s: SymSim, m: number): string {
    const f = formatFixed(m, s.book!.priceExp);
    return s.market === "spot" ? pad8(f) : f;
  }
  private qty(s: SymSim, m: number): string {
    const f = formatFixed(m, s.book!.qtyExp);
    return s.market === "spot" ? pad8(f) : f;
  }

  book(market: MarketName, symbol: string): { bids: Map<string, string>; asks: Map<string, string>; u: number } {
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s?.book) throw new Error(`sim: no generated book for ${market}:${symbol}`);
    const side = (bid: boolean) => {
      const l = s.book!.windowLevels(bid, Infinity);
      return new Map(l.px.map((p, i) => [this.price(s, p), this.qty(s, l.qty[i]!)]));
    };
    return { bids: side(true), asks: side(false), u: s.id };
  }

  /** REST lagging the stream (setRestLag): the book now, before a diff event moves it, kept for the answers. */
  private keepLagBody(s: SymSim): void {
    if (s.restLagDiffs <= 0) return;
    s.lagBodies.push(this.depthBody(s, 5000, true));
    if (s.lagBodies.length > s.restLagDiffs) s.lagBodies.shift();
  }

  /** With `history`: the book now under its update id, unless kept already (before a change moves it). */
  private rememberNow(s: SymSim): void {
    const key = `${s.market}:${s.symbol}:${s.id}`;
    if (this.opts.history && !this.history.has(key)) this.history.set(key, this.book(s.market, s.symbol));
  }

  bookAt(market: MarketName, symbol: string, u: number): { bids: Map<string, string>; asks: Map<string, string> } | undefined {
    return this.history.get(`${market}:${symbol}:${u}`);
  }

  /** A depth answer: the book now, stamped with the last u sent (or, `lastUpdateId` given, with that id). */
  private depthBody(s: SymSim, limit: number, now = false, lastUpdateId = s.id): string {
    if (s.replay) return s.replay.snapshot;
    if (!now && s.restLagDiffs > 0 && s.lagBodies.length > 0) return s.lagBodies[0]!;
    const lv = (bid: boolean) => {
      const l = s.book!.windowLevels(bid, limit);
      return l.px.map((p, i) => `["${this.price(s, p)}","${this.qty(s, l.qty[i]!)}"]`).join(",");
    };
    const E = Date.now();
    const times = s.market === "linear" ? `"E":${E},"T":${E - 1},` : "";
    return `{"lastUpdateId":${lastUpdateId},${times}"bids":[${lv(true)}],"asks":[${lv(false)}]}`;
  }

  /**
   * The lastUpdateId of a depth answer served now: the last u or, half the time, an id past it that the next diff
   * event takes in, U ≤ id < u (reservedId): the event's changes come after the id, so they are not in the snapshot,
   * and applying them (absolute sizes) on it gives the book at its u. Both markets, as Binance documents ("the first
   * buffered event should now have lastUpdateId within its [U;u] range"): spot's next U still follows the last u, so
   * a client bridging only by `U == lastUpdateId + 1` would fail on those (before, spot was always stamped with the
   * last u, and the spot rule's U ≤ lastUpdateId < u was never met); on USD-M one bridging by `pu == lastUpdateId`.
   */
  private snapshotId(s: SymSim): number {
    if (s.replay || s.restLagDiffs > 0) return s.id;
    if (s.reservedId > s.id) return s.reservedId;
    if (this.rng.next() < 0.5) return s.id;
    s.reservedId = s.id + this.rng.int(1, 40);
    // The book a client holds at that id is the one now (the event that takes the id in has not moved it yet).
    if (this.opts.history) this.history.set(`${s.market}:${s.symbol}:${s.reservedId}`, this.book(s.market, s.symbol));
    return s.reservedId;
  }

  // ───────────── faults ─────────────

  inject(fault: BinanceSimFault, target?: { market: MarketName; symbol: string }, opts: { stallMs?: number } = {}): number {
    const targets = [...this.syms.values()].filter((s) => !target || (s.market === target.market && s.symbol === target.symbol));
    switch (fault) {
      case "gap":
        for (const s of targets) s.gapNext = true;
        return targets.length;
      case "malformed":
        for (const s of targets) s.malformNext = true;
        return targets.length;
      case "duplicate":
        for (const s of targets) for (const ws of this.subscribers(s)) if (s.lastFrame) this.send(ws, s.lastFrame);
        return targets.length;
      case "disconnect": {
        // With a target, the connections carrying its stream (before, every connection was closed whatever the target).
        const hit = target ? new Set(targets.flatMap((s) => this.subscribers(s))) : new Set(this.conns);
        for (const ws of hit) ws.close(4000, "simulated disconnect");
        return hit.size;
      }
      case "stall": {
        if (target) {
          // That symbol's stream alone goes quiet (before, a target stalled the whole server).
          for (const s of targets) s.stalledUntilMs = monoMs() + (opts.stallMs ?? 5000);
          return targets.length;
        }
        this.stallUntilMs = monoMs() + (opts.stallMs ?? 5000);
        const t = setTimeout(() => {
          this.pendingTimers.delete(t);
          // A later stall still on holds them to its end (its own timer): answered now, send() dropped every answer.
          if (monoMs() < this.stallUntilMs) return;
          const queued = this.stalled;
          this.stalled = [];
          for (const q of queued) if (this.conns.has(q.ws)) this.answer(q.ws, q.text);
        }, (opts.stallMs ?? 5000) + 1);
        this.pendingTimers.add(t);
        return this.conns.size;
      }
      case "serverShutdown": {
        const conns = [...this.conns];
        for (const ws of conns) this.send(ws, `{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":${Date.now()}}}`);
        const t = setTimeout(() => {
          this.pendingTimers.delete(t);
          // Counted: those the client had not closed itself (a make-before-break client closes them once replaced).
          for (const ws of conns) {
            if (!this.conns.has(ws)) continue;
            this.stats.closedForShutdown++;
            ws.close(1000, "server shutdown");
          }
        }, this.opts.shutdownGraceMs ?? 1000);
        this.pendingTimers.add(t);
        return conns.length;
      }
    }
  }

  restFaultsPending(): number {
    let n = 0;
    for (const s of this.syms.values()) n += s.restFaults.length + (s.staleSnapshot === null ? 0 : 1);
    return n;
  }

  restFault(kind: BinanceRestFault, target: { market: MarketName; symbol: string }): void {
    const s = this.syms.get(`${target.market}:${target.symbol}`);
    if (!s) throw new Error(`sim: no symbol ${target.market}:${target.symbol}`);
    // A stale snapshot: the book as it is now, served later when the diffs have moved past it.
    if (kind === "no_bridge") s.staleSnapshot = this.depthBody(s, 5000);
    else s.restFaults.push(kind);
  }

  // ───────────── REST ─────────────

  private onRest(url: URL): Response {
    const m = /^\/(api\/v3|fapi\/v1)\/(depth|exchangeInfo)$/.exec(url.pathname);
    if (!m) return json(404, { code: -1, msg: `no such endpoint ${url.pathname}` });
    const market = m[1] === "api/v3" ? "spot" : "linear";
    const limitPerMinute = this.opts.restWeightPerMinute ?? (market === "spot" ? 6000 : 2400);
    // The weight window on the monotonic clock (a wall-clock step neither refills nor drains it); the time of day
    // (serverTime, a delivery passed) on the wall clock. A test's restClock is both.
    const now = this.opts.restClock?.() ?? Date.now();
    const windowNowMs = this.opts.restClock ? now : monoMs();
    while (this.weight.length > 0 && windowNowMs - this.weight[0]!.atMs >= 60_000) this.weight.shift();
    let used = this.weight.reduce((n, x) => n + x.w, 0);
    if (m[2] === "exchangeInfo") {
      if (!this.instrumentsOk) return json(503, { code: -1008, msg: "Service Unavailable." });
      used += this.take(windowNowMs, market === "spot" ? 20 : 1);
      const symbols = [...this.syms.values()]
        .filter((s) => s.market === market)
        .map((s) => ({
          symbol: s.symbol,
          status: s.deliveryMs !== null && now >= s.deliveryMs ? "SETTLING" : s.trading ? "TRADING" : "BREAK",
          // USD-M: a perpetual's deliveryDate is Binance's placeholder far ahead; a dated contract's, its delivery.
          ...(market === "linear" ? { contractType: s.deliveryMs === null ? "PERPETUAL" : "CURRENT_QUARTER", deliveryDate: s.deliveryMs ?? PERPETUAL_DELIVERY_MS } : {}),
          filters: [
            { filterType: "PRICE_FILTER", minPrice: s.spec.tickSize, maxPrice: "1000000", tickSize: market === "spot" ? pad8(s.spec.tickSize) : s.spec.tickSize },
            { filterType: "LOT_SIZE", minQty: s.spec.stepSize, maxQty: "9000000", stepSize: market === "spot" ? pad8(s.spec.stepSize) : s.spec.stepSize },
          ],
        }));
      return json(200, { timezone: "UTC", serverTime: now, rateLimits: [{ rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: limitPerMinute }], symbols }, used);
    }
    this.stats.depthRequests++;
    const symbol = url.searchParams.get("symbol") ?? "";
    const limit = Number(url.searchParams.get("limit") ?? "100");
    const valid = market === "spot" ? Number.isInteger(limit) && limit >= 1 && limit <= 5000 : [5, 10, 20, 50, 100, 500, 1000].includes(limit);
    if (!valid) return json(400, { code: -1100, msg: `Illegal characters found in parameter 'limit'; legal range is ${market === "spot" ? "1..5000" : "5, 10, 20, 50, 100, 500, 1000"}.` }, used);
    const w = market === "spot" ? (limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250) : limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20;
    if (used + w > limitPerMinute) return json(429, { code: -1003, msg: "Too many requests; current limit of IP is exceeded." }, used, "10");
    used += this.take(windowNowMs, w);
    const s = this.syms.get(`${market}:${symbol}`);
    if (!s || !s.trading) return json(400, { code: -1121, msg: "Invalid symbol." }, used);
    const fault = s.restFaults.shift();
    if (fault === "refuse") return json(429, { code: -1003, msg: "Too many requests (simulated)." }, used, "0");
    if (fault === "ban") return json(418, { code: -1003, msg: "Way too many requests; IP banned (simulated)." }, used, "1");
    if (fault === "error") return json(500, { code: -1000, msg: "An unknown error occurred (simulated)." }, used);
    let body: string;
    if (s.staleSnapshot) {
      body = s.staleSnapshot;
      s.staleSnapshot = null;
    } else {
      body = this.depthBody(s, limit, false, this.snapshotId(s));
    }
    // A busy book: the next diff follows shortly, so a bridge never waits on step() alone.
    if (!s.replay) this.soon(s);
    return new Response(body, { status: 200, headers: { "content-type": "application/json", "x-mbx-used-weight-1m": String(used) } });
  }

  /** One diff for `s` in a few ms (if anyone still listens). */
  private soon(s: SymSim): void {
    this.diffsDue++;
    const t = setTimeout(() => {
      this.pendingTimers.delete(t);
      this.diffsDue--;
      if (this.subscribers(s).length > 0) this.emit(s);
    }, 5);
    this.pendingTimers.add(t);
  }

  private take(now: number, w: number): number {
    this.weight.push({ atMs: now, w });
    return w;
  }
}

function pad8(s: string): string {
  const [i, f = ""] = s.split(".");
  return `${i}.${(f + "00000000").slice(0, Math.max(8, f.length))}`;
}

function json(status: number, body: unknown, usedWeight = 0, retryAfter?: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json", "x-mbx-used-weight-1m": String(usedWeight) };
  if (retryAfter !== undefined) headers["retry-after"] = retryAfter;
  return new Response(JSON.stringify(body), { status, headers });
}
