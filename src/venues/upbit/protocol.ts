/**
 * Upbit and Bithumb protocol constants and hooks (docs/venues/upbit.md, docs/venues/bithumb.md: each fact with its
 * upstream source). Bithumb's public v1 WebSocket is Upbit-compatible; a VenueDialect holds what differs.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { ControlFrame, Keepalive, RequestProtocol } from "../common/hooks.ts";
import type { TopicState } from "../common/connection.ts";
import { cut } from "./parse-json.ts";
import { TS_UNIT_BY_MAGNITUDE } from "./scanner.ts";

/** `{code}.{units}`: 1, 5, 15, 30 since 2025-07-02; anything else becomes 30 (docs/venues/upbit.md). */
export const UPBIT_DEPTHS: readonly number[] = [1, 5, 15, 30];
export const UPBIT_DEFAULT_DEPTH = 30;

/** Units the venue sends for a depth it does not take (`KRW-BTC.10`, `.50`). */
const OTHER_DEPTH_UNITS = 30;

/**
 * The start-up warning for a depth outside UPBIT_DEPTHS (the config refuses one; an adapter built in code may have
 * it), saying what happens: below 30 every book is refused (`over_depth`), above it a book holds 30 levels at most.
 * Until 2026-12-07 it said "refused" for a depth above 30 too. Undefined for a depth the venue takes.
 */
export function unsupportedDepthWarning(depth: number): string | undefined {
  if (UPBIT_DEPTHS.includes(depth)) return undefined;
  const head = `depth not ${UPBIT_DEPTHS.slice(0, -1).join(", ")} or ${UPBIT_DEPTHS.at(-1)}; the venue sends ${OTHER_DEPTH_UNITS} units`;
  return depth < OTHER_DEPTH_UNITS ? `${head}, more than the depth ${depth}: every book refused (over_depth)` : `${head}: the book holds at most ${OTHER_DEPTH_UNITS} levels, not ${depth}`;
}
/** The idle close is documented at 120 s but seen at ~60 s: ping every 20 s, answer within 10 s. */
export const PING_INTERVAL_MS = 20_000;
export const PONG_TIMEOUT_MS = 10_000;
/** Codes per connection (not documented; keeps one request's text small and a bisect short). */
export const MAX_CODES_PER_CONNECTION = 100;
/** An error frame arrives right after the request it answers: a probe that draws none within this passed. */
export const ERROR_WAIT_MS = 1_000;
/**
 * A code silent this long is asked again (Upbit sends a book only on a change: quiet codes are common); a LIVE one that
 * answers stays LIVE, one that does not, or a book not LIVE, is stale (adapter.ts quiet).
 */
export const STALE_AFTER_MS = 30_000;
export const STALE_MIN_MS = 2_000;

export const PING_TEXT = "PING";

export const UPBIT_KEEPALIVE: Keepalive = { kind: "client_ping", intervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS, encodePing: () => PING_TEXT };

/** What differs between Upbit and Bithumb. */
export interface VenueDialect {
  readonly venue: "upbit" | "bithumb";
  /** Microseconds per `timestamp` unit: Upbit ms (1000); Bithumb ms or µs, read from each value (TS_UNIT_BY_MAGNITUDE, 0). */
  readonly tsUnitUs: number;
  /** Connects per window per IP (this process's share is taken of it). */
  readonly connectsPerWindow: number;
  readonly connectWindowMs: number;
  /** Upbit's /v1/orderbook/instruments gives the tick; Bithumb has no tick endpoint. */
  readonly tickEndpoint: boolean;
  /**
   * Each book's `level` is the level asked (Upbit: 0 when none), so one of another is refused (scanner.ts SCAN_ERR_LEVEL).
   * Bithumb: not checked (its doc's default level is 1, "the plain tick", and the adapter asks for none).
   */
  readonly echoesLevel: boolean;
}

