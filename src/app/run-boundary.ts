/**
 * Where a recorder's run ends without its stop records (killed: SIGKILL, a crash, a power loss between blocks) and a
 * new run's capture follows: replay and export --books resync every book there, as live's books went away with the
 * process. A clean stop writes a `ws:close` (RECORDER_STOPPED_WHY) for every connection its capture has open
 * (CaptureSocketHead.stopCloses); a rotation within a run begins its file with a head (`ws:state` / `ws:overlap` for
 * each open connection first among the head's records: CaptureSocketHead.events). So the records read so far leaving
 * a connection open, followed by a file (or a capture concatenated into one) that begins with no head, is a run cut
 * short. Before, only its connections' next `ws:open` took their books out of LIVE (ConnectionLifecycle.replayOpened),
 * and a connection the next run never opened (its config changed) kept them LIVE for good. Only a recorder that records
 * its sockets (`ws:sockets` after every `ws:open`, `ws:state`, a head: since 2026-12-06) is taken to write heads: in a
 * capture of an older one, with no head at any rotation, every rotation with a connection open looked like a new run
 * (its books resynced, a warning, and on a venue whose snapshots come only at a subscribe RESYNCING until the
 * connection's next open in the capture, hours); such a run killed is not detected (its connection's next `ws:open`
 * still takes its books out of LIVE). A recorder of 2026-12-06 16:47–18:05 UTC (s-capov, before s-cap8) recorded its
 * sockets but wrote no heads: its rotations with a connection open are taken as new runs (needless, never wrong).
 * @module
 */
import { CAPTURE_LOST_URL, type CaptureRecord } from "../record/capture.ts";
import {
  BUDGET_WAIT_SET_URL,
  INSTRUMENTS_CLOSED_SET_URL,
  SOCKET_ASKED_URL,
  SOCKET_BACK_HELD_SET_URL,
  SOCKET_BACK_URL,
  SOCKET_RETIRED_URL,
  SOCKET_SWAP_URL,
  SOCKET_UNSUBSCRIBED_SET_URL,
  SOCKETS_RECORDED_URL,
  SOCKETS_OVERLAP_URL,
  SOCKETS_STATE_URL,
} from "../venues/venue.ts";
import { CaptureSocketHead } from "./capture-sockets.ts";

/** The records a file head's block may begin with (CaptureSocketHead.events): no new run begins with one. */
const HEAD_URLS: ReadonlySet<string> = new Set([SOCKET_BACK_HELD_SET_URL, SOCKET_UNSUBSCRIBED_SET_URL, SOCKETS_STATE_URL, SOCKETS_OVERLAP_URL, INSTRUMENTS_CLOSED_SET_URL, BUDGET_WAIT_SET_URL, SOCKET_ASKED_URL]);

/**
 * Records only a recorder that records its sockets writes (venue.ts SOCKETS_RECORDED_URL: every `ws:open` is followed
 * by `ws:sockets`), so every way the records make a connection open but a bare `ws:open` (an older recorder's) is one.
 */
const SOCKETS_URLS: ReadonlySet<string> = new Set([...HEAD_URLS, SOCKETS_RECORDED_URL, SOCKET_SWAP_URL, SOCKET_RETIRED_URL, SOCKET_BACK_URL]);

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
  /**
   * Whether the records read since this run began (or since the last forget) say their recorder records its sockets,
   * so writes a head at every rotation: only then is a file beginning without one a new run.
   */
  private headsWritten = false;

  /** A record read (fed to the books): connection events change what is open, frames and REST answers nothing. */
  observe(r: CaptureRecord): void {
    if (r.url === undefined) return;
    if (!this.headsWritten && SOCKETS_URLS.has(r.url)) this.headsWritten = true;
    this.open.observe(r.venue, r.market, r.connection, r.url, typeof r.frame === "string" ? r.frame : "");
  }

  /**
   * Records lost here, or a resync of every book already taken (a capture gap, a time jump): what was open is not
   * known; the next records say it again (a head, a `ws:open`, the `ws:state` every minute).
   */
  forget(): void {
    this.open = new CaptureSocketHead();
    this.headsWritten = false;
  }

  /**
   * Whether `first`, the first record of a file or of a capture concatenated into one, begins a new run after a run
   * that left a connection open with no stop record for it, its recorder one that writes heads. A loss mark
   * (CAPTURE_LOST_URL) begins no run: its own gap. A file with no head begins a new run, or is an older recorder's
   * (whose run nothing here can end): what is open and what its recorder writes are learnt again from its records, so
   * an older run's connection left open is not taken for a later run's.
   */
  cutBefore(first: CaptureRecord): boolean {
    if (first.url !== undefined && (HEAD_URLS.has(first.url) || first.url === CAPTURE_LOST_URL)) return false;
    const cut = this.headsWritten && this.open.stopCloses().length > 0;
    this.forget();
    return cut;
  }
}
