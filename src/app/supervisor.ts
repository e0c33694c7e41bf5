/**
 * Runs the pipeline on N Bun Workers (config `workers`): each worker takes a stable share of the subscriptions
 * and owns its connections, builders and publisher socket, and resolves its share of each venue's instruments on its
 * own (one venue's REST holds no other venue, in no worker). The main thread only supervises: it restarts a
 * worker that dies, that fails to start, or that hangs (no answer to its pings for WORKER_HANG_MS: terminated; one
 * whose thread does not end then, blocked outside JavaScript, is replaced WORKER_HANG_MS later, while no other
 * replaced thread of its slot lives: BLOCKED_THREADS_MAX), with backoff,
 * aggregates books and metrics for HTTP, and writes the workers' log lines (the process's one log stream:
 * worker-log.ts). It keeps what each worker slot spent of the venues' per-IP budgets (and the holds it was given)
 * for the slot's next worker, and relays a hold one worker is given to every other (one IP:
 * venues/common/budget-ledger.ts).
 * @module
 */
import { errorText } from "../core/error-text.ts";
import { nowUs } from "../core/clock.ts";
import { writeStderr, type Logger } from "../core/log.ts";
import { readAuthKeyFile } from "../core/auth-key.ts";
import { ConfigError, SymbolsUnusableError } from "../core/errors.ts";
import type { FeederConfig } from "../config/types.ts";
import type { BookLevels, BookNotServed, BookSummary, CopyRefused } from "./book-json.ts";
import { bookName, Unavailable, type StatusSource } from "./http-server.ts";
import { CounterCarry, mergeHistograms, renderMetrics, type BookGauges, type LatencySnapshot, type MetricsSnapshot } from "./metrics.ts";
import { processSnapshot } from "./process-metrics.ts";
import { isChosenBook, mergeReadiness, mergeSummaries, notLiveOf, READYZ_NAMED, summaryOfInput, type ReadinessInput, type ReadinessSummary, type StatusRows } from "./readiness.ts";
import { LIST_ITEMS_PER_TURN, type Turn } from "./list-stream.ts";
import type { FromWorker, ToWorker, WorkerRequest } from "./worker-protocol.ts";
import { venueStartFailure, type VenueStart } from "./venue-start.ts";
import { configuredSubscriptions, inWorkerShare } from "./feeder.ts";
import { instrumentSymbolOf } from "../venues/venue.ts";
import { BudgetAccounts } from "../venues/common/budget-ledger.ts";
import { WorkerLogIntake } from "./worker-log.ts";
import { AwaitedReplies } from "./worker-reply.ts";

/**
 * How long stop() waits for a worker's `stopped` before it terminates the worker (a warning names it). Within `feeder
 * run`'s stop deadline (cli STOP_DEADLINE_MS, 1.5 s: what operators see and systemd waits for) with room for the
 * publish guard and HTTP to stop after it: a worker's stop sends its HALTED statuses and its END in its first turn,
 * then waits for its venues' sockets (up to 1 s). Until 2026-12-07 this was 2 s: a worker slower than 1.5 s was cut
 * off by the process's exit instead, unnamed, the guard and HTTP never stopped.
 */
export const STOP_ANSWER_MS = 1200;
const RESTART_BASE_MS = 200;
const RESTART_MAX_MS = 10_000;
/** A worker that ran this long before dying restarts without the accumulated backoff. */
const HEALTHY_RUN_MS = 30_000;
/**
 * A running worker that has answered nothing (pings every quarter of this) for this long is hung, e.g. a handler
 * in a loop: it is terminated and restarted like one that died. Its thread, not the machine, is stuck: a worker
 * busy for even a second is far outside its normal work (a 1000-level snapshot is ~35 µs).
 */
export const WORKER_HANG_MS = 10_000;
/**
 * A worker that has said nothing at all since it was spawned (its module still loading: milliseconds from the
 * executable) is taken for stuck after this long: one stuck before its first message would otherwise never be restarted.
 */
export const WORKER_FIRST_WORD_MS = 30_000;
/**
 * Threads of one slot replaced while blocked (terminated, not ended) that may be alive at once: a worker blocked
 * again while one is is not replaced until one ends, so threads that never end (each with its heap and sockets) do
 * not pile up. A second block in a row is likely the same stuck call (a hung disk or mount): a new thread would block too.
 */
const BLOCKED_THREADS_MAX = 1;
/**
 * A fault of a worker's replies (a malformed one, entries skipped) is logged at most once per this, per worker and
 * kind, with how many such replies went unlogged since: the status page asks for /status every second, and until
 * 2026-12-07 a worker's persistent bug wrote an error line per reply (per open page, per second, for good).
 */
const REPLY_FAULT_LOG_MS = 60_000;
/** logReplyFault's kind of a malformed reply to each request (made once: replyWellFormed is asked after every reply while a fault is recorded). */
const MALFORMED_KIND: Record<WorkerRequest["what"], string> = { book: "malformed book", metrics: "malformed metrics", readiness: "malformed readiness", readyz: "malformed readyz", status: "malformed status", latency: "malformed latency" };

export interface SupervisorOptions {
  /** WORKER_HANG_MS unless given (tests). */
  readonly hangAfterMs?: number;
  /**
   * WORKER_FIRST_WORD_MS unless given (tests). A function is asked at each spawn, with the worker's index: a test's
   * short bound for the one worker it keeps silent, while the others (their module loading on a loaded machine) get a
   * generous one.
   */
  readonly firstWordMs?: number | ((workerIndex: number) => number);
  /** The restart backoff's longest wait: RESTART_MAX_MS unless given (tests that restart one slot many times). */
  readonly restartMaxMs?: number;
  /** How long a reply may go silent before it is given up (the worker not answering it): REPLY_SILENCE_MS unless given (tests). */
  readonly replySilenceMs?: number;
  /**
   * Where the workers' log lines are written (each a whole line, "\n" included), `done` once it has left: the
   * process's stderr (writeStderr), which only this thread writes (worker-log.ts). Tests give their own.
   */
  readonly writeLog?: (text: string, done: () => void) => void;
}

/**
 * The worker entry point. From source it sits next to this file; in the compiled executable
 * (`bun build --compile src/cli/main.ts src/app/worker-main.ts`) entry points are embedded relative to their
 * common folder (src/), and a relative specifier resolves against that root.
 */
function defaultWorkerUrl(): string {
  return Bun.main.startsWith("/$bunfs/") ? "./app/worker-main.ts" : new URL("./worker-main.ts", import.meta.url).href;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAtMs: number;
  restarts: number;
  consecutiveFailures: number;
  /** Its start() resolved (every venue started); feeder_workers_ready counts these, if one replied during the scrape. */
  ready: boolean;
  /** The worker has its pipeline (it said "session"): it answers requests, while it starts too. */
  answering: boolean;
  /** When the worker last sent anything (performance.now() ms; 0: nothing yet): a worker answers its pings, while starting too. */
  lastHeardMs: number;
  /** When a reply of the worker last came, well-formed or not (performance.now() ms; 0: none yet): feeder_workers_ready. */
  lastReplyMs: number;
  /** While it has said nothing: when it is taken for stuck (performance.now() ms). */
  firstWordDueMs: number;
  /** When its worker was terminated as hung, by kill() or after its failed start (performance.now() ms; 0: it was not): its close is awaited from then. */
  terminatedAtMs: number;
  /** The slot's current worker has gone (closed, or replaced as blocked): what follows it; set by spawn. */
  ended: () => void;
  /**
   * Terminates the slot's current worker as hung, logging `msg` (error) with when its successor starts: that one
   * line says it all, its close adds none; set by spawn.
   */
  terminateHung: (msg: string, fields: Record<string, unknown>) => void;
  /** Terminates the slot's current worker for kill(): its end is a kill's, not a crash's; set by spawn. */
  terminateKilled: () => void;
  /** Its replaced workers whose threads have not ended (blocked outside JavaScript): at most BLOCKED_THREADS_MAX. */
  blockedThreads: number;
  /** Its terminated worker is not replaced (BLOCKED_THREADS_MAX reached), which was logged. */
  heldBack: boolean;
  lastBooks: BookSummary[];
  /** performance.now() when lastBooks was answered: a dead worker's books age from there (their recvAgeUs). */
  lastBooksAtMs: number;
  /**
   * While its worker is down: the symbols of its share that `of` (its lastBooks then) has no book for (unavailableShare),
   * judged once: neither changes while it is down, and every /readyz, /books and /status asks for them.
   */
  unavailable?: Unavailability;
  /** Per-IP budget usage of this slot's workers still counted by the venue: the next worker starts from it. */
  budgets: BudgetAccounts;
  /**
   * The latest session start (µs since the epoch) of the slot's workers, each taken from its thread's wall clock: the
   * next worker's session starts after it (wire-protocol.md §3.4 orders sessions by start). Until 2026-12-07 a worker
   * restarted after the host's clock stepped back started an older session than the dead one on the same streams,
   * and subscribers dropped it as a late run's while the dead one's streams were alive (not yet stale) there.
   */
  sessionStartUs: number | undefined;
  /**
   * Its current worker's replies still coming, and their parts (many books: a part per turn of the worker), each
   * awaited while it progresses (worker-reply.ts).
   */
  replies: AwaitedReplies;
  stopped?: () => void;
  /** The slot's configured symbols (its share of each venue): what a first worker not yet heard from is starting. */
  share: ReadinessInput["unresolved"];
  /** Its workers' counters as /metrics last showed them: a restarted worker's start from there, never going down. */
  carry: CounterCarry;
  /** Its workers' book and unresolved counts as /metrics last showed them: shown as stale while none answers. */
  lastBookGauges?: BookGauges;
  /** By kind of reply fault: when it was last logged (performance.now() ms) and such replies since, not logged (logReplyFault). */
  faultsLogged: Map<string, { atMs: number; unlogged: number }>;
}

