/**
 * Subscriptions for Upbit and Bithumb (cold). The venue has no ack and each request replaces the last, so every
 * request carries the connection's whole code list; a topic is PENDING until its first book arrives (its implicit
 * ack; a code that never sends data goes stale and is reported). An error frame names no market: the codes of the
 * request it answers are bisected with probe requests (a probe that draws no error within errorWaitMs passed) until
 * a probe of that code alone draws an error twice in a row (one error frame the venue sends for no request, landing
 * while a single code is probed, must not halt a good book for good; the second may come after the confirming probe
 * passed, nothing written since: lastConfirming): that code is rejected (HALTED /
 * SUBSCRIBE_REJECTED); then the whole list goes out again (also when every probe passed: the error named none of the
 * codes). A probe replaces the subscription: the codes it leaves out are not LIVE until a request names them again
 * (those the old socket of a planned reconnect feeds are spared until that socket goes: overlapOver).
 * Only the last list matters, so a new one replaces a list still waiting for the pacing budget in its place (sendFull).
 * Each list and probe written is told to the recorder (onWritten: `ws:req [tag, "subscribe", [codes]]`), so replay
 * leaves out the codes a probe leaves out and halts the code the recorded probes isolate, as live (replayRecorded).
 * Resync kind
 * `next_full_book`: a subscribed book needs no request, its next message is a full book.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { BookState, StatusReason } from "../../core/types.ts";
import { CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, SOCKET_BACK_URL, SOCKET_RETIRED_URL, SOCKET_SWAP_URL, SOCKETS_RECORDED_URL } from "../venue.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, type TopicState, type VenueConnection } from "../common/connection.ts";
import type { OverlapCarrier } from "../common/planned-reconnect.ts";
import type { RecordedRequest } from "../common/recorded-request.ts";
import { SubscriptionControl, type InvalidateTopic } from "../common/subscription-control.ts";
import { encodeOrderbookRequest, requestCode, requestProtocol } from "./protocol.ts";

/** Whole-list resends for silent topics: at most one per connection this often (requests: 100/min per connection). */
export const RESEND_MIN_MS = 5_000;

interface Bisect {
  ws: WebSocket;
  suspects: TopicState[];
  probe: TopicState[];
  timer: ReturnType<typeof setTimeout> | null;
  /** The probe's tag in the outbox: while paced (queued) its wait has not started. */
  id: string;
  /**
   * Written since the timer last looked (queuedWritten): its error may yet come. Until 2026-12-07 set only when the
   * timer found it still queued, so one written before the timer's first look passed less than errorWaitMs after
   * its write, its error, still on the way, then taken for the next probe's answer (or ignored while that one waited).
   */
  writtenSinceLook: boolean;
  /** The probe is one code that already drew an error alone: a second error refuses it. */
  confirming: boolean;
  /** Codes subscribed meanwhile: the list after the bisection asks for them (their stale clock waits for it). */
  asked: TopicState[];
}

export class UpbitRequests extends SubscriptionControl {
  private readonly bisects = new Map<VenueConnection, Bisect>();
  /**
   * The topics of the last request written to each socket, which an error frame on that socket answers. Until
   * 2026-12-07 set when a list was queued: an error arriving while a list waited for the pacing was bisected
   * against that list, which the venue had not seen, not the one it answered. Then kept per connection: after a
   * planned reconnect's swap (or its going back to the old socket) an error on the connection's socket was bisected
   * against the other socket's list.
   */
  private readonly lastRequest = new WeakMap<WebSocket, TopicState[]>();
  /**
   * The code of a confirming probe (Bisect.confirming) when it is the last request written to a socket: an error frame
   * there answers it even after its bisection ended (it passed, the list after it still waiting for the pacing), the
   * second on that code alone, so it refuses the code, as replay does (replayError: nothing written since, per the
   * capture). Until 2026-12-07 live probed the code once more there while replay halted it until the next list.
   * Forgotten when the connection's requests go to this socket again (a going back: sendRequest), as replay at ws:back.
   */
  private readonly lastConfirming = new WeakMap<WebSocket, TopicState>();
  /** Each connection's last whole-list resend: when asked, its tag in the outbox, when it went (Infinity: paced). */
  private readonly lastResend = new Map<VenueConnection, { askedMs: number; id: string; sentMs: number }>();
  /**
   * The requests waiting in an outbox for the pacing budget (lists `list…`, probes `probe…`), by tag (unique across
   * connections; the outbox holds their order): the topics each names (lastRequest once written) and those a list asks
   * for (their stale clock starts when it goes: queuedWritten). An entry lives exactly while its message is queued.
   * Until 2026-12-07 kept per connection in outbox order, and taken for written when gone from the outbox after a
   * flush: a second notion of "written" beside SubscriptionControl's.
   */
  private readonly queued = new Map<string, { asked: TopicState[]; list: TopicState[] }>();
  /** The socket each connection's last request went on (sendRequest): a change with the old one retiring is a swap. */
  private readonly socketOf = new Map<VenueConnection, WebSocket>();
  /** A planned reconnect's codes the old socket may not stream (taken at the swap: sendRequest). */
  private readonly unsureOld = new Map<VenueConnection, Set<TopicState>>();
  /** A planned reconnect's codes a probe on the replacement left out during the overlap (leaveOut), spared or not. */
  private readonly leftOutNew = new Map<VenueConnection, Set<TopicState>>();
  private listSeq = 0;
  /**
   * Replay: each connection's last request the capture says was written (ws:req), and whether an error frame came
   * since. A probe of one code following a probe of that code an error answered is live's confirming probe: an error
   * frame answering it refuses the code (replayError).
   */
  private readonly replayLast = new Map<VenueConnection, { probe: boolean; codes: TopicState[]; errored: boolean; confirming: boolean }>();
  /** Replay: unsureOld as live took it at the swap (a probe on the replacement does not spare these). */
  private readonly replayUnsure = new Map<VenueConnection, Set<TopicState>>();
  // Counters (cold).
  resends = 0;
  requests = 0;
  errorFrames = 0;
  probes = 0;

