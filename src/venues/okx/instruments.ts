/**
 * Instrument metadata for OKX v5: `GET /api/v5/public/instruments?instType=` (docs/venues/okx.md, "Instruments")
 * → tick size (`tickSz`) and lot step (`lotSz`, contracts for derivatives), `state`, `ctType` (linear / inverse for
 * SWAP and FUTURES), `expTime` (the book is closed then), `upcChg` (announced tick/lot changes: the market is reloaded just after `effTime`). OPTION needs
 * `instFamily`. Every request waits for the endpoint's budget (20 per 2 s; InstrumentRequestPacer), and a 429 blocks them
all until its Retry-After (or one 2 s window) has passed. Resolution order
 * and the disk cache are common (../common/instruments.ts). Cold path.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { RestWeightBudget, sleepUnlessAborted, splitBudget } from "../common/budgets.ts";
import type { BudgetLink } from "../common/budget-ledger.ts";
import { asError, emptyListing, isStepText, listedValue, ListedUnreadable, PartialAnswer, type InstrumentSource, type InstrumentSpec, unusableField } from "../common/instruments.ts";
import { boundedText } from "../../core/terminal-text.ts";

const REST_TIMEOUT_MS = 10_000;
/**
 * `state` values whose book we subscribe: live; post_only (SWAP: only post-only orders are taken, so the book stands and
 * moves, it just does not trade); preopen (a new contract, or a spot call auction: the book may be empty or crossed).
 * suspend, rebase (SWAP), test (a test pair) and settling (EVENTS) do not trade: not listed for us, so a book is closed.
 */
const TRADING_STATES = new Set(["live", "post_only", "preopen"]);

/** GET /api/v5/public/instruments: 20 requests per 2 s (per IP and instType; counted here for all instTypes). */
export const INSTRUMENT_REQUESTS_PER_WINDOW = 20;
export const INSTRUMENT_WINDOW_MS = 2_000;
/** Longest single wait for the budget: a clock that moved (tests drive it) is noticed within this. */
const PACER_POLL_MS = 250;

/**
 * Paces instrument requests within this process's share of the endpoint's budget, by the adapter's clock, and holds
 * them all while a 429 says the limit was reached (Retry-After, or one window without it).
 */
export class InstrumentRequestPacer {
  private readonly budget: RestWeightBudget;
  /** Requests waiting for the budget now (cold: stats). */
  waiting = 0;
  constructor(
    private readonly now: () => number,
    budgetShare?: number,
    link?: BudgetLink,
    /** The adapter's RestStop signal: a wait ends, rejecting with its reason, when the adapter stops. */
    private readonly stop?: AbortSignal,
    /** The wall clock an HTTP-date Retry-After without a Date header is read against (default `now`). */
    private readonly wallNow: () => number = now,
    /** This worker's index among those sharing the IP (its slot when its share is below one a window). */
    budgetIndex = 0,
    /** Where a 429's Retry-After out of range or unreadable is logged (until s-rd30a: nowhere, as the only budget without). */
    log?: Logger,
  ) {
    this.budget = RestWeightBudget.split(splitBudget(INSTRUMENT_REQUESTS_PER_WINDOW, INSTRUMENT_WINDOW_MS, budgetShare, budgetIndex, now), INSTRUMENT_WINDOW_MS).track(link).logTo(log, "okx instruments REST");
  }

  /** 429 answers read so far (stats). */
  get rateLimited(): number {
    return this.budget.rateLimited + this.budget.banned;
  }

  /** Retry-After values not held as given (out of range or unreadable), each logged (stats). */
  get retryAfterOutOfRange(): number {
    return this.budget.retryAfterOutOfRange;
  }

  /** When a 429's hold on every instrument request ends (0: none). */
  heldUntilMs(): number {
    return this.budget.heldUntilMs(this.now());
  }

  /** Resolves once one more request fits, and counts it. */
  async take(): Promise<void> {
    let waitMs = this.budget.waitMs(this.now(), 1);
    if (waitMs > 0) {
      this.waiting++;
      try {
        for (; waitMs > 0 && !this.stop?.aborted; waitMs = this.budget.waitMs(this.now(), 1)) await sleepUnlessAborted(Math.min(waitMs, PACER_POLL_MS), this.stop);
      } finally {
        this.waiting--;
      }
    }
    this.stop?.throwIfAborted();
    this.budget.take(this.now(), 1);
  }

  /** Reads an answer's status: a 429 holds every instrument request until its Retry-After (or one window). */
  onResponse(status: number, retryAfter: string | null, serverDate: string | null = null): void {
    this.budget.onResponse(this.now(), status, retryAfter, serverDate, this.wallNow());
  }
}

