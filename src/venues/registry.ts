/**
 * Every venue feeder knows, as data the config loader and the app read: markets and their depths, default
 * endpoints, stale defaults and floors, the protocol's keepalive / resync / sequence kinds, and the factory. A new
 * venue adds its descriptor here and edits nothing in app/, config/, book/, wire/ or net/ (docs/add-venue.md).
 * @module
 */
import type { MarketName, VenueName } from "../core/types.ts";
import type { VenueConfig } from "../config/types.ts";
import { BINANCE_VENUE } from "./binance/descriptor.ts";
import { BYBIT_VENUE } from "./bybit/descriptor.ts";
import { OKX_VENUE } from "./okx/descriptor.ts";
import { DERIBIT_VENUE } from "./deribit/descriptor.ts";
import { COINBASE_VENUE } from "./coinbase/descriptor.ts";
import { BITHUMB_VENUE } from "./bithumb/descriptor.ts";
import { UPBIT_VENUE } from "./upbit/descriptor.ts";
import type { Keepalive, ResyncKind, SequenceScope } from "./common/hooks.ts";
import type { CommonAdapterOptions, Subscription, VenueAdapter } from "./venue.ts";

export interface MarketSpec {
  /** Depths the market's book channel accepts (0 = the full book, where the venue offers it). */
  readonly depths: readonly number[];
  /** The depth when the config names none. */
  readonly defaultDepth: number;
  /** Default silence before a subscribed book is stale and resynced, for a depth. */
  staleAfterMs(depth: number): number;
  /**
   * Smallest `stale_after_ms` the config may set for a depth (below it a healthy book would flap), and why when
   * the depth raises it (named in the config error, e.g. "for depth 1 (it re-pushes every 3 s)").
   */
  staleFloor(depth: number): { readonly ms: number; readonly why?: string };
  /**
   * Keys of this market's table beyond the common ones (depth, symbols, stale_after_ms, …), by TOML name: validated
   * by config/load.ts (a bad value is a config error naming the key) and handed to the adapter, defaults filled in,
   * as MarketConfig.options (docs/add-venue.md).
   */
  readonly options?: Readonly<Record<string, MarketOptionSpec>>;
  /**
   * The shape of the market's symbols (without `@depth`), where the venue spells them one way, and its words for the
   * config error: a symbol of another venue's spelling (BTCUSDT on OKX) is refused by check-config rather than left
   * out as not listed at start. Absent: any symbol config/load.ts takes.
   */
  readonly symbolShape?: { readonly pattern: RegExp; readonly expected: string };
  /**
   * A symbol of the right shape that the venue's book channel does not serve as itself (Coinbase's -USDC products):
   * the words of the config error ("… is not <this>"), else undefined. Refused by check-config and at start.
   */
  refusedSymbol?(symbol: string): string | undefined;
  /**
   * Where the market reads `symbols_per_connection` (Coinbase): the adapter's default, which check-config shows in a
   * comment when the file leaves the key unset. Present: config/load.ts takes the key (1–1000); absent: it is an
   * unknown key of the market's table (the adapter would ignore it).
   */
  readonly defaultSymbolsPerConnection?: number;
}

/**
 * How this process splits a venue's books (config/share.ts: this shard's, then each worker's, as the app assigns
 * them), for VenueSpec.describeConfig.
 */
export interface ConfigShare {
  /** `workers = N` (1: no workers). */
  readonly workers: number;
  /** Each worker's streams by market (in config order; a market the worker takes none of has no entry). */
  readonly streamsOfWorker: readonly ReadonlyMap<MarketName, number>[];
  /**
   * Each worker's part of the venue's rest_bridge_buffer_bytes (its default, 256 MiB, when the file leaves the key
   * out); undefined for a venue that does not take the key (VenueSpec.venueKeys).
   */
  readonly restBridgeBytesPerWorker: number | undefined;
}