  constructor(
    private readonly venueName: string,
    private readonly logger: Logger,
    private readonly clock: () => number,
    private readonly invalidateTopic: InvalidateTopic,
    budgetShare: number | undefined,
    private readonly errorWaitMs: number,
    /** Upbit's `level` (grouped books) sent with every request; 0 = none. */
    private readonly level = 0,
    /** The least time between two whole-list resends on one connection (tests shorten it). */
    private readonly resendMinMs = RESEND_MIN_MS,
  ) {
    super(requestProtocol(venueName, level), logger, clock, undefined, invalidateTopic, budgetShare);
  }

  /**
   * Subscribes `topics` by sending the connection's whole list; unsubscribes them by the list without them (none: no
   * request, sendFull). next_full_book needs no resync request.
   */
  override sendRequest(conn: VenueConnection, op: "subscribe" | "unsubscribe", topics: TopicState[]): void {
    if (!conn.ws || !conn.open) return;
    if (op === "unsubscribe") {
      // No unsubscribe here: the list without them replaces the last one (ConnectionLifecycle.retire: a closed code).
      for (const t of topics) if (t.sub === SUB_PENDING || t.sub === SUB_ACTIVE) t.sub = SUB_IDLE;
      const withdrawn = this.leaveOutQueued(conn, topics);
      const b = this.bisects.get(conn);
      if (b === undefined) this.sendFull(conn);
      else if (withdrawn.includes(b.id)) {
        // Its probe withdrawn unsent (it named only these): no error can answer it, so it passed now, not at its
        // errorWaitMs timer (until 2026-12-07), which kept the codes it left out off their books that long.
        if (b.timer) clearTimeout(b.timer);
        b.writtenSinceLook = false;
        this.onProbePassed(conn, b);
      }
      return;
    }
    const before = this.socketOf.get(conn);
    if (conn.ws !== before) {
      this.socketOf.set(conn, conn.ws);
      // Going back: a confirming probe that passed on this socket before the swap is no error's answer after the
      // overlap (replay forgets its last request at ws:back). Until 2026-12-07 live refused its code there.
      if (conn.ws) this.lastConfirming.delete(conn.ws);
      // A planned reconnect's swap (planned-reconnect.ts: the subscribe on the replacement follows it): an ACTIVE code
      // (TopicState.onRetiring) whose book is not LIVE may not be streamed by the old socket (a probe there left it
      // out; the list after that bisection not written or refused). Not spared by a probe on the replacement then
      // (leaveOut), nor kept LIVE going back to the old socket (overlapOver): until 2026-12-07 it was, LIVE with no
      // socket streaming it. Nor a PENDING code the old socket's probe leaves out (offRequest, cleared just below): its
      // first book, sent there before the venue took the probe, may still come and mark it served (adapter.ts onBook;
      // until 2026-12-07 it then stayed LIVE going back). A book on the old socket during the overlap takes no code
      // out of this set: without acks, nothing tells a book sent before the probe from one after.
      if (before !== undefined && before === conn.retiringWs) this.unsureOld.set(conn, new Set(conn.topics.filter((t) => (t.onRetiring && t.book !== BookState.LIVE) || t.offRequest)));
    }
    const b = this.bisects.get(conn);
    // Its probes' left-out codes stay out until this socket's list is written (replay: until its ws:req; ws:swap and
    // ws:back do not end them): the old socket of a planned reconnect may still stream what they were left out of.
    const asked: TopicState[] = b && b.ws !== conn.ws ? this.endBisect(conn, false) : [];
    const now = this.clock();
    for (const t of topics) {
      if (t.sub !== SUB_IDLE && t.sub !== SUB_PENDING) continue;
      t.sub = SUB_PENDING;
      t.lastMsgMs = now; // staleness counts from the request (flush: from when a queued one goes)
      asked.push(t);
    }
    const during = this.bisects.get(conn);
    if (during === undefined) this.sendFull(conn, asked);
    else {
      // A probe is the subscription: asked by the list after the bisection; until 2026-12-07 its stale clock ran
      // from now, and a bisection longer than the stale time made it STALE ("never sent data") before it was asked.
      for (const t of asked) t.subscribeQueued = true;
      during.asked.push(...asked);
    }
  }

