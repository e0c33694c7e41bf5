/**
 * Per-IP budget usage that outlives a worker (cold). The venue counts a dead worker's connects and REST weight
 * until they leave its window, and a 429/418 hold until its Retry-After: a restarted worker that began with full
 * budgets would spend its share again on top of them (a crash loop, many times over). So every use and hold is
 * reported as it happens (worker → supervisor message, before the request goes out), the supervisor keeps each
 * worker slot's uses still inside their window, and hands them to the slot's next worker, whose budgets start
 * from them. The supervisor keeps time with its monotonic clock (performance.now) and hands uses over as ages and
 * a hold as the time it still runs; the worker's budgets read the adapters' deadline clock (monotonic too:
 * CommonAdapterOptions.now), and the worker's ledger sends each use as its age and each hold as the time it still
 * runs, as of the send (SentBudgetEvent), which the supervisor adds to its own clock on arrival: the two threads'
 * monotonic clocks do not share an origin, and no wall clock is read on either side. So a wall-clock step (NTP, a VM
 * resumed) neither stretches what is carried (a step back: uses dated in the future, counted for the step's length
 * too, REST and connects held as long) nor cuts a hold short (a step forward: requests sent into the venue's hold),
 * whether it comes while a worker is down or while a report is on its way (before, reports were dated in the wall
 * clock and read against the supervisor's: a step between the two went into every length). The time a report takes
 * to arrive makes a use look younger and a hold last longer, never the other way. A hold is the IP's: the supervisor
 * also relays one worker's to every other running worker (WorkerLedger.hold), and keeps it for
 * every slot.
 * Per-IP message budgets (RequestProtocol.pacing.perIp: Deribit's credits, Coinbase's 8 a second) are spent on the
 * send path, so a message is not a report: each budget writes its uses' times into a ring shared with the supervisor
 * (ring(): a SharedArrayBuffer sent once, written in place, nothing allocated per message), which the supervisor
 * reads when it hands the slot over (carry), the worker gone (its thread runs no JavaScript: no read overlaps a
 * write, so plain stores do). The ring holds the worker's clock: it is sent with a
 * reading of that clock, and the supervisor takes the difference on arrival to its own (both monotonic: it does
 * not drift), so, as for a report, the time on the way makes a use look younger, never older. Until 2026-12-07
 * message budgets were not carried: a worker restarted inside the venue's window started with its whole share
 * while the venue still counted its predecessor's messages.
 * @module
 */
import { monoEpochMs } from "../../core/clock.ts";

/** One use of a budget: a connect (weight 1) or a REST request's weight, at `atMs` (the budget's clock). */
export interface BudgetUse {
  readonly atMs: number;
  readonly weight: number;
}

/** A budget's uses still inside its window and the venue's hold, as the supervisor hands them to a worker. */
export interface BudgetCarry {
  readonly windowMs: number;
  /** Oldest first: how long before the hand-over each use was, and its weight. */
  readonly uses: { readonly ageMs: number; readonly weight: number }[];
  /** How long the venue's hold still runs after the hand-over (0: none). */
  readonly holdMs: number;
}

/** What a worker's budget starts from: a carry in the budgets' (deadline) clock. */
export interface CarriedBudget {
  readonly windowMs: number;
  readonly uses: BudgetUse[];
  /** The end of the venue's hold (0: none). */
  readonly blockedUntilMs: number;
  /**
   * How long the hold ran at the hand-over (0: none): a wall clock stepped back later cannot make the budget wait
   * longer than that from then (before, a restarted worker waited out the step too).
   */
  readonly holdMs: number;
}

/** What a budget reports (key: venue and budget, e.g. "bybit:connect"): a use, or a hold from an over-limit answer, in the budget's clock. */
export type BudgetEvent =
  | { readonly key: string; readonly windowMs: number; readonly atMs: number; readonly weight: number }
  | { readonly key: string; readonly blockedUntilMs: number };

/**
 * A BudgetEvent as the worker sends it to the supervisor (workerLedger): lengths as of the send, in no clock; or a
 * budget's ring of use times (ring()), with `nowMs`, the worker's budgets' clock at the send.
 */
export type SentBudgetEvent =
  | { readonly key: string; readonly windowMs: number; readonly ageMs: number; readonly weight: number }
  | { readonly key: string; readonly holdMs: number }
  | { readonly key: string; readonly windowMs: number; readonly ring: SharedArrayBuffer; readonly nowMs: number };

