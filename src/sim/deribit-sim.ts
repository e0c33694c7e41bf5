/**
 * A Deribit API v2 simulator on 127.0.0.1: JSON-RPC 2.0 over WebSocket on /ws/api/v2 and REST
 * /api/v2/public/get_instruments, speaking the protocol docs/venues/deribit.md describes: `public/subscribe` answered
 * with the channels taken (an unknown one is left out, refused alone), `raw` channels refused with 13778
 * (unauthorised), a credit pool per connection (over it: 10028 too_many_requests and the session closed), `public/unsubscribe`,
 * `public/set_heartbeat` then a `heartbeat` and a `test_request` every interval (a connection that leaves one
 * unanswered until the next is closed; not judged on a late tick: this process held up), `public/disable_heartbeat`,
 * `public/test`. Book channels `book.X.100ms` (snapshot, then changes linked by prev_change_id)
 * and `book.X.none.{1,10,20}.100ms` (whole books). Books are generated or replayed from a recording; faults: gap,
 * reset, reset_low, disconnect, stall, malformed, duplicate, and change_id_break, rate_limit, test_request, heartbeat_refused. Cold code.
 * @module
 */
import { instrumentsLimitControl, RestLimitFault } from "./rest-limit.ts";
import type { Server } from "bun";
import { monoMs } from "../core/clock.ts"; // every deadline, interval and rate window: a wall-clock step neither stretches nor ends one (Date.now only for times sent and expiries)
import { formatFixed } from "../core/fixed.ts";
import type { MarketName } from "../core/types.ts";
import { currencyOf, DERIBIT_DEPTHS, ERR_RAW_NEEDS_AUTH, ERR_TOO_MANY_REQUESTS, kindOf } from "../venues/deribit/protocol.ts";
import {
  advanceChannel,
  applyReplayFrame,
  ChannelSim,
  corruptFrame,
  deribitSpec,
  InstrumentSim,
  loadDeribitReplay,
  replaySnapshot,
  snapshotFrame,
  type DeribitConnData,
  type DWs,
  type ReplayChannel,
} from "./deribit-sim-book.ts";
import { handleDeribitControl } from "./deribit-sim-control.ts";
import { Rng } from "./rng.ts";
import type { SymbolSpec } from "./sim-book.ts";

export type DeribitSimFault = "gap" | "reset" | "reset_low" | "disconnect" | "stall" | "malformed" | "duplicate" | "change_id_break" | "rate_limit" | "test_request" | "heartbeat_refused";
export const DERIBIT_SIM_FAULTS: readonly DeribitSimFault[] = ["gap", "reset", "reset_low", "disconnect", "stall", "malformed", "duplicate", "change_id_break", "rate_limit", "test_request", "heartbeat_refused"];

export interface DeribitSimOptions {
  port?: number;
  hostname?: "127.0.0.1";
  markets: { market: MarketName; symbols: string[] }[];
  /** Book messages per second across subscribed instruments; 0 = only step(). */
  messagesPerSecond?: number;
  seed?: number;
  /** A recording of book notifications (cryptofeed lines, JSONL or a capture), served on `replayMarket` (default option). */
  replayFile?: string;
  replayMarket?: MarketName;
  /** Tick and lot the REST endpoint gives replayed instruments (default 0.0005 / 0.1: Deribit options). */
  replaySpec?: { tickSize: string; lotSize: string };
  /** Heartbeat period instead of the interval the client asks for (tests; Deribit's minimum is 10 s). */
  heartbeatIntervalMs?: number;
  /**
   * How long a test_request may stay unanswered before the connection is closed (judged when a test_request is due;
   * default: the interval, i.e. unanswered when the next is due). Tests with a short interval give more room: their
   * process, loaded, may read the answer late.
   */
  heartbeatTimeoutMs?: number;
  /** Subscribe/unsubscribe requests per connection: a burst and a refill per second (Deribit's credits). */
  credits?: { burst: number; perSecond: number };
  specs?: Record<string, Partial<SymbolSpec>>;
}