  /**
   * Going back to a planned reconnect's old socket: one whole list, without the codes closed during the overlap (given
   * up: SUB_REJECTED) and with those it does not serve. Until 2026-12-07 two in a row when a code had closed (the list
   * without it, then the same list again for the subscribe), one request wasted at each such going back. It counts as
   * the connection's last resend (askAgain answers with it for resendMinMs).
   */
  override requestsGoingBack(conn: VenueConnection, givenUp: TopicState[], resubscribe: TopicState[]): void {
    for (const t of givenUp) t.sub = SUB_REJECTED;
    const listsBefore = this.listSeq;
    this.sendRequest(conn, "subscribe", resubscribe);
    // That list asks every code again, as a resend does: it is the connection's last one (askAgain). Until 2026-12-07
    // a stale code redone right after (restartTopics → restartTopic → askAgain) wrote the same list once more.
    const at = this.queuedListAt(conn); // the outbox was emptied going back: a list there is this one
    const now = this.clock();
    if (at >= 0) this.lastResend.set(conn, { askedMs: now, id: conn.outbox[at]!.reqId!, sentMs: Infinity });
    else if (this.listSeq !== listsBefore) this.lastResend.set(conn, { askedMs: now, id: `list${this.listSeq}`, sentMs: now });
  }

  /**
   * Closed codes, subscribed or still waiting for their first book (PENDING: asked, maybe in a list still waiting for
   * the pacing): the list without them, in one request. Until 2026-12-07 only the ACTIVE ones were (the common rule,
   * whose venues unsubscribe a pending topic at its ack; Upbit sends none), so a closed code stayed in a waiting list
   * and the venue was asked for it.
   */
  override unsubscribeClosed(conn: VenueConnection, active: TopicState[], pending: TopicState[]): void {
    this.sendRequest(conn, "unsubscribe", [...active, ...pending]);
  }

  /**
   * A topic not subscribed (after a reconnect) is asked for. A subscribed one waits for its next book, except when
   * it went silent (stale): with no ack, a request lost on the way (or a subscription the venue dropped) looks just
   * like that, so the whole list goes out again, at most once per resendMinMs (RESEND_MIN_MS) per connection.
   * Returns the resend's askAgain (when it was written; Infinity: held; -1: none), -1 when no resend was asked.
   */
  override restartTopic(t: TopicState): number {
    if (t.sub === SUB_IDLE && t.conn.open && !t.resyncDelayed) {
      this.sendRequest(t.conn, "subscribe", [t]);
      return -1;
    }
    if ((t.sub === SUB_PENDING || t.sub === SUB_ACTIVE) && t.book === BookState.STALE) return this.askAgain(t.conn);
    return -1;
  }

  /** Each as restartTopic (a subscribe is the whole list, and an active code sends none: nothing to batch). */
  override restartTopics(topics: readonly TopicState[]): void {
    for (const t of topics) this.restartTopic(t);
  }

