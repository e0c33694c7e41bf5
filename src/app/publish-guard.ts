/**
 * Keeps a feeder from disturbing a live feed by mistake (docs/operations.md, "Another publisher on our streams").
 * Our streams are (group:port, channelId, sourceId) for every destination and every source id this instance
 * publishes as. Another session on one of them is a second publisher of the same stream:
 * - before our first datagram, `listenBeforePublishing` listens for `publish.startup_listen_ms` and refuses to
 *   start (throws naming group, channel, source, session and sender);
 * - while we run, the watcher stays joined: a conflict is logged at error level (the first at once, then at most
 *   one line per LOG_EVERY_MS), counted, and named in `/readyz` (503) until that session has been quiet for
 *   QUIET_HEARTBEATS heartbeat intervals or said END_OF_SESSION. An ended one is remembered until quiet: a publisher
 *   whose sequence ran out sends END_OF_SESSION on each heartbeat (docs/wire-protocol.md §5.1), one conflict.
 * A session that said END_OF_SESSION before our start does not block it.
 * @module
 */
import type { Logger } from "../core/log.ts";
import type { FeederConfig } from "../config/types.ts";
import { readAuthKeyFile } from "../core/auth-key.ts";
import { ConfigError } from "../core/errors.ts";
import { LateRounds } from "../core/late-rounds.ts";
import { monoMs } from "../core/clock.ts";
import { StreamWatcher, type ForeignSession } from "../net/stream-watcher.ts";
import { readyzOf, type StatusSource } from "./http-server.ts";
import { PromWriter } from "./prometheus.ts";

/** A session silent for this many heartbeat intervals has stopped (a live one beats within 1.25 intervals). */
export const QUIET_HEARTBEATS = 3;
/** A foreign-looking session must be this old before it counts: a restarted worker's session may reach the
 * watcher a moment before the worker's message announcing it. */
export const CONFIRM_MS = 250;
/** Conflict log lines while conflicts go on: the first at once, then at most one per this interval. */
export const LOG_EVERY_MS = 10_000;
const EVALUATE_EVERY_MS = 100;

/** The source id of worker `index` (0-based) when workers > 1: publish.source_id + index + 1. */
export function workerSourceId(config: FeederConfig, index: number): number {
  return (config.publish.sourceId ?? 0) + index + 1;
}

/** Every source id this instance publishes as: source_id alone in one process, one per worker otherwise. */
export function ownSourceIds(config: FeederConfig): number[] {
  if (config.workers <= 1) return [config.publish.sourceId ?? 0];
  return Array.from({ length: config.workers }, (_, i) => workerSourceId(config, i));
}

/**
 * publish.auth_key_file's key, or undefined without one. A file that cannot be read is a ConfigError (exit 2), as
 * for the publisher and the supervisor: `run` builds the guard first, and its plain Error (until s-smallleft) exited 1,
 * which systemd restarts for ever.
 */