export interface DeribitSimStats {
  connections: number;
  connectionsTotal: number;
  messagesSent: number;
  subscribes: number;
  unsubscribes: number;
  testRequests: number;
  testAnswers: number;
  heartbeatCloses: number;
  errorsSent: number;
  restRequests: number;
}

export interface DeribitSim {
  readonly wsUrl: string;
  readonly restUrl: string;
  readonly stats: DeribitSimStats;
  /** The true book of a channel (depth 0 = `book.X.100ms`) as JSON number texts, and its change_id. */
  book(market: MarketName, symbol: string, depth?: number): { bids: Map<string, string>; asks: Map<string, string>; changeId: number };
  inject(fault: DeribitSimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number; count?: number }): { topics: number; connections: number };
  step(n?: number): void;
  /** Channels served: name, subscribers, change_id (replayed ones with their cursor). */
  channels(): { name: string; subscribers: number; changeId: number; cursor?: number; frames?: number }[];
  /** Makes the instruments REST endpoint answer 503 (false) or normally (true): the venue's instrument REST down. */
  setInstrumentsAvailable(ok: boolean): void;
  /**
   * Gives a generated instrument an expiry (`expiration_timestamp`, ms since the epoch): from then on its channels
   * are silent, get_instruments with `expired=false` leaves it out (`expired=true` lists it) and a subscribe to it is not taken.
   */
  setExpiration(market: MarketName, symbol: string, atMs: number): void;
  /** Lists a generated instrument with `is_active` `active` (false: a halt; its channels silent until true again). */
  setActive(market: MarketName, symbol: string, active: boolean): void;
  /** The next `count` get_instruments requests answer 429 / 10028 (with Retry-After: `retryAfterS` when given). */
  rateLimitInstruments(count: number, retryAfterS?: number): void;
  stop(): Promise<void>;
}

const TICK_MS = 10;
/** A tick this long after the previous one finds this process held up: no heartbeat is judged on it. */
const HELD_UP_MS = 5 * TICK_MS;

export async function startDeribitSimulator(opts: DeribitSimOptions): Promise<DeribitSim> {
  const sim = new DeribitSimulator(opts);
  await sim.start();
  return sim;
}

class DeribitSimulator implements DeribitSim {
  readonly stats: DeribitSimStats = { connections: 0, connectionsTotal: 0, messagesSent: 0, subscribes: 0, unsubscribes: 0, testRequests: 0, testAnswers: 0, heartbeatCloses: 0, errorsSent: 0, restRequests: 0 };
  private server: Server<DeribitConnData> | null = null;
  private readonly rng: Rng;
  private readonly insts = new Map<string, InstrumentSim>(); // "market:SYMBOL"
  private readonly channelSims = new Map<string, ChannelSim>(); // channel name
  private readonly replay = new Map<string, ReplayChannel>(); // channel name
  private readonly conns = new Set<DWs>();
  private readonly credit = new Map<DWs, { tokens: number; atMs: number }>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stepBudget = 0;
  private lastTickMs = 0;
  private stallUntilMs = 0; // on monoMs, as every stall deadline here
  private stalledInbox: { ws: DWs; text: string }[] = [];
  private rateLimitNext = 0;
  /** set_heartbeat requests still to refuse (the heartbeat_refused fault). */
  private heartbeatRefuseNext = 0;
  private connSeq = 0;

