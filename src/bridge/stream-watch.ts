/**
 * What the bridge's JetStream stream keeps (docs/nats.md §JetStream). The bridge publishes with core NATS (no
 * per-message acknowledgement round trip), so a stream that stops storing — full with `discard new` (an operator's
 * change), sealed or out of storage, deleted while bridging — was invisible to it: the live feed went on, the history got a
 * hole, and nothing was counted or logged. Every `checkIntervalMs` this reads the stream's last sequence and compares
 * its growth with what the bridge published before the previous check (surely stored by now, if it was to be):
 * what it did not take, two checks in a row, is counted (`streamNotStored`) and logged when it starts and ends. A stream that is gone is
 * logged as an error, counted (`streamMissing`) and created again, so the history goes on. A check that cannot read
 * the stream (NATS down, JetStream unavailable) is counted (`streamCheckFailures`) and logged when such checks start
 * and end. Readers replaying the
 * stream see each hole as numbers skipped (a gap): the bridge numbered those messages when it published them.
 * With two bridges on one prefix the stream grows by both: one bridge's messages not stored may then go unnoticed.
 * @module
 */
import type { Logger } from "../core/log.ts";

/** The parts of @nats-io/jetstream's manager used here. */
export interface StreamManager {
  streams: {
    add(c: object): Promise<unknown>;
    update(n: string, c: object): Promise<unknown>;
    info(n: string): Promise<{ config: { subjects?: string[]; retention?: string; sealed?: boolean }; state: { last_seq: number }; created: string }>;
  };
}

export interface StreamWatchCounters {
  /** Messages published that the stream did not store (its last sequence grew by less): a hole in the history. */
  streamNotStored: number;
  /** Checks that found the stream gone (deleted): it is created again (tried again at each check until it is). */
  streamMissing: number;
  /**
   * Checks that could not read the stream: NATS down or slow, or JetStream unavailable (a server restarted without
   * it). What the bridge publishes meanwhile may not be stored: logged when it starts and ends; a hole is counted
   * in streamNotStored once a check can read the stream again.
   */
  streamCheckFailures: number;
}

export class StreamWatch {
  private readonly name: string;
  private readonly log: Logger;
  private readonly recreate: () => Promise<void>;
  /** The bridge's published count now: a baseline reads it once it has read the stream, a check after it. */
  private readonly sentNow: () => number;
  /** Last sequence of the stream and the bridge's published count at the baseline, and that count at the last check. */
  private baseSeq = -1;
  private sentBase = 0;
  /** When the stream was made (its info's `created`) at the baseline: another time is another stream of that name. */
  private created = "";
  /**
   * streamNotStored at the baseline: the deficit since then adds to it. Before, a new baseline (the stream created
   * again or replaced) compared its deficit, from 0, with the whole count: the next hole was neither counted nor
   * logged until it outgrew every earlier one.
   */
  private notStoredBase = 0;
  private sentAtPrevCheck = 0;
  private prevDeficit = 0;
  private failing = false;
  /** The last check could not read the stream (logged once per run of such checks). */
  private unreadable = false;
  /** The last check found the stream gone and could not create it again. */
  private missing = false;
  /** The baseline read the stream: until then whether it stores is unknown. */
  private read = false;
  private checking = false;
  /**
   * Bumped by verify(): a check under way then is abandoned (its result not taken): its request may have gone out on
   * a connection since dropped, answered by nothing until the client's request timeout (5 s).
   */
  private gen = 0;

  /**
   * Whether the last read of the stream (the baseline, then each check) found it there and storing what the bridge
   * publishes; undefined before the baseline read it (unknown: before, true, read as healthy by the gauge and /readyz
   * while the bridge was still making its stream). False while it is gone and cannot be created again (before, true).
   */
  get storing(): boolean | undefined {
    if (!this.read) return undefined;
    return !this.failing && !this.unreadable && !this.missing;
  }

  /** `sentNow`: the bridge's published count, read when the stream has been read (baseline, check). */
  constructor(name: string, log: Logger, recreate: () => Promise<void>, sentNow: () => number) {
    this.name = name;
    this.log = log;
    this.recreate = recreate;
    this.sentNow = sentNow;
  }

  /**
   * The bridge's connection was closed for good: no check runs until it connects again (with a new watch), so the
   * stream cannot be checked meanwhile, as when a check cannot read it. Before, `storing` kept its last value: true
   * (the gauge 1) for a whole outage of refused credentials, while nothing was stored.
   */
  connectionLost(): void {
    this.unreadable = true;
  }

  /**
   * Starts counting from the stream's state now, and from the bridge's published count read once the stream is read:
   * what was published while it was read is counted before the baseline, stored or not. Those not stored yet when it
   * was read (in flight) are taken for stored before it once a check finds more stored than published since (check):
   * until then, they could hide as large a hole. Before 2026-12-06 the count was read before the stream: what was
   * published during the read and stored before the server read the stream counted as published after the baseline
   * but was in it, a false hole for good (no check takes back a deficit).
   */
  async baseline(jsm: StreamManager, c: StreamWatchCounters, gen = this.gen): Promise<void> {
    const info = await jsm.streams.info(this.name);
    if (gen !== this.gen) return; // abandoned (verify)
    const sent = this.sentNow();
    this.read = true;
    this.missing = false;
    this.baseSeq = info.state.last_seq;
    this.created = info.created;
    this.notStoredBase = c.streamNotStored;
    this.sentAtPrevCheck = sent;
    this.sentBase = sent;
    this.prevDeficit = 0;
  }

