/**
 * An OKX v5 public simulator on 127.0.0.1 (docs/venues/okx.md): WebSocket `/ws/v5/public` with subscribe /
 * unsubscribe acks per arg, `event:error` 60012 (bad request), 60018 (naming channel and instId), 64003 (login /
 * VIP channels), 60014 (over 480 requests per connection per hour), text `ping` → `pong`, the 64008 notice, the
 * close of a connection pushed nothing for 30 s; REST
 * `/api/v5/public/instruments` (OPTION needs instFamily) and `/api/v5/market/books` (with seqId, `sz` levels a side,
 * default 1); generated books
 * (sim-book.ts) or the replay of a recording; faults from code or `POST /sim/fault`: gap, reset (OKX's maintenance
 * reset: seqId < prevSeqId; on books5 / bbo-tbt a seqId below the last, its ts later or, with stampedBackMs, earlier), lost_reset (such a reset into the current run of seqIds, lost), stale_snapshot (the
 * next subscribe starts behind: the snapshot as of the fault, then the messages since), disconnect, stall,
 * malformed, duplicate, keepalive, notice (64008, then close), checksum (a wrong one); REST snapshot faults (refused
 * with 429, or too old to bridge). Cold code (a test tool).
 * @module
 */
import { ConnectLimit, type ConnectWindow } from "./connect-limit.ts";
import { closeIdle } from "./idle-close.ts";
import { instrumentsLimitControl, RestLimitFault, RestRate } from "./rest-limit.ts";
import type { Server } from "bun";
import { monoMs } from "../core/clock.ts"; // every deadline, interval and rate window: a wall-clock step neither stretches nor ends one (Date.now only for times sent)
import type { MarketName } from "../core/types.ts";
import { Rng } from "./rng.ts";
import { defaultSpec, type SymbolSpec } from "./sim-book.ts";
import {
  OkxReplayTopic,
  OkxSymbolSim,
  OkxTopicSim,
  advanceTopic,
  corruptFrame,
  depthOfChannel,
  keepaliveFrame,
  loadOkxRecording,
  snapshotFrame,
  windowChecksum,
  type OkxConnData,
  type OkxWs,
} from "./okx-sim-topics.ts";
import { readFileSync } from "node:fs";

export const OKX_SIM_FAULTS = ["gap", "reset", "lost_reset", "stale_snapshot", "disconnect", "stall", "malformed", "duplicate", "keepalive", "notice", "checksum"] as const;
export type OkxSimFault = (typeof OKX_SIM_FAULTS)[number];

export interface OkxSimOptions {
  markets: { market: MarketName; symbols: string[] }[];
  seed?: number;
  port?: number;
  /** Loopback only, as every simulator: it is never reachable from another host. */
  hostname?: "127.0.0.1";
  /** Book messages per second across subscribed topics (0 = only step()). */
  messagesPerSecond?: number;
  /** Real checksums in `books` (default false: 0, as OKX sends since June 2026). */
  checksums?: boolean;
  /** `books` starts with its snapshot (default true); false: updates only, clients bridge a REST snapshot. */
  initialSnapshot?: boolean;
  /** A `books` topic unchanged this long gets a keepalive (OKX: ~60 s). */
  keepaliveMs?: number;
  /** After a 64008 notice, connections close this much later (default 3 s: time to replace them at 3 per second). */
  noticeCloseMs?: number;
  /** A recording (cryptofeed OKX.ws format or JSONL) served as `books` of its instruments. */
  replayFile?: string;
  /** Tick and lot of replayed instruments ("market:INSTID"): the recording does not carry them. */
  specs?: Record<string, Partial<SymbolSpec>>;
  burstiness?: number;
  /** Subscribe + unsubscribe requests per connection in any requestWindowMs (OKX: 480 per hour); more get 60014. */
  requestsPerHour?: number;
  /** The window of requestsPerHour (default 1 hour; tests shorten it). */
  requestWindowMs?: number;
  /** instIds whose every channel needs a VIP tier here: subscribing one is answered 64003 (as books-l2-tbt is). */
  vipOnly?: string[];
  /** The clock of announced instrument changes (announceChange; default Date.now: tests pass the adapter's). */
  now?: () => number;
  /**
   * A connection the server has pushed nothing for this long (no data, ack or pong) is closed, as OKX breaks one
   * after 30 s without subscription or data (default 30 000; the client's text `ping` gets a `pong` that counts).
   */
  idleCloseMs?: number;
  /** Connects allowed per IP (connect-limit.ts; default OKX's 3 per second [F2]); past it the upgrade is a 429. */
  connectLimit?: ConnectWindow[];
  /** Instruments requests allowed per IP and instType (rest-limit.ts RestRate; default OKX's 20 per 2 s [F9]); past it a 429, code 50011. */
  instrumentsRate?: ConnectWindow[];
  /** The clock of instrumentsRate (default monoMs; a test drives its own rather than rely on real time). */
  restClock?: () => number;
}