/** Upbit: connects 5/s and 100/min per IP → 5 per 3 s satisfies both. */
export const UPBIT_DIALECT: VenueDialect = { venue: "upbit", tsUnitUs: 1000, connectsPerWindow: 5, connectWindowMs: 3_000, tickEndpoint: true, echoesLevel: true };
/** Bithumb: connection requests ≤ 10/s per IP (429 beyond, a 10-minute block if it persists): 8 per second. */
export const BITHUMB_DIALECT: VenueDialect = { venue: "bithumb", tsUnitUs: TS_UNIT_BY_MAGNITUDE, connectsPerWindow: 8, connectWindowMs: 1_000, tickEndpoint: false, echoesLevel: false };

/** The code as requested: `KRW-BTC.30` (upper case; the depth after a dot). */
export function requestCode(t: TopicState): string {
  return `${t.symbol.toUpperCase()}.${t.depth}`;
}

let ticketSeq = 0;

/**
 * One request carries the connection's whole code list (each request replaces the last). `level` > 0 asks for books
 * grouped into price units of that size (KRW codes only [U§2]); 0 (ungrouped, the venue's default) is not sent.
 */
export function encodeOrderbookRequest(topics: readonly TopicState[], level = 0): string {
  const codes = topics.map(requestCode);
  const type = level > 0 ? { type: "orderbook", codes, level } : { type: "orderbook", codes };
  return JSON.stringify([{ ticket: `feeder-${process.pid}-${++ticketSeq}` }, type, { format: "DEFAULT" }]);
}

/** `level`: grouped order books [U§2]; a number of KRW, 0 = ungrouped. Upbit's descriptor declares it per market. */
export const LEVEL_MAX = 1e12;
export const LEVEL_DECIMALS = 8;

/** Why a level does not suit a market's symbols (a level groups KRW books only; other codes would send nothing). */
export function levelProblem(level: number, symbols: readonly string[]): string | undefined {
  if (level === 0) return undefined;
  const other = symbols.map((s) => s.split("@")[0]!).filter((s) => !s.startsWith("KRW-"));
  if (other.length === 0) return undefined;
  return `0 while the market has codes outside KRW (${other.join(", ")}): Upbit groups KRW books only and sends no data for others asked with a level`;
}

/** The most of an error frame's `name` and `message` that is logged (and kept in a refusal's reason). */
export const ERROR_NAME_MAX = 40;
export const ERROR_MESSAGE_MAX = 160;

/**
 * `{"error":{"name","message"}}` → its name and message, cut to ERROR_NAME_MAX / ERROR_MESSAGE_MAX characters ("…"
 * after: they are the venue's text, of any length, and go to the log; until 2026-12-07 whole); undefined for
 * anything else.
 */
export function errorOf(msg: unknown): { name: string; message: string } | undefined {
  if (msg === null || typeof msg !== "object" || !("error" in msg)) return undefined;
  const e = (msg as { error: unknown }).error;
  if (e === null || typeof e !== "object") return { name: "UNKNOWN", message: cut(JSON.stringify(e) ?? "", ERROR_MESSAGE_MAX) };
  const o = e as Record<string, unknown>;
  return { name: cut(String(o.name ?? "UNKNOWN"), ERROR_NAME_MAX), message: cut(String(o.message ?? ""), ERROR_MESSAGE_MAX) };
}

/**
 * The RequestProtocol the common SubscriptionControl sees. Requests are sent by requests.ts (whole code lists, no
 * acks); here: `{"status":"UP"}` is the answer to `PING`.
 */
export function requestProtocol(venue: string, level = 0): RequestProtocol {
  return {
    venue,
    pacing: { perConnection: { capacity: 3, perSecond: 1.5 } }, // requests 5/s and 100/min per connection
    maxArgsPerRequest: (_m: MarketName) => MAX_CODES_PER_CONNECTION,
    encodeRequest: (_op, topics) => encodeOrderbookRequest(topics, level),
    classifyControl(msg: unknown): ControlFrame {
      if (msg !== null && typeof msg === "object" && (msg as { status?: unknown }).status === "UP") return { kind: "pong" };
      return { kind: "other" };
    },
    parseAckError: () => ({ kind: "other" }),
    rejectHint: () => `valid depths: ${UPBIT_DEPTHS.join(", ")}; codes are QUOTE-BASE in upper case`,
  };
}