  /**
   * The whole list again, at most once per resendMinMs per connection: every code answers it with its SNAPSHOT, so a
   * silent code that does not is not subscribed. Returns when the last such request was written (now, or less than
   * resendMinMs ago), Infinity while it waits for the pacing (its answer's time has not begun: the venue has not been
   * asked), or -1 when none can go (closed; a bisection's probe is the subscription).
   */
  askAgain(conn: VenueConnection): number {
    if (!conn.open || !conn.ws || this.bisects.has(conn)) return -1;
    const last = this.lastResend.get(conn);
    // Dropped unsent with its socket (dropQueued): not asked.
    const held = last !== undefined && last.sentMs === Infinity && this.queued.has(last.id);
    if (held) return Infinity;
    const now = this.clock();
    if (last !== undefined && last.sentMs !== Infinity && now - last.askedMs < this.resendMinMs) return last.sentMs;
    const id = this.sendFull(conn);
    if (id === undefined) return -1;
    this.resends++;
    const queued = this.queued.has(id);
    this.lastResend.set(conn, { askedMs: now, id, sentMs: queued ? Infinity : now });
    return queued ? Infinity : now;
  }

  /**
   * A paced request written (SubscriptionControl.flush): a resend is asked from now (askAgain), the codes a list asked
   * for start their stale clock now (sendFull), a probe's error wait runs from now, and it is the one an error frame
   * answers. Cold (the pacing timer).
   */
  protected override queuedWritten(conn: VenueConnection, reqId: string, nowMs: number): void {
    const r = this.lastResend.get(conn);
    if (r !== undefined && r.id === reqId) r.sentMs = nowMs;
    const q = this.queued.get(reqId);
    if (q === undefined) return; // a ping
    this.queued.delete(reqId);
    this.written(conn, reqId, q.list, q.asked, nowMs);
    const b = this.bisects.get(conn);
    if (b !== undefined && b.id === reqId) b.writtenSinceLook = true; // its errorWaitMs from now (onProbePassed)
  }

  /**
   * A request `tag` naming `list` written on conn's socket: the one an error frame there answers; `asked`'s clocks
   * start; recorded for replay (ws:req, replayRecorded). Until 2026-12-07 not recorded: replay kept LIVE the codes a
   * probe left out and never halted the code a bisection refused.
   */
  private written(conn: VenueConnection, tag: string, list: TopicState[], asked: readonly TopicState[], nowMs: number): void {
    this.lastRequest.set(conn.ws!, list); // the outbox is the socket's (dropQueued at a swap)
    const b = this.bisects.get(conn);
    if (b !== undefined && b.id === tag && b.confirming) this.lastConfirming.set(conn.ws!, list[0]!);
    else this.lastConfirming.delete(conn.ws!);
    this.onWritten?.(conn, { reqId: tag, op: "subscribe", topics: list, sentMs: nowMs });
    // A list after a bisection names the codes its probes left out again (endBisect); not one queued before a probe.
    if (tag.startsWith("list") && !this.bisects.has(conn)) for (const t of conn.topics) t.offRequest = false;
    for (const t of asked) {
      t.subscribeQueued = false;
      if (t.sub === SUB_PENDING) t.lastMsgMs = nowMs;
    }
  }

  /**
   * A closed code the venue still streams: the last list or probe written on one of the connection's sockets names it
   * (the list leaving it out still waits for the pacing, or for a bisection's end; in a planned reconnect's overlap the
   * old socket's, its waiting list dropped at the swap). Reopened, live takes its frames from there (SUB_PENDING; from
   * the old socket too: adapter.ts onBook), so ConnectionLifecycle.activateAll records the reopening (`ws:reopened`):
   * until s-rd20d nothing did until the list naming it again was written, replay keeping it closed where live had it
   * LIVE; until s-rd21a the old socket's list was not looked at.
   */
  override closedStillStreamed(conn: VenueConnection, t: TopicState): boolean {
    for (const ws of [conn.ws, conn.retiringWs]) if (ws !== null && (this.lastRequest.get(ws)?.includes(t) ?? false)) return true;
    return false;
  }

  /** The socket is gone with its queued messages: no request of it waits now (SubscriptionControl clears the marks). */
  override dropQueued(conn: VenueConnection): void {
    for (const m of conn.outbox) if (m.reqId !== undefined) this.queued.delete(m.reqId);
    super.dropQueued(conn);
  }

