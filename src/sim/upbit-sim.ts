/**
 * An Upbit / Bithumb public order-book simulator (`feeder sim --venue upbit|bithumb`): Bun.serve on 127.0.0.1 with
 * the WebSocket `/websocket/v1` and the REST endpoints the adapter reads (`/v1/market/all`, `/v1/ticker`, and for
 * Upbit `/v1/orderbook/instruments`), speaking the protocol as docs/venues/upbit.md and bithumb.md describe it: one
 * request array `[{ticket},{type,codes},{format}]` replacing the last, codes `CODE.units` (1/5/15/30, others 30),
 * a SNAPSHOT per code at once then REALTIME ones, no ack, `{"error":{"name","message"}}` naming no market, text
 * `PING` → `{"status":"UP"}`, an idle connection closed (60 s with nothing either way), JSON in binary frames (Bithumb: text, binary or both), timestamps ms (both venues;
 * Bithumb's optionally µs, as also seen). Generated books (upbit-sim-book.ts) or a replayed recording; faults on demand, from code or over HTTP
 * (POST /sim/fault, /sim/step; GET /sim/stats). A test tool: cold code.
 * @module
 */
import type { Server, ServerWebSocket } from "bun";
import { readFileSync } from "node:fs";
import { monoMs } from "../core/clock.ts"; // every deadline, interval and rate window: a wall-clock step neither stretches nor ends one (Date.now only for times sent)
import { exponentOf, formatFixed, parseFixed } from "../core/fixed.ts";
import { CodeBook, defaultCodeSpec, type CodeSpec, type Unit } from "./upbit-sim-book.ts";
import { arrivalAllowanceMs, ConnectLimit, type ConnectWindow } from "./connect-limit.ts";
import { closeIdle } from "./idle-close.ts";
import { Rng } from "./rng.ts";

export type UpbitSimFault = "disconnect" | "stall" | "malformed" | "duplicate" | "older" | "zero_size" | "error_frame" | "429";
export const UPBIT_SIM_FAULTS: readonly UpbitSimFault[] = ["disconnect", "stall", "malformed", "duplicate", "older", "zero_size", "error_frame", "429"];

export interface UpbitSimOptions {
  venue: "upbit" | "bithumb";
  port?: number;
  codes: string[];
  /** Book messages per second across subscribed codes; 0 = only step(). */
  messagesPerSecond?: number;
  seed?: number;
  /** Frames: binary (Upbit's), text, or alternating (Bithumb: both seen). Default binary for Upbit, mixed for Bithumb. */
  frames?: "binary" | "text" | "mixed";
  /** A recording to replay (cryptofeed `ts: b'…'` lines or one JSON frame per line); its codes are served as recorded. */
  replayFile?: string;
  specs?: Record<string, CodeSpec>;
  /** Bithumb only: timestamps in µs instead of ms (its samples and docs say ms; µs was also seen). */
  timestampsUs?: boolean;
  /**
   * A connection with nothing sent either way for this long (no request, `PING`, WebSocket ping or book) is closed:
   * Upbit and Bithumb document an idle close at 120 s, seen at ~60 s (default 60 000).
   */
  idleCloseMs?: number;
  /**
   * Quiet codes: their books never move, so (as Upbit, which sends a book only on a change) they send nothing but the
   * SNAPSHOT a request asks for (step() still moves them).
   */
  quiet?: string[];
  /**
   * Connects allowed per IP (connect-limit.ts; default Upbit's 5 per second and 100 per minute [U§3], Bithumb's 10
   * per second [B§3]); past it the upgrade is a 429.
   */
  connectLimit?: ConnectWindow[];
}