/** Where a budget spent per message records each use (weight 1) for the slot's next worker: written in place. */
export interface UseRing {
  add(atMs: number): void;
}

/** The worker's side: the previous worker's usage to start from, and where new usage goes. */
export interface BudgetLedger {
  carried(key: string): CarriedBudget | undefined;
  report(event: BudgetEvent): void;
  /**
   * Calls `apply` with the end of each hold (the budgets' clock) the venue gave another worker on this budget while this one
   * runs, and how long it runs from then: the workers share one IP, so a 429/418 answered to one holds every
   * worker's requests.
   */
  onHold?(key: string, apply: (blockedUntilMs: number, holdMs: number) => void): void;
  /**
   * A ring for `key`'s uses (a window of `windowMs`, the last `size` kept) that the supervisor reads when the worker
   * is gone: for a budget spent per message, where a report per use would allocate. Cold: once per budget.
   */
  ring?(key: string, windowMs: number, size: number): UseRing | undefined;
}

/** A worker's ledger: also takes the holds the supervisor relays from the other workers. */
export interface WorkerLedger extends BudgetLedger {
  /** Another worker was given a hold on `key` that runs `holdMs` from now: this worker's budgets under it wait too. */
  hold(key: string, holdMs: number, nowMs?: number): void;
}

/** A budget's link to the ledger under its key (undefined when there is no ledger: one process, tests). */
export interface BudgetLink {
  readonly key: string;
  readonly ledger: BudgetLedger;
}

export function budgetLink(ledger: BudgetLedger | undefined, key: string): BudgetLink | undefined {
  return ledger === undefined ? undefined : { key, ledger };
}

/**
 * A ledger over a start message's carried usage, dated from `nowMs` (the budgets' clock `now` when the worker starts:
 * the hand-over was a moment ago, so uses look a little younger and a hold a little longer than they are, never the
 * other way), reporting through `send` as lengths as of the report (SentBudgetEvent).
 */
export function workerLedger(
  carried: Readonly<Record<string, BudgetCarry>>,
  send: (event: SentBudgetEvent) => void,
  nowMs: number = monoEpochMs(),
  now: () => number = monoEpochMs,
): WorkerLedger {
  const byKey = new Map<string, CarriedBudget>();
  for (const [key, c] of Object.entries(carried)) {
    const uses = Array.isArray(c?.uses) ? c.uses.filter((u) => Number.isFinite(u?.ageMs) && Number.isFinite(u?.weight)).map((u) => ({ atMs: nowMs - u.ageMs, weight: u.weight })) : [];
    const holdMs = c.holdMs > 0 && Number.isFinite(c.holdMs) ? c.holdMs : 0;
    byKey.set(key, { windowMs: c.windowMs, uses, blockedUntilMs: holdMs > 0 ? nowMs + holdMs : 0, holdMs });
  }
  const listeners = new Map<string, ((blockedUntilMs: number, holdMs: number) => void)[]>();
  return {
    carried: (key) => byKey.get(key),
    report: (event) => {
      const at = now();
      if ("blockedUntilMs" in event) send({ key: event.key, holdMs: event.blockedUntilMs - at });
      else send({ key: event.key, windowMs: event.windowMs, ageMs: Math.max(0, at - event.atMs), weight: event.weight });
    },
    onHold: (key, apply) => listeners.set(key, [...(listeners.get(key) ?? []), apply]),
    ring: (key, windowMs, size) => {
      const n = Math.ceil(size);
      if (!(n > 0) || !Number.isFinite(n)) return undefined;
      // [0]: uses written so far; [1 + k % n]: the k-th use's time (the budgets' clock).
      const times = new Float64Array(new SharedArrayBuffer(8 * (n + 1)));
      send({ key, windowMs, ring: times.buffer as SharedArrayBuffer, nowMs: now() });
      return {
        add: (atMs) => {
          const k = times[0]!;
          times[1 + (k % n)] = atMs;
          // Plain stores, no Atomics: the supervisor reads the ring only when this thread runs no JavaScript any
          // more (closed; or terminated while blocked outside it, and a terminated thread runs none after that call
          // returns), so no read overlaps a write. The count goes last: a thread ended between the two stores loses
          // only a use whose message was not sent (the send follows the take). A reader of a running worker's ring
          // would need Atomics (plain stores give no order another thread can rely on).
          times[0] = k + 1;
        },
      };
    },
    hold: (key, holdMs, atMs = now()) => {
      if (!(holdMs > 0) || !Number.isFinite(holdMs)) return; // a malformed relay (not from our supervisor) is ignored
      for (const apply of listeners.get(key) ?? []) apply(atMs + holdMs, holdMs);
    },
  };
}