  /**
   * The connection's whole list; returns the tag of the message carrying it (undefined: none). Each request replaces
   * the last [U§2], so a list still waiting for the pacing budget is replaced in its place (queuedListAt), not queued
   * behind: until 2026-12-07 codes subscribed one at a time queued one whole list each, the pings behind them. `asked`:
   * the codes this request asks for (sendRequest): while it waits, their stale clock waits too
   * (TopicState.subscribeQueued; flush starts it), those of a list it replaces with them. No code left: an empty list
   * is an error (NO_CODES [U§2]), so nothing goes, and a waiting list is withdrawn (it names the codes just left).
   */
  private sendFull(conn: VenueConnection, asked: TopicState[] = []): string | undefined {
    const list = conn.topics.filter((t) => t.sub === SUB_PENDING || t.sub === SUB_ACTIVE);
    const at = this.queuedListAt(conn);
    if (list.length === 0) {
      if (at >= 0) this.withdraw(conn, at);
      return undefined;
    }
    const text = encodeOrderbookRequest(list, this.level);
    let tag: string;
    if (at >= 0) {
      const m = conn.outbox[at]!;
      m.text = text;
      tag = m.reqId!; // not counted in `requests`: no message more
    } else {
      tag = `list${++this.listSeq}`;
      this.requests++;
      this.send(conn, text, tag);
      if (conn.outbox.at(-1)?.reqId !== tag) {
        this.written(conn, tag, list, asked, this.clock()); // written now: the codes it asks for are asked from now
        return tag;
      }
    }
    for (const t of asked) t.subscribeQueued = true;
    const q = this.queued.get(tag);
    if (q !== undefined) {
      q.asked.push(...asked);
      q.list = list;
    } else this.queued.set(tag, { asked, list });
    return tag;
  }

  /**
   * Where the connection's latest whole list waits in the outbox, if a new one may replace it: not when a probe waits
   * after it (the list after the probe must go after it); -1: none.
   */
  private queuedListAt(conn: VenueConnection): number {
    const out = conn.outbox;
    for (let i = out.length - 1; i >= 0; i--) {
      const id = out[i]!.reqId;
      if (id === undefined) continue; // a ping
      if (id.startsWith("list")) return i;
      if (id.startsWith("probe")) return -1;
    }
    return -1;
  }

  /**
   * `gone` (unsubscribed: a closed code) taken out of every request still waiting for the pacing: a list queued before
   * a probe and the probe too (sendFull rewrites only the latest list, and none while a probe waits after it). One
   * left naming nothing is not sent (a probe of closed codes alone then passes at once: sendRequest). Until 2026-12-07
   * these went out naming the closed code. Returns the tags of those taken out.
   */
  private leaveOutQueued(conn: VenueConnection, gone: readonly TopicState[]): string[] {
    const withdrawn: string[] = [];
    const out = conn.outbox;
    for (let i = 0; i < out.length; i++) {
      const id = out[i]!.reqId;
      const q = id !== undefined ? this.queued.get(id) : undefined;
      if (q === undefined) continue; // a ping
      const left = q.list.filter((t) => !gone.includes(t));
      if (left.length === q.list.length) continue;
      q.list = left;
      if (left.length > 0) out[i]!.text = encodeOrderbookRequest(left, this.level);
      else {
        this.withdraw(conn, i--);
        withdrawn.push(id!);
      }
    }
    return withdrawn;
  }

  /** The request at `at` in conn's outbox taken out unsent: the codes it asked for wait for no list now. */
  private withdraw(conn: VenueConnection, at: number): void {
    const id = conn.outbox.splice(at, 1)[0]!.reqId!;
    for (const t of this.queued.get(id)?.asked ?? []) t.subscribeQueued = false;
    this.queued.delete(id);
  }

  /** An `{"error":…}` frame on conn. */
  onError(conn: VenueConnection, name: string, message: string): void {
    this.errorFrames++;
    if (conn.ws === null) {
      this.replayError(conn, name, message);
      return;
    }
    const b = this.bisects.get(conn);
    if (b && this.queued.has(b.id)) {
      // The probe has not gone: not its answer, and the bisection already covers the request this one answers. Until
      // 2026-12-07 the waiting probe's codes were halved again, and a culprit in the other half left the bisection.
      this.logger.warn(`${this.venueName}: error frame while a probe waits for the pacing; the bisection goes on`, { conn: conn.id, name, message });
      return;
    }
    // Never a refused or closed code (ConnectionLifecycle.retire during the probe): probing it alone would ask for it.
    // Nothing written on this socket yet (a swap's or a reconnect's list still waits): the error answers none of ours.
    const last = conn.ws ? this.lastRequest.get(conn.ws) : undefined;
    const suspects = (b ? b.probe : (last ?? [])).filter((t) => t.sub !== SUB_REJECTED);
    this.logger.warn(`${this.venueName}: error frame; finding the code it refuses`, { conn: conn.id, name, message, suspects: suspects.length });
    if (suspects.length === 0) return;
    if (b && b.timer) clearTimeout(b.timer);
    // The confirming probe's answer; also once it passed, nothing written since (lastConfirming).
    const confirmed = b === undefined ? this.lastConfirming.get(conn.ws!) === suspects[0] : b.confirming;
    if (suspects.length === 1 && confirmed) {
      const asked = this.endBisect(conn, false);
      // Refused by a replacement while the old socket serves it: the replacement failed, and the going back gives the
      // old socket its list (and asks for `asked` there). Until 2026-12-07 the list went on the failing replacement too.
      if (this.refuse(suspects[0]!, `${name}: ${message}`)) this.sendFull(conn, asked);
      return;
    }
    // One code left that drew this error: probed alone once more, and refused only if that draws an error too.
    this.probeHalf(conn, suspects, suspects.length === 1 && b !== undefined && b.probe.length === 1);
  }