export interface UpbitSimStats {
  connections: number;
  connectionsTotal: number;
  requests: number;
  errorsSent: number;
  pings: number;
  messagesSent: number;
  refused429: number;
  /** Upgrades that carried an Origin header (Upbit limits those to 1 request per 10 s; clients must send none). */
  originHeaders: number;
  restRequests: number;
  /** Books sent with a level of size 0 (the zero_size fault), so a test knows the fault was served. */
  zeroSizeSent: number;
  /** Connections closed for idling (idleCloseMs). */
  idleCloses: number;
  /**
   * Requests (PING aside) beyond Upbit's data-request limit on their connection, 5 in any second or 100 in any minute
   * [U§3]; counted, not enforced. Each window is counted shorter (arrivalAllowanceMs) as it sees arrivals, not sends.
   */
  overRate: number;
}

interface Conn {
  id: number;
  /** code → units requested. */
  subs: Map<string, number>;
  simple: boolean;
  sent: number;
  /** The request's `level` (grouped books; 0 when absent), echoed in every frame's `level`; Upbit's books are grouped by it. */
  level: number;
  /** When anything last went either way on the connection (at first: when it opened), monoMs. */
  lastActiveMs: number;
  /** Arrival times of its requests in the last (counted) minute, monoMs: stats.overRate. */
  requestTimesMs?: number[];
}
type Ws = ServerWebSocket<Conn>;

const TICK_MS = 10;

export interface UpbitSim {
  readonly wsUrl: string;
  readonly restUrl: string;
  readonly stats: UpbitSimStats;
  /** The per-IP connect limit enforced on upgrades (connect-limit.ts; `refused` counts the 429s). */
  readonly connectLimit: ConnectLimit;
  /**
   * n messages of every subscribed code, or of `code` alone (a still market where one code moves: a quiet test's);
   * throws for a `code` it neither generates nor replays.
   */
  step(n?: number, code?: string): void;
  inject(fault: UpbitSimFault, code?: string, opts?: { stallMs?: number; count?: number }): void;
  /** The book a client subscribed at `depth` (and `level`, Upbit's grouping; 0 = none) should hold, as decimal strings, and its timestamp. */
  book(code: string, depth: number, level?: number): { bids: Map<string, string>; asks: Map<string, string>; ts: number };
  /** Codes that are subscribed on some connection now. */
  subscribed(): string[];
  /** The codes the replayed recording serves, with their frames (none without replayFile). */
  replayCodes(): { code: string; frames: number }[];
  setRestAvailable(ok: boolean): void;
  /**
   * Delists a generated code (false): `/v1/market/all` leaves it out and it sends nothing, not even the SNAPSHOT a
   * request asks for; listed again (true), a request gets its SNAPSHOT and its books go on.
   */
  setListed(code: string, listed: boolean): void;
  stop(): Promise<void>;
}

export async function startUpbitSimulator(opts: UpbitSimOptions): Promise<UpbitSim> {
  const sim = new UpbitSimulator(opts);
  await sim.start();
  return sim;
}

class UpbitSimulator implements UpbitSim {
  replayCodes(): { code: string; frames: number }[] {
    return [...this.replay].map(([code, frames]) => ({ code, frames: frames.length }));
  }

  readonly stats: UpbitSimStats = { connections: 0, connectionsTotal: 0, requests: 0, errorsSent: 0, pings: 0, messagesSent: 0, refused429: 0, originHeaders: 0, restRequests: 0, zeroSizeSent: 0, idleCloses: 0, overRate: 0 };
  private server: Server<Conn> | null = null;
  private readonly rng: Rng;
  private readonly books = new Map<string, CodeBook>();
  private readonly replay = new Map<string, string[]>();
  private readonly replayPos = new Map<string, number>();
  private readonly conns = new Set<Ws>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private budget = 0;
  private lastTickMs = 0;
  private stallUntilMs = 0; // on monoMs, as every stall deadline here
  private refuseUpgrades = 0;
  readonly connectLimit: ConnectLimit;
  private readonly badCodes = new Set<string>();
  private restOk = true;
  private connSeq = 0;
  private readonly tsUnit: number;
  private readonly qe: number;

