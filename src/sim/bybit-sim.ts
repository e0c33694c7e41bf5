/**
 * A Bybit v5 public-market simulator: Bun.serve WebSocket on /v5/public/{market} plus the REST
 * `/v5/market/instruments-info` endpoint, speaking the protocol as docs/venues/bybit.md ("Protocol facts", the § below) describes it:
 * per-category ack and pong shapes (§2.2, §3), `error:handler not found,topic:X`, `error:already subscribed,topic:X`
 * (poisons the whole batch, §2.4), spot's `args size >10`, the per-connection args limits (§2.3), snapshot first then deltas with u + 1, qty "0" when a
 * level leaves the top-N window (§4.4), spot/L1 key order `ts` before `type` (§4.2), option `id`, level-1 snapshots
 * only, re-pushed with the same u every 3 s, a connection pushed nothing for 10 minutes closed. Generates books (mean-reverting fair price, realistic spreads, bursts:
 * sim-book.ts) or replays a recording, and injects faults on demand, from code (inject) or over HTTP (POST /sim/fault; bybit-sim-control.ts). Loopback
 * only; a test tool, so cold code.
 *
 * This file holds startBybitSimulator, the server, the clock (generation rate, level-1 re-push), subscriptions,
 * faults and test hooks. Beside it: bybit-sim-types.ts (the public types, re-exported here), bybit-sim-protocol.ts
 * (client requests → acks and errors), bybit-sim-control.ts (the /sim/* control endpoints), bybit-sim-rest.ts (instruments-info), bybit-sim-replay.ts (recordings),
 * bybit-sim-topics.ts (per-topic state and frame text), sim-book.ts (the books), sim-spec.ts (per-symbol defaults),
 * fair-value.ts (the price the books follow).
 * @module
 */
import type { Server } from "bun";
import { monoMs } from "../core/clock.ts"; // every deadline, interval and rate window: a wall-clock step neither stretches nor ends one (Date.now only for times sent)
import { exponentOf } from "../core/fixed.ts";
import type { MarketName } from "../core/types.ts";
import { BYBIT_DEPTHS, L1_REPUSH_MS, REST_BLOCKED_MS, REST_REQUESTS_PER_WINDOW, REST_WINDOW_MS } from "../venues/bybit/protocol.ts";
import { handleControl, type SimControlHost } from "./bybit-sim-control.ts";
import { handleClientMessage, type SimProtocolHost } from "./bybit-sim-protocol.ts";
import { loadReplay, nextReplayLine, replaySnapshotFrame, skipToSnapshot } from "./bybit-sim-replay.ts";
import { instrumentsInfo, type SimInstrument } from "./bybit-sim-rest.ts";
import { ReplayTopic, SymbolSim, TopicSim, advanceTopic, corruptFrame, crossedFrame, emptyDeltaFrame, snapshotFrame, type ConnData, type Ws } from "./bybit-sim-topics.ts";
import { ConnectLimit } from "./connect-limit.ts";
import { closeIdle } from "./idle-close.ts";
import { instrumentsLimitControl, RestLimitFault, RestRequestWindow } from "./rest-limit.ts";
import { Rng } from "./rng.ts";
import { DEFAULT_STEP_S, defaultSpec, formatNumber, stepExponent, type Levels } from "./sim-book.ts";
import type { BybitSim, BybitSimOptions, SimFault, SimFaultSummary, SimStats, SimTopicInfo } from "./bybit-sim-types.ts";

export type { BybitSim, BybitSimOptions, SimFault, SimFaultSummary, SimStats, SimTopicInfo } from "./bybit-sim-types.ts";
export { SIM_FAULTS } from "./bybit-sim-types.ts";

const TICK_MS = 10;

export async function startBybitSimulator(opts: BybitSimOptions): Promise<BybitSim> {
  const sim = new BybitSimulator(opts);
  await sim.start();
  return sim;
}