/** One venue-specific market key: what it takes, its default, and why a value is refused. */
export type MarketOptionSpec =
  | {
      readonly kind: "string";
      readonly values: readonly string[];
      readonly default: string;
      /** Values the venue has but feeder refuses, with the reason named in the config error. */
      readonly refused?: Readonly<Record<string, string>>;
    }
  | {
      /** A number ≥ min and ≤ max with at most `decimals` decimals. */
      readonly kind: "number";
      readonly min: number;
      readonly max: number;
      readonly decimals: number;
      readonly default: number;
      /** A rule involving the market's symbols: the expectation when `value` does not fit them, else undefined. */
      check?(value: number, symbols: readonly string[]): string | undefined;
    };

/**
 * Venue-level keys beyond the common ones that only some adapters read, in the order config errors name them:
 * `instrument_reload_ms` (the adapter reloads its instruments while running: VenueConfig.instrumentReloadMs, default
 * 1 hour, 0 = never, else 60000–604800000) and `rest_bridge_buffer_bytes` (it bridges a REST snapshot to buffered
 * updates: VenueConfig.restBridgeBufferBytes, 1048576–17179869184, default 256 MiB). Bounds and defaults are
 * config/load.ts's, the same for every venue that takes the key.
 */
export const VENUE_KEYS = ["instrument_reload_ms", "rest_bridge_buffer_bytes"] as const;
export type VenueKey = (typeof VENUE_KEYS)[number];

export interface VenueSpec {
  readonly venue: VenueName;
  /** Default venue-level `ws_url` and `rest_url`. */
  readonly wsUrl: string;
  readonly restUrl: string;
  /** A market's WebSocket URL when its config names none, from the venue-level one (Bybit appends the market). */
  marketWsUrl(venueWsUrl: string, market: MarketName): string;
  readonly markets: Readonly<Partial<Record<MarketName, MarketSpec>>>;
  /** How connections are kept alive, how a book is resynced, where sequences live (common/hooks.ts). */
  readonly keepalive: Keepalive["kind"];
  readonly resync: ResyncKind;
  readonly sequenceScope: SequenceScope;
  /**
   * Which of VENUE_KEYS the venue's adapter reads (OKX, Binance: both), taken by config/load.ts; any other is an
   * unknown key of its venue table (the adapter would ignore it). Absent: none.
   */
  readonly venueKeys?: readonly VenueKey[];
  /**
   * The book a raw frame of this venue names (read from its first 400 characters), spelt as the adapter names the
   * subscription (as a `ws:back` record lists it), or null when it names none (an ack without one, a pong, a
   * heartbeat): the `topic` column of `feeder export` raw rows. Absent: a `"topic"` field, as Bybit's. Cold.
   */
  rawTopic?(head: string): string | null;
  /**
   * What the venue makes of its settings, as `feeder check-config` comment lines (each starting `# `) at the end of
   * its venue table, before its markets' (Binance: its split of rest_bridge_buffer_bytes, each market's budgets), so
   * config/format.ts names no venue. A line that is no comment, or holds a line break or control character, is
   * printed as comments all the same (the output must load). Absent: none. Cold.
   */
  describeConfig?(config: VenueConfig, share: ConfigShare): string[];
  /** Builds the adapter for the subscriptions (in order: index i is subscriptions[i]). */
  create(config: VenueConfig, subscriptions: Subscription[], opts: CommonAdapterOptions & Record<string, unknown>): VenueAdapter;
}

/** The venues with an adapter, by name. Append a venue's descriptor here. */
export const VENUES: Readonly<Partial<Record<VenueName, VenueSpec>>> = {
  bybit: BYBIT_VENUE,
  binance: BINANCE_VENUE,
  okx: OKX_VENUE,
  deribit: DERIBIT_VENUE,
  coinbase: COINBASE_VENUE,
  upbit: UPBIT_VENUE,
  bithumb: BITHUMB_VENUE,
};

export function venueSpec(venue: string): VenueSpec | undefined {
  return Object.hasOwn(VENUES, venue) ? VENUES[venue as VenueName] : undefined;
}

export function supportedVenues(): VenueName[] {
  return Object.keys(VENUES) as VenueName[];
}