  private probeHalf(conn: VenueConnection, suspects: TopicState[], confirming = false): void {
    if (!conn.ws || !conn.open) {
      this.endBisect(conn);
      return;
    }
    const probe = suspects.slice(0, Math.ceil(suspects.length / 2));
    this.probes++;
    const asked = this.bisects.get(conn)?.asked ?? [];
    const b: Bisect = { ws: conn.ws, suspects, probe, timer: null, id: `probe${this.probes}`, writtenSinceLook: false, confirming, asked };
    this.bisects.set(conn, b);
    this.send(conn, encodeOrderbookRequest(probe, this.level), b.id);
    if (conn.outbox.at(-1)?.reqId === b.id) this.queued.set(b.id, { asked: [], list: probe });
    else this.written(conn, b.id, probe, [], this.clock());
    // After its ws:req (written now), as replay leaves them out at that record (replayLeaveOut).
    this.leaveOut(conn, probe);
    b.timer = setTimeout(() => this.onProbePassed(conn, b), this.errorWaitMs);
  }

  /** No error within errorWaitMs: the culprit is among the other suspects. */
  private onProbePassed(conn: VenueConnection, b: Bisect): void {
    if (this.bisects.get(conn) !== b) return;
    b.timer = null;
    // Still waiting for a token (pacing), or written only since the last look: its error may yet come.
    if (this.queued.has(b.id) || b.writtenSinceLook) {
      b.writtenSinceLook = false;
      b.timer = setTimeout(() => this.onProbePassed(conn, b), this.errorWaitMs);
      return;
    }
    // Still subscribed: not one refused, nor one closed (set IDLE by sendRequest before the lifecycle rejects it).
    const rest = b.suspects.filter((t) => !b.probe.includes(t) && (t.sub === SUB_PENDING || t.sub === SUB_ACTIVE));
    if (rest.length === 0) {
      this.sendFull(conn, this.endBisect(conn, false));
      return;
    }
    // One code left is probed alone too: an error frame no code caused (a passing error) must not halt a good book.
    this.probeHalf(conn, rest);
  }

  /**
   * Returns the codes subscribed meanwhile and still wanted, for the list that follows (sendFull's `asked`).
   * `clearMarks` false (the list follows on this socket): the codes a probe left out stay out until that list is
   * written (written), as replay sees them (its ws:req). Until 2026-12-07 cleared here, the list maybe still waiting
   * for the pacing: their frames (the venue's subscription still the last probe's, or the one before a refused probe)
   * were taken meanwhile, which replay could not tell.
   */
  private endBisect(conn: VenueConnection, clearMarks = true): TopicState[] {
    const b = this.bisects.get(conn);
    if (b?.timer) clearTimeout(b.timer);
    this.bisects.delete(conn);
    if (clearMarks) for (const t of conn.topics) t.offRequest = false; // a new socket (or none): its list names them
    for (const t of b?.asked ?? []) t.subscribeQueued = false;
    return (b?.asked ?? []).filter((t) => t.sub === SUB_PENDING);
  }

