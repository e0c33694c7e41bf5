/**
 * Binance REST budgets (cold): per market (spot and USD-M are separate hosts with separate limits) a weight budget
 * of 80 % of the per-minute limit, split by budgetShare, and a fetch that spends it (common/budgets.ts
 * budgetedFetch: 429 / 418 / Retry-After), weighs each URL by Binance's table, times a request out once the budget
 * let it go, and blocks the market until the minute is over when X-MBX-USED-WEIGHT-1M (the IP's weight, every
 * worker's) reaches 80 % of the limit (docs/venues/binance.md, "REST weight").
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { MarketName } from "../../core/types.ts";
import { budgetedFetch, RestWeightBudget, serverTimeMs, shareOf } from "../common/budgets.ts";
import { budgetLink, type BudgetLedger } from "../common/budget-ledger.ts";
import {
  EXCHANGE_INFO_WEIGHT,
  FUTURES_REST_WEIGHT_PER_MINUTE,
  futuresDepthWeight,
  MAX_REST_WEIGHT_LIMIT_FACTOR,
  REST_TIMEOUT_MS,
  REST_WEIGHT_MARGIN,
  REST_WINDOW_MS,
  SPOT_REST_WEIGHT_PER_MINUTE,
  spotDepthWeight,
} from "./protocol.ts";

/** Weight per minute we allow ourselves from a venue limit: the margin, then this process's share (check-config shows it). */
export function ownWeight(limit: number, share: number | undefined): number {
  return shareOf(Math.floor(limit * REST_WEIGHT_MARGIN), share);
}

/** A request's weight: depth by its limit, exchangeInfo by market. */
export function weightOf(market: MarketName, url: string): number {
  const m = /\/depth\?.*limit=(\d+)/.exec(url);
  if (m) return market === "spot" ? spotDepthWeight(Number(m[1])) : futuresDepthWeight(Number(m[1]));
  return url.includes("/exchangeInfo") ? (market === "spot" ? EXCHANGE_INFO_WEIGHT : 1) : 1;
}

export class BinanceRest {
  private readonly budgets = new Map<MarketName, RestWeightBudget>();
  private readonly fetches = new Map<MarketName, typeof fetch>();
  /** The IP's weight a minute we allow (80 % of the limit, every worker's together): X-MBX-USED-WEIGHT-1M's bound. */
  private readonly ipWeights = new Map<MarketName, number>();
  /** Each market's per-minute limit in use (named in a refused limit's warning). */
  private readonly limits = new Map<MarketName, number>();
  /** The signals of requests sent (past their budget wait): a hold starting meanwhile does not drop their bridge. */
  private readonly sent = new WeakSet<AbortSignal>();
  /** Refused exchangeInfo limits already warned of (market and why): once per distinct value, not every reload. */
  private readonly warnedLimits = new Set<string>();
  /** Times X-MBX-USED-WEIGHT-1M reached 80 % of the IP's limit (cold read). */
  usedWeightBlocks = 0;

  constructor(
    private readonly rawFetch: typeof fetch,
    private readonly now: () => number,
    private readonly share: number | undefined,
    private readonly ledger?: BudgetLedger,
    /** The adapter's RestStop signal: ends budget waits at stop (rawFetch, wrapped by it, ends the requests). */
    private readonly stop?: AbortSignal,
    /** The wall clock (Binance's weight minute without a Date header, an HTTP-date Retry-After); default `now`. */
    private readonly wallNow: () => number = now,
    /** Where a 429/418's Retry-After out of range or unreadable, and a refused exchangeInfo limit, are logged. */
    private readonly log?: Logger,
  ) {
    this.setWeightLimit("spot", SPOT_REST_WEIGHT_PER_MINUTE);
    this.setWeightLimit("linear", FUTURES_REST_WEIGHT_PER_MINUTE);
  }

  fetchOf(market: MarketName): typeof fetch {
    return this.fetches.get(market)!;
  }

  /** Whether the request of `signal` has left the weight budget's queue (sent: its weight spent). */
  wasSent(signal: AbortSignal): boolean {
    return this.sent.has(signal);
  }

  /** When a 429/418 hold on the market's REST ends (0: none). */
  heldUntilMs(market: MarketName): number {
    return this.budgets.get(market)?.heldUntilMs(this.now()) ?? 0;
  }

  /**
   * Whether a request of `url` may go now and leave at least half of the market's budget unspent, nothing waiting
   * for it: a refresh of a LIVE book (depth-band.ts) never holds up a snapshot a resyncing book waits for.
   */
  spareRoomFor(market: MarketName, url: string): boolean {
    const b = this.budgets.get(market);
    if (b === undefined || b.waiting > 0) return false;
    // Checked here too: waitMs lets any first request of a window go, however heavy (a 250-weight snapshot of a share
    // of 300 at 16 workers), which would leave less than half.
    const need = weightOf(market, url) + Math.ceil(b.maxWeight / 2);
    return need <= b.maxWeight && b.waitMs(this.now(), need) === 0;
  }

