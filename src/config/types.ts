/**
 * The validated, resolved configuration (see config/load.ts for the TOML keys and their defaults).
 * @module
 */
import type { MarketName, VenueName } from "../core/types.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "auto" | "json" | "pretty";

export interface MarketConfig {
  readonly market: MarketName;
  /** Order-book depth topic, e.g. 50 → `orderbook.50.SYMBOL`. */
  readonly depth: number;
  readonly symbols: readonly string[];
  /**
   * How long a subscribed topic may stay silent before its book is marked stale and resynced; absent or 0 = the
   * venue adapter's default for the depth (Bybit: docs/venues/bybit.md, "Staleness").
   */
  readonly staleAfterMs?: number;
}

export interface InstrumentOverride {
  readonly tickSize: string;
  readonly lotSize: string;
}

export interface VenueConfig {
  readonly venue: VenueName;
  /** Base WebSocket URL; the market name is appended as a path segment (`…/v5/public` + `/linear`). */
  readonly wsUrl: string;
  /** Base REST URL for instrument metadata. */
  readonly restUrl: string;
  /** File caching instrument metadata so a restart works while REST is unreachable. */
  readonly instrumentCachePath: string;
  readonly markets: readonly MarketConfig[];
  /** Per-symbol tick/lot overrides, keyed "market:SYMBOL". */
  readonly overrides: ReadonlyMap<string, InstrumentOverride>;
}

export interface DestinationRule {
  readonly venue: string; // "*" = any
  readonly market: string; // "*" = any
  readonly symbols: readonly string[]; // ["*"] = any
}

export interface DestinationConfig {
  readonly name: string;
  readonly group: string;
  readonly port: number;
  /** Local interface address for IP_MULTICAST_IF. */
  readonly iface: string;
  readonly ttl: number;
  /** Channel id in the packet header; each destination has its own sequence space. */
  readonly channelId: number;
  readonly match: DestinationRule;
}

export interface PublishConfig {
  readonly maxDatagramBytes: number;
  readonly heartbeatIntervalMs: number;
  /** Periodic full-book refresh for late joiners; 0 disables. */
  readonly snapshotIntervalMs: number;
  /** Levels per side in snapshots; 0 = the whole book. */
  readonly snapshotDepth: number;
  /** sourceId in every packet header (u16, default 0); each worker adds its number (1-based), see docs/operations.md. */
  readonly sourceId?: number;
  /** HMAC key file: when set, every datagram is AUTHENTICATED (docs/wire-protocol.md §3.3). Read at start. */
  readonly authKeyFile?: string | undefined;
  readonly destinations: readonly DestinationConfig[];
}

export interface HttpConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /** Binding beyond loopback must be asked for explicitly. */
  readonly allowNonLoopback: boolean;
  /** When set, every request but /healthz needs `Authorization: Bearer <token>`. */
  readonly bearerToken: string | undefined;
}

export interface FeederConfig {
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  readonly http: HttpConfig;
  readonly publish: PublishConfig;
  readonly venues: readonly VenueConfig[];
  readonly workers: number;
  /** This instance's share of the configured symbols: index i of n (0 ≤ i < n). */
  readonly shard: { readonly index: number; readonly count: number };
}
