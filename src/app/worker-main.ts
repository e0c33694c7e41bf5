/**
 * Entry point of one feeder worker (a Bun Worker): it owns its venue connections, builders and publisher
 * socket (source id = publish.source_id + worker index + 1) for its share of the subscriptions, and shares nothing mutable with
 * the main thread; it answers requests for books and metrics, and sends its log lines to the main thread, which
 * writes them (worker-log.ts).
 * @module
 */
import { awaitWithin } from "../core/await-within.ts";
import { nowUs } from "../core/clock.ts";
import { errorText } from "../core/error-text.ts";
import { createLogger, RateLimitedLog, type Logger } from "../core/log.ts";
import { Feeder, inWorkerShare } from "./feeder.ts";
import { workerLedger, type WorkerLedger } from "../venues/common/budget-ledger.ts";
import type { FromWorker, ToWorker, WorkerRequest } from "./worker-protocol.ts";
import { WorkerLogOutbox } from "./worker-log.ts";
import { cancelledTurn, progressTurn, ReplyCancelled, sendInParts, sharedTurns, STARTED_REPLY_ID } from "./worker-reply.ts";

declare const self: Worker;

let feeder: Feeder | undefined;
let workerIndex = 0;
let log: Logger | undefined;
/**
 * A status request that threw: at most a line per 5 s with the count (a book that cannot be read throws at every poll
 * of its /books/{…}; until s-livecount a line each).
 */
let requestFailedLog: RateLimitedLog | undefined;
let stopping = false;
let ledger: WorkerLedger | undefined;
/** The Feeder's one stop: a failed start's goodbye and the supervisor's `stop` share it (one HALTED each, one END). */
let feederStop: Promise<void> | undefined;
/**
 * How long a failed start waits for its Feeder's stop before it reports `start-failed` (the supervisor ends the
 * thread and restarts it then): as `feeder run`'s stop deadline (cli STOP_DEADLINE_MS), so a stop that hangs delays
 * the restart by this much at most. The HALTED statuses and the END are sent in the stop's first turn; what this
 * waits for is the venues' sockets closing.
 */
const FAILED_START_STOP_MS = 1500;
/** Requests being answered, and those of them the supervisor no longer waits for (`cancel`). */
const answering = new Set<number>();
const cancelled = new Set<number>();
/** Log lines go to the main thread, which writes the process's one log stream (worker-log.ts). */
const logOutbox = new WorkerLogOutbox(send);

