/**
 * The runs (sessions) a publisher source left behind, and the watch that takes one back when it keeps sending
 * (docs/wire-protocol.md §3.4): one state and one rule for both readers, the multicast subscriber (streams.ts,
 * SourceState.left) and the NATS reader (nats-envelope.ts, UpstreamSession.left). Until 2026-12-06 each had its own copy,
 * over its own shapes (µs and ms, a pair list and key objects). A session is keyed by its start as two words and its
 * id, compared for equality only: multicast splits its start in µs (startWordsOf), the NATS reader gives the upstream
 * ns words. Times are µs: receipt on the reader's clock, send time on the publisher's. Cold: reached only by datagrams
 * of older sessions than a source's newest. No Bun API (the Node package compiles it).
 * @module
 */

/**
 * How long a run the source left behind must keep sending (receive time and its own send time) before it is taken
 * again once the rest of the source is over: far beyond what a burst of a dead run's late datagrams spans.
 */
export const LEFT_BEHIND_LIVE_MS = 5000;
/**
 * How far the send times (its own clock) of such a run's datagrams may have advanced more or less than the receive
 * clock over those 5 s: a backlog draining (sent faster than received) or a trickle is no run sending now.
 */
export const LEFT_BEHIND_SKEW_MS = 1000;
/** Replaced sessions remembered per source (cold: one entry per confirmed restart), and runs watched at most. */
export const RETIRED_SESSIONS = 8;

const WORD = 0x1_0000_0000;

/** A multicast session start (whole µs, below 2^53) as the two words LeftBehindRuns keys it by. */
export function startHiOf(startUs: number): number {
  return Math.floor(startUs / WORD);
}
export function startLoOf(startUs: number): number {
  return startUs % WORD;
}

/**
 * A left-behind run whose datagrams keep coming: the receive time and send time of the first of them since its watch
 * began, and the receive time of the last.
 */
export interface RunWatch {
  startHi: number;
  startLo: number;
  id: number;
  fromRecvUs: number;
  fromSendUs: number;
  lastRecvUs: number;
}

/** One source's runs left behind (retired) and their watches. */
export class LeftBehindRuns {
  /**
   * Sessions a confirmed newer one replaced, (startHi, startLo, id) triples, oldest first: the last RETIRED_SESSIONS.
   * Never taken again as a restart unless they keep sending (watch): a dead run's late or duplicated datagram after a
   * moment of silence must not pass for a restart whose clock stepped back.
   */
  private readonly retired: number[] = [];
  /**
   * The runs left behind whose datagrams came, each watched on its own (at most RETIRED_SESSIONS, only retired runs).
   * One watch per source was restarted by any other run's datagram: a forger replaying one left-behind run's
   * datagrams (no key needed) between a live one's held that one off for good (before 2026-12-06).
   */
  private readonly watches: RunWatch[] = [];

  /** Runs retired (at most RETIRED_SESSIONS). */
  get size(): number {
    return this.retired.length / 3;
  }

  /** A loop (no closure): run for every datagram of an older session (a flood allocates nothing each). */
  has(startHi: number, startLo: number, id: number): boolean {
    const r = this.retired;
    for (let i = 0; i < r.length; i += 3) if (r[i] === startHi && r[i + 1] === startLo && r[i + 2] === id) return true;
    return false;
  }

  retire(startHi: number, startLo: number, id: number): void {
    if (this.retired.length >= 3 * RETIRED_SESSIONS) this.retired.splice(0, 3);
    this.retired.push(startHi, startLo, id);
  }

  /**
   * A datagram of the retired run (startHi, startLo, id), received at recvUs, sent at sendUs, its heartbeat interval
   * hbMs. Returns the run's watch once its datagrams have kept coming for LEFT_BEHIND_LIVE_MS (3 of its heartbeat
   * intervals when longer) of receive time and of its own send time, none of them that long after the one before,
   * its send times advancing with the receive clock (within LEFT_BEHIND_SKEW_MS; else the watch starts again from
   * this one): the caller then takes it back (takeBack) unless a stream of the source on another session is alive
   * (watchAgain). A dead run's late datagrams, sent before it died, arrive together after a blip and span no such
   * receive time; one late copy long after others is no run still sending; a dead run's backlog drained from a slow
   * path comes faster than it was sent (taken back before 2026-12-06, its old snapshot a usable book).
   */
  spanned(startHi: number, startLo: number, id: number, recvUs: number, sendUs: number, hbMs: number): RunWatch | undefined {
    const w = this.watchOf(startHi, startLo, id, recvUs, sendUs);
    if (w === undefined) return undefined;
    const spanUs = 1000 * Math.max(LEFT_BEHIND_LIVE_MS, 3 * hbMs);
    const lastRecvUs = w.lastRecvUs;
    w.lastRecvUs = recvUs;
    if (recvUs - lastRecvUs > spanUs) {
      this.watchAgain(w, recvUs, sendUs);
      return undefined;
    }
    const recvSpanUs = recvUs - w.fromRecvUs;
    const sendSpanUs = sendUs - w.fromSendUs;
    if (recvSpanUs < spanUs || sendSpanUs < spanUs) return undefined;
    if (Math.abs(sendSpanUs - recvSpanUs) > 1000 * LEFT_BEHIND_SKEW_MS) {
      this.watchAgain(w, recvUs, sendUs);
      return undefined;
    }
    return w;
  }

  /** The watch starts again from this datagram (another stream of the source alive, a gap, or its clock off). */
  watchAgain(w: RunWatch, recvUs: number, sendUs: number): void {
    w.fromRecvUs = recvUs;
    w.fromSendUs = sendUs;
  }

  /** The watched run kept sending with the rest of the source over: no longer left behind (a clock-step restart). */
  takeBack(w: RunWatch): void {
    this.watches.splice(this.watches.indexOf(w), 1);
    const r = this.retired;
    for (let i = r.length - 3; i >= 0; i -= 3) if (r[i] === w.startHi && r[i + 1] === w.startLo && r[i + 2] === w.id) r.splice(i, 3);
  }

  /** The watch of the run, or a new one from this datagram (undefined then: it has only begun). */
  private watchOf(startHi: number, startLo: number, id: number, recvUs: number, sendUs: number): RunWatch | undefined {
    const watches = this.watches;
    for (const w of watches) if (w.startHi === startHi && w.startLo === startLo && w.id === id) return w;
    // Only retired runs are watched, and RETIRED_SESSIONS are retired at most: the watches of runs no longer retired
    // (pushed out, or taken back) go first, so one of a run still retired is never pushed out by another's.
    for (let i = watches.length - 1; i >= 0; i--) if (!this.has(watches[i]!.startHi, watches[i]!.startLo, watches[i]!.id)) watches.splice(i, 1);
    if (watches.length >= RETIRED_SESSIONS) watches.shift();
    watches.push({ startHi, startLo, id, fromRecvUs: recvUs, fromSendUs: sendUs, lastRecvUs: recvUs });
    return undefined;
  }
}