  constructor(private readonly opts: UpbitSimOptions) {
    const upbitLimit = [
      { max: 5, windowMs: 1_000 },
      { max: 100, windowMs: 60_000 },
    ];
    this.connectLimit = new ConnectLimit(opts.connectLimit ?? (opts.venue === "upbit" ? upbitLimit : [{ max: 10, windowMs: 1_000 }]));
    this.rng = new Rng(opts.seed ?? 1);
    this.tsUnit = opts.venue === "bithumb" && opts.timestampsUs === true ? 1000 : 1;
    this.qe = opts.venue === "upbit" ? 8 : 4; // Bithumb sizes carry at most 4 decimals
    const t0 = 1_786_613_100_000 * this.tsUnit;
    for (const code of opts.codes) this.books.set(code, new CodeBook(code, opts.specs?.[code] ?? defaultCodeSpec(code), this.qe, t0, this.rng));
    if (opts.replayFile) for (const [code, frames] of loadRecording(opts.replayFile)) this.replay.set(code, frames);
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.server!.port}/websocket/v1`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.server!.port}`;
  }

  async start(): Promise<void> {
    this.server = Bun.serve<Conn>({
      hostname: "127.0.0.1",
      port: this.opts.port ?? 0,
      fetch: (req, server) => {
        const url = new URL(req.url);
        if (url.pathname === "/websocket/v1") {
          if (this.refuseUpgrades > 0) {
            this.refuseUpgrades--;
            this.stats.refused429++;
            return new Response("Too Many Requests", { status: 429 });
          }
          const refused = this.connectLimit.admit(monoMs());
          if (refused) return refused;
          if (req.headers.has("origin")) this.stats.originHeaders++;
          if (server.upgrade(req, { data: { id: ++this.connSeq, subs: new Map(), simple: false, sent: 0, level: 0, lastActiveMs: monoMs() } })) return undefined;
          return new Response("expected a WebSocket upgrade", { status: 400 });
        }
        if (url.pathname.startsWith("/v1/")) return this.rest(url);
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
        message: (ws, m) => this.onMessage(ws, typeof m === "string" ? m : new TextDecoder().decode(m)),
        ping: (ws) => void (ws.data.lastActiveMs = monoMs()), // a WebSocket ping keeps it too (Bun answers it)
        close: (ws) => {
          this.conns.delete(ws);
          this.stats.connections--;
        },
      },
    });
    this.lastTickMs = monoMs();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const ws of this.conns) ws.terminate();
    await this.server?.stop(true);
    this.server = null;
  }

  private tick(): void {
    const now = monoMs(); // the clock of the idle close, the pacing and the stall
    // The idle close counts the time this process ran, not the time it was held up (idle-close.ts).
    const dt = now - this.lastTickMs;
    const idleMs = this.opts.idleCloseMs ?? 60_000;
    this.stats.idleCloses += closeIdle(this.conns, "lastActiveMs", { nowMs: now, sinceTickMs: dt, tickMs: TICK_MS, idleMs, reason: "idle" });
    const rate = this.opts.messagesPerSecond ?? 0;
    if (rate <= 0 || now < this.stallUntilMs) {
      this.lastTickMs = now;
      return;
    }
    // At most 1 s of backlog (never less than one book, or a rate below 1/s never sent one), as the other simulators'
    // budgets: until s-rd19d a wall-clock step ahead of an hour sent an hour's books in one tick, one back nothing for
    // an hour; on the monotonic clock since 2026-12-07, a step neither adds nor takes away.
    this.budget = Math.min(this.budget + (Math.max(0, now - this.lastTickMs) / 1000) * rate, Math.max(1, rate));
    this.lastTickMs = now;
    const quiet = this.opts.quiet ?? [];
    const codes = this.subscribed().filter((c) => !quiet.includes(c));
    while (this.budget >= 1 && codes.length > 0) {
      this.budget--;
      this.stepCode(codes[this.rng.int(0, codes.length - 1)]!);
    }
    if (codes.length === 0) this.budget = 0;
  }

  // ───────────────────────── REST ─────────────────────────

  private rest(url: URL): Response {
    this.stats.restRequests++;
    if (!this.restOk) return new Response("service unavailable", { status: 503 });
    const all = [...this.books.keys(), ...this.replay.keys()].filter((c) => !this.delisted.has(c));
    const asked = (url.searchParams.get("markets") ?? "").split(",").filter((c) => all.includes(c));
    const spec = (c: string) => this.books.get(c)?.spec ?? defaultCodeSpec(c);
    if (url.pathname === "/v1/market/all") return Response.json(all.map((market) => ({ market, korean_name: market, english_name: market })));
    if (url.pathname === "/v1/ticker") return Response.json(asked.map((market) => ({ market, trade_price: spec(market).price })));
    if (url.pathname === "/v1/orderbook/instruments" && this.opts.venue === "upbit") {
      return Response.json(asked.map((market) => ({ market, quote_currency: market.split("-")[0], tick_size: spec(market).tick, supported_levels: supportedLevels(market, spec(market).tick) })));
    }
    return Response.json({ error: { name: "NOT_FOUND", message: "no such endpoint" } }, { status: 404 });
  }

  setRestAvailable(ok: boolean): void {
    this.restOk = ok;
  }

  /** Codes delisted by setListed(…, false). */
  private readonly delisted = new Set<string>();

  setListed(code: string, listed: boolean): void {
    if (!this.books.has(code)) throw new Error(`sim: ${code} is not generated`);
    if (listed) this.delisted.delete(code);
    else this.delisted.add(code);
  }

  // ───────────────────────── WebSocket ─────────────────────────

  private onMessage(ws: Ws, text: string): void {
    ws.data.lastActiveMs = monoMs();
    if (monoMs() < this.stallUntilMs) return; // a stalled server answers nothing
    if (text === "PING") {
      this.stats.pings++;
      ws.send(JSON.stringify({ status: "UP" }));
      return;
    }
    this.stats.requests++;
    this.countRequest(ws.data);
    const err = this.applyRequest(ws, text);
    if (err) {
      this.stats.errorsSent++;
      ws.send(this.encode(ws, JSON.stringify({ error: err })));
    }
  }

  /** Counts a request against the connection's 5 per second and 100 per minute (stats.overRate). */
  private countRequest(c: Conn): void {
    const now = monoMs();
    const times = (c.requestTimesMs ??= []);
    while (times.length > 0 && now - times[0]! >= 60_000 - arrivalAllowanceMs(60_000)) times.shift();
    let lastSecond = 0;
    for (let i = times.length - 1; i >= 0 && now - times[i]! < 1_000 - arrivalAllowanceMs(1_000); i--) lastSecond++;
    if (lastSecond >= 5 || times.length >= 100) this.stats.overRate++;
    times.push(now);
  }

  /** Validates a request like the venue: an error names no market; a good request replaces the subscription. */
  private applyRequest(ws: Ws, text: string): { name: string; message: string } | undefined {
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return { name: "WRONG_FORMAT", message: "잘못된 형식의 요청입니다." };
    }
    if (!Array.isArray(req)) return { name: "WRONG_FORMAT", message: "request must be an array" };
    if (!req.some((o) => o && typeof o === "object" && typeof o.ticket === "string")) return { name: "NO_TICKET", message: "ticket missing" };
    const types = req.filter((o) => o && typeof o === "object" && "type" in o);
    if (types.length === 0) return { name: "NO_TYPE", message: "type missing" };
    const subs = new Map<string, number>();
    let level = 0;
    for (const t of types) {
      if (t.type !== "orderbook") continue;
      if (t.level !== undefined) {
        if (typeof t.level !== "number" || !(t.level >= 0)) return { name: "INVALID_PARAM", message: "level must be a number ≥ 0" };
        level = t.level;
      }
      if (!Array.isArray(t.codes) || t.codes.length === 0) return { name: "NO_CODES", message: "codes missing" };
      for (const c of t.codes as unknown[]) {
        if (typeof c !== "string" || c !== c.toUpperCase()) return { name: "INVALID_PARAM", message: "codes must be upper case" };
        const [code, unitsText] = c.split(".");
        if (this.badCodes.has(code!)) return { name: "INVALID_PARAM", message: "잘못된 파라미터입니다." };
        const units = Number(unitsText ?? "30");
        subs.set(code!, [1, 5, 15, 30].includes(units) ? units : 30);
      }
    }
    const format = req.find((o) => o && typeof o === "object" && "format" in o)?.format ?? "DEFAULT";
    ws.data.simple = format === "SIMPLE";
    ws.data.subs = subs;
    ws.data.level = level;
    // A SNAPSHOT of each code at once (codes the venue does not list, or asked with a level they do not support, send nothing).
    for (const [code, units] of subs) {
      const b = this.books.get(code);
      if (b && !this.delisted.has(code) && this.levelServed(ws, code)) this.sendTo(ws, b.frame(units, ws.data.simple, "SNAPSHOT", this.level(ws), this.unitsFor(ws, b)));
    }
    return undefined;
  }

  private level(ws: Ws): number {
    return this.opts.venue === "bithumb" ? 1 : ws.data.level;
  }

  /** The units this connection gets: grouped by its requested level (Upbit; Bithumb's echoed 1 is no grouping). */
  private unitsFor(ws: Ws, b: CodeBook, units = b.units): Unit[] {
    return this.opts.venue === "bithumb" ? units : b.grouped(ws.data.level, units);
  }

  private encode(ws: Ws, text: string): string | Uint8Array {
    const mode = this.opts.frames ?? (this.opts.venue === "upbit" ? "binary" : "mixed");
    const binary = mode === "binary" || (mode === "mixed" && ws.data.sent % 2 === 0);
    return binary ? new TextEncoder().encode(text) : text;
  }

  private sendTo(ws: Ws, text: string): void {
    if (monoMs() < this.stallUntilMs) return; // a stalled server sends nothing
    ws.data.sent++;
    ws.data.lastActiveMs = monoMs();
    this.stats.messagesSent++;
    ws.send(this.encode(ws, text));
  }

  private subscribersOf(code: string): Ws[] {
    return [...this.conns].filter((ws) => ws.data.subs.has(code) && this.levelServed(ws, code));
  }

  /**
   * Whether Upbit sends a code's books to this connection: asked with level 0, or with one of the code's
   * supported_levels; another level gets no data at all [U§2] (before, every level was served, grouped).
   * Bithumb's level is only echoed.
   */
  private levelServed(ws: Ws, code: string): boolean {
    if (this.opts.venue === "bithumb" || ws.data.level === 0) return true;
    const tick = (this.books.get(code)?.spec ?? defaultCodeSpec(code)).tick;
    return supportedLevels(code, tick).map(Number).includes(ws.data.level);
  }

  subscribed(): string[] {
    const out = new Set<string>();
    for (const ws of this.conns) for (const c of ws.data.subs.keys()) out.add(c);
    return [...out];
  }

  /** The next message of one code to its subscribers. */
  private stepCode(code: string): void {
    if (this.delisted.has(code)) return; // delisted: silent
    const b = this.books.get(code);
    if (!b) {
      const frames = this.replay.get(code);
      if (!frames) return;
      const i = this.replayPos.get(code) ?? 0;
      if (i >= frames.length) return;
      this.replayPos.set(code, i + 1);
      for (const ws of this.subscribersOf(code)) this.sendTo(ws, frames[i]!);
      return;
    }
    b.ts += 100 * this.tsUnit; // Upbit's timestamps sit on a 100 ms grid
    const zero = b.zeroNext;
    b.regenerate();
    for (const ws of this.subscribersOf(code)) {
      this.sendTo(ws, b.frame(ws.data.subs.get(code)!, ws.data.simple, "REALTIME", this.level(ws), this.unitsFor(ws, b)));
      if (zero) this.stats.zeroSizeSent++;
    }
  }

  /**
   * n messages of every subscribed code (or of `code`, if subscribed); none while stalled (the books do not move, as in
   * the Bybit simulator). A `code` neither generated nor replayed throws: a typo would move nothing, silently.
   */
  step(n = 1, code?: string): void {
    if (code !== undefined && !this.books.has(code) && !this.replay.has(code)) {
      const served = [...this.books.keys()].join(", ") + (this.replay.size > 0 ? `; replayed: ${[...this.replay.keys()].join(", ")}` : "");
      throw new Error(`sim: step: ${JSON.stringify(code)} is no code this simulator serves (generated: ${served})`);
    }
    if (monoMs() < this.stallUntilMs) return;
    const codes = this.subscribed().filter((c) => code === undefined || c === code);
    for (let k = 0; k < n; k++) for (const c of codes) this.stepCode(c);
  }

  book(code: string, depth: number, level = 0): { bids: Map<string, string>; asks: Map<string, string>; ts: number } {
    const b = this.books.get(code);
    if (!b) throw new Error(`sim: ${code} is not generated`);
    return { ...b.book(depth, this.opts.venue === "bithumb" ? b.units : b.grouped(level)), ts: b.ts };
  }

  inject(fault: UpbitSimFault, code?: string, opts: { stallMs?: number; count?: number } = {}): void {
    const targets = code === undefined ? this.subscribed() : [code];
    switch (fault) {
      case "disconnect":
        for (const ws of this.conns) if (code === undefined || ws.data.subs.has(code)) ws.terminate();
        return;
      case "stall":
        this.stallUntilMs = monoMs() + (opts.stallMs ?? 5000);
        return;
      case "429":
        this.refuseUpgrades += opts.count ?? 1;
        return;
      case "error_frame":
        if (code !== undefined) this.badCodes.add(code); // requests naming it are refused from now on
        // Through sendTo as every pushed frame: it counts as activity for the idle close (and waits out a stall).
        else for (const ws of this.conns) this.sendTo(ws, JSON.stringify({ error: { name: "INVALID_PARAM", message: "잘못된 파라미터입니다." } }));
        return;
      case "zero_size":
        for (const c of targets) {
          const b = this.books.get(c);
          if (b) b.zeroNext = true;
        }
        return;
    }
    for (const c of targets) {
      const b = this.books.get(c);
      if (!b) continue;
      for (const ws of this.subscribersOf(c)) {
        const depth = ws.data.subs.get(c)!;
        if (fault === "duplicate") this.sendTo(ws, b.frame(depth, ws.data.simple, "REALTIME", this.level(ws), this.unitsFor(ws, b)));
        else if (fault === "malformed") {
          // Cut short after the code, so the client can tell whose book it was.
          let f = b.frame(depth, ws.data.simple, "REALTIME", this.level(ws));
          while (!/^\{"(ty|type)":"orderbook","(cd|code)"/.test(f)) f = b.frame(depth, ws.data.simple, "REALTIME", this.level(ws));
          this.sendTo(ws, f.slice(0, 120));
        }
        else if (fault === "older") {
          // A different book stamped before the last one: a client must ignore it.
          const units = b.units.map((u) => ({ ...u, as: u.as + 1 }));
          this.sendTo(ws, b.frame(depth, ws.data.simple, "REALTIME", this.level(ws), this.unitsFor(ws, b, units), b.ts - 100 * this.tsUnit));
        }
      }
    }
  }

  /** POST /sim/fault?type=…&code=…&stallMs=…&count=…, POST /sim/step?n=…, GET /sim/stats. */
  private control(req: Request, url: URL): Response {
    const p = url.searchParams;
    if (url.pathname === "/sim/stats") return Response.json({ ok: true, stats: this.stats, subscribed: this.subscribed() });
    if (req.method !== "POST") return Response.json({ ok: false, error: "use POST" }, { status: 405 });
    if (url.pathname === "/sim/step") {
      const n = Number(p.get("n") ?? "1");
      if (!Number.isInteger(n) || n < 1 || n > 100_000) return Response.json({ ok: false, field: "n", error: "n: an integer in 1..100000" }, { status: 400 });
      this.step(n);
      return Response.json({ ok: true });
    }
    if (url.pathname === "/sim/fault") {
      const type = p.get("type") as UpbitSimFault;
      if (!UPBIT_SIM_FAULTS.includes(type)) return Response.json({ ok: false, field: "type", error: `type: one of ${UPBIT_SIM_FAULTS.join(", ")}` }, { status: 400 });
      const code = p.get("code") ?? undefined;
      if (code !== undefined && !this.books.has(code)) return Response.json({ ok: false, field: "code", error: `code: not generated: ${code}` }, { status: 400 });
      // Checked before use: a count that is not a number made the 429 fault's counter NaN, silently off for good.
      const opts: { stallMs?: number; count?: number } = {};
      for (const [field, max] of [["stallMs", 3_600_000], ["count", 1_000]] as const) {
        if (!p.has(field)) continue;
        const v = Number(p.get(field));
        if (!Number.isInteger(v) || v < 1 || v > max) return Response.json({ ok: false, field, error: `${field}: an integer in 1..${max}, got ${JSON.stringify(p.get(field))}` }, { status: 400 });
        opts[field] = v;
      }
      this.inject(type, code, opts);
      return Response.json({ ok: true });
    }
    return Response.json({ ok: false, error: "not found" }, { status: 404 });
  }
}

