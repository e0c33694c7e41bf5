/**
 * Messages between the supervising main thread and its feeder workers (structured-cloned, cold path only).
 * @module
 */
import type { FeederConfig } from "../config/types.ts";
import type { BookDetail, BookSummary } from "./book-json.ts";
import type { MetricsSnapshot } from "./metrics.ts";

export type ToWorker =
  | { type: "start"; config: FeederConfig; workerIndex: number; workerCount: number }
  | { type: "request"; id: number; what: "books" }
  | { type: "request"; id: number; what: "book"; venue: string; market: string; symbol: string; depth: number }
  | { type: "request"; id: number; what: "metrics" }
  | { type: "stop" };

export type FromWorker =
  /** Sent before the worker's publisher sends anything, so the main thread's publish guard knows it as ours. */
  | { type: "session"; sourceId: number; sessionId: number }
  | { type: "started"; books: number; sessionId: number }
  | { type: "start-failed"; error: string }
  | { type: "response"; id: number; result: BookSummary[] | BookDetail | MetricsSnapshot | undefined }
  | { type: "stopped" };
