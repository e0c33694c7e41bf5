/**
 * With workers the process has one log stream: a worker's log lines (formatted in the worker, with its `worker`
 * field) go to the main thread as messages and the main thread writes them, whole and in order per worker. Before,
 * every thread wrote its own stderr, and on a stderr that takes text in pieces (a pipe whose reader fell behind)
 * the threads' pieces interleaved mid-line: records a log shipper could not read.
 * The lines a worker has sent and the main thread has not yet handed on to stderr are bounded (a stuck main thread
 * or a stderr that takes nothing must not grow a worker's memory without end): past the bound a worker drops its
 * lines, counts them, and reports the count once lines leave again or as it stops; the main thread logs it (a
 * worker that dies or is terminated with drops unreported loses that count). Cold: no book path logs.
 * @module
 */
import type { FromWorker } from "./worker-protocol.ts";

/** Characters of log text a worker may have on the way to stderr (one longer line still goes when none is). */
export const LOG_IN_FLIGHT_MAX_CHARS = 1 << 20;

/** The worker's side: where its logger writes. */
export class WorkerLogOutbox {
  private inFlightChars = 0;
  /** Lines dropped since the last report (the bound was reached). */
  private dropped = 0;

  constructor(
    private readonly post: (msg: FromWorker) => void,
    private readonly maxChars: number = LOG_IN_FLIGHT_MAX_CHARS,
  ) {}

  /** A formatted log line (no newline). */
  write(line: string): void {
    if (this.inFlightChars > 0 && this.inFlightChars + line.length > this.maxChars) {
      this.dropped++;
      return;
    }
    this.inFlightChars += line.length;
    this.post({ type: "log", line });
  }

  /** The main thread handed `chars` of this worker's lines on to stderr (or dropped them there: its reader gone). */
  taken(chars: number): void {
    if (!(chars > 0)) return;
    this.inFlightChars = Math.max(0, this.inFlightChars - chars);
    this.reportDropped();
  }

  /**
   * Reports the lines dropped since the last report, if any: as lines leave, and as the worker stops (before, drops
   * after the last lines that left went unreported when the worker then stopped: no `taken` came any more).
   */
  reportDropped(): void {
    if (this.dropped === 0) return;
    this.post({ type: "log-dropped", lines: this.dropped });
    this.dropped = 0;
  }
}

/**
 * The main thread's side, one per worker: writes each line with `write` (stderr) and tells the worker, once per
 * turn, how much of its text has left (`ack`).
 */
export class WorkerLogIntake {
  private takenChars = 0;
  private ackQueued = false;

  constructor(
    private readonly write: (text: string, done: () => void) => void,
    private readonly ack: (chars: number) => void,
  ) {}

  line(line: string): void {
    const chars = line.length;
    this.write(line + "\n", () => this.left(chars));
  }

  private left(chars: number): void {
    this.takenChars += chars;
    if (this.ackQueued) return;
    this.ackQueued = true;
    setImmediate(() => {
      this.ackQueued = false;
      const chars = this.takenChars;
      this.takenChars = 0;
      this.ack(chars);
    });
  }
}