class BybitSimulator implements BybitSim, SimProtocolHost, SimControlHost {
  readonly stats: SimStats = { connections: 0, connectionsTotal: 0, messagesSent: 0, bytesSent: 0, subscribes: 0, unsubscribes: 0, pings: 0, idleCloses: 0, errorsSent: 0, restRequests: 0 };
  private server: Server<ConnData> | null = null;
  private readonly rng: Rng;
  /**
   * Market time one step of a symbol stands for: at the configured rate each symbol steps about rate / symbols
   * times a second, so the books' prices move at their specs' volatility in wall-clock time. Fixed per simulator
   * (not measured) so that a seed reproduces the run.
   */
  private readonly stepS: number;
  private readonly symbols = new Map<string, SymbolSim>(); // "market:SYMBOL"
  private readonly topicSims = new Map<string, TopicSim>(); // "market|topic"
  private readonly replay = new Map<string, ReplayTopic>(); // "market|topic"
  private readonly conns = new Set<Ws>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stepBudget = 0;
  private lastTickMs = 0;
  private globalStallUntilMs = 0; // on monoMs, as every stall deadline here
  private stalledInbox: { ws: Ws; text: string }[] = [];
  private restAvailable = true;
  /** instruments-info's 403 "access too frequent" (§1.2): armed (`POST /sim/instruments-limit`, rateLimitInstruments) or earned. */
  readonly instrumentsLimit = new RestLimitFault("access too frequent", 403, "text/plain");
  readonly connectLimit: ConnectLimit;
  /** Bybit's per-IP REST limit, enforced: over 600 requests in 5 s, 403 for 10 minutes (opts.restLimit). */
  private readonly restWindow: RestRequestWindow;
  /** Categories whose instruments-info answers 503 (setRestAvailable with a market). */
  private readonly restDown = new Set<MarketName>();
  /** "market:SYMBOL" simulated but not listed by instruments-info yet (options.unlisted, setListed). */
  private readonly unlisted = new Set<string>();
  /** "market:SYMBOL" → a status other than Trading (setStatus): silent, listed as instruments-info's default query does. */
  private readonly statuses = new Map<string, string>();
  /** "market|topic" → how many more of its subscribes are refused (refuseSubscribes). */
  private readonly refusals = new Map<string, number>();
  /** "market:SYMBOL" → its listed deliveryTime (setDeliveryTime): an option's or dated future's expiry, a perpetual's delisting. */
  private readonly deliveries = new Map<string, number>();
  /** Errors caught by guardedTick (logged, never thrown out of the timer). */
  tickErrors = 0;
  private lastTickErrorLogMs = -Infinity; // monoMs (0 would hold back a first error in the process's first second)
  /** With opts.history: "market|topic|u" → every window the topic had at u, by its text. */
  private readonly history = new Map<string, Map<string, { bids: Map<string, string>; asks: Map<string, string> }>>();