  constructor(private readonly opts: DeribitSimOptions) {
    this.rng = new Rng(opts.seed ?? 1);
    for (const m of opts.markets) {
      for (const symbol of m.symbols) {
        const spec = { ...deribitSpec(m.market, symbol), ...(opts.specs?.[`${m.market}:${symbol}`] ?? {}) };
        this.insts.set(`${m.market}:${symbol}`, new InstrumentSim(m.market, symbol, spec, this.rng));
      }
    }
    if (opts.replayFile) for (const r of loadDeribitReplay(opts.replayFile, opts.replayMarket ?? "option")) this.replay.set(r.name, r);
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.server!.port}/ws/api/v2`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.server!.port}`;
  }

  async start(): Promise<void> {
    this.server = Bun.serve<DeribitConnData>({
      hostname: this.opts.hostname ?? "127.0.0.1",
      port: this.opts.port ?? 0,
      fetch: (req, server) => {
        const url = new URL(req.url);
        if (url.pathname === "/ws/api/v2" || url.pathname === "/ws/api/v2/") {
          const data: DeribitConnData = { id: ++this.connSeq, channels: new Set(), testPendingSinceMs: -1, heartbeatMs: 0, lastHeartbeatMs: 0 };
          if (server.upgrade(req, { data })) return undefined;
          return new Response("expected a WebSocket upgrade", { status: 400 });
        }
        if (url.pathname === "/api/v2/public/get_instruments") return this.getInstruments(url);
        if (url.pathname === "/sim/instruments-limit" && req.method === "POST") return instrumentsLimitControl(this.instrumentsLimit, url);
        if (url.pathname.startsWith("/sim/")) return handleDeribitControl(this, req, url);
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
          this.credit.delete(ws);
          this.stats.connections--;
          for (const c of ws.data.channels) this.detach(ws, c);
        },
      },
    });
    this.lastTickMs = monoMs();
    this.timer = setInterval(() => {
      try {
        this.onTick();
      } catch (err) {
        console.error("deribit sim: tick failed, going on:", err);
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

  private instrumentsOk = true;
  /** get_instruments' 429 answers, error 10028 (`POST /sim/instruments-limit`, rateLimitInstruments). */
  readonly instrumentsLimit = new RestLimitFault(JSON.stringify({ jsonrpc: "2.0", error: { code: 10028, message: "too_many_requests" }, testnet: true }));

  /** The next `count` get_instruments requests answer 429 / 10028 (with Retry-After: `retryAfterS` when given). */
  rateLimitInstruments(count: number, retryAfterS?: number): void {
    this.instrumentsLimit.arm(count, retryAfterS);
  }
  setInstrumentsAvailable(ok: boolean): void {
    this.instrumentsOk = ok;
  }

  setExpiration(market: MarketName, symbol: string, atMs: number): void {
    const i = this.insts.get(`${market}:${symbol}`);
    if (!i) throw new Error(`sim: no such generated instrument ${market}:${symbol}`);
    i.expiresMs = atMs;
  }

  setActive(market: MarketName, symbol: string, active: boolean): void {
    const i = this.insts.get(`${market}:${symbol}`);
    if (!i) throw new Error(`sim: no such generated instrument ${market}:${symbol}`);
    i.inactive = !active;
  }

  private trading(i: InstrumentSim, now = Date.now()): boolean {
    return i.expiresMs === undefined || now < i.expiresMs;
  }

  private getInstruments(url: URL): Response {
    this.stats.restRequests++;
    if (!this.instrumentsOk) return new Response("service unavailable", { status: 503 });
    const limited = this.instrumentsLimit.take();
    if (limited) return limited;
    const currency = url.searchParams.get("currency") ?? "";
    const kind = url.searchParams.get("kind") ?? "";
    const items: string[] = [];
    // expired=true lists the expired instruments instead of the others, as Deribit [D9] (until 2026-12-07 all of them).
    const expiredOnes = url.searchParams.get("expired") === "true";
    const add = (market: MarketName, symbol: string, tick: string, lot: string, expiresMs?: number, active = true) => {
      if (currencyOf(market, symbol) !== currency || kindOf(market) !== kind) return;
      if (expiredOnes !== (expiresMs !== undefined && Date.now() >= expiresMs)) return;
      const expiry = expiresMs !== undefined ? `"expiration_timestamp":${expiresMs},` : "";
      const type = market === "inverse" || market === "option" ? "reversed" : "linear";
      const steps = market === "option" ? `[{"above_price":0.005,"tick_size":${Number(tick) * 2}}]` : "[]";
      items.push(`{${expiry}"tick_size_steps":${steps},"tick_size":${tick},"min_trade_amount":${lot},"contract_size":${market === "inverse" ? 10 : 1},"kind":"${kind}","instrument_type":"${type}","instrument_name":"${symbol}","is_active":${active && !expiredOnes},"base_currency":"${currencyOf("spot", symbol)}","settlement_currency":"${currencyOf(market, symbol)}"}`);
    };
    for (const i of this.insts.values()) add(i.market, i.symbol, i.spec.tickSize, i.spec.lotSize, i.expiresMs, !i.inactive);
    const rs = this.opts.replaySpec ?? { tickSize: "0.0005", lotSize: "0.1" };
    // One item per replayed instrument, though its change stream and grouped channels are each replayed.
    const replayed = new Map([...this.replay.values()].map((r) => [`${r.market}:${r.symbol}`, r]));
    for (const r of replayed.values()) add(r.market, r.symbol, rs.tickSize, rs.lotSize);
    return new Response(`{"jsonrpc":"2.0","result":[${items.join(",")}],"usIn":0,"usOut":0,"usDiff":0,"testnet":false}`, { headers: { "content-type": "application/json" } });
  }

  // ───────────────────────── WebSocket protocol ─────────────────────────

  private send(ws: DWs, text: string): void {
    if (monoMs() < this.stallUntilMs) return;
    ws.send(text);
    this.stats.messagesSent++;
  }

  private answer(ws: DWs, id: unknown, body: string): void {
    this.send(ws, `{"jsonrpc":"2.0","id":${JSON.stringify(id ?? null)},${body},"usIn":${Date.now() * 1000},"usOut":${Date.now() * 1000 + 50},"usDiff":50,"testnet":false}`);
  }

  private error(ws: DWs, id: unknown, code: number, message: string): void {
    this.stats.errorsSent++;
    this.answer(ws, id, `"error":{"message":${JSON.stringify(message)},"code":${code}}`);
  }

  /**
   * No list of channel names (absent, a string, null, a number in it): JSON-RPC's -32602 Invalid params, as Deribit
   * lists it (its `data` here is the simulator's). Before, `result: []`: a success that took nothing, hiding a client's bug.
   */
  private invalidChannels(ws: DWs, id: unknown): void {
    this.stats.errorsSent++;
    this.answer(ws, id, `"error":{"message":"Invalid params","data":{"reason":"must be a list of channel names (simulator)","param":"channels"},"code":-32602}`);
  }

  /** A request's credit: a bucket per connection; false (and 10028 sent) when it is empty or a rate_limit fault is armed. */
  private takeCredit(ws: DWs, id: unknown): boolean {
    const c = this.opts.credits ?? { burst: 10, perSecond: 3.3 };
    const now = monoMs(); // a wall clock stepped back took the credits away (before 2026-12-07: 10028, the session closed)
    const b = this.credit.get(ws) ?? { tokens: c.burst, atMs: now };
    b.tokens = Math.min(c.burst, b.tokens + ((now - b.atMs) * c.perSecond) / 1000);
    b.atMs = now;
    this.credit.set(ws, b);
    if (this.rateLimitNext > 0 || b.tokens < 1) {
      if (this.rateLimitNext > 0) this.rateLimitNext--;
      this.error(ws, id, ERR_TOO_MANY_REQUESTS, "too_many_requests");
      // Deribit: a request with no credits left gets 10028 and the session is terminated [D11].
      ws.close(1000, "too_many_requests");
      return false;
    }
    b.tokens--;
    return true;
  }

  private onClientMessage(ws: DWs, text: string): void {
    if (monoMs() < this.stallUntilMs) {
      this.stalledInbox.push({ ws, text });
      return;
    }
    let msg: { id?: unknown; method?: unknown; params?: { channels?: unknown; interval?: unknown } };
    try {
      msg = JSON.parse(text);
    } catch {
      this.error(ws, null, -32700, "parse error");
      return;
    }
    // JSON that is no object (`null`, `5`) is no JSON-RPC request: -32600, as JSON-RPC 2.0 answers it (before, `null`
    // threw out of the message handler, unanswered).
    if (typeof msg !== "object" || msg === null) {
      this.error(ws, null, -32600, "Invalid Request");
      return;
    }
    const listed: unknown = msg.params?.channels;
    const channels = Array.isArray(listed) && listed.every((c) => typeof c === "string") ? (listed as string[]) : null;
    switch (msg.method) {
      case "public/subscribe": {
        this.stats.subscribes++;
        if (!this.takeCredit(ws, msg.id)) return;
        if (channels === null) return this.invalidChannels(ws, msg.id);
        if (channels.some((c) => c.endsWith(".raw"))) {
          this.error(ws, msg.id, ERR_RAW_NEEDS_AUTH, "raw_subscriptions_not_available_for_unauthorized");
          return;
        }
        const taken = channels.filter((c) => this.isValidChannel(c));
        this.answer(ws, msg.id, `"result":${JSON.stringify(taken)}`);
        for (const c of taken) if (!ws.data.channels.has(c)) this.attach(ws, c);
        return;
      }
      case "public/unsubscribe": {
        this.stats.unsubscribes++;
        if (!this.takeCredit(ws, msg.id)) return;
        if (channels === null) return this.invalidChannels(ws, msg.id);
        const gone = channels.filter((c) => ws.data.channels.has(c));
        for (const c of gone) this.detach(ws, c);
        this.answer(ws, msg.id, `"result":${JSON.stringify(gone)}`);
        return;
      }
      case "public/set_heartbeat": {
        const interval = Number(msg.params?.interval);
        if (!(interval >= 10)) {
          this.error(ws, msg.id, 11029, "invalid_arguments");
          return;
        }
        if (this.heartbeatRefuseNext > 0) {
          // The heartbeat_refused fault: Deribit's 10040 `retry` (try again later); the session kept, no heartbeat set.
          this.heartbeatRefuseNext--;
          this.error(ws, msg.id, 10040, "retry");
          return;
        }
        ws.data.heartbeatMs = this.opts.heartbeatIntervalMs ?? interval * 1000;
        ws.data.lastHeartbeatMs = monoMs();
        this.answer(ws, msg.id, `"result":"ok"`);
        return;
      }
      case "public/disable_heartbeat":
        // Deribit stops sending heartbeats [D5]: no more test_requests, none pending to close the connection for.
        ws.data.heartbeatMs = 0;
        ws.data.testPendingSinceMs = -1;
        this.answer(ws, msg.id, `"result":"ok"`);
        return;
      case "public/test":
        this.stats.testAnswers++;
        ws.data.testPendingSinceMs = -1;
        this.answer(ws, msg.id, `"result":{"version":"1.2.26"}`);
        return;
      default:
        this.error(ws, msg.id, -32601, "Method not found");
    }
  }

  private isValidChannel(c: string): boolean {
    if (this.replay.has(c)) return true;
    const m = /^book\.([^.]+)\.(?:none\.(\d+)\.)?(100ms|agg2)$/.exec(c);
    // A grouped depth is 1, 10 or 20 [D8] (0 is the change stream's `book.X.100ms`, not `none.0`).
    if (!m || (m[2] !== undefined && !(Number(m[2]) > 0 && DERIBIT_DEPTHS.includes(Number(m[2]))))) return false;
    return [...this.insts.values()].some((i) => i.symbol === m[1] && this.trading(i));
  }

  private attach(ws: DWs, name: string): void {
    ws.data.channels.add(name);
    const r = this.replay.get(name);
    if (r) {
      r.subs.add(ws);
      if (r.cursor === 0) this.replayNext(r, true, false);
      else this.send(ws, replaySnapshot(r));
      return;
    }
    let c = this.channelSims.get(name);
    if (!c) {
      const m = /^book\.([^.]+)\.(?:none\.(\d+)\.)?/.exec(name)!;
      const inst = [...this.insts.values()].find((i) => i.symbol === m[1])!;
      c = new ChannelSim(name, m[2] === undefined ? 0 : Number(m[2]), inst);
      inst.channels.push(c);
      this.channelSims.set(name, c);
      advanceChannel(c, this.rng);
      c.changeId = inst.changeId;
    }
    c.subs.add(ws);
    this.send(ws, snapshotFrame(c, this.rng));
  }

  private detach(ws: DWs, name: string): void {
    ws.data.channels.delete(name);
    this.channelSims.get(name)?.subs.delete(ws);
    this.replay.get(name)?.subs.delete(ws);
  }

  // ───────────────────────── generation ─────────────────────────

  step(n = 1): void {
    const nowMonoMs = monoMs();
    if (nowMonoMs < this.stallUntilMs) return;
    const now = Date.now(); // expiries are wall-clock instants
    for (let k = 0; k < n; k++) {
      for (const i of this.insts.values()) if (this.subscribed(i) && nowMonoMs >= i.stalledUntilMs && this.trading(i, now) && !i.inactive) this.stepInstrument(i, "send");
      for (const r of this.replay.values()) if (r.subs.size > 0 && nowMonoMs >= r.stalledUntilMs) this.replayNext(r, true, false);
    }
  }

  private subscribed(i: InstrumentSim): boolean {
    return i.channels.some((c) => c.subs.size > 0);
  }

  /** One change of an instrument's book; every channel of it moves on (its frame sent, withheld or garbled). */
  private stepInstrument(i: InstrumentSim, how: "send" | "drop" | "corrupt"): number {
    i.book.mutate(this.rng.next() < 0.05 ? this.rng.int(20, 80) : this.rng.int(1, 5));
    i.changeId += this.rng.int(1, 40);
    let n = 0;
    for (const c of i.channels) {
      const frame = advanceChannel(c, this.rng);
      if (frame === null) continue;
      c.lastMessage = frame;
      if (c.subs.size === 0) continue;
      n++;
      if (how !== "drop") for (const ws of c.subs) this.send(ws, how === "corrupt" ? corruptFrame(frame, this.rng) : frame);
    }
    return n;
  }

  private replayNext(r: ReplayChannel, send: boolean, corrupt: boolean): boolean {
    if (r.cursor >= r.frames.length) return false;
    const frame = r.frames[r.cursor++]!;
    applyReplayFrame(r, frame);
    r.lastMessage = frame;
    if (send) for (const ws of r.subs) this.send(ws, corrupt ? corruptFrame(frame, this.rng) : frame);
    return true;
  }

  private onTick(): void {
    const now = Date.now(); // expiries are wall-clock instants
    const nowMonoMs = monoMs(); // the clock of the pacing, the stalls and the heartbeats
    const dt = nowMonoMs - this.lastTickMs;
    this.lastTickMs = nowMonoMs;
    if (nowMonoMs < this.stallUntilMs) return;
    if (this.stalledInbox.length > 0) {
      const inbox = this.stalledInbox;
      this.stalledInbox = [];
      for (const m of inbox) if (this.conns.has(m.ws)) this.onClientMessage(m.ws, m.text);
    }
    // Heartbeats: a test_request every interval; one still unanswered when the next is due closes the connection.
    // A tick this late means this process was held up (a loaded machine, a collection): the answers may be waiting
    // unread in the sockets (timers run before reads), so none is judged now; each gets a whole interval from now.
    // Before, a client that answered at once was closed after a stall longer than a test's 100 ms interval.
    const heldUp = dt > HELD_UP_MS;
    for (const ws of this.conns) {
      const d = ws.data;
      if (d.heartbeatMs === 0 || nowMonoMs - d.lastHeartbeatMs < d.heartbeatMs) continue;
      d.lastHeartbeatMs = nowMonoMs;
      if (d.testPendingSinceMs >= 0 && heldUp) continue;
      if (d.testPendingSinceMs >= 0) {
        const timeoutMs = this.opts.heartbeatTimeoutMs;
        if (timeoutMs !== undefined && nowMonoMs - d.testPendingSinceMs < timeoutMs) continue; // still within its time
        this.stats.heartbeatCloses++;
        ws.close(1000, "test_request not answered");
        continue;
      }
      this.sendTestRequest(ws);
    }
    const rate = this.opts.messagesPerSecond ?? 0;
    if (rate > 0) {
      // At most 1 s of backlog, but never less than one message: a rate below 1/s (0.5: one every 2 s) capped at
      // itself never reached 1 and sent nothing (until 2026-12-07).
      this.stepBudget = Math.min(this.stepBudget + (rate * Math.max(0, dt)) / 1000, Math.max(1, rate));
      const active = [...this.insts.values()].filter((i) => this.subscribed(i) && nowMonoMs >= i.stalledUntilMs && this.trading(i, now) && !i.inactive);
      const replaying = [...this.replay.values()].filter((r) => r.subs.size > 0 && r.cursor < r.frames.length && nowMonoMs >= r.stalledUntilMs);
      const n = active.length + replaying.length;
      while (this.stepBudget >= 1 && n > 0) {
        const k = this.rng.int(0, n - 1);
        if (k < active.length) this.stepBudget -= Math.max(1, this.stepInstrument(active[k]!, "send"));
        else {
          this.replayNext(replaying[k - active.length]!, true, false);
          this.stepBudget--;
        }
      }
    }
  }

  private sendTestRequest(ws: DWs): void {
    this.stats.testRequests++;
    ws.data.testPendingSinceMs = monoMs();
    // Deribit sends heartbeat messages and test_requests [D5]: a plain one (nothing to answer) goes first.
    this.send(ws, `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}`);
    this.send(ws, `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}`);
  }

  // ───────────────────────── faults and test hooks ─────────────────────────

  inject(fault: DeribitSimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number; count?: number }): { topics: number; connections: number } {
    const insts = [...this.insts.values()].filter((i) => !target || (i.market === target.market && i.symbol === target.symbol));
    const reps = [...this.replay.values()].filter((r) => !target || (r.market === target.market && r.symbol === target.symbol));
    if (target && insts.length === 0 && reps.length === 0) throw new Error(`deribit sim: no such instrument ${target.market}:${target.symbol}`);
    const out = { topics: 0, connections: 0 };
    switch (fault) {
      case "gap": // a change is made (change_id advances) but never sent
        for (const i of insts) if (this.subscribed(i)) out.topics += this.stepInstrument(i, "drop");
        for (const r of reps) if (r.subs.size > 0 && this.replayNext(r, false, false)) out.topics++;
        break;
      case "malformed":
        for (const i of insts) if (this.subscribed(i)) out.topics += this.stepInstrument(i, "corrupt");
        for (const r of reps) if (r.subs.size > 0 && this.replayNext(r, true, true)) out.topics++;
        break;
      case "change_id_break": // the next change links to a change_id that was never sent
        for (const i of insts) for (const c of i.channels) if (c.depth === 0 && c.subs.size > 0) (c.breakNext = true), out.topics++;
        break;
      case "duplicate":
        for (const i of insts) {
          for (const c of i.channels) {
            if (c.subs.size === 0 || c.lastMessage === "") continue;
            for (const ws of c.subs) this.send(ws, c.lastMessage);
            out.topics++;
          }
        }
        for (const r of reps) if (r.subs.size > 0 && r.lastMessage !== "") for (const ws of r.subs) this.send(ws, r.lastMessage);
        break;
      case "reset": // the instrument's book is rebuilt and a snapshot replaces it, with a change_id far ahead
      case "reset_low": // the same, its change_ids starting again far below the ones sent so far (generated books only)
        for (const i of insts) {
          i.book.rebuild(i.spec.mid);
          i.changeId = fault === "reset" ? i.changeId + this.rng.int(1_000, 100_000) : this.rng.int(1, 1_000);
          for (const c of i.channels) {
            advanceChannel(c, this.rng);
            c.changeId = i.changeId;
            c.lastMessage = snapshotFrame(c, this.rng);
            if (c.subs.size === 0) continue;
            for (const ws of c.subs) this.send(ws, c.lastMessage);
            out.topics++;
          }
        }
        for (const r of fault === "reset" ? reps : []) {
          r.changeId += 1_000;
          r.lastMessage = replaySnapshot(r);
          for (const ws of r.subs) this.send(ws, r.lastMessage);
          if (r.subs.size > 0) out.topics++;
        }
        break;
      case "disconnect":
        for (const ws of [...this.conns]) {
          const hit = !target || [...ws.data.channels].some((c) => c.startsWith(`book.${target.symbol}.`));
          if (hit) {
            ws.terminate();
            out.connections++;
          }
        }
        break;
      case "stall": {
        const until = monoMs() + (opts?.stallMs ?? 5_000);
        if (!target) this.stallUntilMs = until;
        else for (const i of insts) i.stalledUntilMs = until;
        for (const r of reps) if (target) r.stalledUntilMs = until;
        break;
      }
      case "rate_limit":
        this.rateLimitNext += opts?.count ?? 1;
        break;
      case "heartbeat_refused":
        this.heartbeatRefuseNext += opts?.count ?? 1;
        break;
      case "test_request":
        for (const ws of this.conns) {
          this.sendTestRequest(ws);
          out.connections++;
        }
        break;
    }
    return out;
  }

  channels(): { name: string; subscribers: number; changeId: number; cursor?: number; frames?: number }[] {
    const out: { name: string; subscribers: number; changeId: number; cursor?: number; frames?: number }[] = [];
    for (const c of this.channelSims.values()) out.push({ name: c.name, subscribers: c.subs.size, changeId: c.changeId });
    for (const r of this.replay.values()) out.push({ name: r.name, subscribers: r.subs.size, changeId: r.changeId, cursor: r.cursor, frames: r.frames.length });
    return out;
  }

  book(market: MarketName, symbol: string, depth = 0): { bids: Map<string, string>; asks: Map<string, string>; changeId: number } {
    const reps = [...this.replay.values()].filter((r) => r.market === market && r.symbol === symbol);
    const r = reps.find((x) => x.depth === depth) ?? reps[0];
    if (r) return { bids: new Map(r.bids), asks: new Map(r.asks), changeId: r.changeId };
    const i = this.insts.get(`${market}:${symbol}`);
    if (!i) throw new Error(`deribit sim: no instrument ${market}:${symbol}`);
    const c = i.channels.find((x) => x.depth === depth);
    const b = i.book;
    const text = (px: number[], qty: number[]) => new Map(px.map((p, k) => [formatFixed(p, b.priceExp), formatFixed(qty[k]!, b.qtyExp)]));
    if (!c) {
      const n = depth > 0 ? depth : Infinity;
      const wb = b.windowLevels(true, n);
      const wa = b.windowLevels(false, n);
      return { bids: text(wb.px, wb.qty), asks: text(wa.px, wa.qty), changeId: 0 };
    }
    return { bids: text(c.bids.px, c.bids.qty), asks: text(c.asks.px, c.asks.qty), changeId: c.changeId };
  }
}