/** A down slot's share judged against its last books (unavailableShare); `bad`: those books' entries that are no book summary. */
interface Unavailability {
  of: BookSummary[];
  list: ReadinessInput["unresolved"];
  bad: number;
}

export class Supervisor implements StatusSource {
  private readonly slots: Slot[] = [];
  private nextRequestId = 1;
  private stopping = false;
  private startCalled = false;
  private stopRun: Promise<void> | undefined;
  /** Worker restarts since start, for metrics and tests. */
  restarts = 0;
  /** Called with each worker publisher's (sourceId, sessionId) before it sends (the publish guard's own sessions). */
  onWorkerSession: ((sourceId: number, sessionId: number) => void) | undefined;
  private readonly hangAfterMs: number;
  private readonly firstWordMs: number | ((workerIndex: number) => number);
  private readonly restartMaxMs: number;
  private readonly replySilenceMs: number | undefined;
  private readonly writeLog: (text: string, done: () => void) => void;
  private hangTimer: ReturnType<typeof setInterval> | undefined;
  /** When checkHangs last ran (ms; 0: not yet): a check far later than its interval means this thread was held up. */
  private lastHangCheckMs = 0;
  /** publish.auth_key_file's key, read once as the supervisor is made and given to every worker, restarted ones too. */
  private readonly authKey: Uint8Array | undefined;

  constructor(
    private readonly config: FeederConfig,
    private readonly log: Logger,
    private readonly workerUrl: string = defaultWorkerUrl(),
    opts: SupervisorOptions = {},
  ) {
    this.hangAfterMs = opts.hangAfterMs ?? WORKER_HANG_MS;
    this.firstWordMs = opts.firstWordMs ?? WORKER_FIRST_WORD_MS;
    this.restartMaxMs = opts.restartMaxMs ?? RESTART_MAX_MS;
    this.replySilenceMs = opts.replySilenceMs;
    this.writeLog = opts.writeLog ?? writeStderr;
    // The key is read once, here: each worker used to read the file as it started, so after the file was rotated in
    // place a worker restarted by the supervisor (crashed, hung) signed with the new key and the others with the old
    // one, and subscribers with either key refused part of the feed. Here, not in start(): SIGHUP's check takes the
    // running key's digest as run starts (config-reload.ts), and start() comes after the start-up checks, which
    // listen for a while; a rotation then made the workers sign with a key SIGHUP called a change to restart for.
    // (With workers = 1 the Feeder's publisher reads it as it is made, as here.) A restart applies a new key.
    const keyFile = config.publish.authKeyFile;
    if (keyFile !== undefined) {
      try {
        this.authKey = readAuthKeyFile(keyFile, "publish.auth_key_file");
      } catch (err) {
        throw new ConfigError([(err as Error).message]); // as FeedPublisher: a bad key file is a configuration problem
      }
    }
  }

  /**
   * Starts every worker at once and resolves when each has started (or rejects with the first start failure). Each
   * worker resolves its share of each venue's instruments on its own and connects each venue as soon as its own
   * resolved, as the single process does: a venue whose REST hangs or is down holds (or empties) only its own books,
   * in every worker, and each worker answers /books and /readyz while it starts. Rejects, naming them, when a venue's
   * symbols were all answered as not listed or unusable over every worker's share (a configuration error, as
   * Feeder.start; not with shards): the workers are then running, and the caller's stop() halts them. A stop()
   * during it ends the workers' start-ups (their REST requests under way) at once; start then resolves. Once only:
   * a second call, or one after stop(), throws and starts nothing.
   */
  async start(): Promise<void> {
    // Once only: a second start would start a second set of workers; after stop() nothing may start (a new one does).
    if (this.stopping) throw new Error("supervisor: start() after stop(): a stopped Supervisor does not start again; create a new one");
    if (this.startCalled) throw new Error("supervisor: start() called twice");
    this.startCalled = true;
    const starts: Promise<VenueStart[]>[] = [];
    for (let i = 0; i < this.config.workers; i++) {
      const share = this.config.venues.flatMap((v) =>
        configuredSubscriptions(this.config, v, (venue, sub) => inWorkerShare(venue, sub, i, this.config.workers)).map((sub) => ({
          venue: v.venue,
          market: sub.market,
          symbol: instrumentSymbolOf(sub),
          reason: "resolving",
          detail: `worker ${i} is starting (its share's instruments not resolved yet); its books start once they are`,
        })),
      );
      const slot: Slot = { index: i, worker: undefined, startedAtMs: 0, restarts: 0, consecutiveFailures: 0, ready: false, answering: false, lastHeardMs: 0, lastReplyMs: 0, firstWordDueMs: 0, terminatedAtMs: 0, ended: () => undefined, terminateHung: () => undefined, terminateKilled: () => undefined, blockedThreads: 0, heldBack: false, lastBooks: [], lastBooksAtMs: 0, budgets: new BudgetAccounts(), sessionStartUs: undefined, replies: new AwaitedReplies(this.replySilenceMs, undefined, undefined, (id) => slot.worker?.postMessage({ type: "cancel", id } satisfies ToWorker)), share, carry: new CounterCarry(), faultsLogged: new Map() };
      this.slots.push(slot);
      starts.push(this.spawn(slot));
    }
    this.hangTimer = setInterval(() => this.checkHangs(), this.hangCheckMs());
    this.hangTimer.unref?.();
    let shares: VenueStart[][];
    try {
      shares = await Promise.all(starts);
    } catch (err) {
      if (this.stopping) return; // a worker stopped (and terminated) while starting: no failure
      throw err;
    }
    if (this.stopping) return;
    // A shard's share of a venue may hold only bad symbols while another shard has good ones (Feeder's allowNoInstruments).
    const failure = this.config.shard.count > 1 ? undefined : venueStartFailure(shares.flat());
    if (failure !== undefined) throw new SymbolsUnusableError(failure);
  }

  /** Stops every worker (and a start-up under way); a second call waits for the first. */
  stop(): Promise<void> {
    this.stopRun ??= this.stopOnce();
    return this.stopRun;
  }

