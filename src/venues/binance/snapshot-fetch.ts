/**
 * The REST depth snapshot of a Binance bridge (cold, once per resync): the request through the market's weight
 * budget, the raw body to the capture tap, the body read into a BookUpdate, and the hand-over to the bridge unless
 * that bridge is over by then. Kept out of adapter.ts, which owns the bridge and the chain rule.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { nowUs } from "../../core/clock.ts";
import type { Instrument } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { RawRestTap } from "../venue.ts";
import type { BinanceTopic } from "./connection.ts";
import type { MarketBridges } from "./market-bridges.ts";
import { restBaseOf } from "./instruments.ts";
import { parseDepthSnapshot, SnapshotMisfitError } from "./parse-json.ts";
import { apiPrefix } from "./protocol.ts";
import type { BinanceRest } from "./rest.ts";
import { BinanceScanner } from "./scanner.ts";
import { boundedText } from "../../core/terminal-text.ts";

/**
 * Where a snapshot goes: the stream's bridge (a book being resynced), or the refresh of a LIVE book whose bounded side
 * ran low (depth-band.ts), which is not asked again when refused: its book stays LIVE, a later diff tries again.
 */
export interface SnapshotTarget {
  isBridging(t: BinanceTopic): boolean;
  supply(t: BinanceTopic, snapshot: BookUpdate, seq: number): void;
  /** Refused or unreadable (t.fetching is already false). */
  refused(t: BinanceTopic, detail: string): void;
  /** Asked again at once after a refusal unless the stream waits out its resync backoff. */
  readonly retry: boolean;
}

/** What the snapshot fetch needs from its adapter. */
export interface SnapshotFetchDeps {
  readonly config: VenueConfig;
  readonly rest: BinanceRest;
  readonly now: () => number;
  readonly rawRestTap: RawRestTap | undefined;
  readonly bridge: MarketBridges;
  instrumentOf(t: BinanceTopic): Instrument | undefined;
  stopping(): boolean;
  /** A price or size that does not fit the tick / step: the instrument may have changed. */
  misfit(t: BinanceTopic): void;
  /** The snapshot was refused or unreadable (t.fetching is already false); the buffered diffs stay valid. */
  refused(t: BinanceTopic, detail: string): void;
}

export class BinanceSnapshotFetch {
  /** Counters (cold). */
  refused = 0;
  abandoned = 0;
  private readonly scanner = new BinanceScanner();
  /** The stream's bridge, with the adapter's handling of a refused snapshot. */
  private readonly bridgeTarget: SnapshotTarget;

  constructor(private readonly d: SnapshotFetchDeps) {
    this.bridgeTarget = { isBridging: (t) => d.bridge.isBridging(t), supply: (t, u, seq) => void d.bridge.supply(t, u, seq), refused: d.refused, retry: true };
  }

  /** The URL of `t`'s depth snapshot (its weight is the budget's business: rest.ts weightOf). */
  urlOf(t: BinanceTopic): string {
    return `${restBaseOf(this.d.config, t.market)}${apiPrefix(t.market)}/depth?symbol=${encodeURIComponent(t.symbol)}&limit=${t.depth}`;
  }

  /** Asks REST for the stream's snapshot (through the market's weight budget), for its bridge or another target. */
  start(t: BinanceTopic, target: SnapshotTarget = this.bridgeTarget): void {
    t.fetching = true;
    // Its place in the budget's order is where its request now waits: behind the ones asked for before (makeRoom).
    if (target === this.bridgeTarget) this.d.bridge.requested(t);
    const seq = t.bridgeSeq;
    const into = new BookUpdate();
    const abort = new AbortController();
    t.fetchAbort = abort;
    const current = () => t.bridgeSeq === seq && target.isBridging(t) && !this.d.stopping();
    this.fetch(t, abort.signal).then(
      ({ url, body }) => {
        if (t.fetchAbort === abort) t.fetchAbort = null;
        if (!current()) {
          // Its bridge was restarted or cancelled (a resync, a dropped connection): not recorded either, so a
          // replay never hands it to a later bridge that live never gave it to.
          this.abandoned++;
          return;
        }
        // On the frames' clock (core/clock.ts), not the adapter's wall clock, which steps: the capture stays in time order.
        const recvUs = nowUs();
        this.d.rawRestTap?.(t.market, t.conn.name, url, body, recvUs);
        let id: number;
        try {
          id = this.readFor(t, body, into);
        } catch (err) {
          this.onRefused(t, err, target);
          return;
        }
        // Its receipt, as a frame's (the published snapshot's tsRecvNs) and as replay stamps the recorded answer
        // (adapter.ts ingestRest). Until s-binrd it stayed 0 live: the snapshot went out with tsRecvNs 0.
        into.tsRecvUs = recvUs;
        target.supply(t, into, id);
      },
      (err: unknown) => {
        if (t.fetchAbort === abort) t.fetchAbort = null;
        if (abort.signal.aborted) {
          this.abandoned++; // its bridge was restarted or cancelled: nothing to retry here
          return;
        }
        if (!current()) return;
        this.onRefused(t, err, target);
      },
    );
  }

  /** A refused or unreadable snapshot of the current bridge (or refresh). */
  private onRefused(t: BinanceTopic, err: unknown, target: SnapshotTarget): void {
    this.refused++;
    // The buffered diffs stay valid for a later snapshot (Binance: "go back to step 3"): keep buffering, and
    // ask again once the resync backoff is over (the adapter's onBackoffOver).
    t.fetching = false;
    target.refused(t, err instanceof Error ? err.message : String(err));
    if (target.retry && !t.resyncDelayed && target.isBridging(t)) this.start(t, target);
  }

  /** A REST depth body → `into`: the scanner, else the JSON path, which decides and names the problem (throws). */
  read(body: string, priceExp: number, qtyExp: number, into: BookUpdate): number {
    if (this.scanner.scanSnapshot(body, priceExp, qtyExp, into) === 0) return into.venueSeq;
    return parseDepthSnapshot(body, priceExp, qtyExp, into);
  }

  /** The snapshot REST call of a bridge (through the market's weight budget): its URL and body. */
  private async fetch(t: BinanceTopic, signal: AbortSignal): Promise<{ url: string; body: string }> {
    if (!this.d.instrumentOf(t)) throw new Error("no instrument");
    const url = this.urlOf(t);
    const res = await this.d.rest.fetchOf(t.market)(url, { signal });
    const body = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}: ${boundedText(body, 120)}`);
    return { url, body };
  }

  /** A snapshot body for `t` read into `into` (its lastUpdateId returned); throws when unreadable. */
  private readFor(t: BinanceTopic, body: string, into: BookUpdate): number {
    const inst = this.d.instrumentOf(t);
    if (!inst) throw new Error("no instrument");
    try {
      return this.read(body, inst.priceExp, inst.qtyExp, into);
    } catch (err) {
      // A price or size that does not fit the tick / step: the instrument may have changed (exchangeInfo again).
      // Told by the error's class: its text quotes the body (a level, a refusal's msg), which may say anything.
      if (err instanceof SnapshotMisfitError) this.d.misfit(t);
      throw err;
    }
  }
}

/** A snapshot request of a bridge that is over (restarted, cancelled): still queued, it is dropped unspent. */
export function abandonFetch(t: BinanceTopic): void {
  t.fetchAbort?.abort();
  t.fetchAbort = null;
}
