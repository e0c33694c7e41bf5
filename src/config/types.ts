/**
 * The validated, resolved configuration (see config/load.ts for the TOML keys and their defaults).
 * @module
 */
import type { MarketName, VenueName } from "../core/types.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "auto" | "json" | "pretty";

export interface MarketConfig {
  readonly market: MarketName;
  /** Order-book depth of the market's channel, e.g. 50 → Bybit `orderbook.50.SYMBOL`; 0 = the venue's full book. */
  readonly depth: number;
  /**
   * Venue symbols; `SYMBOL@depth` adds a further depth of a symbol beside the market's (published as its own
   * instrument `SYMBOL@depth`, see venues/venue.ts instrumentSymbolOf).
   */
  readonly symbols: readonly string[];
  /** This market's WebSocket URL; absent = the venue's rule on VenueConfig.wsUrl (Bybit: `…/v5/public/<market>`). */
  readonly wsUrl?: string;
  /** This market's REST base; absent = VenueConfig.restUrl (Binance spot and USD-M are different hosts). */
  readonly restUrl?: string;
  /**
   * How long a subscribed topic may stay silent before its book is marked stale and resynced; absent or 0 = the
   * venue adapter's default for the depth (Bybit: docs/venues/bybit.md, "Staleness").
   */
  readonly staleAfterMs?: number;
  /**
   * Symbols per WebSocket connection, for venues that take it (Coinbase: its sequence_num counts per connection, so a
   * gap resyncs every book on it); absent = the venue's default.
   */
  readonly symbolsPerConnection?: number;
  /**
   * The venue's own keys of this market (registry MarketSpec.options: Deribit `interval`, Upbit `level`), every one
   * the venue declares, defaults filled in; absent for venues without any.
   */
  readonly options?: Readonly<Record<string, string | number>>;
}

export interface InstrumentOverride {
  readonly tickSize: string;
  readonly lotSize: string;
}

export interface VenueConfig {
  readonly venue: VenueName;
  /** Venue-level WebSocket URL; a market without its own `wsUrl` derives its URL from it (registry MarketSpec). */
  readonly wsUrl: string;
  /** Venue-level REST base for instrument metadata and snapshots; a market's `restUrl` wins. */
  readonly restUrl: string;
  /** File caching instrument metadata so a restart works while REST is unreachable. */
  readonly instrumentCachePath: string;
  readonly markets: readonly MarketConfig[];
  /** Per-symbol tick/lot overrides, keyed "market:SYMBOL". */
  readonly overrides: ReadonlyMap<string, InstrumentOverride>;
  /** Nothing received on a connection for this long: it is dead (absent: the layer's 7 s). */
  readonly deadConnectionMs?: number;
  /** Reload each market's instruments this often (0 = never; absent: the venue layer's 1 hour). */
  readonly instrumentReloadMs?: number;
  /**
   * OKX, Binance: bytes the REST bridges' buffered updates of all the adapter's books may take together (absent: the
   * adapter's 256 MiB, common/rest-bridge.ts DEFAULT_MAX_BUFFERED_BYTES); an adapter option maxBufferedBytes wins.
   */
  readonly restBridgeBufferBytes?: number;
}

export interface DestinationRule {
  readonly venue: string; // "*" = any
  readonly market: string; // "*" = any
  readonly symbols: readonly string[]; // ["*"] = any
}

/** One receiver of a unicast destination. */
export interface UnicastReceiver {
  readonly host: string;
  readonly port: number;
}

export interface DestinationConfig {
  readonly name: string;
  /** Multicast group; undefined for a unicast destination (then `receivers`). */
  readonly group?: string | undefined;
  /** Multicast port (a unicast destination's is 0: each receiver has its own). */
  readonly port: number;
  /**
   * Unicast destination (networks without multicast): the same datagrams go to each of these `host:port`
   * receivers, one sendMany for all. Undefined for a multicast destination.
   */
  readonly receivers?: readonly UnicastReceiver[] | undefined;
  /** Local interface address: IP_MULTICAST_IF for a group; the address sent from for unicast receivers. */
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
  /**
   * Packet header source id of this instance (workers: sourceId + worker index + 1). Optional only so hand-built
   * configs stay short; validateConfig always sets it (default 0).
   */
  readonly sourceId?: number;
  /**
   * Before the first datagram, listen this long on every own group for another publisher of our streams; 0 = no
   * window. validateConfig always sets it (default 1.5 × heartbeatIntervalMs).
   */
  readonly startupListenMs?: number;
  /** HMAC key file: when set, every datagram is AUTHENTICATED (docs/wire-protocol.md §3.3). Read at start. */
  readonly authKeyFile?: string | undefined;
  readonly destinations: readonly DestinationConfig[];
  /** The retransmission request server (docs/wire-protocol.md §11); absent = none. */
  readonly retransmit?: RetransmitConfig | undefined;
}

/** publish.retransmit: ring per (channel, source) and a unicast UDP request server on its own socket. */
export interface RetransmitConfig {
  /** Address and port the request server binds (workers: worker i on port + i + 1, its source id − sourceId; port 0 = any free port). */
  readonly host: string;
  readonly port: number;
  /** Bytes of sent datagrams kept per channel (one preallocated ring each). */
  readonly ringBytes: number;
  /** Requesters' networks, IPv4 CIDR blocks; requests from elsewhere are dropped unanswered. */
  readonly allow: readonly string[];
  /** Token bucket per requester address: requests per second (burst: one second's worth). */
  readonly requestsPerSec: number;
  /** Token bucket per requester address: retransmitted bytes per second (burst: one second's worth). */
  readonly bytesPerSec: number;
  /**
   * Token bucket for all requesters together, per server: retransmitted bytes per second (burst: one second's
   * worth). Bounds what spoofed requester addresses can make the server send.
   */
  readonly totalBytesPerSec: number;
}

export interface HttpConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /** Binding beyond loopback must be asked for explicitly. */
  readonly allowNonLoopback: boolean;
  /** When set, every request but /healthz needs `Authorization: Bearer <token>`. */
  readonly bearerToken: string | undefined;
  /**
   * Requests being answered at once (waiting for their turn, formatted, or their body still being sent) beyond which
   * a request is 503 with retry-after; /healthz and /readyz are always answered. Absent: DEFAULTS.httpMaxInFlight.
   */
  readonly maxInFlight?: number;
  /** Seconds a connection may send or take nothing before it is closed (Bun's idleTimeout). Absent: DEFAULTS.httpIdleTimeoutS. */
  readonly idleTimeoutS?: number;
}

/**
 * `[nats]`: the NATS credentials and TLS of `feeder bridge` (docs/nats.md#credentials-in-the-configuration-file),
 * file paths as given, checked for shape here; the bridge reads and checks the files at its start (their content
 * never in the configuration). At most one kind of credentials; a flag of the bridge overrides its key.
 */
export interface NatsConfig {
  readonly credsFile?: string | undefined;
  readonly user?: string | undefined;
  readonly passwordFile?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly nkeyFile?: string | undefined;
  /** Require TLS (as --nats-tls). */
  readonly tls: boolean;
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

export interface FeederConfig {
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  readonly http: HttpConfig;
  readonly publish: PublishConfig;
  readonly venues: readonly VenueConfig[];
  readonly workers: number;
  /** This instance's share of the configured symbols: index i of n (0 ≤ i < n). */
  readonly shard: { readonly index: number; readonly count: number };
  /** `[nats]`, read by `feeder bridge` and `feeder listen --nats` only; absent when the file has none. */
  readonly nats?: NatsConfig | undefined;
}