function send(msg: FromWorker): void {
  self.postMessage(msg);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "start": {
      workerIndex = msg.workerIndex;
      log = createLogger({ level: msg.config.log.level, format: msg.config.log.format, base: { worker: workerIndex }, write: (line) => logOutbox.write(line) });
      requestFailedLog = new RateLimitedLog(log, "error", "could not answer a status request");
      ledger = workerLedger(msg.budgets ?? {}, (event) => send({ type: "budget", ...event }));
      feeder = new Feeder({
        config: msg.config,
        authKey: msg.authKey,
        // After the slot's previous session, however the wall clock stepped since: else subscribers drop this one as older.
        sessionStartUs: msg.sessionStartAfterUs === undefined ? undefined : Math.max(nowUs(), msg.sessionStartAfterUs + 1),
        log,
        sourceOffset: workerIndex + 1, // the publisher sends as publish.source_id + this (publish-guard.ts workerSourceId)
        subscriptionFilter: (venue, sub) => inWorkerShare(venue, sub, workerIndex, msg.workerCount),
        connectBudgetShare: 1 / msg.workerCount, // one IP: the workers split the venue's per-IP budgets ...
        budgetIndex: workerIndex, // ... each in a slot of its own where its part is below one a window
        // ... and a restarted worker starts from what its predecessor spent (the venue still counts it).
        budgetLedger: ledger,
        partOfLargerConfig: true,
      });
      send({ type: "session", sourceId: feeder.publisher.sourceId, sessionId: feeder.publisher.sessionId, sessionStartUs: feeder.publisher.sessionStartUs });
      try {
        await feeder.start();
        if (stopping) return; // stopped during start-up: nothing started, the supervisor is ending this worker
        // Many books' summaries are taken and sent a part per turn (worker-reply.ts): its venues run in between.
        const started = feeder;
        const summaries = await started.bookSummariesInTurns(() => nextTurn());
        if (stopping) return;
        await sendInParts(STARTED_REPLY_ID, summaries, send, (rest) => {
          if (!stopping) send({ type: "started", books: started.books().length, sessionId: started.publisher.sessionId, summaries: rest, venues: started.venueStarts() });
        }, () => nextTurn());
      } catch (err) {
        // Venues that started before another failed have published books: they are HALTED and the stream ends
        // (END_OF_SESSION) before the supervisor ends this thread, as `feeder run` stops a failed start (runtime.ts).
        // Before, the thread was ended with nothing said: subscribers saw those books only go stale.
        await stopFeederWithin(FAILED_START_STOP_MS);
        if (stopping) return; // the supervisor's stop came meanwhile: its `stopped` answers it, after the same stop
        send({ type: "start-failed", error: errorText(err) });
      }
      return;
    }
    case "request": {
      // An exception answering a status request must not end this thread (its books would go dark and a scrape
      // every 15 s would restart it in a loop): it is logged and answered as no answer, the HTTP side's "unavailable".
      answering.add(msg.id);
      try {
        // Many books' summaries (and unresolved symbols) go a part per turn (worker-reply.ts): a clone of them all
        // in one message held this thread (its venues) for 40–80 ms at 20,000 books. Each turn collecting them tells
        // the main thread the reply is progressing (it waits for a reply only while it does).
        // The oldest reply's chunk first (msg.id: worker-reply.ts sharedTurns); a reply the supervisor cancels (its
        // client gone, or given up) stops at its next turn. /readyz's summary takes no turn of them: it is made in
        // this one (answer) and sent whole.
        const turn = cancelledTurn(msg.id, cancelled, () => nextTurn(false, msg.id));
        const result = await answer(msg, progressTurn(msg.id, send, turn));
        const last = (rest: typeof result) => send({ type: "response", id: msg.id, result: rest }); // a result that cannot be cloned throws here
        if (msg.what === "readiness" || msg.what === "status") return await sendInParts(msg.id, result, send, last, turn);
        return last(result);
      } catch (err) {
        if (err instanceof ReplyCancelled) return; // nobody waits for it
        requestFailedLog?.hit(`${msg.what}: ${errorText(err)}`);
        return send({ type: "response", id: msg.id, result: undefined });
      } finally {
        answering.delete(msg.id);
        cancelled.delete(msg.id);
      }
    }
    case "cancel":
      if (answering.has(msg.id)) cancelled.add(msg.id); // one already answered leaves nothing behind
      return;
    case "ping":
      return send({ type: "pong" });
    case "hold":
      return ledger?.hold(msg.key, msg.holdMs);
    case "log-taken":
      return logOutbox.taken(msg.chars);
    case "stop": {
      stopping = true;
      await stopFeeder(); // during start-up too: its venue REST requests end at once
      logOutbox.reportDropped(); // no `log-taken` may come any more
      send({ type: "stopped" });
      return;
    }
  }
};

function stopFeeder(): Promise<void> {
  feederStop ??= (feeder?.stop() ?? Promise.resolve()).catch((err) => log?.error("could not stop the feeder", { error: errorText(err) }));
  return feederStop;
}

/**
 * stopFeeder(), waited for `deadlineMs` at most (what it has not done by then is left to the thread's end). The timer
 * holds the thread: what follows the wait (the start-failed answer) must be sent.
 */
async function stopFeederWithin(deadlineMs: number): Promise<void> {
  await awaitWithin(stopFeeder(), deadlineMs);
}

/** Another turn of this thread: its venue connections and publisher run between chunks of many books' summaries. */
const nextTurn = sharedTurns(); // one reply's chunk per turn, however many are in progress, the oldest's first

/** `turn`: another turn of this thread for collecting many books (nextTurn, saying so to the main thread). */
async function answer(msg: WorkerRequest, turn: () => Promise<void>): Promise<Extract<FromWorker, { type: "response" }>["result"]> {
  if (!feeder) return undefined;
  if (msg.what === "book") return feeder.bookLevels(msg.venue, msg.market, msg.symbol, msg.depth, msg.maxBytes ?? Infinity) ?? null;
  if (msg.what === "readiness") return feeder.readinessInputInTurns(turn);
  if (msg.what === "readyz") return feeder.readinessSummary();
  if (msg.what === "status") return feeder.statusRows(msg.limit, msg.chosen, turn);
  if (msg.what === "latency") return feeder.latencySnapshot();
  return feeder.metricsSnapshot({ worker: String(workerIndex) });
}