  rateLimited(): number {
    return this.sumOf((b) => b.rateLimited);
  }

  /** Retry-After values not honoured as given (out of range, unreadable, a ban's below the floor), every market. */
  retryAfterOutOfRange(): number {
    return this.sumOf((b) => b.retryAfterOutOfRange);
  }

  /** Requests waiting for weight now, every market. */
  waiting(): number {
    return this.sumOf((b) => b.waiting);
  }

  banned(): number {
    return this.sumOf((b) => b.banned);
  }

  /** A counter of every market's budget, summed (stats: cold). */
  private sumOf(read: (b: RestWeightBudget) => number): number {
    let n = 0;
    for (const b of this.budgets.values()) n += read(b);
    return n;
  }

  /** An exchangeInfo's `rateLimits` (at start and every reload): the market's budget follows its REQUEST_WEIGHT limit. */
  takeLimits(market: MarketName, info: { weightPerMinute?: number | undefined; refusedLimits?: readonly string[] }): void {
    const refused = [...(info.refusedLimits ?? [])];
    const documented = market === "spot" ? SPOT_REST_WEIGHT_PER_MINUTE : FUTURES_REST_WEIGHT_PER_MINUTE;
    const ceiling = documented * MAX_REST_WEIGHT_LIMIT_FACTOR;
    if (info.weightPerMinute !== undefined && info.weightPerMinute > ceiling) {
      refused.push(`REQUEST_WEIGHT limit ${info.weightPerMinute} a minute: above ${ceiling} (${MAX_REST_WEIGHT_LIMIT_FACTOR} × the documented ${documented}), as unbounded as none`);
    } else if (info.weightPerMinute !== undefined) this.setWeightLimit(market, info.weightPerMinute);
    for (const why of refused) {
      const key = `${market} ${why}`;
      if (this.warnedLimits.has(key)) continue;
      if (this.warnedLimits.size >= 64) this.warnedLimits.clear(); // bounded: a venue changing its answer each reload
      this.warnedLimits.add(key);
      this.log?.warn("binance: exchangeInfo rate limit refused; the budget keeps its limit", { market, why, keptPerMinute: this.limitPerMinute(market) });
    }
  }

  /** The market's per-minute limit in use (the default or the last taken from exchangeInfo). */
  limitPerMinute(market: MarketName): number | undefined {
    return this.limits.get(market);
  }

  /**
   * Sets a market's budget for a per-minute limit (exchangeInfo `rateLimits`). A changed limit changes the budget in
   * place: the weight spent in the window, a 429/418 hold (and what the slot's previous worker spent, carried in at
   * the first) and the counters stay.
   */
  setWeightLimit(market: MarketName, perMinute: number): void {
    this.limits.set(market, perMinute);
    const own = ownWeight(perMinute, this.share);
    this.ipWeights.set(market, ownWeight(perMinute, 1));
    const existing = this.budgets.get(market);
    if (existing !== undefined) return existing.setMaxWeight(own);
    const budget = new RestWeightBudget(own, REST_WINDOW_MS).track(budgetLink(this.ledger, `binance:rest:${market}`)).logTo(this.log, `binance ${market} REST`);
    this.budgets.set(market, budget);
    const timed = (async (input: string | URL | Request, init?: RequestInit) => {
      if (init?.signal) this.sent.add(init.signal); // past the budget's wait: on the wire (wasSent)
      const timeout = AbortSignal.timeout(REST_TIMEOUT_MS);
      const res = await this.rawFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
      const used = Number(res.headers.get("x-mbx-used-weight-1m"));
      // The header is the IP's weight (every worker's and other clients'): compared with the IP's 80 %, not this
      // worker's share (each worker's budget keeps it to its share). Before, the workers together stopped at one
      // share a minute: the block, relayed to every worker as a hold, came once they had spent 1 / workers of it.
      // Every answer carries it, a refusal's too (a 400 for a symbol delisted meanwhile spends weight as well); a 429 /
      // 418 holds by its Retry-After instead (budgetedFetch). Until s-binrd only a 2xx answer's header was read.
      if (res.status !== 429 && res.status !== 418 && Number.isFinite(used) && used >= (this.ipWeights.get(market) ?? budget.maxWeight)) {
        this.usedWeightBlocks++;
        // Until the end of the minute the header counts, by the answer's Date (Binance's clock): one sent late in a
        // minute and read in the next (or our clock off Binance's) blocked the whole next minute, its weight not yet
        // spent. Not an answer 429 (rest_rate_limited_total): the block is rest_weight_blocks_total's.
        const minuteOfMs = serverTimeMs(res.headers.get("date")) ?? this.wallNow(); // a time of day: the wall clock
        budget.holdFor(this.now(), 60_000 - ((Math.floor(minuteOfMs / 1000) * 1000) % 60_000));
      }
      return res;
    }) as typeof fetch;
    this.fetches.set(market, budgetedFetch(timed, budget, this.now, (url) => weightOf(market, url), this.stop, this.wallNow));
  }
}