  /**
   * A probe replaces the socket's subscription (each request replaces the last [U§2]): the codes it leaves out may get
   * no more books while the exchange's move on, so their books leave LIVE (RESYNCING / SUBSCRIBE_REJECTED: the venue
   * refused the request they were in) and their frames are ignored until a request names them again. Not the codes the
   * old socket of a planned reconnect still serves (its subscription is not the probe's).
   */
  private leaveOut(conn: VenueConnection, probe: readonly TopicState[]): void {
    for (const t of conn.topics) {
      const spared = t.onRetiring && conn.retiringWs !== null && !(this.unsureOld.get(conn)?.has(t) ?? false);
      const left = (t.sub === SUB_ACTIVE || t.sub === SUB_PENDING) && !probe.includes(t);
      const off = left && !spared;
      if (left && conn.retiringWs !== null) {
        let set = this.leftOutNew.get(conn);
        if (set === undefined) this.leftOutNew.set(conn, (set = new Set()));
        set.add(t);
      }
      t.offRequest = off;
      if (off && t.book === BookState.LIVE) this.invalidateTopic(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
    }
  }

  /**
   * A planned reconnect's overlap is over and the replacement carries on alone while one of its probes is out: the
   * codes the old socket served that the probe leaves out now have no socket (the probe is the replacement's whole
   * subscription), so they leave LIVE as any code a probe leaves out (leaveOut spared them while the old socket fed
   * them); and with no probe out, each code a probe there left out during the overlap (leftOutNew). Gone back to the
   * old socket: the bisection ended there (sendRequest); a code the old socket may not stream (unsureOld) leaves LIVE
   * until its book comes there.
   */
  overlapOver(conn: VenueConnection, carrier: OverlapCarrier): void {
    const unsure = this.unsureOld.get(conn);
    this.unsureOld.delete(conn);
    const leftOut = this.leftOutNew.get(conn);
    this.leftOutNew.delete(conn);
    // Gone back: such a code may be LIVE by the replacement's books alone (that socket is gone) until the list the
    // going back sent is answered.
    if (carrier === "old" && unsure !== undefined) {
      for (const t of unsure) if (t.book === BookState.LIVE && t.sub !== SUB_REJECTED) this.invalidateTopic(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
    }
    if (carrier !== "replacement") return;
    const b = this.bisects.get(conn);
    if (b !== undefined && b.ws === conn.ws) this.leaveOut(conn, b.probe);
    // Whether the replacement streams a code one of its probes left out is not known (a later probe or list naming it
    // may wait for the pacing, or be refused too): one LIVE (by the old socket's books, spared or once the bisection
    // ended) leaves LIVE until its book comes on the replacement. Until 2026-12-07 it stayed LIVE, maybe unfed (when no
    // probe was out at the end, or the one out named it).
    for (const t of leftOut ?? []) {
      if (t.book === BookState.LIVE && t.sub !== SUB_REJECTED) this.invalidateTopic(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
    }
  }

  /**
   * A planned reconnect's codes a probe on the replacement left out (leftOutNew): the old socket gone, they leave LIVE
   * named by ws:retired (planned-reconnect.ts retired), so replay does the same (until 2026-12-07 overlapOver took them
   * out of LIVE in live only). overlapOver's own pass then finds them out of LIVE already.
   */
  replacementMayNotStream(conn: VenueConnection): ReadonlySet<TopicState> | undefined {
    return this.leftOutNew.get(conn);
  }

  /** A planned reconnect's codes the old socket may not stream though it served them (unsureOld; goBack leaves them out of LIVE). */
  oldMayNotStream(conn: VenueConnection): ReadonlySet<TopicState> | undefined {
    return this.unsureOld.get(conn);
  }

  /**
   * Replay: a list or probe live wrote on conn's socket (ws:req `[tag, "subscribe", [codes]]`). A probe leaves out the
   * codes it does not name as live's leaveOut did (their books out of LIVE, their frames ignored until a list names
   * them); a list names them again (live clears every mark as a list after a bisection is written: written), and brings
   * back a refused code it names (its listing's re-check found it trading, as SubscriptionControl.replayRecorded) unless
   * the record names it still closed. Nothing is sent. False for a record that is not one of these.
   */
  override replayRecorded(conn: VenueConnection, req: RecordedRequest): boolean {
    if (req.op !== "subscribe") return false;
    const tag = req.id;
    const probe = tag.startsWith("probe");
    if (!probe && !tag.startsWith("list")) return false;
    const names = new Set(req.names);
    const codes = conn.topics.filter((t) => names.has(t.topic));
    const prev = this.replayLast.get(conn);
    const confirming = probe && codes.length === 1 && prev !== undefined && prev.probe && prev.errored && prev.codes.length === 1 && prev.codes[0] === codes[0];
    this.replayLast.set(conn, { probe, codes, errored: false, confirming });
    if (probe) {
      this.replayLeaveOut(conn, codes);
      return true;
    }
    for (const t of conn.topics) t.offRequest = false;
    // A refused or closed one: asked from now, as live's write. Not one the record names still closed (its fourth
    // element, ConnectionLifecycle.recordWritten), as SubscriptionControl.replayRecorded: until s-smallleft it was
    // brought back, and the ws:closed after it told HALTED a second time. Live's lists name only subscribed codes
    // (sendFull; a closure rewrites a waiting one: leaveOutQueued), so a capture of this code has none: a guard.
    for (const t of codes) if (!req.stillClosed.has(t.topic)) this.replayResubscribed(t);
    return true;
  }

  /** Replay: leaveOut for a recorded probe (replay's topics are ACTIVE; the old socket's spared as live spared them). */
  private replayLeaveOut(conn: VenueConnection, probe: readonly TopicState[]): void {
    const unsure = this.replayUnsure.get(conn);
    for (const t of conn.topics) {
      const subscribed = t.sub === SUB_ACTIVE || t.sub === SUB_PENDING;
      const spared = t.onRetiring && conn.retiringGeneration >= 0 && !(unsure?.has(t) ?? false);
      const off = subscribed && !probe.includes(t) && !spared;
      t.offRequest = off;
      if (off && t.book === BookState.LIVE) this.invalidateTopic(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
    }
  }

  /**
   * Replay: an error frame on conn (not the old socket's: the adapter ignores those). It answers the last recorded
   * request: live's confirming probe (one code, whose probe alone drew an error before) refuses its code, as live's
   * refuse (a planned reconnect's replacement refusing a code the old socket serves: held until the next record says
   * whose it was, SubscriptionControl.reject). Any other is marked answered, which makes the next probe of that one
   * code the confirming one.
   */
  private replayError(conn: VenueConnection, name: string, message: string): void {
    const r = this.replayLast.get(conn);
    if (r === undefined) return;
    if (r.confirming && !r.errored && r.codes[0]!.sub !== SUB_REJECTED) this.reject(r.codes[0]!, `${name}: ${message}`);
    r.errored = true;
  }

  /**
   * Replay: a recorded socket event of conn (after the lifecycle's own handling). A new socket (ws:open, ws:close,
   * ws:sockets) or the requests going to another (ws:swap, ws:back) ends what the last request said, as live's
   * endBisect at the next list; at a swap the codes the old socket may not stream are taken as live's unsureOld; the old
   * socket gone with a probe out, that probe leaves out the codes it spared (live's overlapOver). A probe's left-out
   * codes stay out across ws:swap and ws:back until the next recorded list, as live's (written): until 2026-12-07
   * cleared there, and the old socket's books of them taken where live, its list still waiting for the pacing,
   * ignored them.
   */
  replaySocketEvent(conn: VenueConnection, url: string): void {
    if (url === SOCKET_RETIRED_URL) {
      this.replayUnsure.delete(conn);
      const r = this.replayLast.get(conn);
      if (r?.probe) this.replayLeaveOut(conn, r.codes);
      return;
    }
    if (url === SOCKET_SWAP_URL) this.replayUnsure.set(conn, new Set(conn.topics.filter((t) => (t.onRetiring && t.book !== BookState.LIVE) || t.offRequest)));
    else if (url === SOCKET_BACK_URL) this.replayUnsure.delete(conn);
    else if (url === CONNECTION_OPENED_URL || url === CONNECTION_CLOSED_URL || url === SOCKETS_RECORDED_URL) {
      this.replayUnsure.delete(conn);
      this.replayForget(conn);
      return;
    } else return;
    this.replayLast.delete(conn); // the marks stay until the next list (live's written)
  }

  /** Replay: no recorded request is out on conn (a new socket, a capture gap: the lost records may have held a list). */
  replayForget(conn: VenueConnection): void {
    this.replayLast.delete(conn);
    for (const t of conn.topics) t.offRequest = false;
  }

  /** Refuses `t` (HALTED); false when that failed a planned reconnect's replacement instead (nothing more goes there). */
  private refuse(t: TopicState, why: string): boolean {
    if (t.sub === SUB_REJECTED) return true;
    if (t.onRetiring && t.conn.retiringWs !== null && this.onReplacementRefused?.(t.conn, `replacement refused ${requestCode(t)}: ${why}`)) {
      // A planned reconnect's replacement refused a code its old socket still serves: the replacement failed (the
      // old socket is gone back to), the venue refuses the code only if the connection's one socket does.
      this.logger.warn(`${this.venueName}: replacement socket refused a code the old socket serves; the planned reconnect fails`, { market: t.market, code: requestCode(t), venueMessage: why });
      return false;
    }
    this.subscribeRejected++;
    t.sub = SUB_REJECTED;
    this.logger.error(`${this.venueName}: code refused; this book is not published until a re-check of its listing finds it served`, { market: t.market, code: requestCode(t), venueMessage: why });
    this.invalidateTopic(t, BookState.HALTED, StatusReason.SUBSCRIBE_REJECTED);
    this.onRejected?.(t, false);
    return true;
  }

  override stop(): void {
    for (const conn of [...this.bisects.keys()]) this.endBisect(conn);
    super.stop();
  }
}
