/**
 * Per-IP budget usage that outlives a worker (cold). The venue counts a dead worker's connects and REST weight
 * until they leave its window, and a 429/418 hold until its Retry-After: a restarted worker that began with full
 * budgets would spend its share again on top of them (a crash loop, many times over). So every use and hold is
 * reported as it happens (worker → supervisor message, before the request goes out), the supervisor keeps each
 * worker slot's uses still inside their window, and hands them to the slot's next worker, whose budgets start
 * from them. Times are wall-clock ms (Date.now), the same clock in every thread.
 * @module
 */

/** One use of a budget: a connect (weight 1) or a REST request's weight, at wall-clock `atMs`. */
export interface BudgetUse {
  readonly atMs: number;
  readonly weight: number;
}

/** A budget's uses still inside its window and the end of the venue's hold (0: none), as a worker left them. */
export interface BudgetCarry {
  readonly windowMs: number;
  readonly uses: BudgetUse[];
  readonly blockedUntilMs: number;
}

/** What a budget reports (key: venue and budget, e.g. "bybit:connect"): a use, or a hold from an over-limit answer. */
export type BudgetEvent =
  | { readonly key: string; readonly windowMs: number; readonly atMs: number; readonly weight: number }
  | { readonly key: string; readonly blockedUntilMs: number };

/** The worker's side: the previous worker's usage to start from, and where new usage goes. */
export interface BudgetLedger {
  carried(key: string): BudgetCarry | undefined;
  report(event: BudgetEvent): void;
}

/** A budget's link to the ledger under its key (undefined when there is no ledger: one process, tests). */
export interface BudgetLink {
  readonly key: string;
  readonly ledger: BudgetLedger;
}

export function budgetLink(ledger: BudgetLedger | undefined, key: string): BudgetLink | undefined {
  return ledger === undefined ? undefined : { key, ledger };
}

/** A ledger over a start message's carried usage, reporting through `send`. */
export function workerLedger(carried: Readonly<Record<string, BudgetCarry>>, send: (event: BudgetEvent) => void): BudgetLedger {
  return { carried: (key) => carried[key], report: send };
}

/** The supervisor's side, one per worker slot: each budget's uses still inside their window, and its hold. */
export class BudgetAccounts {
  private readonly byKey = new Map<string, { windowMs: number; uses: BudgetUse[]; blockedUntilMs: number }>();

  /** A malformed event (not from our worker code) is ignored. */
  record(event: BudgetEvent, nowMs: number): void {
    if (typeof event?.key !== "string") return;
    let account = this.byKey.get(event.key);
    if ("blockedUntilMs" in event) {
      if (!Number.isFinite(event.blockedUntilMs)) return;
      if (account === undefined) this.byKey.set(event.key, (account = { windowMs: 0, uses: [], blockedUntilMs: 0 }));
      account.blockedUntilMs = Math.max(account.blockedUntilMs, event.blockedUntilMs);
      return;
    }
    if (!Number.isFinite(event.atMs) || !Number.isFinite(event.weight) || !(event.windowMs > 0)) return;
    if (account === undefined) this.byKey.set(event.key, (account = { windowMs: event.windowMs, uses: [], blockedUntilMs: 0 }));
    account.windowMs = event.windowMs;
    account.uses.push({ atMs: event.atMs, weight: event.weight });
    prune(account, nowMs); // bounded by what fits in one window
  }

  /** Every budget's uses still counted by the venue at `nowMs`, for the slot's next worker. */
  carry(nowMs: number): Record<string, BudgetCarry> {
    const out: Record<string, BudgetCarry> = {};
    for (const [key, account] of this.byKey) {
      prune(account, nowMs);
      if (account.uses.length === 0 && account.blockedUntilMs <= nowMs) continue;
      out[key] = { windowMs: account.windowMs, uses: [...account.uses], blockedUntilMs: account.blockedUntilMs > nowMs ? account.blockedUntilMs : 0 };
    }
    return out;
  }
}

function prune(account: { windowMs: number; uses: BudgetUse[] }, nowMs: number): void {
  const uses = account.uses;
  let drop = 0;
  while (drop < uses.length && nowMs - uses[drop]!.atMs >= account.windowMs) drop++;
  if (drop > 0) uses.splice(0, drop);
}
