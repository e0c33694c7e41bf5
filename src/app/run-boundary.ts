/**
 * Where a recorder's run ends without its stop records (killed: SIGKILL, a crash, a power loss between blocks) and a
 * new run's capture follows: replay and export --books resync every book there, as live's books went away with the
 * process. A clean stop writes a `ws:close` (RECORDER_STOPPED_WHY) for every connection its capture has open
 * (CaptureSocketHead.stopCloses); a rotation within a run begins its file with a head (`ws:state` / `ws:overlap` for
 * each open connection first among the head's records: CaptureSocketHead.events). So the records read so far leaving
 * a connection open, followed by a file (or a capture concatenated into one) that begins with no head, is a run cut
 * short. Before, only its connections' next `ws:open` took their books out of LIVE (ConnectionLifecycle.replayOpened),
 * and a connection the next run never opened (its config changed) kept them LIVE for good.
 * @module
 */
import { CAPTURE_LOST_URL, type CaptureRecord } from "../record/capture.ts";
import {
  BUDGET_WAIT_SET_URL,
  INSTRUMENTS_CLOSED_SET_URL,
  SOCKET_ASKED_URL,
  SOCKET_BACK_HELD_SET_URL,
  SOCKET_UNSUBSCRIBED_SET_URL,
  SOCKETS_OVERLAP_URL,
  SOCKETS_STATE_URL,
} from "../venues/venue.ts";
import { CaptureSocketHead } from "./capture-sockets.ts";

/** The records a file head's block may begin with (CaptureSocketHead.events): no new run begins with one. */
const HEAD_URLS: ReadonlySet<string> = new Set([SOCKET_BACK_HELD_SET_URL, SOCKET_UNSUBSCRIBED_SET_URL, SOCKETS_STATE_URL, SOCKETS_OVERLAP_URL, INSTRUMENTS_CLOSED_SET_URL, BUDGET_WAIT_SET_URL, SOCKET_ASKED_URL]);

/** A run that ended without its stop records, where the next run begins (ReplayResult.unstopped, ExportResult.unstopped). */
export type UnstoppedRun = {
  /** The file of the run's last record read. */
  file: string;
  /** That record's receive time, µs. */
  endsUs: number;
  /** The file the next run begins in; `atByte` when a capture concatenated into it begins there. */
  next: string;
  atByte?: number;
};

export class RunBoundaries {
  /** The connections the records read so far leave open, as the recorder's stop would have closed them. */
  private open = new CaptureSocketHead();

  /** A record read (fed to the books): connection events change what is open, frames and REST answers nothing. */
  observe(r: CaptureRecord): void {
    if (r.url !== undefined) this.open.observe(r.venue, r.market, r.connection, r.url, typeof r.frame === "string" ? r.frame : "");
  }

  /**
   * Records lost here, or a resync of every book already taken (a capture gap, a time jump): what was open is not
   * known; the next records say it again (a head, a `ws:open`, the `ws:state` every minute).
   */
  forget(): void {
    this.open = new CaptureSocketHead();
  }

  /**
   * Whether `first`, the first record of a file or of a capture concatenated into one, begins a new run after a run
   * that left a connection open with no stop record for it. A loss mark (CAPTURE_LOST_URL) begins no run: its own gap.
   */
  cutBefore(first: CaptureRecord): boolean {
    if (first.url !== undefined && (HEAD_URLS.has(first.url) || first.url === CAPTURE_LOST_URL)) return false;
    return this.open.stopCloses().length > 0;
  }
}