/**
 * Grouping units the simulator lists: KRW codes take 10, 100, 1000 and 10 000 ticks besides 0; others only 0 [U§2].
 * Multiplied as mantissas: as doubles a 0.000001 tick gave "0.000009999999999999999", which no configured level equals.
 */
export function supportedLevels(code: string, tick: string): string[] {
  if (!code.startsWith("KRW-")) return ["0"];
  const exp = exponentOf(tick);
  const m = parseFixed(tick, exp);
  return ["0", ...[10, 100, 1000, 10_000].map((k) => formatFixed(m * k, exp).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, ""))];
}

/**
 * A recording's orderbook frames per code: cryptofeed lines (`ts: b'…'`) or one JSON frame per line. A line that is
 * not JSON has no code to be served under and is skipped, counted in one warning naming the file and the first one
 * (as the other simulators' loaders do; before, without a word, or a truncated frame served as a book).
 */
export function loadRecording(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let notJson = 0;
  let firstNotJsonLine = 0;
  for (const [i, line] of readFileSync(path, "utf8").split(/\r?\n/).entries()) {
    if (line.trim() === "" || /^wss?:\/\//.test(line)) continue; // cryptofeed's connection and request lines
    const text = /^\d+(?:\.\d+)?: b'(.*)'$/.exec(line)?.[1] ?? line;
    try {
      JSON.parse(text);
    } catch {
      if (notJson++ === 0) firstNotJsonLine = i + 1;
      continue;
    }
    const code = /"(?:cd|code)":"([A-Z0-9-]+)"/.exec(text)?.[1];
    if (!code || !/"(?:ty|type)":"orderbook"/.test(text)) continue;
    const list = out.get(code) ?? [];
    list.push(text);
    out.set(code, list);
  }
  if (notJson > 0) process.emitWarning(`sim: replay ${path}: ${notJson} line(s) that are not JSON skipped (the first: line ${firstNotJsonLine})`);
  return out;
}