  private async stopOnce(): Promise<void> {
    this.stopping = true;
    if (this.hangTimer !== undefined) clearInterval(this.hangTimer);
    this.hangTimer = undefined;
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            // One terminated (as hung, killed, after its failed start) runs no JavaScript again (a thread blocked outside it ends when its call returns):
            // no `stopped` will come. Before, stop() waited STOP_ANSWER_MS for it, holding up the shutdown 2 s.
            if (!slot.worker || slot.terminatedAtMs !== 0) return resolve();
            const timer = setTimeout(() => {
              this.log.warn("worker did not answer stop in time; terminating it (its sockets close with its thread)", { worker: slot.index, waitedMs: STOP_ANSWER_MS });
              resolve();
            }, STOP_ANSWER_MS);
            slot.stopped = () => {
              clearTimeout(timer);
              resolve();
            };
            slot.worker.postMessage({ type: "stop" } satisfies ToWorker);
          }),
      ),
    );
    for (const slot of this.slots) slot.worker?.terminate();
  }

  /**
   * Test and operations hook: terminates a worker, which the supervisor restarts, as its own deliberate end (as a
   * hung worker's): down at once, its end logged as a kill (info), not as a crash ("worker exited", a warning), and
   * no crash backoff (kills in a row doubled the wait as for a crash loop), and a thread that does not end is
   * replaced as a hung one's is. Before 2026-12-07 it only terminated it, and its end was a crash's. One already
   * terminated (as hung, or after its failed start) is left to the restart booked then.
   */
  kill(index: number): void {
    const slot = this.slots[index];
    if (slot?.worker === undefined || slot.terminatedAtMs !== 0) return;
    slot.terminateKilled();
  }

  workerCount(): number {
    return this.slots.length;
  }

  /**
   * The book from the worker that has it (a worker answers null when it has not), as soon as it comes: one worker
   * has it, and until 2026-12-07 its answer waited for every other worker's reply (up to REPLY_MAX_MS for a slow
   * one), its levels and `valid` as of its reply, shown as current. When none has it and a worker did not answer
   * (restarting, hung), the book may be that worker's: Unavailable (503) naming it, not "no book".
   * `maxBytes`: what HTTP reserved for the copy; the worker makes none bigger (CopyRefused).
   */
  async book(venue: string, market: string, symbol: string, depth: number, maxBytes?: number): Promise<BookLevels | BookNotServed | CopyRefused | undefined> {
    const asked = this.askedWorkers();
    const pending = this.slots.map((slot) => this.request(slot, { what: "book", venue, market, symbol, depth, maxBytes }));
    const found = await new Promise<unknown>((resolve, reject) => {
      let left = pending.length;
      if (left === 0) resolve(undefined);
      pending.forEach((reply, i) =>
        reply.then(
          (result) => {
            const slot = this.slots[i]!;
            if (result !== undefined && result !== null && slot.worker === asked[i] && slot.terminatedAtMs === 0) resolve(result);
            if (--left === 0) resolve(undefined);
          },
          // A reply whose handling threw fails the answer (as Promise.all did), unless one came first: else it never settled.
          reject,
        ),
      );
    });
    if (found !== undefined) return found as BookLevels | BookNotServed | CopyRefused;
    const results = this.fromCurrent(asked, await Promise.all(pending));
    const silent = this.slots.filter((_, i) => results[i] === undefined);
    const starting = silent.filter((slot) => this.firstStarting(slot)).map((slot) => slot.index);
    const down = silent.filter((slot) => !this.firstStarting(slot)).map((slot) => slot.index);
    if (down.length > 0) {
      throw new Unavailable(`worker ${down.join(", ")} is not answering (restarting, hung, or its reply late or malformed): ${bookName(venue, market, symbol)} may be one of its books; /books lists them`);
    }
    if (starting.length > 0) throw new Unavailable(`worker ${starting.join(", ")} is starting: ${bookName(venue, market, symbol)} may be one of its books; /books lists them`);
    return undefined;
  }

  async metricsText(): Promise<string> {
    const generations = this.slots.map((slot) => slot.carry.generation);
    // feeder_workers_ready: started, and replied while this scrape waited (well-formed or not): one whose reply is
    // REPLY_SILENCE_MS late is not counted, hung or not (its pongs say its thread runs, not that it answers), as
    // /readyz's worker_down. Until 2026-12-07 `ready` alone counted a hung one until its hang was found
    // (WORKER_HANG_MS); for a while that day any message during the scrape counted, a pong too.
    const askedAtMs = performance.now();
    const snapshots = (await Promise.all(this.slots.map((slot) => this.request(slot, { what: "metrics" })))) as (MetricsSnapshot | undefined)[];
    // A snapshot of a worker replaced since it was asked for: its counts are in the carry now, not to be added twice.
    const answered = this.slots.flatMap((slot, i) => {
      const snapshot = snapshots[i];
      if (snapshot === undefined || slot.carry.generation !== generations[i]) return [];
      slot.lastBookGauges = { labels: snapshot.labels, books: snapshot.books, unresolved: snapshot.unresolved };
      return [{ snapshot, carry: slot.carry }];
    });
    // A slot with no worker answering (between an exit and its successor's first answer: up to RESTART_MAX_MS and a
    // start; or hung): its counters at their last values, not left out (a gap, then a jump, for rate()); its books
    // as last shown, counted stale (as /readyz counts them): a vanished feeder_books read as "no books" to alerting.
    const silentSlots = this.slots.filter((slot, i) => snapshots[i] === undefined || slot.carry.generation !== generations[i]);
    return renderMetrics({
      pipelines: answered.map((a) => a.snapshot),
      carries: answered.map((a) => a.carry),
      silent: silentSlots.map((slot) => slot.carry),
      silentBooks: silentSlots.flatMap((slot) => (slot.lastBookGauges === undefined ? [] : [slot.lastBookGauges])),
      process: processSnapshot(),
      extra: (w) => {
        w.family("feeder_workers", "gauge", "configured workers").sample("feeder_workers", {}, this.slots.length);
        w.family("feeder_workers_ready", "gauge", "workers started that replied during this scrape (one whose reply is late, hung or not, is not counted)")
          .sample("feeder_workers_ready", {}, this.slots.filter((s) => s.ready && s.lastReplyMs >= askedAtMs).length);
        w.family("feeder_worker_restarts_total", "counter", "workers restarted after dying").sample("feeder_worker_restarts_total", {}, this.restarts);
      },
    });
  }

  /**
   * Every worker's share; a worker that does not answer is reported down, with its last known books as stale. Its
   * books and share are judged LIST_ITEMS_PER_TURN per `turn` (HTTP's queue; none given: at once): 20,000 stale books
   * were copied in one turn of this thread (2–4.5 ms). An answering worker's books are copied the same way, entries
   * that are no book summary (or no symbol, of its unresolved ones) skipped (copyNamed) and logged (logReplyFault).
   */
  async readiness(turn?: Turn, signal?: AbortSignal): Promise<ReadinessInput> {
    const asked = this.askedWorkers();
    const replies = await Promise.all(this.slots.map((slot) => stamped(this.request(slot, { what: "readiness" }, signal) as Promise<ReadinessInput | undefined>)));
    const parts = this.fromCurrent(asked, replies.map((r) => r.result));
    // Its client went away: nobody reads this (the caller answers 499), and the workers were told to stop.
    if (signal?.aborted) return { books: [], unresolved: [], connections: [], workersDown: [] };
    const down: number[] = [];
    const answered: ReadinessInput[] = [];
    // Every worker's books and unresolved symbols, in worker order, copied here rather than joined by mergeReadiness:
    // one pass either way.
    const books: BookSummary[] = [];
    const unresolved: ReadinessInput["unresolved"] = [];
    for (const [i, p] of parts.entries()) {
      const slot = this.slots[i]!;
      if (p) {
        // Its ages as of now, not of its reply (the answer waited for the slowest worker's: up to REPLY_MAX_MS).
        const nowMs = performance.now();
        const byUs = sinceUs(replies[i]!.atMs, nowMs);
        keepBooks(slot, p.books, nowMs);
        const booksFrom = books.length;
        const unresolvedFrom = unresolved.length;
        const bad = await copyNamed(p.books, books, turn ?? now, byUs);
        if (bad > 0) this.logReplyFault(slot, "books", "worker's readiness books hold entries that are no book summary; skipped", { skipped: bad, of: p.books.length });
        const badSymbols = await copyNamed(p.unresolved, unresolved, turn ?? now);
        if (badSymbols > 0) this.logReplyFault(slot, "unresolved", "worker's readiness unresolved symbols hold entries that name no symbol; skipped", { skipped: badSymbols, of: p.unresolved.length });
        if (slot.faultsLogged.size !== 0 && bad === 0) {
          this.replyWellFormed(slot, "books");
          this.replyWellFormed(slot, "last books"); // these are its last books now: none such either
        }
        if (slot.faultsLogged.size !== 0 && badSymbols === 0) this.replyWellFormed(slot, "unresolved");
        // A skipped entry may have been one of its share's symbols: those the reply names nowhere are listed, not known.
        if (bad + badSymbols > 0) await unnamedShare(slot, books, booksFrom, unresolved, unresolvedFrom, turn ?? now);
        answered.push({ ...p, books: [], unresolved: [], connections: byWorker(p.connections, slot.index)!, sendFailures: agedFailures(p.sendFailures, slot.index, byUs) });
        continue;
      }
      // The slot's first worker, not heard from yet (its module loading: at every start): starting, not down. Before,
      // /readyz said worker_down ('not running (restarting)') and no_books then, and /books listed nothing.
      if (this.firstStarting(slot)) {
        await copyNamed(slot.share, unresolved, turn ?? now);
        continue;
      }
      down.push(slot.index);
      await staleBooks(slot, turn ?? now, Infinity, books);
      await copyNamed((await unavailableShare(slot, turn ?? now, this.lastBooksFault)).list, unresolved, turn ?? now);
    }
    return { ...mergeReadiness(answered, down), books, unresolved };
  }

  /**
   * What /readyz judges (readiness.ts ReadinessSummary): one small reply from each worker (Feeder.readinessSummary,
   * one turn of its own however many books it has: before, /readyz had every worker summarize and send all its books,
   * ~80 of its turns at 20,000), merged in O(workers · READYZ_NAMED). A worker not answering counts as readiness()
   * reports it: down, its last books stale and the rest of its share unavailable (that share judged a chunk per `turn`,
   * once while it stays down: unavailableShare).
   */
  async readyz(turn?: Turn): Promise<ReadinessSummary> {
    const asked = this.askedWorkers();
    const replies = await Promise.all(this.slots.map((slot) => stamped(this.request(slot, { what: "readyz" }) as Promise<ReadinessSummary | undefined>)));
    const parts = this.fromCurrent(asked, replies.map((r) => r.result));
    const down: number[] = [];
    const answered: ReadinessSummary[] = [];
    for (const [i, p] of parts.entries()) {
      const slot = this.slots[i]!;
      if (p) answered.push(workerSummary(slot, READYZ_NAMED, { answer: p, byUs: sinceUs(replies[i]!.atMs) }));
      else if (this.firstStarting(slot)) answered.push(workerSummary(slot, READYZ_NAMED, "starting"));
      else {
        down.push(slot.index);
        // Every last book counts (all stale); only the first READYZ_NAMED are copied.
        const stale = await staleBooks(slot, turn ?? now, READYZ_NAMED);
        answered.push(workerSummary(slot, READYZ_NAMED, { stale, unavailable: await unavailableShare(slot, turn ?? now, this.lastBooksFault) }));
      }
    }
    return mergeSummaries(answered, down);
  }

  /**
   * /status?books=`limit` (readiness.ts StatusRows): each worker's rows (Feeder.statusRows: only those summarized, its
   * lists a part per turn of its thread) and summary with `limit` of each list named, merged; pickBooks takes the
   * `limit` rows of them (each worker's are its first of each kind, so those of all are among them). A worker not
   * answering as readyz() counts it, its rows the first `limit` of its last books (stale) and of the rest of its share,
   * and the chosen one. Before, every worker summarized and sent every book (~80 of its turns at 20,000) per poll.
   * These rows are not a worker's last books (readiness() keeps those: every book).
   */
  async statusRows(limit: number, chosen: string | null, turn?: Turn, signal?: AbortSignal): Promise<StatusRows> {
    const asked = this.askedWorkers();
    const replies = await Promise.all(this.slots.map((slot) => stamped(this.request(slot, { what: "status", limit, chosen }, signal) as Promise<StatusRows | undefined>)));
    const parts = this.fromCurrent(asked, replies.map((r) => r.result));
    if (signal?.aborted) return { summary: mergeSummaries([]), books: [], unresolved: [] }; // nobody reads it (499)
    const down: number[] = [];
    const answered: ReadinessSummary[] = [];
    const books: BookSummary[] = [];
    const unresolved: ReadinessInput["unresolved"] = [];
    const named = (x: { venue: string; market: string; symbol: string }) => isChosenBook(chosen, x.venue, x.market, x.symbol);
    /** The first `limit` of `list`, and the chosen one wherever it is. */
    const firstAndChosen = <T extends { venue: string; market: string; symbol: string }>(list: readonly T[]): T[] => {
      const out = list.slice(0, limit);
      const found = chosen === null ? undefined : list.find((x, i) => i >= limit && isBookSummary(x) && named(x));
      if (found !== undefined) out.push(found);
      return out;
    };
    for (const [i, p] of parts.entries()) {
      const slot = this.slots[i]!;
      if (p) {
        // Entries that name no book or symbol (a worker's bug): which of its share they were is known only from its
        // whole lists (readiness(): such symbols listed as not known, the entries logged), so the answer is made from those.
        const byUs = sinceUs(replies[i]!.atMs);
        if ((await copyNamed(p.books, books, turn ?? now, byUs)) + (await copyNamed(p.unresolved, unresolved, turn ?? now)) > 0) return this.statusRowsOfWhole(limit, turn, signal);
        answered.push(workerSummary(slot, limit, { answer: p.summary, byUs }));
        continue;
      }
      if (this.firstStarting(slot)) {
        await copyNamed(firstAndChosen(slot.share), unresolved, turn ?? now);
        answered.push(workerSummary(slot, limit, "starting"));
        continue;
      }
      down.push(slot.index);
      // Its last books, all stale (not usable): the first `limit` and the chosen one are all the rows can take of them.
      const stale = await staleBooks(slot, turn ?? now, limit);
      // The chosen one beyond them (staleBooks skips entries that are no book, so it may have copied it already).
      const last = chosen === null || stale.some(named) ? -1 : slot.lastBooks.findIndex((b, k) => k >= limit && isBookSummary(b) && named(b));
      if (last >= 0) stale.push(staleBook(slot.lastBooks[last]!, sinceLastBooksUs(slot)));
      for (const b of stale) books.push(b);
      const unavailable = await unavailableShare(slot, turn ?? now, this.lastBooksFault);
      for (const u of firstAndChosen(unavailable.list)) unresolved.push(u);
      answered.push(workerSummary(slot, limit, { stale, unavailable }));
    }
    return { summary: mergeSummaries(answered, down, limit), books, unresolved };
  }

  /** StatusRows of every book and symbol (readiness()): pickBooks takes the rows of them, the summary names `limit` of each. */
  private async statusRowsOfWhole(limit: number, turn?: Turn, signal?: AbortSignal): Promise<StatusRows> {
    const input = await this.readiness(turn, signal);
    return { summary: summaryOfInput(input, limit), books: input.books, unresolved: input.unresolved };
  }

  async latency(): Promise<LatencySnapshot> {
    const parts = (await Promise.all(this.slots.map((slot) => this.request(slot, { what: "latency" })))).filter((p): p is LatencySnapshot => p !== undefined);
    const venues = new Set(parts.flatMap((p) => Object.keys(p.exchangeToReceipt)));
    const exchangeToReceipt: LatencySnapshot["exchangeToReceipt"] = {};
    for (const v of venues) exchangeToReceipt[v] = mergeHistograms(parts.flatMap((p) => (p.exchangeToReceipt[v] ? [p.exchangeToReceipt[v]] : [])))!;
    const receiptToSend = mergeHistograms(parts.map((p) => p.receiptToSend)) ?? { boundsUs: [], counts: [0], count: 0, sumUs: 0 };
    return { receiptToSend, exchangeToReceipt };
  }

  /** Each slot's worker as a request goes out to all (fromCurrent). */
  private askedWorkers(): (Worker | undefined)[] {
    return this.slots.map((slot) => slot.worker);
  }

  /**
   * Each slot's reply, or undefined (not answering) where the worker `asked` is no longer the slot's running one (it
   * ended, or was terminated as hung or killed) as the answer is made: its reply said how its books were, and they
   * are gone now. Until 2026-12-07 a worker that replied and then died while the supervisor waited for a slower one
   * (up to REPLY_MAX_MS) was merged as it answered: /readyz counted its books live and no worker down, /books listed
   * them valid. metricsText has its own check (its counters carried).
   */
  private fromCurrent<T>(asked: readonly (Worker | undefined)[], replies: readonly T[]): (T | undefined)[] {
    return replies.map((r, i) => {
      const slot = this.slots[i]!;
      return slot.worker === asked[i] && slot.terminatedAtMs === 0 ? r : undefined;
    });
  }

  /** The slot's first worker, not heard from yet (its module loading: at every start): starting, not down. */
  private firstStarting(slot: Slot): boolean {
    return slot.worker !== undefined && slot.restarts === 0 && slot.lastHeardMs === 0;
  }

  /** Resolves with what the worker's share of each venue found at start (VenueStart), once it has started. */
  private spawn(slot: Slot): Promise<VenueStart[]> {
    return new Promise<VenueStart[]>((resolve, reject) => {
      const worker = new Worker(this.workerUrl);
      slot.worker = worker;
      slot.ready = false;
      slot.answering = false;
      slot.startedAtMs = performance.now();
      slot.lastHeardMs = 0; // nothing heard from this worker yet (its module may still be loading)
      slot.firstWordDueMs = slot.startedAtMs + (typeof this.firstWordMs === "number" ? this.firstWordMs : this.firstWordMs(slot.index));
      slot.terminatedAtMs = 0;
      slot.heldBack = false;
      let settled = false;
      /** This worker is no longer the slot's (closed, or replaced while its blocked thread had not ended). */
      let gone = false;
      /**
       * Its start failed, or it was terminated as hung, which was logged with when the next try comes: its end adds no
       * line of its own. Before 2026-12-06 a hang wrote two (`... terminating it to restart it`, `worker exited; restarting`).
       */
      let endLogged = false;
      /** Ended by kill(): a deliberate end, restarted after RESTART_BASE_MS and logged as a kill. */
      let killed = false;
      /** The wait before this worker's successor starts: counted once, at its failed start or at its end. */
      let restartDelay: number | undefined;
      const restartDelayMs = (): number => {
        if (restartDelay === undefined && killed) restartDelay = RESTART_BASE_MS;
        if (restartDelay === undefined) {
          const ranMs = performance.now() - slot.startedAtMs;
          slot.consecutiveFailures = ranMs >= HEALTHY_RUN_MS ? 1 : slot.consecutiveFailures + 1;
          restartDelay = Math.min(this.restartMaxMs, RESTART_BASE_MS * 2 ** (slot.consecutiveFailures - 1));
        }
        return restartDelay;
      };
      // This worker's log lines, written here in the order it sent them; it is told as they leave (a terminated
      // worker is told nothing: postMessage to it is a no-op).
      const logs = new WorkerLogIntake(this.writeLog, (chars) => worker.postMessage({ type: "log-taken", chars } satisfies ToWorker));
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const msg = event.data;
        // A message this thread cannot take (a worker's bug) is logged naming the worker and dropped. Before, its
        // exception here was this thread's uncaught exception: the whole process exited, every worker's books with it.
        const malformed = malformedMessage(msg);
        // A "started" that cannot be taken is a failed start of its worker (dropped, the start never settled: the first
        // start stayed pending for good, the worker not ready): as one whose start threw, restarted or failing the start.
        if (malformed !== undefined && (msg as { type?: unknown } | null)?.type === "started") {
          take({ type: "start-failed", error: `malformed started: ${malformed}` });
          return;
        }
        if (malformed !== undefined) {
          this.log.error("worker sent a malformed message; dropped", { worker: slot.index, type: typeof msg === "object" && msg !== null ? String((msg as { type?: unknown }).type) : typeof msg, error: malformed });
          return;
        }
        try {
          take(msg);
        } catch (err) {
          this.log.error("worker sent a message that could not be taken; dropped", { worker: slot.index, type: msg.type, error: errorText(err) });
        }
      };
      const take = (msg: FromWorker): void => {
        // A worker gone (closed, or replaced as blocked), or terminated as hung (its close not come yet: what it had
        // queued still arrives), says nothing about its state nor its successor's: only what stays true is taken, its
        // log lines, what it spent of the venues' budgets and its session (the publish guard's: its datagrams may be
        // on their way). Before, a queued `session` or `started` of a terminated worker made it answering (requests
        // posted to a dead thread, each waiting REPLY_SILENCE_MS) or ready again, and its reply was taken as live.
        const current = !gone && slot.terminatedAtMs === 0;
        if (!current && msg.type !== "log" && msg.type !== "log-dropped" && msg.type !== "budget" && msg.type !== "session") return;
        if (current) slot.lastHeardMs = performance.now();
        if (msg.type === "log") {
          if (typeof msg.line === "string") logs.line(msg.line);
        } else if (msg.type === "log-dropped") {
          this.log.warn("worker log lines dropped: this thread had not written the worker's earlier lines yet (a standard error that takes them slowly, or this thread held up)", { worker: slot.index, lines: msg.lines });
        } else if (msg.type === "budget") {
          slot.budgets.record(msg);
          if ("holdMs" in msg) this.shareHold(slot, msg.key, msg.holdMs);
        } else if (msg.type === "session") {
          if (current) slot.answering = true;
          if (Number.isFinite(msg.sessionStartUs)) slot.sessionStartUs = Math.max(slot.sessionStartUs ?? -Infinity, msg.sessionStartUs);
          this.onWorkerSession?.(msg.sourceId, msg.sessionId);
        } else if (msg.type === "response-part") {
          slot.replies.part(msg);
        } else if (msg.type === "started") {
          slot.ready = true;
          keepBooks(slot, slot.replies.started(msg.summaries));
          this.log.info("worker started", { worker: slot.index, books: msg.books, sessionId: msg.sessionId });
          if (!settled) (settled = true), resolve(msg.venues);
        } else if (msg.type === "start-failed") {
          // One line says it all: the error and, for a restart, when the next try comes (its end, and the restart's
          // own rejection, add none). The slot's first worker fails the supervisor's start, which its caller reports.
          if (!this.stopping) {
            if (slot.restarts === 0) this.log.error("worker could not start", { worker: slot.index, error: msg.error });
            else this.log.error("worker could not start; restarting it", { worker: slot.index, error: msg.error, inMs: restartDelayMs(), restarts: slot.restarts });
          }
          endLogged = true;
          if (!settled) (settled = true), reject(new Error(`worker ${slot.index}: ${msg.error}`));
          // An idle worker that will never publish: ended, so it is restarted with backoff like one that died. Marked
          // terminated as a hung or killed one is: no longer current (not pinged, its queued messages not taken), and
          // a thread that does not end (blocked outside JavaScript) is replaced after hangAfterMs. Until 2026-12-07 it stayed
          // current until its close: such a thread was taken for hung, a second error line for the same end.
          slot.ready = false;
          slot.answering = false;
          slot.terminatedAtMs = performance.now();
          worker.terminate();
        } else if (msg.type === "response") {
          slot.replies.last(msg.id, msg.result);
        } else if (msg.type === "stopped") {
          slot.stopped?.();
        }
      };
      worker.onerror = (event) => {
        this.log.error("worker error", { worker: slot.index, error: (event as ErrorEvent).message });
      };
      // Once per worker: at its close, or when checkHangs gives up waiting for it (its thread blocked outside JavaScript).
      slot.ended = () => {
        if (gone) return;
        gone = true;
        slot.ready = false;
        slot.answering = false;
        slot.worker = undefined;
        slot.replies.end();
        // A stop() waiting for this worker's `stopped` (one whose start failed, or that exited, while stop() waited):
        // it will say nothing more. Before, stop() waited STOP_ANSWER_MS for it.
        slot.stopped?.();
        slot.carry.restarted();
        const duringStart = !settled;
        if (!settled) (settled = true), reject(new Error(`worker ${slot.index} exited during start`));
        if (this.stopping) return;
        const delayMs = restartDelayMs();
        if (killed) this.log.info("worker killed; restarting", { worker: slot.index, inMs: delayMs });
        else if (!endLogged) this.log.warn("worker exited; restarting", { worker: slot.index, inMs: delayMs, ...(duringStart ? { duringStart } : {}) });
        setTimeout(() => {
          if (this.stopping) return;
          slot.restarts++;
          this.restarts++;
          // Its failure is logged where it is known (a failed start, an exit, a hang): the rejection says it again.
          this.spawn(slot).catch(() => undefined);
        }, delayMs);
      };
      slot.terminateHung = (msg, fields) => {
        if (gone) return;
        if (!this.stopping) this.log.error(msg, { worker: slot.index, ...fields, inMs: restartDelayMs(), restarts: slot.restarts });
        endLogged = true;
        worker.terminate();
      };
      slot.terminateKilled = () => {
        // Only kill() calls it, for the slot's current worker not terminated yet (terminatedAtMs 0): one whose failed
        // start or hang was logged (endLogged) has terminatedAtMs set with it, so kill() adds nothing to that line
        // (until s-small2 its close logged "worker killed" too). An `|| endLogged` here was unreachable (s-leftops).
        if (gone) return;
        killed = true;
        slot.ready = false;
        slot.answering = false;
        slot.terminatedAtMs = performance.now();
        worker.terminate();
      };
      const ended = slot.ended;
      worker.addEventListener("close", () => {
        if (gone) {
          slot.blockedThreads--;
          this.log.warn("a replaced worker's thread has ended (it had not ended when terminated)", { worker: slot.index, stillBlocked: slot.blockedThreads });
        }
        ended();
      });
      const budgets = slot.budgets.carry();
      // The worker's session follows its predecessor's (ToWorker start): said when that is ahead of the clock, as it
      // then sticks for the process's life, however far ahead (a clock ahead when the predecessor started, or a step back).
      const aheadUs = slot.sessionStartUs === undefined ? -1 : slot.sessionStartUs - nowUs();
      if (aheadUs >= 0) {
        this.log.warn("worker restarts with its predecessor's session start, ahead of this host's clock (it stepped back since, or was ahead then): subscribers order sessions by start", {
          worker: slot.index,
          aheadMs: Math.round(aheadUs / 1000),
        });
      }
      worker.postMessage({ type: "start", config: this.config, workerIndex: slot.index, workerCount: this.config.workers, budgets, authKey: this.authKey, sessionStartAfterUs: slot.sessionStartUs } satisfies ToWorker);
    });
  }

  /**
   * A 429/418 hold the venue gave one worker holds every worker (one IP): it is kept for every slot's next worker
   * and relayed to the other workers running. Before, a worker honoured only its own holds: since the workers
   * resolve their own shares at start, one answered 429 left the others asking into the venue's hold. Cold.
   */
  private shareHold(from: Slot, key: string, holdMs: number): void {
    // A length as the worker sent it (budget-ledger.ts): no clock of either thread in it, so no step either.
    if (typeof key !== "string" || !Number.isFinite(holdMs) || holdMs <= 0) return;
    for (const slot of this.slots) {
      if (slot === from) continue;
      slot.budgets.record({ key, holdMs });
      slot.worker?.postMessage({ type: "hold", key, holdMs } satisfies ToWorker);
    }
  }

  /**
   * Cold, a timer: pings every worker that has spoken (a starting one too: it answers while its start awaits) and
   * terminates one silent for hangAfterMs since, or one that has said nothing for firstWordMs since it was
   * spawned (its close restarts it).
   */
  private checkHangs(): void {
    if (this.stopping) return;
    const nowMs = performance.now(); // monotonic: a step of the wall clock is no silence (nor hides one)
    // Held up ourselves (process stopped and continued, VM paused, this thread blocked) for half the bound or more:
    // no ping went out meanwhile, so the workers' silence says nothing; each gets the whole bound from now.
    const heldUp = this.lastHangCheckMs !== 0 && nowMs - this.lastHangCheckMs > this.hangCheckMs() + this.hangAfterMs / 2;
    this.lastHangCheckMs = nowMs;
    for (const slot of this.slots) {
      const worker = slot.worker;
      if (worker === undefined) continue;
      if (slot.terminatedAtMs !== 0) {
        // terminate() ends a thread at its next JavaScript instruction; one blocked outside JavaScript (a synchronous
        // call stuck in the kernel) ends only when that call returns, maybe never: its close is waited for as long as
        // a hang, then its successor starts (the old thread can publish nothing more: it ends as soon as it returns).
        // Before, the slot waited for that close for good (its books gone until the process restarted), logging
        // "not answering; terminating it" at every check.
        if (heldUp) slot.terminatedAtMs = Math.max(slot.terminatedAtMs, nowMs);
        if (nowMs - slot.terminatedAtMs <= this.hangAfterMs) continue;
        if (slot.blockedThreads >= BLOCKED_THREADS_MAX) {
          // Replaced once its predecessor's thread ends (its close's check comes back here), or at its own close.
          if (!slot.heldBack) {
            slot.heldBack = true;
            this.log.error("worker did not end when terminated, and the thread it replaced has not ended either (both blocked outside JavaScript); not starting another until one ends: its books stay unavailable (restart the process if this lasts)", { worker: slot.index, blockedThreads: slot.blockedThreads + 1 });
          }
          continue;
        }
        this.log.error("worker did not end when terminated (its thread blocked outside JavaScript); starting its successor", { worker: slot.index, waitedMs: nowMs - slot.terminatedAtMs });
        slot.blockedThreads++;
        slot.ended();
        continue;
      }
      if (slot.lastHeardMs === 0) {
        if (heldUp) slot.firstWordDueMs = Math.max(slot.firstWordDueMs, nowMs + this.hangAfterMs);
        if (nowMs > slot.firstWordDueMs) {
          slot.terminatedAtMs = nowMs;
          slot.terminateHung("worker has said nothing since it was started; terminating it to restart it", { silentMs: nowMs - slot.startedAtMs });
        }
        continue;
      }
      if (heldUp) slot.lastHeardMs = Math.max(slot.lastHeardMs, nowMs);
      if (nowMs - slot.lastHeardMs > this.hangAfterMs) {
        slot.ready = false;
        slot.answering = false;
        slot.terminatedAtMs = nowMs;
        slot.terminateHung("worker is not answering; terminating it to restart it", { silentMs: nowMs - slot.lastHeardMs });
        continue;
      }
      worker.postMessage({ type: "ping" } satisfies ToWorker);
    }
  }

  private hangCheckMs(): number {
    return Math.max(50, Math.floor(this.hangAfterMs / 4));
  }

  /** `signal`: the HTTP request's; once it aborts the reply is given up and its worker told to stop making it. */
  private request(slot: Slot, body: WorkerRequest, signal?: AbortSignal): Promise<unknown> {
    const worker = slot.worker;
    // A starting worker with its pipeline is asked too: its venues start one by one (a venue whose instrument REST
    // hangs, or waits out a 429/418 hold, holds its start() but none of the others): their books are shown and the
    // late venue's symbols are `resolving`, not the worker "down".
    if (!worker || !slot.answering || signal?.aborted) return Promise.resolve(undefined);
    const id = this.nextRequestId++;
    // Answered undefined (not answering) once the reply stops coming for REPLY_SILENCE_MS, or takes REPLY_MAX_MS:
    // logged (at most once a minute per worker), as the worker is then down to /readyz, /books and /status. Until
    // 2026-12-07 nothing said so: a running worker too busy (or stuck in a reply) was worker_down with no line at all.
    const reply = slot.replies.expect(id, signal, (waitedMs, why) =>
      this.logReplyFault(
        slot,
        "late",
        "worker's reply did not come in time; taken as no answer: until one comes, /readyz says worker_down and its books are stale",
        { what: body.what, waitedMs: Math.round(waitedMs), why: why === "silent" ? "nothing of any of its replies came meanwhile" : "not done by its deadline" },
        "warn",
      ),
    );
    worker.postMessage({ type: "request", id, ...body } as ToWorker);
    return reply.then((result) => {
      if (result !== undefined && slot.worker === worker) slot.lastReplyMs = performance.now();
      const malformed = result === undefined ? undefined : malformedReply(body.what, result);
      if (malformed === undefined) {
        if (result !== undefined && slot.faultsLogged.size !== 0) this.replyWellFormed(slot, MALFORMED_KIND[body.what]);
        return result;
      }
      // Merged as it was, it failed the answer (500) or showed garbage (a number for a book); kept as a down worker's
      // last books, every answer while it stayed down.
      this.logReplyFault(slot, MALFORMED_KIND[body.what], "worker sent a malformed reply; taken as no answer", { what: body.what, error: malformed });
      return undefined;
    });
  }

  /**
   * A down slot's last books hold entries that are no book summary (unavailableShare, once per list of last books). A
   * worker still answering whose readiness replies hold such entries and whose other replies are malformed (judged
   * down) has new last books at each /status: until 2026-12-07 this wrote a line per /readyz probe then.
   */
  private readonly lastBooksFault = (slot: Slot, skipped: number, of: number): void =>
    this.logReplyFault(slot, "last books", "worker's last books hold entries that are no book summary; skipped", { skipped, of });

  /** Logs a fault of `slot`'s worker's replies (error unless `level` says), at most once per REPLY_FAULT_LOG_MS for each `kind`. Cold. */
  private logReplyFault(slot: Slot, kind: string, msg: string, fields: Record<string, unknown>, level: "warn" | "error" = "error"): void {
    const nowMs = performance.now();
    const last = slot.faultsLogged.get(kind);
    if (last !== undefined && nowMs - last.atMs < REPLY_FAULT_LOG_MS) {
      last.unlogged++;
      return;
    }
    // `unlogged`: such replies since the last line of this kind (0: the first, or the first in a while).
    this.log[level](msg, { worker: slot.index, ...fields, unlogged: last?.unlogged ?? 0 });
    slot.faultsLogged.set(kind, { atMs: nowMs, unlogged: 0 });
  }

  /**
   * A reply of `kind` without its fault: a minute or more after that fault's last line, its record is dropped, and the
   * faulty replies not logged since are told (warn). Until 2026-12-07 only the next fault's line told them: a worker
   * whose faults stopped (or that was replaced by a sound one) left them untold. Within the minute it is kept (a fault
   * again is counted, not logged): a worker's replies alternating write no more than a line a minute. Cold: called
   * only while a fault of the slot's is recorded.
   */
  private replyWellFormed(slot: Slot, kind: string): void {
    const last = slot.faultsLogged.get(kind);
    if (last === undefined || performance.now() - last.atMs < REPLY_FAULT_LOG_MS) return;
    slot.faultsLogged.delete(kind);
    if (last.unlogged > 0) this.log.warn("worker's replies are well-formed again; faulty ones since its last line were not logged", { worker: slot.index, fault: kind, unlogged: last.unlogged });
  }
}