  /**
   * Cold: one check now (the client connected again by itself: the server may have lost the stream), a check under
   * way abandoned. Resolves once the stream was read (made again if gone) or could not be read (counted and logged as
   * by check()); never rejects.
   */
  async verify(jsm: StreamManager, sent: () => number, c: StreamWatchCounters): Promise<void> {
    this.gen++;
    this.checking = false;
    await this.check(jsm, sent(), c).catch(() => undefined);
  }

  /** One check (cold: every checkIntervalMs). `sent`: messages the bridge has published so far. */
  async check(jsm: StreamManager, sent: number, c: StreamWatchCounters): Promise<void> {
    if (this.checking || this.baseSeq < 0) return;
    this.checking = true;
    const gen = this.gen;
    try {
      await this.checkNow(jsm, sent, c, gen);
    } finally {
      if (gen === this.gen) this.checking = false;
    }
  }

  /** check()'s work; after each request, nothing more once abandoned (`gen` is not this.gen: verify). */
  private async checkNow(jsm: StreamManager, sent: number, c: StreamWatchCounters, gen: number): Promise<void> {
    let lastSeq: number;
    let created: string;
    let sealed: boolean;
    try {
      const info = await jsm.streams.info(this.name);
      ({ state: { last_seq: lastSeq }, created } = info);
      sealed = info.config?.sealed === true;
    } catch (err) {
      if (gen !== this.gen) return;
      if (!/stream not found/i.test((err as Error).message)) return this.unreadableNow(c, err as Error);
      this.readable();
      this.missing = true; // until it is made again (the baseline below)
      c.streamMissing++;
      this.log.error(`JetStream stream ${this.name} is gone (deleted? a NATS server restarted without it?): messages published since it went are not in the history; creating it again`, { stream: this.name });
      try {
        await this.recreate();
      } catch (e) {
        if (gen !== this.gen) return;
        // Cold: counted and logged again at the next check, until it can be created.
        return this.log.error(`JetStream stream ${this.name} could not be created again: history is not kept`, { stream: this.name, error: (e as Error).message });
      }
      // The count as the new stream is read, not the check's: what was published (and stored) while it was made
      // counted as published before it, a false hole (s-natsst; under load, making a file stream takes a while).
      await this.baseline(jsm, c, gen);
      return;
    }
    if (gen !== this.gen) return;
    this.readable();
    this.missing = false; // made again meanwhile (by another bridge, an operator)
    if (lastSeq < this.baseSeq || created !== this.created) {
      // Cold: the stream was replaced by another of that name (deleted and created again between two checks: by an
      // operator, or by another bridge's watch). By its last sequence alone, one made again that already held more
      // than the baseline (always so for a stream the bridge made at its start, baseline 0) was taken for the
      // same: everything the old one had stored was counted as not stored.
      this.log.warn(`JetStream stream ${this.name} was replaced: its history starts again`, { stream: this.name, lastSeq });
      return void (await this.baseline(jsm, c, gen));
    }
    // More stored since the baseline than the bridge has published since (read now, after the stream): messages
    // counted as published at the baseline but stored after it. Taken as before it, else they hid a later hole
    // of their number (one bridge per stream: another bridge's messages make this grow too, see the module).
    const excess = lastSeq - this.baseSeq - (this.sentNow() - this.sentBase);
    if (excess > 0) this.baseSeq += excess;
    // Confirmed over two checks: a stream merely slow to store (a loaded server) catches up, a hole stays.
    const deficitNow = this.sentAtPrevCheck - this.sentBase - (lastSeq - this.baseSeq);
    const deficit = this.notStoredBase + Math.min(deficitNow, this.prevDeficit);
    this.prevDeficit = deficitNow;
    this.sentAtPrevCheck = sent;
    if (deficit > c.streamNotStored) {
      const first = !this.failing;
      this.failing = true;
      c.streamNotStored = deficit;
      // Sealed is read, not guessed: before 2026-12-07 a stream sealed while bridging was logged with the other causes only.
      const why = sealed ? "it is sealed: an operator sealed it while bridging, it takes nothing more" : "full with discard new? out of storage? or what the client held when NATS went down";
      if (first) this.log.warn(`JetStream stream ${this.name} is not storing what the bridge publishes (${why}): the history has a hole, readers replaying it see the gap`, { stream: this.name, streamNotStored: deficit, sealed });
    } else if (this.failing) {
      this.failing = false;
      this.log.info(`JetStream stream ${this.name} stores again`, { stream: this.name, streamNotStored: c.streamNotStored });
    }
  }

  /**
   * Cold: the stream could not be read. Before, this was passed over without a word: with NATS down the bridge says
   * so itself, but a server up without JetStream (restarted without it) took every message while the stream stored
   * none, and nothing was logged or counted.
   */
  private unreadableNow(c: StreamWatchCounters, err: Error): void {
    c.streamCheckFailures++;
    if (this.unreadable) return;
    this.unreadable = true;
    this.log.warn(`JetStream stream ${this.name} cannot be checked (NATS down or slow? JetStream unavailable?): what the bridge publishes may not be stored`, { stream: this.name, error: err.message });
  }

  private readable(): void {
    if (!this.unreadable) return;
    this.unreadable = false;
    this.log.info(`JetStream stream ${this.name} can be checked again`, { stream: this.name });
  }
}