/** One budget's account in the supervisor: times in its monotonic clock. */
interface Account {
  windowMs: number;
  uses: { atMs: number; weight: number }[];
  holdUntilMs: number;
}

/**
 * The supervisor's side, one per worker slot: each budget's uses still inside their window, and its hold, kept in
 * the monotonic clock `monoMs`. A worker's lengths (SentBudgetEvent) count from when they arrive: the report was made
 * a moment before.
 */
export class BudgetAccounts {
  private readonly byKey = new Map<string, Account>();
  /** The running worker's rings (ring()): its clock less this one's (`offsetMs`), taken when each arrived. */
  private rings: { key: string; windowMs: number; times: Float64Array; offsetMs: number }[] = [];

  constructor(private readonly monoMs: () => number = () => performance.now()) {}

  /** A malformed event (not from our worker code) is ignored. */
  record(event: SentBudgetEvent): void {
    if (typeof event?.key !== "string") return;
    const nowMs = this.monoMs();
    let account = this.byKey.get(event.key);
    if ("ring" in event) {
      if (!(event.ring instanceof SharedArrayBuffer) || event.ring.byteLength < 16 || event.ring.byteLength % 8 !== 0) return;
      if (!Number.isFinite(event.nowMs) || !(event.windowMs > 0) || !Number.isFinite(event.windowMs)) return;
      this.rings.push({ key: event.key, windowMs: event.windowMs, times: new Float64Array(event.ring), offsetMs: event.nowMs - nowMs });
      return;
    }
    if ("holdMs" in event) {
      if (!Number.isFinite(event.holdMs) || event.holdMs <= 0) return;
      if (account === undefined) this.byKey.set(event.key, (account = { windowMs: 0, uses: [], holdUntilMs: 0 }));
      account.holdUntilMs = Math.max(account.holdUntilMs, nowMs + event.holdMs);
      return;
    }
    if (!Number.isFinite(event.ageMs) || !Number.isFinite(event.weight) || !(event.windowMs > 0)) return;
    this.use(event.key, event.windowMs, nowMs - Math.max(0, event.ageMs), event.weight, nowMs);
  }

  private use(key: string, windowMs: number, atMs: number, weight: number, nowMs: number): void {
    let account = this.byKey.get(key);
    if (account === undefined) this.byKey.set(key, (account = { windowMs, uses: [], holdUntilMs: 0 }));
    account.windowMs = windowMs;
    const last = account.uses.at(-1);
    account.uses.push({ atMs: Math.max(atMs, last?.atMs ?? -Infinity), weight }); // oldest first
    prune(account, nowMs); // bounded by what fits in one window
  }

  /**
   * Every budget's uses still counted by the venue now, and its hold, for the slot's next worker. Called when the
   * slot's worker is gone: its rings' uses are taken into the accounts and the rings let go.
   */
  carry(): Record<string, BudgetCarry> {
    const nowMs = this.monoMs();
    for (const r of this.rings) {
      const n = r.times.length - 1;
      const written = r.times[0]!;
      if (!Number.isInteger(written) || written <= 0) continue;
      for (let k = Math.max(0, written - n); k < written; k++) {
        const atMs = r.times[1 + (k % n)]! - r.offsetMs;
        if (Number.isFinite(atMs)) this.use(r.key, r.windowMs, Math.min(atMs, nowMs), 1, nowMs);
      }
    }
    this.rings = [];
    const out: Record<string, BudgetCarry> = {};
    for (const [key, account] of this.byKey) {
      prune(account, nowMs);
      const holdMs = account.holdUntilMs > nowMs ? account.holdUntilMs - nowMs : 0;
      if (account.uses.length === 0 && holdMs === 0) continue;
      out[key] = { windowMs: account.windowMs, uses: account.uses.map((u) => ({ ageMs: nowMs - u.atMs, weight: u.weight })), holdMs };
    }
    return out;
  }
}

function prune(account: Account, nowMs: number): void {
  const uses = account.uses;
  let drop = 0;
  while (drop < uses.length && nowMs - uses[drop]!.atMs >= account.windowMs) drop++;
  if (drop > 0) uses.splice(0, drop);
}