/** An announced change: `effTime` (ms) from `upcChg`; one whose effTime cannot be read has `unreadable` (why) instead. */
export interface UpcomingChange {
  readonly market: MarketName;
  readonly symbol: string;
  /** -1 when `unreadable`. */
  readonly effTimeMs: number;
  readonly unreadable?: string;
}

/** An `upcChg` entry's `effTime` (an item's `expTime` too): ms text above 0 and below 2^53, else -1 (the entry is unreadable, not dropped unsaid). */
export function readEffTimeMs(v: unknown): number {
  if (typeof v !== "string" || !/^\d{1,16}$/.test(v)) return -1;
  const ms = Number(v);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : -1;
}

/** The instTypes (and ctType filter) a market is listed under. */
function queriesOf(market: MarketName, symbols: readonly string[]): { instType: string; ctType?: string; instFamily?: string }[] {
  if (market === "spot") return [{ instType: "SPOT" }];
  if (market === "linear" || market === "inverse") return [{ instType: "SWAP", ctType: market }, { instType: "FUTURES", ctType: market }];
  // Options: one query per instrument family (BTC-USD-261225-100000-C → BTC-USD).
  return [...new Set(symbols.map(optionFamily))].map((instFamily) => ({ instType: "OPTION", instFamily }));
}

export function optionFamily(instId: string): string {
  return instId.split("-").slice(0, 2).join("-");
}

/** What one listed item reads as: its spec, the state it is halted in, or why it is refused. */
export type ItemReading = { instId: string } & ({ spec: InstrumentSpec } | { state: string } | { refused: string });

/**
 * One /public/instruments item → its spec; the state it is listed in when that does not trade; why it is refused (a
 * field of the wrong type or out of range, naming the field and its value: a bad_spec, never a guessed spec, never
 * closed while running); null when it names no instId or (`ctType` given: SWAP, FUTURES) is the other market's. An
 * absent `state` is live and an absent, `""` or `"0"` `expTime` no expiry. Before 2026-12-07 a `state` that is no string
 * read as live, an `expTime` that is no ms text as no expiry (the book LIVE past it), a `ctType` that is no string as
 * the other market's (not listed), and a tick or lot that is no positive decimal passed on (refused later, by its
 * value alone).
 */
export function readItem(item: unknown, ctType?: string): ItemReading | null {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return null;
  const it = item as Record<string, unknown>;
  const instId = it.instId;
  if (typeof instId !== "string") return null;
  const refuse = (field: string, v: unknown, want: string): ItemReading => ({ instId, refused: unusableField(field, listedValue(v), want) });
  if (ctType !== undefined) {
    if (it.ctType !== "linear" && it.ctType !== "inverse") return refuse("ctType", it.ctType, "not linear or inverse");
    if (it.ctType !== ctType) return null;
  }
  const state = it.state === undefined ? "live" : it.state;
  if (typeof state !== "string") return refuse("state", state, "not a string");
  if (!TRADING_STATES.has(state)) return { instId, state };
  const { tickSz, lotSz } = it;
  if (!isStepText(tickSz)) return refuse("tickSz", tickSz, "not a positive decimal text");
  if (!isStepText(lotSz)) return refuse("lotSz", lotSz, "not a positive decimal text");
  // Delivery or exercise (FUTURES, OPTION), or the offline time of a delisting announced (any instType), in ms; ""
  // when none: the common watch closes the book at that moment. One that cannot be read is refused: read as none, the
  // book would stay LIVE past it. "0" is none too (undocumented, as Bybit's perpetuals' deliveryTime "0"): as a time it
  // would close the book at start, and refused it would leave every such instrument unsubscribed for a value that can
  // only mean "no expiry".
  const exp = it.expTime === undefined || it.expTime === "0" ? "" : it.expTime;
  // Read as effTime: at 2^53 or more a ms text is no exact time (until s-smallleft it was taken, rounded).
  if (typeof exp !== "string" || !(exp === "" || readEffTimeMs(exp) > 0)) return refuse("expTime", exp, "not a time in ms");
  const spec: InstrumentSpec = exp === "" ? { tickSize: tickSz, lotSize: lotSz } : { tickSize: tickSz, lotSize: lotSz, expiresMs: Number(exp) };
  return { instId, spec };
}