/** A scheduled tick or lot change, listed in `upcChg` until effTimeMs, in effect from then on. */
export interface OkxSimChange {
  readonly param: "tickSz" | "lotSz";
  readonly newValue: string;
  readonly effTimeMs: number;
}

export interface OkxSimStats {
  connections: number;
  connectionsTotal: number;
  messagesSent: number;
  subscribes: number;
  unsubscribes: number;
  pings: number;
  /** Connections closed because nothing was pushed to them for idleCloseMs. */
  idleCloses: number;
  errorsSent: number;
  restRequests: number;
  restBooks: number;
}

const TICK_MS = 10;
const REQUESTS_PER_HOUR = 480;
const HOUR_MS = 3_600_000;

export async function startOkxSimulator(opts: OkxSimOptions): Promise<OkxSim> {
  const sim = new OkxSim(opts);
  await sim.start();
  return sim;
}

export class OkxSim {
  readonly stats: OkxSimStats = { connections: 0, connectionsTotal: 0, messagesSent: 0, subscribes: 0, unsubscribes: 0, pings: 0, idleCloses: 0, errorsSent: 0, restRequests: 0, restBooks: 0 };
  private server: Server<OkxConnData> | null = null;
  private readonly rng: Rng;
  private readonly symbols = new Map<string, OkxSymbolSim>(); // instId
  private readonly topicsByName = new Map<string, OkxTopicSim>(); // channel:instId
  private readonly replay = new Map<string, OkxReplayTopic>(); // instId
  private readonly conns = new Set<OkxWs>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stepBudget = 0;
  private lastTickMs = 0;
  private stallUntilMs = 0; // on monoMs, as every stall deadline here
  /** failSubscribes: subscribes of an instId still to refuse, and with what. */
  private readonly subscribeFaults = new Map<string, { count: number; code: string; msg: string }>();
  private stalledInbox: { ws: OkxWs; text: string }[] = [];
  private readonly restFaults = new Map<string, { kind: "refuse" | "no_bridge"; frozen?: string }>();
  private readonly changes = new Map<string, OkxSimChange[]>(); // instId