  constructor(private readonly opts: BybitSimOptions) {
    this.connectLimit = new ConnectLimit(opts.connectLimit ?? [{ max: 500, windowMs: 300_000 }]);
    this.rng = new Rng(opts.seed ?? 1);
    const lim = opts.restLimit ?? { perWindow: REST_REQUESTS_PER_WINDOW, windowMs: REST_WINDOW_MS, blockedMs: REST_BLOCKED_MS };
    this.restWindow = new RestRequestWindow(this.instrumentsLimit, lim.perWindow, lim.windowMs, lim.blockedMs);
    if (opts.levels !== undefined && !(Number.isInteger(opts.levels) && opts.levels >= 1)) throw new Error(`levels: must be a positive integer (levels per side of each generated book), got ${opts.levels}`);
    for (const m of opts.markets) {
      for (const symbol of m.symbols) {
        const key = `${m.market}:${symbol}`;
        const spec = { ...defaultSpec(m.market, symbol), ...(opts.specs?.[key] ?? {}) };
        this.symbols.set(key, new SymbolSim(m.market, symbol, spec, this.rng, opts.levels));
      }
    }
    for (const key of opts.unlisted ?? []) this.unlisted.add(key);
    const rate = opts.messagesPerSecond ?? 0;
    this.stepS = rate > 0 ? Math.max(1, this.symbols.size) / rate : DEFAULT_STEP_S;
    if (opts.replayFile) {
      for (const r of loadReplay(opts.replayFile, opts.markets, opts.replayDepth)) {
        this.symbols.delete(`${r.market}:${r.symbol}`);
        this.replay.set(`${r.market}|${r.topic}`, r);
      }
    }
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
          const refused = this.connectLimit.admit(monoMs());
          if (refused) return refused;
          const data: ConnData = { market: m[1] as MarketName, connId: crypto.randomUUID(), topics: new Set(), lastPushMs: monoMs() };
          if (server.upgrade(req, { data })) return undefined;
          return new Response("expected a WebSocket upgrade", { status: 400 });
        }
        if (url.pathname === "/v5/market/instruments-info") return this.instrumentsInfo(url);
        if (url.pathname === "/sim/instruments-limit" && req.method === "POST") return instrumentsLimitControl(this.instrumentsLimit, url);
        if (url.pathname.startsWith("/sim/")) return handleControl(this, req, url);
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
          for (const t of ws.data.topics) this.detach(ws, t);
        },
      },
    });
    this.lastTickMs = monoMs();
    this.timer = setInterval(() => this.guardedTick(), TICK_MS);
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
    const limited = this.instrumentsLimit.take() ?? this.restWindow.take(monoMs());
    if (limited) return limited;
    if (!this.restAvailable || this.restDown.has(url.searchParams.get("category") as MarketName)) return new Response("service unavailable", { status: 503 });
    const all: SimInstrument[] = [];
    for (const s of this.symbols.values()) {
      const key = `${s.market}:${s.symbol}`;
      if (!this.unlisted.has(key)) all.push({ market: s.market, symbol: s.symbol, tickSize: s.book.spec.tickSize, lotSize: s.book.spec.lotSize, priceDecimals: s.book.spec.priceDecimals, status: this.statuses.get(key) ?? "Trading", deliveryMs: this.deliveries.get(key) });
    }
    for (const r of this.replay.values()) all.push({ market: r.market, symbol: r.symbol, tickSize: r.tickSize, lotSize: r.lotSize, priceDecimals: exponentOf(r.tickSize) });
    return instrumentsInfo(url, all, this.opts.restPageLimit ?? 1000);
  }

  rateLimitInstruments(count: number): void {
    this.instrumentsLimit.arm(count);
  }

  setRestAvailable(ok: boolean, market?: MarketName): void {
    if (market === undefined) {
      this.restAvailable = ok;
      this.restDown.clear();
    } else if (ok) this.restDown.delete(market);
    else this.restDown.add(market);
  }

  setListed(market: MarketName, symbol: string, listed: boolean): void {
    if (listed) this.unlisted.delete(`${market}:${symbol}`);
    else this.unlisted.add(`${market}:${symbol}`);
  }

  refuseSubscribes(market: MarketName, topic: string, times: number): void {
    if (times > 0) this.refusals.set(`${market}|${topic}`, times);
    else this.refusals.delete(`${market}|${topic}`);
  }

  /** Whether this subscribe of `topic` is one refuseSubscribes asked to refuse (counted down). */
  refusedNow(market: MarketName, topic: string): boolean {
    const key = `${market}|${topic}`;
    const n = this.refusals.get(key) ?? 0;
    if (n <= 0) return false;
    if (n === 1) this.refusals.delete(key);
    else this.refusals.set(key, n - 1);
    return true;
  }

  setStatus(market: MarketName, symbol: string, status: string): void {
    const key = `${market}:${symbol}`;
    const sym = this.symbols.get(key);
    if (!sym) throw new Error(`sim: no such generated symbol ${key}`);
    const wasTrading = !this.statuses.has(key);
    if (status === "Trading") {
      if (wasTrading) return;
      this.statuses.delete(key);
      for (const t of sym.topics) {
        t.u = 0; // u restarts at 1: a subscribe's snapshot is u = 1
        if (t.subs.size === 0) continue;
        // Still subscribed: trading again starts with a snapshot at u = 1.
        t.bids = sym.book.windowLevels(true, t.depth);
        t.asks = sym.book.windowLevels(false, t.depth);
        t.u = 1;
        this.remember(t);
        this.publish(t, snapshotFrame(t, this.rng));
      }
      return;
    }
    this.statuses.set(key, status);
    if (!wasTrading) return;
    // Delisted (full-ob.mdx's reset table): u = 1 with empty sides, then nothing.
    for (const t of sym.topics) {
      t.u = 1;
      t.bids = { px: [], qty: [] };
      t.asks = { px: [], qty: [] };
      if (t.subs.size > 0) this.publish(t, emptyDeltaFrame(t, this.rng));
    }
  }

  setDeliveryTime(market: MarketName, symbol: string, atMs: number): void {
    if (market === "spot") throw new Error("sim: spot lists no deliveryTime");
    if (!this.symbols.has(`${market}:${symbol}`)) throw new Error(`sim: no such generated symbol ${market}:${symbol}`);
    this.deliveries.set(`${market}:${symbol}`, atMs);
  }

  private trading(sym: SymbolSim): boolean {
    return !this.statuses.has(`${sym.market}:${sym.symbol}`);
  }

  // ───────────────────────── WebSocket protocol (bybit-sim-protocol.ts) ─────────────────────────

  private onClientMessage(ws: Ws, text: string): void {
    if (monoMs() < this.globalStallUntilMs) {
      // A stalled server answers nothing now, and everything once it resumes (like a paused process).
      this.stalledInbox.push({ ws, text });
      return;
    }
    handleClientMessage(this, ws, text);
  }

  isValidTopic(market: MarketName, topic: string): boolean {
    if (this.replay.has(`${market}|${topic}`)) return true;
    const m = /^orderbook\.(\d+)\.(.+)$/.exec(topic);
    if (!m) return false;
    return BYBIT_DEPTHS[market].includes(Number(m[1])) && this.symbols.has(`${market}:${m[2]}`);
  }

  /** Subscribes a connection and sends its first message: a snapshot with the topic's current u. */
  attach(ws: Ws, topic: string): void {
    const market = ws.data.market;
    ws.data.topics.add(topic);
    const key = `${market}|${topic}`;
    const r = this.replay.get(key);
    if (r) {
      r.subs.add(ws);
      if (r.cursor === 0) {
        this.replayNext(r, true);
        return;
      }
      const recorded = r.gapped ? skipToSnapshot(r) : null;
      if (recorded !== null) {
        r.lastMessage = recorded;
        for (const s of r.subs) this.send(s, recorded);
      } else this.send(ws, replaySnapshotFrame(r, r.u));
      return;
    }
    let t = this.topicSims.get(key);
    const [, depthText, symbol] = /^orderbook\.(\d+)\.(.+)$/.exec(topic)!;
    const sym = this.symbols.get(`${market}:${symbol}`)!;
    if (!t) {
      t = new TopicSim(market, topic, Number(depthText), sym, this.rng.int(1_000_000, 90_000_000));
      this.topicSims.set(key, t);
      sym.topics.push(t);
    }
    if (!this.trading(sym)) {
      t.subs.add(ws); // subscribed, but a symbol that does not trade sends nothing
      return;
    }
    if (t.subs.size === 0) {
      // Nobody listened: move the window to the present (u advances once, as if changes happened meanwhile).
      t.bids = sym.book.windowLevels(true, t.depth);
      t.asks = sym.book.windowLevels(false, t.depth);
      t.u++;
      sym.seq += this.rng.int(50, 400);
    }
    t.subs.add(ws);
    t.lastSentMs = monoMs();
    this.remember(t);
    this.send(ws, snapshotFrame(t, this.rng));
  }

  detach(ws: Ws, topic: string): void {
    const key = `${ws.data.market}|${topic}`;
    this.topicSims.get(key)?.subs.delete(ws);
    this.replay.get(key)?.subs.delete(ws);
  }

  // ───────────────────────── generation ─────────────────────────

  step(n = 1): void {
    const nowMonoMs = monoMs();
    if (nowMonoMs < this.globalStallUntilMs) return;
    for (let i = 0; i < n; i++) {
      for (const sym of this.symbols.values()) if (this.hasSubscribers(sym) && nowMonoMs >= sym.stalledUntilMs && this.trading(sym)) this.stepSymbol(sym, true);
      for (const r of this.replay.values()) if (r.subs.size > 0 && nowMonoMs >= r.stalledUntilMs) this.replayNext(r, true);
    }
  }

  /**
   * The timer callback: nothing may throw out of it (an uncaught error aborts the tick and makes the process exit
   * code 1). An unexpected error is logged (at most once a second, with the number of errors since) and the
   * simulator goes on with the next tick.
   */
  private guardedTick(): void {
    try {
      this.onTick();
    } catch (err) {
      this.tickErrors++;
      const now = monoMs();
      if (now - this.lastTickErrorLogMs >= 1000) {
        this.lastTickErrorLogMs = now;
        console.error(`sim: tick failed (${this.tickErrors} error(s) so far), going on:`, err);
      }
    }
  }

  private onTick(): void {
    const nowMonoMs = monoMs(); // the clock of the pacing, the stalls, the idle close and the L1 re-push
    const dt = nowMonoMs - this.lastTickMs;
    this.lastTickMs = nowMonoMs;
    if (nowMonoMs < this.globalStallUntilMs) return;
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
      const active = [...this.symbols.values()].filter((s) => this.hasSubscribers(s) && nowMonoMs >= s.stalledUntilMs && this.trading(s));
      const replaying = [...this.replay.values()].filter((r) => r.subs.size > 0 && r.cursor < r.lines.length && nowMonoMs >= r.stalledUntilMs);
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
    // Bybit cuts a connection after 10 minutes without ping-pong or stream data (§3): one it has pushed nothing to
    // (no data, ack or pong) for idleCloseMs is closed, the time this process was held up not counted (idle-close.ts).
    const idleMs = this.opts.idleCloseMs ?? 600_000;
    this.stats.idleCloses += closeIdle(this.conns, "lastPushMs", { nowMs: nowMonoMs, sinceTickMs: dt, tickMs: TICK_MS, idleMs, reason: "no ping-pong or data for 10 minutes" });
    // Level 1 re-pushes an unchanged snapshot with the same u every 3 s (§4.2).
    const repush = this.opts.l1RepushMs ?? L1_REPUSH_MS;
    for (const t of this.topicSims.values()) {
      if (t.depth === 1 && t.subs.size > 0 && nowMonoMs - t.lastSentMs >= repush && nowMonoMs >= t.sym.stalledUntilMs && this.trading(t.sym)) this.publish(t, snapshotFrame(t, this.rng));
    }
  }

  private hasSubscribers(sym: SymbolSim): boolean {
    for (const t of sym.topics) if (t.subs.size > 0) return true;
    return false;
  }

  /** One burst on a symbol, then one message per subscribed topic whose window changed. */
  private stepSymbol(sym: SymbolSim, send: boolean, corrupt = false): number {
    const burst = this.rng.next() < (this.opts.burstiness ?? 0.05);
    sym.book.mutate(burst ? this.rng.int(20, 150) : this.rng.int(1, 5), this.stepS);
    sym.seq += this.rng.int(50, 400);
    let messages = 0;
    for (const t of sym.topics) {
      if (t.subs.size === 0) continue;
      const frame = advanceTopic(t, this.rng);
      if (frame === null) continue;
      this.remember(t);
      messages++;
      if (send) this.publish(t, corrupt ? corruptFrame(frame, this.rng) : frame);
    }
    return messages;
  }

  private publish(t: TopicSim, frame: string): void {
    t.lastMessage = frame;
    t.lastSentMs = monoMs();
    for (const ws of t.subs) this.send(ws, frame);
  }

  /** Counts the frame; a stalled server sends nothing. */
  send(ws: Ws, frame: string): void {
    const nowMonoMs = monoMs();
    if (nowMonoMs < this.globalStallUntilMs) return;
    ws.data.lastPushMs = nowMonoMs;
    ws.send(frame);
    this.stats.messagesSent++;
    this.stats.bytesSent += frame.length;
  }

  // ───────────────────────── replay (bybit-sim-replay.ts) ─────────────────────────

  /** Sends the next recorded line to the topic's subscribers and applies it to the replay book. */
  private replayNext(r: ReplayTopic, send: boolean, corrupt = false): boolean {
    const line = nextReplayLine(r);
    if (line === null) return false;
    if (send) for (const ws of r.subs) this.send(ws, corrupt ? corruptFrame(line, this.rng) : line);
    return true;
  }

  // ───────────────────────── faults and test hooks ─────────────────────────

  inject(fault: SimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number }): SimFaultSummary {
    const syms = [...this.symbols.values()].filter((s) => !target || (s.market === target.market && s.symbol === target.symbol));
    const reps = [...this.replay.values()].filter((r) => !target || (r.market === target.market && r.symbol === target.symbol));
    if (target && syms.length === 0 && reps.length === 0) throw new Error(`sim: no such symbol ${target.market}:${target.symbol}`);
    const summary: SimFaultSummary = { fault, target: target ? { market: target.market, symbol: target.symbol } : null, topics: 0, connections: 0 };
    const subscribedTopics = () => {
      let n = 0;
      for (const s of syms) for (const t of s.topics) if (t.subs.size > 0) n++;
      for (const r of reps) if (r.subs.size > 0) n++;
      return n;
    };
    switch (fault) {
      case "gap": // a delta is produced (u advances) but never sent
        for (const s of syms) if (this.hasSubscribers(s)) summary.topics += this.stepSymbol(s, false);
        for (const r of reps) if (r.subs.size > 0 && this.replayNext(r, false)) summary.topics++;
        break;
      case "malformed": // the next message is sent garbled (its u is consumed)
        for (const s of syms) if (this.hasSubscribers(s)) summary.topics += this.stepSymbol(s, true, true);
        for (const r of reps) if (r.subs.size > 0 && this.replayNext(r, true, true)) summary.topics++;
        break;
      case "duplicate":
        for (const s of syms) {
          for (const t of s.topics) {
            if (t.subs.size === 0 || !t.lastMessage) continue;
            this.publish(t, t.lastMessage);
            summary.topics++;
          }
        }
        for (const r of reps) {
          if (r.subs.size === 0 || !r.lastMessage) continue;
          for (const ws of r.subs) this.send(ws, r.lastMessage);
          summary.topics++;
        }
        break;
      case "reset": // service restart: u restarts at 1 with a snapshot (§4.3)
        for (const s of syms) {
          for (const t of s.topics) {
            t.u = 1;
            this.remember(t);
            if (t.subs.size === 0) continue;
            this.publish(t, snapshotFrame(t, this.rng));
            summary.topics++;
          }
        }
        for (const r of reps) {
          r.uShift = 1 - (r.u - r.uShift);
          r.u = 1;
          const snap = replaySnapshotFrame(r, 1);
          r.lastMessage = snap;
          for (const ws of r.subs) this.send(ws, snap);
          if (r.subs.size > 0) summary.topics++;
        }
        break;
      case "crossed": // generated topics only: a delta with a bid at the best ask
        for (const s of syms) {
          for (const t of s.topics) {
            if (t.subs.size === 0) continue;
            const frame = crossedFrame(t, this.rng);
            if (frame === null) continue;
            this.remember(t);
            this.publish(t, frame);
            summary.topics++;
          }
        }
        break;
      case "disconnect": {
        for (const ws of [...this.conns]) {
          if (!target || [...ws.data.topics].some((t) => this.topicSymbol(ws.data.market, t) === `${target.market}:${target.symbol}`)) {
            ws.terminate();
            summary.connections++;
          }
        }
        break;
      }
      case "stall": {
        const stallMs = opts?.stallMs ?? 5_000;
        const until = monoMs() + stallMs;
        if (!target) this.globalStallUntilMs = until;
        for (const s of syms) if (target) s.stalledUntilMs = until;
        for (const r of reps) if (target) r.stalledUntilMs = until;
        summary.topics = subscribedTopics();
        summary.stallMs = stallMs;
        break;
      }
    }
    return summary;
  }

  marketsOf(symbol: string): MarketName[] {
    const out = new Set<MarketName>();
    for (const s of this.symbols.values()) if (s.symbol === symbol) out.add(s.market);
    for (const r of this.replay.values()) if (r.symbol === symbol) out.add(r.market);
    return [...out];
  }

  isGenerated(market: MarketName, symbol: string): boolean {
    return this.symbols.has(`${market}:${symbol}`);
  }

  topics(): SimTopicInfo[] {
    const out: SimTopicInfo[] = [];
    for (const t of this.topicSims.values()) out.push({ market: t.market, topic: t.topic, symbol: t.sym.symbol, kind: "generated", subscribers: t.subs.size, u: t.u });
    for (const r of this.replay.values()) out.push({ market: r.market, topic: r.topic, symbol: r.symbol, kind: "replay", subscribers: r.subs.size, u: r.u, cursor: r.cursor, lines: r.lines.length });
    return out;
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
    // Throws SimSpecError (naming the field) before anything changes; changeSpec assigns only when all of it worked.
    sym.book.changeSpec({ ...spec, priceDecimals: stepExponent(spec.tickSize, "tickSize") });
    // Lot/tick change: u restarts at 1 (FULL-OB table in docs/venues/bybit.md §4.4); send the new book.
    for (const t of sym.topics) {
      t.u = 1;
      t.bids = sym.book.windowLevels(true, t.depth);
      t.asks = sym.book.windowLevels(false, t.depth);
      this.remember(t);
      if (t.subs.size > 0) this.publish(t, snapshotFrame(t, this.rng));
    }
  }

  /** With opts.history: keeps the topic's window at its current u (cold: a test option). */
  private remember(t: TopicSim): void {
    if (!this.opts.history) return;
    const b = this.book(t.market, t.sym.symbol, t.depth);
    const key = `${t.market}|${t.topic}|${t.u}`;
    let states = this.history.get(key);
    if (!states) this.history.set(key, (states = new Map()));
    // The text tells a state already kept; the first Maps of it are kept beside it and handed out as they are.
    const text = JSON.stringify([[...b.bids], [...b.asks]]);
    if (!states.has(text)) states.set(text, { bids: b.bids, asks: b.asks });
  }

  booksAt(market: MarketName, symbol: string, depth: number, u: number): { bids: Map<string, string>; asks: Map<string, string> }[] {
    // The same Maps every call (never changed: a new window is new Maps), so a caller may key work by them.
    return [...(this.history.get(`${market}|orderbook.${depth}.${symbol}|${u}`)?.values() ?? [])];
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
    for (const t of sym.topics) {
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

export { formatNumber };