/**
 * Why `msg` (from a worker) cannot be taken, or undefined: not an object with a string `type`, or the lists of a
 * reply part or of "started" not arrays, or a "started" venue that is no VenueStart (kept, they would fail every later
 * /books and /readyz, or the start-up symbols check, instead). A malformed "started" fails its worker's start.
 */
function malformedMessage(msg: unknown): string | undefined {
  if (typeof msg !== "object" || msg === null) return "not an object";
  const m = msg as Record<string, unknown>;
  if (typeof m.type !== "string") return "no string type";
  if (m.type === "response-part" && (!Number.isInteger(m.id) || !Array.isArray(m.books) || !Array.isArray(m.unresolved))) return "a reply part needs an integer id, books and unresolved arrays";
  if (m.type === "started") {
    if (!Array.isArray(m.summaries) || !Array.isArray(m.venues)) return "started needs summaries and venues arrays";
    // Its venues (a few: one per venue) and their symbols left out are walked once, at its start (venueStartFailure).
    if (!m.venues.every((v) => isObject(v) && typeof v.venue === "string" && Number.isFinite(v.books) && Array.isArray(v.unresolved) && v.unresolved.every(isObject))) {
      return "started needs venues of a venue name, a book count and an unresolved list of objects";
    }
  }
  return undefined;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;
const areArrays = (r: Record<string, unknown>, keys: readonly string[]): boolean => keys.every((k) => Array.isArray(r[k]));
const areObjects = (r: Record<string, unknown>, keys: readonly string[]): boolean => keys.every((k) => isObject(r[k]));
/** Its optional lists absent or arrays: a worker's sendFailures are merged by iterating them (readiness.ts). */
const optionalArrays = (r: Record<string, unknown>, keys: readonly string[]): boolean => keys.every((k) => r[k] === undefined || Array.isArray(r[k]));

/**
 * A histogram this thread can merge and render: bounds and at least as many counts (an array, or a typed array as
 * structured-cloned). Its counts are not walked: a few dozen buckets, summed by the merge anyway.
 */
const isHistogram = (h: unknown): boolean =>
  isObject(h) && Array.isArray(h.boundsUs) && (Array.isArray(h.counts) || ArrayBuffer.isView(h.counts)) && (h.counts as ArrayLike<number>).length >= h.boundsUs.length;
/** Every value of `r` (a small map: one per venue) passes `ok`. */
const allValues = (r: unknown, ok: (v: unknown) => boolean): boolean => isObject(r) && Object.values(r).every(ok);

/**
 * Fields of a named entry that the readiness rules read as strings (a template's are any; redactUrlsIn's are not). A
 * loop over lists made once (below), as it runs per entry: an array literal and a closure per call were two allocations
 * per entry per reply.
 */
function strings(r: Record<string, unknown>, keys: readonly string[]): boolean {
  for (let i = 0; i < keys.length; i++) if (typeof r[keys[i]!] !== "string") return false;
  return true;
}
const CONNECTION_STRINGS = ["venue", "market", "connection", "url", "lastError"] as const;
const SEND_FAILURE_STRINGS = ["destination", "target", "lastError"] as const;
const NAMED_STRINGS = ["venue", "market", "symbol"] as const;
const BOOK_COUNT_STRINGS = ["venue", "market", "state"] as const;
const UNRESOLVED_COUNT_STRINGS = ["venue", "market"] as const;
/** A venue connection's state as venueConnectionsDown reads it (`up`, and its error redacted as a string). */
const isConnection = (c: unknown): boolean => isObject(c) && strings(c, CONNECTION_STRINGS) && typeof c.up === "boolean" && Number.isFinite(c.downSinceMs);
/** A destination's send failures as sendFailing reads them. */
const isSendFailure = (f: unknown): boolean => isObject(f) && strings(f, SEND_FAILURE_STRINGS) && Number.isFinite(f.errors) && Number.isFinite(f.lastErrorAgoMs);
/** A symbol (or book) the rules name: venue, market and symbol. */
const isNamed = (u: unknown): boolean => isObject(u) && strings(u, NAMED_STRINGS);
/**
 * The short lists of a readiness reply or summary, down to their elements (a few: per connection, per destination,
 * per worker, a summary's first READYZ_NAMED); before 2026-12-07 only as lists, and an entry that was none (null, a
 * number, a connection whose lastError is no string) was merged as it was: /status's or /readyz's rules read its
 * fields and answered 500.
 */
const shortListsOk = (r: Record<string, unknown>, connections: string): boolean =>
  (r[connections] as unknown[]).every(isConnection) && (r.sendFailures === undefined || (r.sendFailures as unknown[]).every(isSendFailure)) && (r.workersDown as unknown[]).every(Number.isInteger);

/** Every value of `r` a finite number (a map of counters, by venue). */
const allFinite = (r: unknown): boolean => allValues(r, Number.isFinite);
/** `r` an object whose `keys` are finite numbers (a section of counters, each written). */
const finiteAt = (r: unknown, keys: readonly string[]): boolean => isObject(r) && keys.every((k) => Number.isFinite(r[k]));
const PUBLISHER_COUNTERS = ["datagrams", "bytes", "sendErrors", "messages"] as const;
/** What writeRetransmit writes of RetransmitServerCounters. */
const RETRANSMIT_COUNTERS = ["answered", "outOfRange", "throttled", "refusedNetwork", "badRequests", "throttledRepliesSuppressed", "failures", "datagrams", "bytes", "sendErrors"] as const;
/**
 * The sections of a metrics snapshot written as samples, optional ones absent or whole. Before 2026-12-07 only some
 * were checked: a retransmitHistory that was no list of channels threw (/metrics 500), a counter that was no number or
 * missing was written as it was ("a lot", NaN: a scraper refuses the first, and the slot's carry kept NaN for good).
 */
function metricNumbersOk(r: Record<string, unknown>): boolean {
  const history = r.retransmitHistory;
  const steps = r.wallClockSteps;
  const destinations = r.destinations;
  return (
    finiteAt(r.publisher, PUBLISHER_COUNTERS) &&
    (destinations === undefined || (Array.isArray(destinations) && destinations.every((d) => isObject(d) && typeof d.destination === "string" && Number.isFinite(d.sendErrors)))) &&
    allFinite(r.applyErrors) &&
    (r.retransmit === undefined || finiteAt(r.retransmit, RETRANSMIT_COUNTERS)) &&
    (history === undefined || (Array.isArray(history) && history.every((h) => isObject(h) && typeof h.channel === "string" && Number.isFinite(h.datagrams) && Number.isFinite(h.messages)))) &&
    (steps === undefined || (isObject(steps) && Number.isFinite(steps.count) && Number.isFinite(steps.lastStepUs))) &&
    (r.heapUsedBytes === undefined || Number.isFinite(r.heapUsedBytes))
  );
}

/** A readiness summary this thread can merge (a readyz reply, a status reply's): its counts, and its named lists down to their elements. */
const summaryOk = (result: Record<string, unknown>): boolean =>
  areArrays(result, ["notLiveFirst", "unresolvedFirst", "connectionsDownFirst", "workersDown"]) &&
  optionalArrays(result, ["sendFailures"]) &&
  ["books", "live", "notLive", "unresolved", "connectionsDown"].every((k) => Number.isFinite(result[k])) &&
  shortListsOk(result, "connectionsDownFirst") &&
  (result.notLiveFirst as unknown[]).every((b) => isNamed(b) && typeof (b as Record<string, unknown>).state === "string") &&
  (result.unresolvedFirst as unknown[]).every(isNamed);

/**
 * Why a worker's reply to `what` is not of the shape this thread merges (its containers: a worker's bug), or
 * undefined. A book may be null (not this worker's). Per venue, per connection or per (venue, market, state) lists,
 * and a readyz summary's named ones, are checked down to their elements (a few); per book or per symbol ones only as
 * lists (thousands, on every request: their entries are checked as they are copied, copyNamed).
 */
function malformedReply(what: WorkerRequest["what"], result: unknown): string | undefined {
  if (what === "book" && result === null) return undefined;
  if (!isObject(result)) return "not an object";
  switch (what) {
    case "book":
      if (result.copyRefused !== undefined) {
        // Byte counts HTTP reserves against its bound: a negative one or one past 2^53 would garble that count.
        const { copyRefused, maxBytes } = result;
        return Number.isSafeInteger(maxBytes) && (maxBytes as number) >= 0 && Number.isSafeInteger(copyRefused) && (copyRefused as number) > (maxBytes as number)
          ? undefined
          : "a copy refused needs its bytes, more than the bytes reserved (whole numbers of bytes)";
      }
      if (result.notServed !== undefined) {
        return (result.notServed === "unreadable" || result.notServed === "symbol_unresolved") && strings(result, ["venue", "market", "symbol", "state", "reason", "error"])
          ? undefined
          : "a book not served needs its kind (unreadable, symbol_unresolved), names, state, reason and error";
      }
      return ["bidPx", "bidQty", "askPx", "askQty"].every((k) => result[k] instanceof Float64Array) ? undefined : "a book needs Float64Array levels";
    case "readiness":
      return areArrays(result, ["books", "unresolved", "connections", "workersDown"]) && optionalArrays(result, ["sendFailures"]) && shortListsOk(result, "connections")
        ? undefined
        : "readiness needs books, unresolved, connections and workersDown arrays (and sendFailures one if any), of connection states, send failures and worker numbers";
    case "readyz":
      return summaryOk(result) ? undefined : "a readiness summary needs its counts and lists (named books, symbols and connection states)";
    case "status":
      return areArrays(result, ["books", "unresolved"]) && isObject(result.summary) && summaryOk(result.summary)
        ? undefined
        : "status rows need books and unresolved arrays and a readiness summary (its counts and lists)";
    case "latency":
      return isHistogram(result.receiptToSend) && allValues(result.exchangeToReceipt, isHistogram) ? undefined : "latency needs receiptToSend and exchangeToReceipt histograms";
    case "metrics":
      return areObjects(result, ["labels", "publisher", "applyErrors"]) &&
        allValues(result.venues, Array.isArray) &&
        isHistogram(result.receiptToSend) &&
        allValues(result.exchangeToReceipt, isHistogram) &&
        (result.eventLoopLag === undefined || isHistogram(result.eventLoopLag)) &&
        areArrays(result, ["books", "unresolved"]) &&
        (result.books as unknown[]).every((b) => isObject(b) && strings(b, BOOK_COUNT_STRINGS) && Number.isFinite(b.count)) &&
        (result.unresolved as unknown[]).every((u) => isObject(u) && strings(u, UNRESOLVED_COUNT_STRINGS) && Number.isFinite(u.count)) &&
        metricNumbersOk(result)
        ? undefined
        : "metrics need their sections (venues' sample lists, histograms with bounds and counts, book and unresolved counts, numbers where samples are)";
  }
}

/**
 * A worker's connection states (or send failures) with its index: every worker has connections of the same names
 * (conn0.linear …) and sends to every destination, so until 2026-12-07 two workers' venue_down (or
 * publish_send_failing) reasons read the same, and which worker's it was could not be told. A few per worker.
 */
function byWorker<T extends object>(list: readonly T[] | undefined, worker: number): (T & { worker: number })[] | undefined {
  return list?.map((x) => ({ ...x, worker }));
}

/** byWorker of a worker's send failures, each lastErrorAgoMs made `byUs` older (the time since its reply: sinceUs). */
function agedFailures(list: ReadinessSummary["sendFailures"], worker: number, byUs: number): ReadinessSummary["sendFailures"] {
  return list?.map((f) => ({ ...f, worker, lastErrorAgoMs: f.lastErrorAgoMs + Math.round(byUs / 1000) }));
}

/**
 * A worker's reply and when it came (this thread's performance.now()). Why: the ages in a reply (a book's recvAgeUs, a
 * send failure's lastErrorAgoMs) are as of the worker's reply, and the answer is made once the slowest worker's came
 * (up to REPLY_MAX_MS later): until 2026-12-07 they were shown as they were, a quiet book up to 10 s younger than it was.
 */
async function stamped<T>(reply: Promise<T>): Promise<{ result: T; atMs: number }> {
  const result = await reply;
  return { result, atMs: performance.now() };
}

/** µs from `atMs` to `nowMs` (this thread's performance.now()). */
function sinceUs(atMs: number, nowMs = performance.now()): number {
  return Math.max(0, Math.round((nowMs - atMs) * 1000));
}

/** `books` as `slot`'s last, their ages (recvAgeUs) as of `atMs` (this thread's performance.now()). */
function keepBooks(slot: Slot, books: BookSummary[], atMs = performance.now()): void {
  slot.lastBooks = books;
  slot.lastBooksAtMs = atMs;
  slot.unavailable = undefined; // of the books before (released: a share's worth of entries)
}

/** A turn that is no turn: a caller that gave none (tests) has the whole pass at once. */
const now: Turn = () => Promise.resolve();

/** A summary of no book: `count` symbols unresolved, the first of `unresolved` named. */
function unresolvedSummary(unresolved: ReadinessInput["unresolved"], count: number): ReadinessSummary {
  return { books: 0, live: 0, notLive: 0, notLiveFirst: [], unresolved: count, unresolvedFirst: unresolved.slice(0, READYZ_NAMED), connectionsDown: 0, connectionsDownFirst: [], workersDown: [] };
}

/**
 * One worker's part of the summary /readyz and /status merge (mergeSummaries), the first `limit` of each list named:
 * its answer, its connections and send failures marked as its own; while it first starts, its whole share
 * unresolved; down, every one of its last books not live (`stale`: the first of them, copied) and the rest of its
 * share unavailable (unavailableShare). Until 2026-12-07 readyz() and statusRows() each wrote this out.
 */
function workerSummary(slot: Slot, limit: number, from: { answer: ReadinessSummary; byUs: number } | "starting" | { stale: readonly BookSummary[]; unavailable: Unavailability }): ReadinessSummary {
  if (from === "starting") return { ...unresolvedSummary(slot.share, slot.share.length), unresolvedFirst: slot.share.slice(0, limit) };
  if ("answer" in from) {
    const p = from.answer;
    return { ...p, connectionsDownFirst: byWorker(p.connectionsDownFirst, slot.index)!, sendFailures: agedFailures(p.sendFailures, slot.index, from.byUs) };
  }
  const { of, list, bad } = from.unavailable;
  const books = of.length - bad; // its entries that are no book summary (skipped) not counted
  return { ...unresolvedSummary(list, list.length), unresolvedFirst: list.slice(0, limit), books, notLive: books, notLiveFirst: from.stale.slice(0, limit).map(notLiveOf) };
}

/**
 * A down slot's configured symbols that its last answered books do not hold (not listed, not resolved yet, a venue
 * still starting): listed as unresolved while it is away. Before, they vanished from /books and /status until the
 * worker was back. LIST_ITEMS_PER_TURN per `turn` (until 2026-12-06 in one turn, 20,000 of them), and once for those
 * books (kept in the slot: the share never changes, its last books not while it is down): until 2026-12-06 every
 * /readyz judged them again, a pass over both lists (a turn per 500 of each) for each probe of a worker down.
 * Read only: the list is shared by every answer until the worker answers again. An entry of those books that is no book
 * summary (isBookSummary) is skipped, counted (`bad`) and logged once for them (`logBad`: at most once a minute); until 2026-12-07 reading it threw, and
 * /books, /readyz and /status answered 500 while that worker was down.
 */
async function unavailableShare(slot: Slot, turn: Turn, logBad: (slot: Slot, skipped: number, of: number) => void): Promise<Unavailability> {
  const books = slot.lastBooks;
  if (slot.unavailable?.of === books) return slot.unavailable;
  const shown = new Set<string>();
  let bad = 0;
  for (let i = 0; i < books.length; i++) {
    if (i % LIST_ITEMS_PER_TURN === 0 && books.length > LIST_ITEMS_PER_TURN) await turn();
    const b = books[i];
    if (isBookSummary(b)) shown.add(`${b.venue}/${b.market}/${b.symbol}`);
    else bad++;
  }
  // Once per list of last books (this pass is judged once for them), at most once a minute (logReplyFault): staleBooks
  // skips the same entries silently.
  if (bad > 0) logBad(slot, bad, books.length);
  const detail = `worker ${slot.index} is not answering (restarting, hung, or its reply late or malformed): not known until it answers`;
  const out: ReadinessInput["unresolved"] = [];
  const share = slot.share;
  for (let i = 0; i < share.length; i++) {
    if (i % LIST_ITEMS_PER_TURN === 0 && share.length > LIST_ITEMS_PER_TURN) await turn();
    const u = share[i]!;
    if (!shown.has(`${u.venue}/${u.market}/${u.symbol}`)) out.push({ venue: u.venue, market: u.market, symbol: u.symbol, reason: "worker_unavailable", detail });
  }
  const judged = { of: books, list: out, bad };
  // Kept only while those are still its last books (a worker back meanwhile answered newer ones: keepBooks).
  if (slot.lastBooks === books) slot.unavailable = judged;
  return judged;
}

/**
 * A dead or unresponsive worker's books as it last answered them (the first `limit`): not to be trusted until it is
 * back; their age goes on from that answer (its recvAgeUs plus the time since, on this thread's monotonic clock).
 * LIST_ITEMS_PER_TURN per `turn`: until 2026-12-06 20,000 copied in one turn of this thread. Entries that are no book
 * summary are skipped (unavailableShare counts and logs them).
 */
async function staleBooks(slot: Slot, turn: Turn, limit = Infinity, out: BookSummary[] = []): Promise<BookSummary[]> {
  const sinceUs = sinceLastBooksUs(slot);
  const books = slot.lastBooks;
  const count = Math.min(limit, books.length);
  for (let i = 0, copied = 0; i < books.length && copied < limit; i++) {
    // As collectInTurns: a turn before each chunk, the first too when more than one is to be copied.
    if (i % LIST_ITEMS_PER_TURN === 0 && (i > 0 || count > LIST_ITEMS_PER_TURN)) await turn();
    const b = books[i];
    if (!isBookSummary(b)) continue; // counted and logged by unavailableShare
    out.push(staleBook(b, sinceUs));
    copied++;
  }
  return out;
}

/** How long ago (µs, this thread's monotonic clock) `slot`'s last books were answered. */
function sinceLastBooksUs(slot: Slot): number {
  return Math.round((performance.now() - slot.lastBooksAtMs) * 1000);
}

/** A down worker's last book as listed: stale, never usable, its age going on from that answer (`sinceUs` ago). */
function staleBook(b: BookSummary, sinceUs: number): BookSummary {
  return { ...b, state: "stale", reason: "worker_unavailable", valid: false, recvAgeUs: typeof b.recvAgeUs === "number" ? b.recvAgeUs + sinceUs : null };
}

/**
 * The symbols of `slot`'s share that its answer (books[booksFrom..], unresolved[unresolvedFrom..]) names nowhere,
 * appended to `unresolved` as `worker_reply_malformed`: called only when entries of that answer were skipped (no book
 * summary, no symbol), which may have been theirs. Before 2026-12-07 such a symbol was in neither /books nor /status,
 * and /status's readiness rules never saw it (ready while that book's state was not known). Cold (a worker's bug);
 * LIST_ITEMS_PER_TURN per `turn`.
 */
async function unnamedShare(slot: Slot, books: readonly BookSummary[], booksFrom: number, unresolved: ReadinessInput["unresolved"], unresolvedFrom: number, turn: Turn): Promise<void> {
  const named = new Set<string>();
  const unresolvedTo = unresolved.length;
  const lists: [readonly { venue: string; market: string; symbol: string }[], number, number][] = [
    [books, booksFrom, books.length],
    [unresolved, unresolvedFrom, unresolvedTo],
  ];
  let n = 0;
  for (const [list, from, to] of lists) {
    for (let i = from; i < to; i++, n++) {
      if (n % LIST_ITEMS_PER_TURN === 0 && n > 0) await turn();
      const b = list[i]!;
      named.add(`${b.venue}/${b.market}/${b.symbol}`);
    }
  }
  const detail = `worker ${slot.index}'s answer held entries that name no book or symbol (its bug, logged): this symbol's book not known`;
  const share = slot.share;
  for (let i = 0; i < share.length; i++) {
    if (i % LIST_ITEMS_PER_TURN === 0 && share.length > LIST_ITEMS_PER_TURN) await turn();
    const u = share[i]!;
    if (!named.has(`${u.venue}/${u.market}/${u.symbol}`)) unresolved.push({ venue: u.venue, market: u.market, symbol: u.symbol, reason: "worker_reply_malformed", detail });
  }
}

/**
 * A worker's readiness books (or unresolved symbols) appended to `out`, LIST_ITEMS_PER_TURN per `turn` (as staleBooks),
 * skipping entries that name no book (isBookSummary); returns how many were skipped. The reply's lists are taken as
 * lists only: before 2026-12-07 such an entry of a worker still answering reached /status's readiness rules (a book)
 * or /books' and /status's unresolvedSummary (a symbol), which read its fields: a 500.
 */
async function copyNamed<T extends { venue: string; market: string; symbol: string }>(books: readonly unknown[], out: T[], turn: Turn, ageByUs = 0): Promise<number> {
  let bad = 0;
  for (let i = 0; i < books.length; i++) {
    if (i % LIST_ITEMS_PER_TURN === 0 && books.length > LIST_ITEMS_PER_TURN) await turn();
    const b = books[i];
    if (!isBookSummary(b)) {
      bad++;
      continue;
    }
    if (ageByUs !== 0 && typeof b.recvAgeUs === "number") b.recvAgeUs += ageByUs; // in place: the reply is this thread's copy
    out.push(b as unknown as T);
  }
  return bad;
}

/**
 * An entry of a worker's books that names its book: "started"'s summaries and a readiness reply's books are taken as
 * lists only (a share's worth, on every request), so an entry is checked where it is read, skipped if it is not one.
 */
function isBookSummary(b: unknown): b is BookSummary {
  return isObject(b) && typeof b.venue === "string" && typeof b.market === "string" && typeof b.symbol === "string";
}