export async function fetchOkxSpecs(
  fetchFn: typeof fetch,
  restUrl: string,
  market: MarketName,
  symbols: readonly string[],
  upcoming?: UpcomingChange[],
  pacer?: InstrumentRequestPacer,
  /** Filled with the instIds listed whose fields could not be read (readItem refused them), and why. */
  unreadable?: Map<string, string>,
  /** Filled with the instIds listed in a state that does not trade (suspend: a halt, maintenance), and that state. */
  halted?: Map<string, string>,
): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  const base = `${restUrl.replace(/\/+$/, "")}/api/v5/public/instruments`;
  // Instruments the answers list in any state: none at all is no answer (emptyListing), not every symbol delisted.
  let listed = 0;
  let lastUrl = base;
  try {
    for (const q of queriesOf(market, symbols)) {
      const url = `${base}?instType=${q.instType}${q.instFamily ? `&instFamily=${encodeURIComponent(q.instFamily)}` : ""}`;
      await pacer?.take();
      const res = await fetchFn(url, { signal: AbortSignal.timeout(REST_TIMEOUT_MS) });
      pacer?.onResponse?.(res.status, res.headers.get("retry-after"), res.headers.get("date"));
      if (!res.ok) throw new Error(`okx REST ${url}: HTTP ${res.status}`);
      const body = (await res.json()) as { code?: unknown; msg?: unknown; data?: unknown };
      if (String(body.code) !== "0" || !Array.isArray(body.data)) throw new Error(`okx REST ${url}: code ${boundedText(`${String(body.code)} ${String(body.msg ?? "")}`)}`);
      lastUrl = url;
      // An option family lists nothing at all: a broken answer, not every option of it delisted.
      if (q.instFamily !== undefined && body.data.length === 0) throw emptyListing(`okx REST ${url}`);
      listed += body.data.length;
      for (const item of body.data as Record<string, unknown>[]) {
        const s = readItem(item, q.ctType);
        if (s === null) continue;
        if ("refused" in s) {
          unreadable?.set(s.instId, s.refused); // listed: never closed for it, a bad_spec at start
          continue;
        }
        if ("state" in s) {
          halted?.set(s.instId, `listed as ${s.state}, not trading, by ${url}`);
          continue;
        }
        const instId = s.instId;
        out.set(instId, s.spec);
        if (upcoming && Array.isArray(item.upcChg)) {
          (item.upcChg as Record<string, unknown>[]).forEach((c, i) => {
            if (c?.param !== "tickSz" && c?.param !== "lotSz" && c?.param !== "minSz") return;
            // Until s-venuesmall read with Number(): "", "1.5", "abc", a negative one dropped the change unsaid.
            const effTimeMs = readEffTimeMs(c.effTime);
            if (effTimeMs >= 0) upcoming.push({ market, symbol: instId, effTimeMs });
            else upcoming.push({ market, symbol: instId, effTimeMs, unreadable: unusableField(`upcChg[${i}].effTime`, listedValue(c.effTime), "not a time in ms") });
          });
        }
      }
    }
  } catch (err) {
    // FUTURES failed after SWAP answered (or a later option family): what the answered ones list is known, the rest
    // is not.
    throw out.size > 0 ? new PartialAnswer(out, asError(err)) : err;
  }
  // SWAP and FUTURES together (one of them may be empty): nothing in either is no answer.
  if (listed === 0) throw emptyListing(`okx REST ${lastUrl}`);
  return out;
}

export function restUrlOf(config: VenueConfig, market: MarketName): string {
  return config.markets.find((m) => m.market === market)?.restUrl ?? config.restUrl;
}

export function okxInstrumentSource(config: VenueConfig, fetchFn: typeof fetch, upcoming: UpcomingChange[], pacer?: InstrumentRequestPacer): InstrumentSource {
  const unreadable = new ListedUnreadable();
  return {
    fetchSpecs: (market, symbols) => unreadable.track(market, (found, halted) => fetchOkxSpecs(fetchFn, restUrlOf(config, market), market, symbols, upcoming, pacer, found, halted)),
    whyNotTrading: (market, symbol) => unreadable.notTrading(market, symbol),
    // Listed as live but unreadable: a bad_spec at start, and never closed while running (not delisted).
    whyRefused: (market, symbol) => {
      const why = unreadable.why(market, symbol);
      return why === undefined ? undefined : `${why} at ${restUrlOf(config, market)}/api/v5/public/instruments`;
    },
    notListed: (market) => `not listed as live, post_only or preopen by ${restUrlOf(config, market)}/api/v5/public/instruments for market ${market}; check the instId (e.g. BTC-USDT, BTC-USDT-SWAP) and its market (SWAP/FUTURES by ctType)`,
  };
}
