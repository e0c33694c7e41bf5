/**
 * Structured logging: JSON lines when stderr is not a TTY, a readable line when it is.
 * Never call on hot paths; use counters there and log them rate-limited (see RateLimitedLog).
 * @module
 */
import { ReportLimit } from "./report-limit.ts";
import { redactUrlsIn } from "./redact-url.ts";
import { escapeControls, jsonForTerminal } from "./terminal-text.ts";
import { WriteBacklog } from "./write-backlog.ts";

export type Level = "debug" | "info" | "warn" | "error";
const LEVEL_RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: Level;
  format?: "auto" | "json" | "pretty";
  /** Where lines go; defaults to stderr. */
  write?: (line: string) => void;
  base?: Record<string, unknown>;
}

/** Errors after which a stream takes nothing ever again: its reader went away (EPIPE), or it is closed or ended. */
const GONE_FOR_GOOD = new Set(["EPIPE", "ECONNRESET", "EBADF", "ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END"]);

/**
 * What a stream's reader may fall behind by (bytes written, not yet taken) before lines are dropped: a pipe's writes
 * wait in the process, so a log reader that stopped reading (`feeder run 2>&1 | tee x.log` with tee's terminal
 * paused by Ctrl-S, a stalled journald) grew the feeder's memory by every log line, without bound.
 */
export const MAX_PENDING_LOG_BYTES = 4 * 1024 * 1024;

/** The stream a guardedWriter writes to: `done` runs once a write is out (or failed), in the order written. */
export interface GuardedStream {
  write(text: string, done?: (err?: unknown) => void): unknown;
  on(event: "error", listener: (err: unknown) => void): unknown;
}

/**
 * A writer of text to `stream` that no error of it can end the thread with: one 'error' listener, a throw caught.
 * Lines are dropped from then on only when the stream is gone for good (EPIPE, closed); after another error (a full
 * disk under `2>> feeder.log`: ENOSPC) the next line is tried again, and is written once there is room. While the
 * reader is behind by more than `maxPendingBytes`, lines are dropped and counted until half of it is taken; the next
 * line written is then a warning that says how many (a JSON log line). `done`, when given, is called once the stream
 * has handed the text on or failed it (at once when it is dropped): the supervisor takes a worker's next lines only
 * as its earlier ones leave (app/worker-log.ts).
 */
export function guardedWriter(
  stream: GuardedStream,
  maxPendingBytes = MAX_PENDING_LOG_BYTES,
): (text: string, done?: () => void) => void {
  let gone = false;
  const backlog = new WriteBacklog();
  let dropped = 0;
  const onError = (err: unknown): void => {
    if (GONE_FOR_GOOD.has(String((err as { code?: unknown } | null)?.code))) gone = true;
  };
  const put = (text: string, done?: () => void): void => {
    backlog.add(Buffer.byteLength(text));
    try {
      stream.write(
        text,
        done === undefined
          ? backlog.written
          : () => {
              backlog.written();
              done();
            },
      );
    } catch (err) {
      backlog.written(); // a write that threw is not pending
      onError(err);
      done?.();
    }
  };
  stream.on("error", onError);
  return (text, done) => {
    if (gone) return done?.();
    if (dropped > 0 ? backlog.bytes > maxPendingBytes / 2 : backlog.bytes > maxPendingBytes) {
      dropped++;
      return done?.();
    }
    if (dropped > 0) {
      put(safeJson({ ts: new Date().toISOString(), level: "warn", msg: "log lines dropped: standard error's reader was behind", dropped }) + "\n");
      dropped = 0;
    }
    put(text, done);
  };
}

let stderrWriter: ((text: string, done?: () => void) => void) | undefined;

/**
 * Text to stderr, as it is (a log line ends in "\n"). A stderr whose reader went away (`feeder run 2>&1 | tee x.log`
 * and tee ended: EPIPE) costs the lines from then on, nothing else: unhandled, its 'error' event ended the thread,
 * so with workers = N each worker died at its next log line, was restarted and died again, its books stale. A
 * passing failure (ENOSPC) costs only the lines it hit; a reader that stops reading, the lines beyond
 * MAX_PENDING_LOG_BYTES (counted). Per thread (each worker has its own process.stderr), but with workers only the
 * main thread writes: a worker's log lines come to it as messages (app/worker-log.ts), so the lines of several
 * threads never interleave mid-line on a stderr that takes text in pieces (a pipe that is full). `done`: see
 * guardedWriter.
 */
export function writeStderr(text: string, done?: () => void): void {
  (stderrWriter ??= guardedWriter(process.stderr as unknown as Parameters<typeof guardedWriter>[0]))(text, done);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const minRank = LEVEL_RANK[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => writeStderr(line + "\n"));
  const pretty = opts.format === "pretty" || (opts.format !== "json" && process.stderr.isTTY === true);
  const base = opts.base ?? {};
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (LEVEL_RANK[level] < minRank) return;
    const all = fields ? { ...base, ...fields } : base;
    if (pretty) {
      const time = new Date().toISOString().slice(11, 23);
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === "string" ? redactUrlsIn(v) : safeJson(v)}`)
        .join(" ");
      // A field's text from outside (a server's error, a name from the feed) goes to the terminal: its control
      // characters shown, not obeyed (an ESC sequence cleared the screen, a line break forged a line).
      write(escapeControls(`${time} ${level.toUpperCase().padEnd(5)} ${redactUrlsIn(msg)}${extra ? "  " + extra : ""}`));
    } else {
      // JSON escapes C0 itself; DEL and C1 (U+009B is CSI to a UTF-8 terminal) it leaves as they are.
      write(jsonForTerminal(safeJson({ ts: new Date().toISOString(), level, msg, ...all })));
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
  };
}

/**
 * JSON of a log record or field. A URL's credentials (a ws_url / rest_url with user:pw@, in an error or a field) are
 * never written: each string is redacted as it is, before JSON escapes it (a password's quote became \" in the line,
 * where the text's redaction stopped: the whole password was shown).
 */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "string" ? redactUrlsIn(x) : typeof x === "bigint" ? x.toString() : x instanceof Error ? redactUrlsIn(x.message) : x));
  } catch {
    return String(v);
  }
}

/** A logger that drops everything (tests, benches). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/**
 * Counts events on a hot path and logs at most one line per interval with the count since the last line (`count`,
 * worded in `counted`: the first line says it is the first, there being no last line).
 * `hit()` is allocation-free; the log line (cold) allocates.
 */
export class RateLimitedLog {
  /** Monotonic (performance.now()): on Date.now a wall clock stepped back an hour kept every line back for the hour. */
  private readonly limit: ReportLimit;
  total = 0;
  constructor(
    private readonly log: Logger,
    private readonly level: Level,
    private readonly msg: string,
    intervalMs = 5000,
  ) {
    this.limit = new ReportLimit(intervalMs);
  }

  /** `from`: who caused it (an address), logged as its own field so a caller need not build a detail string per hit. */
  hit(detail?: string, from?: string): void {
    this.total++;
    const count = this.limit.due(performance.now());
    if (count === 0) return;
    const counted = this.limit.countWords(count, "more");
    this.log[this.level](this.msg, from === undefined ? { count, counted, total: this.total, detail } : { count, counted, total: this.total, detail, from });
  }
}