  constructor(private readonly opts: OkxSimOptions) {
    this.connectLimit = new ConnectLimit(opts.connectLimit ?? [{ max: 3, windowMs: 1_000 }]);
    this.rng = new Rng(opts.seed ?? 1);
    const recorded = opts.replayFile ? loadOkxRecording(readFileSync(opts.replayFile, "utf8"), opts.replayFile) : new Map<string, string[]>();
    for (const m of opts.markets) {
      for (const instId of m.symbols) {
        const spec = { ...defaultSpec(m.market, instId), ...(opts.specs?.[`${m.market}:${instId}`] ?? {}) };
        const frames = recorded.get(instId);
        if (frames) this.replay.set(instId, new OkxReplayTopic(m.market, instId, frames, spec.tickSize, spec.lotSize));
        else this.symbols.set(instId, new OkxSymbolSim(m.market, instId, spec, this.rng));
      }
    }
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.server!.port}/ws/v5/public`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.server!.port}`;
  }

  async start(): Promise<void> {
    this.server = Bun.serve<OkxConnData>({
      hostname: this.opts.hostname ?? "127.0.0.1",
      port: this.opts.port ?? 0,
      fetch: (req, server) => {
        const url = new URL(req.url);
        if (url.pathname === "/ws/v5/public") {
          const refused = this.connectLimit.admit(monoMs());
          if (refused) return refused;
          if (server.upgrade(req, { data: { connId: crypto.randomUUID().slice(0, 8), topics: new Set<string>(), requestTimesMs: [], lastPushMs: monoMs() } })) return undefined;
          return new Response("expected a WebSocket upgrade", { status: 400 });
        }
        if (url.pathname === "/api/v5/public/instruments") return this.instruments(url);
        if (url.pathname === "/api/v5/market/books") return this.restBook(url);
        if (url.pathname === "/sim/instruments-limit" && req.method === "POST") return instrumentsLimitControl(this.instrumentsLimit, url);
        if (url.pathname.startsWith("/sim/")) return this.control(req, url);
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
          for (const name of ws.data.topics) this.detach(ws, name);
        },
      },
    });
    this.lastTickMs = monoMs();
    this.timer = setInterval(() => {
      try {
        this.onTick();
      } catch (err) {
        console.error("okx sim: tick failed, going on:", err);
      }
    }, TICK_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const ws of this.conns) ws.close(1001, "simulator stopping");
    this.server?.stop(true);
  }

  // ───────────────────────── books ─────────────────────────

  /** n book messages per subscribed topic (generated) / n recorded frames per subscribed replay topic. */
  step(n = 1): void {
    const nowMonoMs = monoMs();
    if (nowMonoMs < this.stallUntilMs) return;
    for (let i = 0; i < n; i++) {
      for (const sym of this.symbols.values()) if (sym.topics.some((t) => t.subs.size > 0) && nowMonoMs >= sym.stalledUntilMs && this.trading(sym.instId)) this.stepSymbol(sym);
      for (const r of this.replay.values()) if (r.subs.size > 0 && nowMonoMs >= r.stalledUntilMs) this.replayNext(r);
    }
  }

  /** The published book of a topic, as strings, and its seqId (what a correct client holds). */
  book(instId: string, depth: number): { bids: Map<string, string>; asks: Map<string, string>; seqId: number } {
    const r = this.replay.get(instId);
    if (r) return { bids: new Map(r.bids), asks: new Map(r.asks), seqId: 0 };
    const t = this.topic(instId, depth);
    const book = t.sym.book;
    const side = (l: { px: number[]; qty: number[] }) => new Map(l.px.map((p, i) => [formatPx(book.priceExp, p), formatPx(book.qtyExp, l.qty[i]!)] as [string, string]));
    return { bids: side(t.bids), asks: side(t.asks), seqId: t.seq };
  }

  /** `stallMs`: how long a stall lasts; `stampedBackMs`: a full book's reset stamped that much earlier than the book before it. */
  inject(fault: OkxSimFault, instId?: string, opts: { stallMs?: number; stampedBackMs?: number } = {}): void {
    const topics = [...this.topicsByName.values()].filter((t) => instId === undefined || t.sym.instId === instId);
    const replays = [...this.replay.values()].filter((r) => instId === undefined || r.instId === instId);
    switch (fault) {
      case "gap":
      case "duplicate":
      case "malformed":
      case "reset":
      case "checksum":
        for (const t of topics) t.faults[fault] = true;
        if (fault === "reset") for (const t of topics) t.faults.resetBackMs = opts.stampedBackMs ?? 0;
        // Not a reset on a recording: its seqIds are what they are (the flag was set and never read).
        if (fault !== "reset") for (const r of replays) r.faults[fault] = true;
        return;
      case "stale_snapshot":
        for (const t of topics) if (!t.fullBook) t.stale = { snapshot: snapshotFrame(t, this.opts.checksums ?? false, this.rng), frames: [] };
        return;
      case "lost_reset":
        // Generated `books` only: a recording's seqIds are what they are.
        for (const t of topics) if (!t.fullBook) t.faults.lostReset = true;
        return;
      case "keepalive":
        for (const t of topics) if (!t.fullBook) this.publish(t, keepaliveFrame(t));
        return;
      case "disconnect":
        for (const ws of this.conns) if (instId === undefined || [...ws.data.topics].some((n) => n.endsWith(":" + instId))) ws.close(4000, "simulated disconnect");
        return;
      case "stall": {
        const until = monoMs() + (opts.stallMs ?? 5000);
        if (instId === undefined) {
          this.stallUntilMs = until;
          return;
        }
        // That instId alone goes quiet (before, a target stalled the whole server): no updates, no keepalive.
        const sym = this.symbols.get(instId);
        if (sym) sym.stalledUntilMs = until;
        for (const r of replays) r.stalledUntilMs = until;
        return;
      }
      case "notice": {
        const conns = [...this.conns];
        for (const ws of conns) this.sendRaw(ws, `{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"${ws.data.connId}"}`);
        setTimeout(() => {
          for (const ws of conns) if (this.conns.has(ws)) ws.close(1012, "service upgrade");
        }, this.opts.noticeCloseMs ?? 3_000);
        return;
      }
    }
  }

  /**
   * The next `count` subscribe requests naming instId are answered `event:error` with `code` (default 50001, "Service
   * temporarily unavailable": a passing server error) instead of being served. Counted as errors sent.
   */
  failSubscribes(instId: string, count: number, code = "50001", msg = "Service temporarily unavailable, please try again later."): void {
    this.subscribeFaults.set(instId, { count, code, msg });
  }

  /**
   * Announces a tick or lot change of instId at effTimeMs (the `now` option's clock): listed in `upcChg` before,
   * in `tickSz` / `lotSz` from then on. The generated book keeps its prices (a finer tick fits them all).
   */
  announceChange(instId: string, change: OkxSimChange): void {
    this.changes.set(instId, [...(this.changes.get(instId) ?? []), change]);
  }

  /** REST faults set with restFault and not yet served. */
  restFaultsPending(): number {
    return this.restFaults.size;
  }

  /** The next REST book of instId is refused (429) or too old to bridge (a snapshot taken now, served later). */
  restFault(kind: "refuse" | "no_bridge", instId: string): void {
    const t = this.topicsByName.get(`books:${instId}`);
    this.restFaults.set(instId, { kind, frozen: kind === "no_bridge" && t ? this.restBookText(t) : undefined });
  }

  private topic(instId: string, depth: number): OkxTopicSim {
    const channel = depth === 5 ? "books5" : depth === 1 ? "bbo-tbt" : "books";
    const name = `${channel}:${instId}`;
    let t = this.topicsByName.get(name);
    if (!t) {
      const sym = this.symbols.get(instId);
      if (!sym) throw new Error(`okx sim: no generated instrument ${instId}`);
      t = new OkxTopicSim(channel, depthOfChannel(channel), sym, this.rng);
      sym.topics.push(t);
      this.topicsByName.set(name, t);
    }
    return t;
  }

  /** One burst on an instrument, then one message per subscribed topic whose window changed; a gap fault loses one and sends the next at once. */
  private stepSymbol(sym: OkxSymbolSim): void {
    for (let round = 0; round < 2; round++) {
      const burst = this.rng.next() < (this.opts.burstiness ?? 0.05);
      sym.book.mutate(burst ? this.rng.int(20, 150) : this.rng.int(1, 5));
      let again = false;
      for (const t of sym.topics) {
        if (t.subs.size === 0) continue;
        const frame = advanceTopic(t, this.opts.checksums ?? false, this.rng);
        if (frame === null) continue;
        if (t.faults.gap || t.faults.lostReset) {
          t.faults.gap = false;
          t.faults.lostReset = false;
          again = true; // lost: the book moved on
          continue;
        }
        this.publishWithFaults(t, frame);
        t.stale?.frames.push(frame);
      }
      if (!again) return;
    }
  }

  private publishWithFaults(t: { faults: OkxTopicSim["faults"]; subs: Set<OkxWs> }, frame: string): void {
    const f = t.faults;
    if (f.gap) {
      f.gap = false;
      return; // the book moved on; this message is lost
    }
    if (f.malformed) {
      f.malformed = false;
      frame = corruptFrame(frame, this.rng);
    }
    for (const ws of t.subs) this.sendRaw(ws, frame);
    if (f.duplicate) {
      f.duplicate = false;
      for (const ws of t.subs) this.sendRaw(ws, frame);
    }
  }

  private publish(t: { subs: Set<OkxWs> }, frame: string): void {
    for (const ws of t.subs) this.sendRaw(ws, frame);
  }

  private replayNext(r: OkxReplayTopic): void {
    if (r.cursor >= r.frames.length) return;
    let frame = r.frames[r.cursor++]!;
    r.apply(frame);
    if (r.faults.checksum) {
      r.faults.checksum = false;
      frame = frame.replace(/"checksum":(-?\d+)/, (_m, c: string) => `"checksum":${Number(c) ^ 1}`);
    }
    this.publishWithFaults(r, frame);
  }

  private sendRaw(ws: OkxWs, frame: string): void {
    const nowMonoMs = monoMs();
    if (nowMonoMs < this.stallUntilMs) return;
    ws.data.lastPushMs = nowMonoMs;
    ws.send(frame);
    this.stats.messagesSent++;
  }

  private onTick(): void {
    const nowMonoMs = monoMs(); // the clock of the pacing, the stalls, the idle close and the keepalive
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
      const active = [...this.symbols.values()].filter((s) => s.topics.some((t) => t.subs.size > 0) && nowMonoMs >= s.stalledUntilMs && this.trading(s.instId));
      const replaying = [...this.replay.values()].filter((r) => r.subs.size > 0 && r.cursor < r.frames.length && nowMonoMs >= r.stalledUntilMs);
      const n = active.length + replaying.length;
      while (this.stepBudget >= 1 && n > 0) {
        const k = this.rng.int(0, n - 1);
        if (k < active.length) this.stepSymbol(active[k]!);
        else this.replayNext(replaying[k - active.length]!);
        this.stepBudget--;
      }
    }
    // OKX breaks a connection after 30 s without subscription or data [F2]: a client that does not ping a quiet
    // connection (books' own keepalive comes only after ~60 s) loses it; the time this process was held up is not
    // counted (idle-close.ts).
    const idleMs = this.opts.idleCloseMs ?? 30_000;
    this.stats.idleCloses += closeIdle(this.conns, "lastPushMs", { nowMs: nowMonoMs, sinceTickMs: dt, tickMs: TICK_MS, idleMs, reason: "no subscription or data for 30 s" });
    const keepaliveMs = this.opts.keepaliveMs ?? 60_000;
    for (const t of this.topicsByName.values()) {
      if (!t.fullBook && t.subs.size > 0 && nowMonoMs - t.lastChangeMonoMs >= keepaliveMs && nowMonoMs >= t.sym.stalledUntilMs && this.trading(t.sym.instId)) {
        t.lastChangeMonoMs = nowMonoMs;
        this.publish(t, keepaliveFrame(t));
      }
    }
  }

  // ───────────────────────── protocol ─────────────────────────

  private error(ws: OkxWs, id: string | undefined, code: string, msg: string): void {
    this.stats.errorsSent++;
    this.sendRaw(ws, JSON.stringify({ ...(id ? { id } : {}), event: "error", code, msg, connId: ws.data.connId }));
  }

  private onClientMessage(ws: OkxWs, text: string): void {
    if (monoMs() < this.stallUntilMs) {
      this.stalledInbox.push({ ws, text });
      return;
    }
    if (text === "ping") {
      this.stats.pings++;
      ws.data.lastPushMs = monoMs();
      ws.send("pong");
      return;
    }
    let req: { id?: unknown; op?: unknown; args?: unknown };
    try {
      req = JSON.parse(text);
    } catch {
      this.error(ws, undefined, "60012", `Invalid request: ${text.slice(0, 100)}`);
      return;
    }
    // JSON that is no object (`null`, `5`) is a request without an op: 60012 below (before, `null` threw out of the
    // message handler, unanswered).
    if (typeof req !== "object" || req === null) req = {};
    const id = typeof req.id === "string" ? req.id : undefined;
    if ((req.op !== "subscribe" && req.op !== "unsubscribe") || !Array.isArray(req.args)) {
      this.error(ws, id, "60012", `Invalid request: ${text.slice(0, 100)}`);
      return;
    }
    const now = monoMs();
    const times = ws.data.requestTimesMs;
    while (times.length > 0 && now - times[0]! >= (this.opts.requestWindowMs ?? HOUR_MS)) times.shift();
    if (times.length >= (this.opts.requestsPerHour ?? REQUESTS_PER_HOUR)) {
      this.error(ws, id, "60014", "Requests too frequent.");
      return;
    }
    times.push(now);
    const args = req.args as { channel?: unknown; instId?: unknown }[];
    for (const a of args) {
      const channel = String(a?.channel);
      const instId = String(a?.instId);
      const fault = req.op === "subscribe" ? this.subscribeFaults.get(instId) : undefined;
      if (fault && fault.count > 0) {
        fault.count--;
        this.error(ws, id, fault.code, fault.msg);
        return;
      }
      if (channel === "books-l2-tbt" || channel === "books50-l2-tbt" || (req.op === "subscribe" && this.opts.vipOnly?.includes(instId))) {
        this.error(ws, id, "64003", `Your trading fee tier doesn't meet the requirement to access this channel: ${channel},instId:${instId}`);
        return;
      }
      if (depthOfChannel(channel) < 0 || (!this.symbols.has(instId) && !(channel === "books" && this.replay.has(instId)))) {
        this.error(ws, id, "60018", `Wrong URL or channel:${channel},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`);
        return;
      }
    }
    for (const a of args) {
      const channel = String(a.channel);
      const instId = String(a.instId);
      const name = `${channel}:${instId}`;
      this.sendRaw(ws, JSON.stringify({ ...(id ? { id } : {}), event: req.op, arg: { channel, instId }, connId: ws.data.connId }));
      if (req.op === "unsubscribe") {
        this.stats.unsubscribes++;
        this.detach(ws, name);
        ws.data.topics.delete(name);
        continue;
      }
      this.stats.subscribes++;
      ws.data.topics.add(name);
      const r = channel === "books" ? this.replay.get(instId) : undefined;
      if (r) {
        r.subs.add(ws);
        if (r.cursor > 0) this.sendRaw(ws, r.snapshotFrame());
        continue;
      }
      const t = this.topic(instId, depthOfChannel(channel));
      t.subs.add(ws);
      if (!this.trading(instId)) continue; // subscribed; an instId that does not trade sends nothing
      if (t.stale !== null) {
        // This socket starts behind the others: an old snapshot, then what they were sent since.
        for (const f of [t.stale.snapshot, ...t.stale.frames]) this.sendRaw(ws, f);
        t.stale = null;
        continue;
      }
      if (t.fullBook || (this.opts.initialSnapshot ?? true)) this.sendRaw(ws, snapshotFrame(t, this.opts.checksums ?? false, this.rng));
      // Without the snapshot, the first message is an update; a quiet book gets its keepalive at once (not after
      // ~60 s as on OKX), so a client can bridge without waiting for a change.
      else this.sendRaw(ws, keepaliveFrame(t));
    }
  }

  private detach(ws: OkxWs, name: string): void {
    this.topicsByName.get(name)?.subs.delete(ws);
    const colon = name.indexOf(":");
    if (name.slice(0, colon) === "books") this.replay.get(name.slice(colon + 1))?.subs.delete(ws);
  }

  // ───────────────────────── REST ─────────────────────────

  private instrumentsOk = true;
  /** The instruments endpoint's 429 answers (`POST /sim/instruments-limit`, rateLimitInstruments). */
  /** OKX's connect limit, 3 per second per IP [F2] (opts.connectLimit); `refused` counts the 429s. */
  readonly connectLimit: ConnectLimit;
  readonly instrumentsLimit = new RestLimitFault(JSON.stringify({ code: "50011", msg: "Too Many Requests", data: [] }));

  /** The next `count` instruments requests answer 429 (with Retry-After: `retryAfterS` when given). */
  rateLimitInstruments(count: number, retryAfterS?: number): void {
    this.instrumentsLimit.arm(count, retryAfterS);
  }
  /** Makes the instruments REST endpoint answer 503 (false) or normally (true): the venue's instrument REST down. */
  setInstrumentsAvailable(ok: boolean): void {
    this.instrumentsOk = ok;
  }

  /** instIds whose `state` is not live (setState). */
  private readonly states = new Map<string, string>();

  /**
   * A generated instId's `state` as instruments lists it: `live` (the default), or one that does not trade
   * (`suspend`, `rebase`, `test`): then it is silent (no updates, no keepalive, no snapshot on subscribe) until live again.
   */
  setState(instId: string, state: string): void {
    if (!this.symbols.has(instId)) throw new Error(`sim: ${instId} is not generated`);
    if (state === "live") this.states.delete(instId);
    else this.states.set(instId, state);
  }

  /** instIds listed with an `expTime` (setExpTime), in ms. */
  private readonly expTimes = new Map<string, number>();

  /**
   * Lists `expTime` (ms) for a generated instId, as OKX does for futures and options (delivery or exercise) and for a
   * delisting announced: from then on (by the `now` option's clock) it is not listed, as OKX removes it, and silent.
   */
  setExpTime(instId: string, atMs: number): void {
    if (!this.symbols.has(instId)) throw new Error(`sim: ${instId} is not generated`);
    this.expTimes.set(instId, atMs);
  }

  /** OKX's instruments limit is per IP and instType [F9]: one rate each. */
  private readonly instrumentsRates = new Map<string, RestRate>();
  private instrumentsRate(instType: string): RestRate {
    let r = this.instrumentsRates.get(instType);
    if (!r) this.instrumentsRates.set(instType, (r = new RestRate(this.instrumentsLimit, this.opts.instrumentsRate ?? [{ max: 20, windowMs: 2_000 }])));
    return r;
  }

  private trading(instId: string): boolean {
    return !this.states.has(instId) && (this.opts.now ?? Date.now)() < (this.expTimes.get(instId) ?? Infinity);
  }

  private instruments(url: URL): Response {
    this.stats.restRequests++;
    if (!this.instrumentsOk) return new Response("service unavailable", { status: 503 });
    const instType = url.searchParams.get("instType");
    const limited = this.instrumentsLimit.take() ?? this.instrumentsRate(instType ?? "").take((this.opts.restClock ?? monoMs)());
    if (limited) return limited;
    const family = url.searchParams.get("instFamily");
    if (instType === "OPTION" && !family) return Response.json({ code: "50014", msg: "Parameter instFamily can not be empty.", data: [] });
    if (!["SPOT", "SWAP", "FUTURES", "OPTION", "MARGIN"].includes(instType ?? "")) return Response.json({ code: "51000", msg: "Parameter instType error", data: [] });
    const data: Record<string, unknown>[] = [];
    const all: [MarketName, string, string, string][] = [
      ...[...this.symbols.values()].map((s) => [s.market, s.instId, s.book.spec.tickSize, s.book.spec.lotSize] as [MarketName, string, string, string]),
      ...[...this.replay.values()].map((r) => [r.market, r.instId, r.tickSize, r.lotSize] as [MarketName, string, string, string]),
    ];
    for (const [market, instId, tickSz, lotSz] of all) {
      const type = market === "spot" ? "SPOT" : market === "option" ? "OPTION" : instId.endsWith("-SWAP") ? "SWAP" : "FUTURES";
      if (type !== instType) continue;
      if (family && !instId.startsWith(family + "-")) continue;
      const now = (this.opts.now ?? Date.now)();
      const spec: Record<string, string> = { tickSz, lotSz };
      const upcChg: { param: string; newValue: string; effTime: string }[] = [];
      for (const c of this.changes.get(instId) ?? []) {
        if (c.effTimeMs <= now) spec[c.param] = c.newValue;
        else upcChg.push({ param: c.param, newValue: c.newValue, effTime: String(c.effTimeMs) });
      }
      const expTime = this.expTimes.get(instId);
      if (expTime !== undefined && now >= expTime) continue; // delivered or delisted: OKX lists it no more
      data.push({ instId, instType: type, tickSz: spec.tickSz, lotSz: spec.lotSz, state: this.states.get(instId) ?? "live", ctType: market === "linear" || market === "inverse" ? market : "", expTime: expTime === undefined ? "" : String(expTime), upcChg });
    }
    return Response.json({ code: "0", msg: "", data });
  }

  /** The REST book of a topic: its top `sz` levels per side (all of them by default) and its seqId. */
  private restBookText(t: OkxTopicSim, sz = Infinity): string {
    const lv = (l: { px: number[]; qty: number[] }, e: [number, number]) => l.px.slice(0, sz).map((p, i) => [formatPx(e[0], p), formatPx(e[1], l.qty[i]!), "0", "1"]);
    const e: [number, number] = [t.sym.book.priceExp, t.sym.book.qtyExp];
    return JSON.stringify({ code: "0", msg: "", data: [{ asks: lv(t.asks, e), bids: lv(t.bids, e), ts: String(Date.now()), seqId: t.seq }] });
  }

  private restBook(url: URL): Response {
    this.stats.restBooks++;
    const instId = url.searchParams.get("instId") ?? "";
    const fault = this.restFaults.get(instId);
    if (fault) {
      this.restFaults.delete(instId);
      if (fault.kind === "refuse") return new Response(JSON.stringify({ code: "50011", msg: "Too Many Requests", data: [] }), { status: 429, headers: { "content-type": "application/json" } });
      if (fault.frozen) return new Response(fault.frozen, { headers: { "content-type": "application/json" } });
    }
    if (!this.symbols.has(instId)) return Response.json({ code: "51001", msg: "Instrument ID does not exist", data: [] });
    // sz: levels per side, 1 when not given (OKX's default: a client that forgets it gets the best level only), ≤ 400.
    const szText = url.searchParams.get("sz");
    const sz = szText === null ? 1 : Number(szText);
    if (!(Number.isInteger(sz) && sz >= 1 && sz <= 400)) return Response.json({ code: "51000", msg: "Parameter sz error", data: [] });
    return new Response(this.restBookText(this.topic(instId, 400), sz), { headers: { "content-type": "application/json" } });
  }

  // ───────────────────────── control ─────────────────────────

  private async control(req: Request, url: URL): Promise<Response> {
    const p: Record<string, string> = Object.fromEntries(url.searchParams);
    if (req.method === "POST") {
      const body = await req.text();
      if (body.trim() !== "") {
        try {
          Object.assign(p, JSON.parse(body));
        } catch {
          return Response.json({ ok: false, field: "body", error: "body: not JSON" }, { status: 400 });
        }
      }
    }
    const bad = (field: string, error: string) => Response.json({ ok: false, field, error: `${field}: ${error}` }, { status: 400 });
    const symbol = p.symbol === undefined ? undefined : String(p.symbol);
    if (symbol !== undefined && !this.symbols.has(symbol) && !this.replay.has(symbol)) return bad("symbol", `${symbol} is not simulated`);
    switch (url.pathname) {
      case "/sim/fault": {
        const type = String(p.type) as OkxSimFault;
        if (!OKX_SIM_FAULTS.includes(type)) return bad("type", `one of ${OKX_SIM_FAULTS.join(", ")}`);
        const stallMs = p.stallMs === undefined ? undefined : Number(p.stallMs);
        if (stallMs !== undefined && !(Number.isInteger(stallMs) && stallMs > 0 && stallMs <= 3_600_000)) return bad("stallMs", "an integer in 1..3600000");
        const stampedBackMs = p.stampedBackMs === undefined ? undefined : Number(p.stampedBackMs);
        if (stampedBackMs !== undefined && !(type === "reset" && Number.isInteger(stampedBackMs) && stampedBackMs > 0 && stampedBackMs <= 3_600_000)) return bad("stampedBackMs", "with type=reset, an integer in 1..3600000");
        this.inject(type, symbol, { stallMs, stampedBackMs });
        return Response.json({ ok: true, type, symbol: symbol ?? "*" });
      }
      case "/sim/step": {
        const n = p.n === undefined ? 1 : Number(p.n);
        if (!(Number.isInteger(n) && n >= 1 && n <= 100_000)) return bad("n", "an integer in 1..100000");
        this.step(n);
        return Response.json({ ok: true, n });
      }
      case "/sim/rest": {
        const kind = String(p.fault);
        if (kind !== "refuse" && kind !== "no_bridge") return bad("fault", "refuse or no_bridge");
        if (symbol === undefined) return bad("symbol", "required");
        this.restFault(kind, symbol);
        return Response.json({ ok: true, fault: kind, symbol });
      }
      case "/sim/stats":
        return Response.json({ ok: true, stats: this.stats, topics: [...this.topicsByName.values()].map((t) => ({ topic: t.name, subscribers: t.subs.size, seqId: t.seq })), replay: [...this.replay.values()].map((r) => ({ topic: r.name, cursor: r.cursor, frames: r.frames.length, subscribers: r.subs.size })) });
      default:
        return bad("path", `unknown control endpoint ${url.pathname}`);
    }
  }

  /** True while a stall fault lasts. */
  get stalled(): boolean {
    return monoMs() < this.stallUntilMs;
  }

  /** Replayed instruments and their frame counts (printed by `feeder sim`). */
  replayTopics(): { instId: string; frames: number }[] {
    return [...this.replay.values()].map((r) => ({ instId: r.instId, frames: r.frames.length }));
  }

  /** The checksum the simulator would send for a topic now (tests). */
  checksumOf(instId: string): number {
    return windowChecksum(this.topic(instId, 400), true);
  }
}

/** Shortest decimal form of a mantissa (what OKX prints). */
function formatPx(exp: number, m: number): string {
  let s = String(m);
  if (exp === 0) return s;
  if (s.length <= exp) s = "0".repeat(exp - s.length + 1) + s;
  s = s.slice(0, s.length - exp) + "." + s.slice(s.length - exp);
  return s.replace(/0+$/, "").replace(/\.$/, "");
}