function readFeedKey(config: FeederConfig): Uint8Array | undefined {
  const file = config.publish.authKeyFile;
  if (file === undefined) return undefined;
  try {
    return readAuthKeyFile(file, "publish.auth_key_file");
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
}

/** The operator's sentence for one conflict (the start refusal, the log and /readyz use it). */
export function describeConflict(f: ForeignSession): string {
  return `another publisher is sending on group ${f.group}:${f.port} channel ${f.channelId} as source ${f.sourceId} (session ${f.sessionId} from ${f.from})`;
}

/** The start refused: another publisher's sessions on our streams (`conflicts`), so a caller can say its own remedy. */
export class PublishConflictError extends Error {
  constructor(readonly conflicts: readonly ForeignSession[]) {
    const more = conflicts.length > 1 ? `; and ${conflicts.length - 1} more: ${conflicts.slice(1).map(describeConflict).join("; ")}` : "";
    super(`${describeConflict(conflicts[0]!)}${more}. Refusing to publish: stop the other publisher, or give this instance its own destinations or publish.source_id`);
  }
}

export class PublishGuard {
  /** Other publishers' sessions detected on our streams since start (the counter metric). */
  conflictsDetected = 0;
  private readonly watcher: StreamWatcher;
  private readonly quietMs: number;
  /** Sessions reported as conflicts and not yet over. */
  private readonly active = new Set<ForeignSession>();
  /**
   * Reported sessions over by END_OF_SESSION, kept in the watcher until quiet: forgotten at once (before 2026-12-06),
   * each later END heartbeat recorded one afresh, counted and logged again for as long as it sent.
   */
  private readonly over = new Set<ForeignSession>();
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The timer's rounds: one that runs after a stall of this thread judges no time (see evaluate). */
  private rounds: LateRounds | undefined;
  private lastLogMs = -Infinity;
  /** Sessions reported since the last error line (the rate limit folds them into the next one). */
  private unlogged = 0;

  constructor(
    private readonly config: FeederConfig,
    private readonly log: Logger,
    // Monotonic: on Date.now a clock stepped back an hour kept a stranger first seen just before unconfirmed (not
    // reported, /readyz ready) and the next conflict's error line unwritten, for the hour.
    private readonly now: () => number = monoMs,
    // Only datagrams signed with our key are another publisher: before, one forged unsigned datagram refused our start
    // or turned /readyz to 503, though keyed subscribers drop it. Read as the publisher reads it (the file is checked).
    authKey: Uint8Array | undefined = readFeedKey(config),
  ) {
    // Unicast destinations have no group to listen on: another publisher's datagrams go to the receivers only.
    const streams = config.publish.destinations.flatMap((d, i) =>
      d.group === undefined ? [] : [{ group: d.group, port: d.port, iface: d.iface, channelId: d.channelId, key: `publish.destinations[${i}]` }],
    );
    this.watcher = new StreamWatcher(streams, ownSourceIds(config), now, authKey);
    this.quietMs = QUIET_HEARTBEATS * config.publish.heartbeatIntervalMs;
  }

  /** One of our sessions (the Feeder's publisher, or a worker's when it announces itself). */
  addOwnSession(sourceId: number, sessionId: number): void {
    this.watcher.addOwnSession(sourceId, sessionId);
  }

  /**
   * Joins every own group, listens `publish.startup_listen_ms` (none when 0) and throws if another publisher sent
   * on one of our streams meanwhile. The watcher stays open for `startWatching`; on a throw it is closed.
   */
  async listenBeforePublishing(): Promise<void> {
    await this.watcher.start();
    const windowMs = this.config.publish.startupListenMs ?? 0;
    // Nothing published yet: every datagram is checked (under the per-second budget a flood hid the other publisher).
    this.watcher.checkAll = true;
    try {
      if (windowMs > 0) await Bun.sleep(windowMs);
    } finally {
      this.watcher.checkAll = false;
    }
    // None of our sessions has sent yet, so every session heard is another publisher's; one that said END_OF_SESSION
    // in the window is stopping (a deploy that overlaps the old instance's shutdown) and does not block the start.
    const seen = this.watcher.sessions().filter((f) => !f.ended && !this.watcher.isOwn(f.sourceId, f.sessionId));
    if (seen.length > 0) {
      await this.watcher.stop();
      throw new PublishConflictError(seen);
    }
  }

  /** From our first datagram on: evaluates the watcher's findings periodically (cold, a timer). */
  startWatching(): void {
    if (this.timer !== undefined) return;
    const rounds = (this.rounds = new LateRounds(EVALUATE_EVERY_MS));
    this.timer = setInterval(() => this.evaluate(rounds.judge()), EVALUATE_EVERY_MS);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.watcher.stop();
  }

  /** Datagrams the watcher received on our groups, ours included (benches, diagnostics). */
  watcherDatagrams(): number {
    return this.watcher.datagrams;
  }

  /** Conflicts going on now, one sentence each (empty when none): /readyz names them. */
  conflicts(): string[] {
    this.evaluate(this.rounds?.onTime() ?? true);
    return [...this.active].map(describeConflict);
  }

  /** Prometheus text for the guard's two metrics, appended to the pipeline's. */
  metricsText(): string {
    this.evaluate(this.rounds?.onTime() ?? true);
    const w = new PromWriter();
    w.family("feeder_publish_conflicts_total", "counter", "other publishers' sessions detected on our own streams (same group, channel and source id)")
      .sample("feeder_publish_conflicts_total", {}, this.conflictsDetected);
    w.family("feeder_publish_conflicts_active", "gauge", "other publishers' sessions on our own streams now (not yet quiet)")
      .sample("feeder_publish_conflicts_active", {}, this.active.size);
    w.family("feeder_publish_watch_dropped_total", "counter", "datagrams of other sessions on our streams not recorded: damaged (failed the checksum), forged (with publish.auth_key_file: not signed with the key), untracked (beyond the sessions tracked at once), unchecked (beyond the checks allowed per second)")
      .sample("feeder_publish_watch_dropped_total", { reason: "damaged" }, this.watcher.damaged)
      .sample("feeder_publish_watch_dropped_total", { reason: "forged" }, this.watcher.forged)
      .sample("feeder_publish_watch_dropped_total", { reason: "untracked" }, this.watcher.untracked)
      .sample("feeder_publish_watch_dropped_total", { reason: "unchecked" }, this.watcher.unchecked);
    return w.text();
  }

  /**
   * Reports the watcher's findings and ends the ones that are over. Cold: a timer and HTTP requests. A session is
   * reported (counted, logged) once it is CONFIRM_MS old and still not ours, even if it has already ended: a
   * publisher that sent a few datagrams and stopped did disturb the feed.
   * judgeTime false (a timer round right after a stall of this thread, or a request while the rounds are late): no
   * verdict that measures time, neither CONFIRM_MS nor quiet: the datagrams and the workers' announcements that
   * arrived meanwhile may still be unread, and the stall would end a live conflict (readiness flips to ready, the
   * conflict is counted again when its next datagram is read) or confirm a worker's own session as foreign.
   */
  evaluate(judgeTime = true): void {
    const nowMs = this.now();
    let fresh: ForeignSession | undefined;
    let endedAny = false;
    for (const f of this.watcher.sessions()) {
      if (this.watcher.isOwn(f.sourceId, f.sessionId)) {
        this.watcher.forget(f);
        this.active.delete(f);
        this.over.delete(f);
        continue;
      }
      if (this.over.has(f)) {
        if (!f.ended) this.over.delete(f); // it sent again without END: that END was none, a conflict again (below)
        else {
          if (judgeTime && nowMs - f.lastSeenMs >= this.quietMs) {
            this.watcher.forget(f);
            this.over.delete(f);
          }
          continue;
        }
      }
      if (!judgeTime && !(this.active.has(f) && f.ended)) continue; // only END_OF_SESSION needs no clock
      if (nowMs - f.firstSeenMs < CONFIRM_MS) continue;
      if (!this.active.has(f)) {
        this.active.add(f);
        this.conflictsDetected++;
        this.unlogged++;
        fresh ??= f;
      }
      if (f.ended || nowMs - f.lastSeenMs >= this.quietMs) {
        if (f.ended) this.over.add(f);
        else this.watcher.forget(f);
        this.active.delete(f);
        endedAny = true;
      }
    }
    const example = fresh ?? this.active.values().next().value;
    if (example !== undefined && nowMs - this.lastLogMs >= LOG_EVERY_MS) {
      this.log.error("another publisher is sending on our stream; subscribers see its session and ours alternate", {
        conflict: describeConflict(example),
        active: this.active.size,
        newSinceLastLine: this.unlogged,
        total: this.conflictsDetected,
      });
      this.lastLogMs = nowMs;
      this.unlogged = 0;
    }
    if (endedAny && this.active.size === 0) {
      this.log.warn("no other publisher on our streams any more", { total: this.conflictsDetected, notLoggedSinceLastLine: this.unlogged });
      this.unlogged = 0;
    }
  }
}

/** The pipeline's status with the guard's metrics appended and its conflicts as a /readyz reason (`publish_conflict`). */
export function guardedStatusSource(base: StatusSource, guard: PublishGuard): StatusSource {
  return {
    book: (venue, market, symbol, depth, maxBytes) => base.book(venue, market, symbol, depth, maxBytes),
    metricsText: async () => (await base.metricsText()) + guard.metricsText(),
    readiness: async (turn, signal) => ({ ...(await base.readiness(turn, signal)), publishConflicts: guard.conflicts() }),
    readyz: async (turn) => ({ ...(await readyzOf(base, turn)), publishConflicts: guard.conflicts() }),
    ...(base.statusRows !== undefined && {
      statusRows: async (limit, chosen, turn, signal) => {
        const rows = await base.statusRows!(limit, chosen, turn, signal);
        return { ...rows, summary: { ...rows.summary, publishConflicts: guard.conflicts() } };
      },
    }),
    latency: () => base.latency(),
  };
}
