/**
 * Messages between the supervising main thread and its feeder workers (structured-cloned, cold path only).
 * @module
 */
import type { FeederConfig } from "../config/types.ts";
import type { BookLevels, BookNotServed, BookSummary, CopyRefused } from "./book-json.ts";
import type { LatencySnapshot, MetricsSnapshot } from "./metrics.ts";
import type { ReadinessInput, ReadinessSummary, StatusRows } from "./readiness.ts";
import type { VenueStart } from "./venue-start.ts";
import type { BudgetCarry, SentBudgetEvent } from "../venues/common/budget-ledger.ts";
import type { ReplyPart } from "./worker-reply.ts";

/** What the supervisor asks a worker for (HTTP requests, aggregated over workers). */
export type WorkerRequest =
  /** `maxBytes`: what HTTP reserved for the copy; a bigger one is not made (CopyRefused). Absent: no bound. */
  | { what: "book"; venue: string; market: string; symbol: string; depth: number; maxBytes?: number }
  | { what: "metrics" }
  /** Every book and unresolved symbol (/books, /status): a part per turn (worker-reply.ts). */
  | { what: "readiness" }
  /** /readyz's ReadinessSummary: answered in the request's own turn, one message (Feeder.readinessSummary). */
  | { what: "readyz" }
  /** /status?books=`limit`'s StatusRows (Feeder.statusRows: only its rows summarized): its lists a part per turn. */
  | { what: "status"; limit: number; chosen: string | null }
  | { what: "latency" };

export type ToWorker =
  /** `budgets`: what the slot's previous worker spent of each per-IP budget that the venue still counts. */
  /**
   * `authKey`: publish.auth_key_file's key as the supervisor read it once at its start, so a restarted worker signs
   * with the key every other worker signs with, even after the file was rotated in place (a restart applies it).
   */
  /**
   * `sessionStartAfterUs`: the latest session start (µs since the epoch) of the slot's previous workers: this one's
   * session starts after it, even if the wall clock stepped back meanwhile (wire-protocol.md §3.4 orders sessions by start).
   */
  | { type: "start"; config: FeederConfig; workerIndex: number; workerCount: number; budgets: Record<string, BudgetCarry>; authKey?: Uint8Array; sessionStartAfterUs?: number }
  | ({ type: "request"; id: number } & WorkerRequest)
  /** The supervisor no longer waits for reply `id` (its client went away, or it timed out): the worker stops making it. */
  | { type: "cancel"; id: number }
  /** The supervisor's liveness check: a worker answers `pong` at once (a hung one does not, and is restarted). */
  | { type: "ping" }
  /** The venue gave another worker a 429/418 hold on budget `key` that runs `holdMs` more: one IP, so this worker waits too. */
  | { type: "hold"; key: string; holdMs: number }
  /** `chars` of the worker's log lines have left for stderr (worker-log.ts): it may send that much more. */
  | { type: "log-taken"; chars: number }
  | { type: "stop" };

export type FromWorker =
  /**
   * Sent before the worker's publisher sends anything, so the main thread's publish guard knows it as ours; from
   * then on the worker answers requests, while it starts too (its venues start each on their own).
   */
  | { type: "session"; sourceId: number; sessionId: number; sessionStartUs: number }
  /**
   * `summaries`: its books as they start, so the supervisor can list them (as unavailable) even if the worker dies
   * before it is ever asked. `venues`: what its share of each venue found at start (the supervisor's start check).
   */
  | { type: "started"; books: number; sessionId: number; summaries: BookSummary[]; venues: VenueStart[] }
  | { type: "start-failed"; error: string }
  /**
   * The first items of reply `id`'s lists (of "books" and "readiness"; of "started"'s summaries: id
   * STARTED_REPLY_ID), sent a part per turn before its last message (worker-reply.ts), which the supervisor joins;
   * a part of no items: the reply is still being collected (the supervisor waits for a reply while it progresses).
   */
  | ReplyPart
  | { type: "response"; id: number; result: BookSummary[] | BookLevels | BookNotServed | CopyRefused | null | MetricsSnapshot | ReadinessInput | ReadinessSummary | StatusRows | LatencySnapshot | undefined }
  | { type: "pong" }
  /** A use of a per-IP budget (a connect, REST weight) or a venue's hold, reported before the request goes out; or a message budget's ring (once). */
  | ({ type: "budget" } & SentBudgetEvent)
  /** One log line, formatted (with the worker's `worker` field), for the main thread to write (worker-log.ts). */
  | { type: "log"; line: string }
  /** `lines` log lines were dropped: the main thread had not taken the worker's earlier ones (worker-log.ts). */
  | { type: "log-dropped"; lines: number }
  | { type: "stopped" };
