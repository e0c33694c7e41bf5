/**
 * What every venue's connection and subscription have in common (cold state; the hot frame path stays in the
 * venue's subclass): the socket and its generation, per-connection counters, pending requests, and per topic the
 * subscription phase, the book state the adapter believes, the last venue sequence and the resync backoff.
 * @module
 */
import { turnReceiptUs } from "../../core/clock.ts";
import { redactUrl } from "../../core/redact-url.ts";
import { BookState, StatusReason, type MarketName } from "../../core/types.ts";
import type { MessageLimit } from "./budgets.ts";
import { quotesOneOf, topicQuotedIn } from "./frame-topic.ts";
import type { RawFrameTap } from "../venue.ts";

// Subscription phase of a topic on its connection.
export const SUB_IDLE = 0;
export const SUB_PENDING = 1;
export const SUB_ACTIVE = 2;
export const SUB_UNSUBSCRIBING = 3;
export const SUB_REJECTED = 4;

/** One subscribed book channel on one connection. */
export class TopicState<C extends VenueConnection = VenueConnection> {
  book: BookState = BookState.AWAITING_SNAPSHOT;
  /** Why the book was last halted (TopicResync.invalidate): a halt for another reason is news, one for the same is not. */
  haltedFor: StatusReason = StatusReason.NONE;
  sub = SUB_IDLE;
  /** The venue sequence of the last message applied (Bybit `u`); 0 = none yet, unless hasSeq. */
  lastSeq = 0;
  /**
   * lastSeq is a sequence even at 0: set by OKX, whose seqId may be 0 after a maintenance reset. The other venues'
   * sequences start above 0 (they refuse 0), so lastSeq > 0 tells for them. Cleared wherever lastSeq is zeroed.
   */
  hasSeq = false;
  /** lastSeq when the book was last invalidated (which zeroes it): a later snapshot below it means the venue reset. */
  seqBeforeInvalid = 0;
  /**
   * The generation of the socket that delivered lastSeq (-1 = none): a frame below lastSeq from that same socket
   * (TCP is ordered) means the venue's sequence went back; from another socket (a planned reconnect's overlap) it
   * may only trail. Set by the venues that use it (Bybit, OKX full books, Deribit) when a frame moves or repeats the
   * book's sequence (Deribit: a change only when it moves it, a repeat by a snapshot, whole book or change); kept across a planned reconnect's go-back,
   * which gives the same socket a new generation.
   */
  seqSocket = -1;
  /**
   * Another socket that delivered lastSeq too (seqRepeated; valid while lastSeq is still `seqAlsoAt`, and cleared by
   * Bybit and Deribit at a snapshot that sets the book anew, by OKX's full books when their seqId moves, whose number
   * a venue reset may have made the same): when a planned
   * reconnect's overlap ends, the socket that carries on is the one of record if it had reached lastSeq, whichever
   * of the two repeated it last (seqReached). Until 2026-12-06 the last repeat alone decided: the old socket's level-1
   * re-push after the replacement's equal snapshot left the old socket of record, and after it closed the
   * replacement's older snapshot (a venue reset) was ignored as a trail, the book LIVE at its old levels until stale.
   * Deribit keeps here too the other socket's own last sequence while it trails (seqAlsoAt below lastSeq: not
   * reached), so a lower frame on it is a reset (DeribitAdapter.wentBack); a go-back renames it (seqSocketRenamed).
   */
  seqAlsoSocket = -1;
  seqAlsoAt = 0;
  /** Its last frame, or when its subscribe went out (written, not queued for pacing): the stale rule's clock. */
  lastMsgMs = 0;
  /**
   * A subscribe naming it waits in its connection's outbox for the pacing budget (SubscriptionControl.send): the
   * stale rule skips a book not LIVE until it goes (flush then starts its clock), or the outbox is dropped.
   */
  subscribeQueued = false;
  /**
   * Replay: when the silence of this LIVE book passed its stale time, the stale rule then making it STALE (-Infinity:
   * made STALE from another state; replayMayResume).
   */
  staleDueMs = -Infinity;
  /** The topic's entry in the venue's hot-path lookup table (-1 = not added). */
  entry = -1;
  /** Subscribe again once the unsubscribe ack arrives (a resync in progress). */
  resubscribeAfterUnsub = false;
  /** A resync was requested while the subscribe was in flight: resync once it is acked. */
  resyncAfterAck = false;
  /**
   * Left out of the request its socket carries now (Upbit / Bithumb: a bisect probe, which replaces the subscription):
   * the venue may no longer send its book, so the book is not LIVE and its frames are ignored until it is asked again.
   */
  offRequest = false;
  resyncs = 0;
  /** When the current snapshot made the book LIVE (-1 = not live); a long enough live spell resets the resync backoff. */
  liveSinceMs = -1;
  /** Resyncs since the book was last live for resyncBackoffResetMs; 0 = the next resync goes out immediately. */
  resyncAttempt = 0;
  /** A resync is waiting out its backoff: unsubscribed (or unsubscribing), no subscribe before resyncDueMs. */
  resyncDelayed = false;
  resyncDueMs = 0;
  /** The wait that set resyncDueMs: a clock stepped back brings resyncDueMs to at most this far ahead (clampToClock). */
  resyncWaitMs = 0;
  /**
   * During a planned reconnect's overlap: subscribed on the old (retiring) socket, which still serves the book, so a
   * refusal or failure of the replacement must not take the book down (the old socket is gone back to instead).
   */
  onRetiring = false;
  /** A fresh start (restartTopic) was asked for during the overlap: redone on the old socket if it is gone back to. */
  restartWanted = false;
  /**
   * Subscribes of this topic refused in a row for a reason that may pass (AckError `other`), each sent again after a
   * backoff that grows with it (SubscriptionControl.retryAfterError), or refused without a reason and subscribed again
   * once the listing said it trades (SubscriptionControl.reject, `unexplained`: halted at
   * UNEXPLAINED_REFUSALS_BEFORE_HALT); 0 once one is accepted or the instrument closes (ConnectionLifecycle.retireAll).
   */
  subscribeErrorStreak = 0;
  /**
   * Its subscribe was refused for a reason that may pass and waits to be sent again (RESYNCING / SUBSCRIBE_REJECTED,
   * set by common/rest-bridge.ts refusalDropsBridge: Binance, OKX): the venue's updates for it are ignored until a
   * subscribe of it is accepted again or its connection drops (a halt keeps it), so none opens a REST bridge meanwhile (replay: also
   * at a capture gap, ConnectionLifecycle.replayCaptureGap).
   */
  refusedUntilAck = false;
  /**
   * The socket generation on which its subscribe out (sent, held, or waiting to go again after a refusal, alone or in
   * halves) took the place of its closure's unsubscribe, which never went (SubscriptionControl.subscribeGoes, or
   * resubscribedSince: refused 60014; or, still held at a planned reconnect's swap, marked there for the old socket:
   * planned-reconnect.ts swapWhenSettled, which moves the old socket's mark to streamedOnRetiring): the venue still streams its channel there, so should that subscribe be refused
   * or dropped once the book is given up again, the channel is unsubscribed then. -1: none. A fact of the book, not of
   * the requests (until s-streamfact each request remade from another had to carry it on: one path that did not left a
   * channel subscribed for good). Ended when an unsubscribe of it goes, its subscribe is accepted or it is rejected, on
   * that socket; another generation's is none, but a planned reconnect's old socket gone back to keeps its own
   * (streamedOnRetiring during the overlap) under its new generation (planned-reconnect.ts goBack: one closed meanwhile is unsubscribed there; one closed later while idle
   * there, by ConnectionLifecycle.retireAll).
   */
  streamedOn = -1;
  /**
   * A planned reconnect's overlap: streamedOn of the old socket (its generation, retiringGeneration), moved here at the
   * swap so that the replacement's own mark (streamedOn, set during the overlap) does not take its place; read by a
   * go-back (planned-reconnect.ts goBack), which moves it back to streamedOn. -1: none. Until s-rd26b one field held
   * both: the replacement's mark replaced the old socket's, and a book closed again and gone back to was left
   * subscribed on the old socket for good.
   */
  streamedOnRetiring = -1;
  /**
   * Replay, a venue whose protocol opts in (RequestProtocol.replayHoldsUnsubscribed: Bybit, OKX, Deribit): a recorded unsubscribe
   * of it (`ws:req`) is out, its recorded subscribe not yet. Replay keeps its topics subscribed, so the venue's frame
   * path ignores the book's frames here as live's does while SUB_UNSUBSCRIBING (in flight, they may be of the sequence
   * before a venue reset another socket delivered), and the stale rule spares it unless LIVE (live judges no topic
   * unsubscribing). Set and ended by SubscriptionControl.replayRecorded and ConnectionLifecycle (endReplayHolds; a
   * recorded reopening, replayReopened; a go-back ends none but those its resubscribe held, replayBackHeld).
   */
  replayUnsubscribing = false;

  constructor(
    /** Subscription index (the app's book index). */
    readonly index: number,
    readonly market: MarketName,
    /** The venue's symbol (no depth suffix). */
    readonly symbol: string,
    readonly depth: number,
    /** The channel's name on this connection, as acks and pushes name it (Bybit `orderbook.50.BTCUSDT`). */
    readonly topic: string,
    readonly conn: C,
  ) {}
}

export interface PendingRequest {
  readonly reqId: string;
  readonly op: "subscribe" | "unsubscribe";
  topics: TopicState[];
  /** When it went out; Infinity while it waits in the outbox (pacing), so its ack deadline has not started. */
  sentMs: number;
  /**
   * An unsubscribe answered topic by topic (OKX): the topics answered while others of it are not, confirmed with the
   * last answer (or the request's own), so their subscribes go as one request (SubscriptionControl.restartTopics).
   */
  answered?: TopicState[];
  /** An unsubscribe recorded when it was queued for the pacing budget (SubscriptionControl.send), not again when written. */
  recordedQueued?: boolean;
}

/**
 * One WebSocket connection of a venue adapter. The lifecycle (connection-lifecycle.ts) opens, watches and
 * reopens it; subscription-control.ts sends its requests. The venue's subclass owns the hot path: bindMessages
 * installs its own message handler, so the per-frame call stays monomorphic in the venue's code.
 */
export abstract class VenueConnection {
  readonly topics: TopicState<this>[] = [];
  readonly byTopic = new Map<string, TopicState<this>>();
  readonly pending = new Map<string, PendingRequest>();
  /** Messages waiting for a token (MessagePacing), oldest first; emptied when the socket goes. */
  readonly outbox: { text: string; reqId: string | undefined }[] = [];
  /** This connection's message limit (MessagePacing.perConnection), made on first use. */
  bucket: MessageLimit | null = null;
  /**
   * Set by start()/startReplay() when at least one topic resolved to an instrument. A connection whose topics all
   * failed to resolve is never opened, pinged or counted in the connect budget, and is left out of stats().
   */
  used = false;
  ws: WebSocket | null = null;
  open = false;
  /** The current socket's generation; frames of any other are dropped (except retiringGeneration's). */
  generation = 0;
  /** Source of generations: every socket, and every "none" after a disconnect, gets a fresh one. */
  genSeq = 0;
  /**
   * Make-before-break (a planned reconnect): the replacement socket while it opens, then the old socket, which
   * keeps delivering until the replacement's subscriptions are acked. Both carry the same per-topic sequences, so
   * their frames interleave harmlessly (a repeat is ignored as a duplicate). A replacement that fails before it
   * carries every topic is dropped and the old socket is the connection's again (planned-reconnect.ts).
   */
  replacing: WebSocket | null = null;
  /** The replacement's generation, and whether it is open (it becomes the socket once the old one has no request in flight). */
  replacingGeneration = -1;
  replacingOpen = false;
  retiringWs: WebSocket | null = null;
  /** -1 = none. Checked by bindMessages only when a frame is not of `generation` (never on the common path). */
  retiringGeneration = -1;
  /** The old socket's openedMs, restored if the replacement fails (its age still counts). */
  retiringOpenedMs = 0;
  /**
   * The old socket's own keepalive during the overlap (the connection's fields are the replacement's): its last ping,
   * its pong deadline (0 = none outstanding), its frames and when housekeeping last saw one arrive. Restored if it is
   * gone back to; a silent old socket is given up after deadConnectionMs (planned-reconnect.ts).
   */
  retiringLastPingMs = 0;
  retiringPongDeadlineMs = 0;
  retiringMessages = 0;
  retiringMessagesSeen = 0;
  retiringLastFrameMs = 0;
  /**
   * The old socket's heardMs during the overlap (its last frame, or its heartbeat asked: never moved for the outbox),
   * which its heartbeat promise counts from (retiringServerTested), through the overlap and after a go-back. Until
   * 2026-12-07 only retiringLastFrameMs was kept, which a message waiting for the budget at the swap had held up to
   * then: an old socket whose server was dead kept its books LIVE past the promise by up to the time held.
   */
  retiringHeardMs = 0;
  /**
   * Of `messages`, those counted for the old socket's frames during an overlap, over the connection's life: the rest,
   * ownMessages(), are the current socket's, whose silence the dead-connection rule judges (until 2026-12-07 the old
   * socket's frames kept a silent replacement "alive" until its ack deadline).
   */
  retiringCounted = 0;
  /** True while a frame of the retiring socket is handled: its acks answer no request of ours, its notices are stale. */
  fromRetiring = false;
  /**
   * Replay: the capture records this connection's sockets (a SOCKETS_RECORDED_URL event was read), so generation,
   * retiringGeneration and fromRetiring follow the live run's (ConnectionLifecycle.replaySocketEvent); false: a
   * capture that does not say (recorded before 2026-12-06, or a file begun after the connection opened without a head
   * saying the sockets, until the connection's next SOCKETS_STATE_URL).
   */
  socketsRecorded = false;
  /** Live, recording: when the capture was last told the sockets are recorded (SOCKETS_RECORDED_URL or SOCKETS_STATE_URL). */
  socketsDeclaredMs = 0;
  /**
   * Replay: the capture holds every message written to this connection's socket and every answer to them since its
   * last recorded `ws:open` or `ws:close` (ConnectionLifecycle.replayOpened / replayDisconnected), so an answer naming
   * no request may be matched by order (the oldest written request of its op, or naming its topic), as live matched
   * it. False until then (a replay begun in a later file, whose requests of an earlier file may still be unanswered)
   * and again after a capture gap (replayCaptureGap: the lost records may have held answers, and the requests still
   * pending there are forgotten): such an answer then matches no request (SubscriptionControl), and a refusal in it
   * is ignored. Until 2026-12-07 only Coinbase did this (its own flag), and only from s-reprst at a gap: every other
   * venue kept its requests across a gap and took an answer after it for an older request's.
   */
  replayAcksKnown = false;
  /**
   * Replay: the topics (TopicState.topic, as `ws:req` names them) of every request the live run wrote on this
   * connection's sockets since its last recorded `ws:open` or `ws:close`, begun at the first such request while
   * replayAskedKnown (so a capture from before requests were recorded, 2026-12-07, never has one) or at a file head's
   * `ws:asked` (since s-headask: a replay begun in a later file, or after a capture gap, learns them there); null
   * otherwise (none written since, a later file without that record, after a capture gap until then). A frame
   * naming a topic the connection does not carry and none of these was unknown to live too: replay resyncs as live
   * did (replayUnknownToLive). Cold (requests only).
   */
  replayAsked: Set<string> | null = null;
  /**
   * Replay: the capture holds every request written on this connection's sockets from here to its next capture gap
   * (since a recorded `ws:open` or `ws:close`, or a file head's `ws:asked` said those before it), so the next one
   * begins replayAsked if it is null. Unlike replayAcksKnown a head sets it: it says what was asked, not what is
   * still unanswered.
   */
  replayAskedKnown = false;
  /** Replay: the next frame came on the old socket of a planned reconnect's overlap (SOCKET_OLD_FRAME_URL). */
  replayNextFromOld = false;
  /**
   * Replay: set while a replacement's refusal of a topic the old socket serves is held (SubscriptionControl
   * replayOverlapOver); called at the connection's next frame or event other than SOCKET_BACK_URL (and those saying
   * the overlap's end was lost): live went back right after the refusing frame, so anything else next says it was the
   * venue's refusal, the book halted from then on (until 2026-12-07 its frames until SOCKET_RETIRED_URL were applied).
   */
  replayRefusalHeld: (() => void) | null = null;
  /** Why a planned reconnect is wanted ("" = none); tried (again) from plannedRetryAtMs, after a failed one's backoff. */
  plannedWhy = "";
  plannedRetryAtMs = 0;
  /** A close announced on the replacement during the overlap: its own planned reconnect, once this one is done. */
  plannedNextWhy = "";
  /** Failed planned reconnects in a row (the retry backoff's step); a completed one starts it over. */
  plannedFailuresInRow = 0;
  /** The retry step (ms, before jitter) and reason of the last failure logged as a warning: the next is logged when either changes. */
  plannedLoggedStepMs = 0;
  plannedLoggedWhy = "";
  attempt = 0;
  /**
   * Requests of this connection refused as over the rate limit in a row (subscription-control.ts retryLater's backoff
   * step); one it has accepted starts it over (not one of another connection: the limit may be per connection).
   */
  rateLimitStreak = 0;
  reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  lastPingMs = 0;
  /** 0 = no ping outstanding. */
  pongDeadlineMs = 0;
  openedMs = 0;
  /**
   * Whether anything was sent on the current socket (SubscriptionControl.write): until then, its first messages may
   * wait for a worker's pacing slot and the venue, asked nothing, says nothing (the dead rule waits for the first).
   */
  sentOnSocket = false;
  /** sentOnSocket of the old socket of an overlap (as at the swap), its own again after a go-back. */
  retiringSentOnSocket = false;
  /**
   * Whether the current socket's server has promised its heartbeat: asked for it (RequestProtocol.heartbeatAskTag
   * written: Deribit's set_heartbeat) or sent a test request. Then silence past it is death whatever waits in the
   * outbox (lifecycle). retiringServerTested: the old socket's during an overlap, its own again after a go-back.
   */
  serverTested = false;
  retiringServerTested = false;
  /** Housekeeping's view of the last time anything arrived on the current socket (lastFrameMs, never moved for the outbox). */
  heardMs = 0;
  connectStartedMs = 0;
  /** While down: why the last attempt failed ("ECONNREFUSED: …"), since when, and how many attempts in a row failed. */
  lastError = "";
  downSinceMs = 0;
  failedConnects = 0;
  /** Housekeeping's view of the last time anything arrived on the current socket (ownMessages() moved since its previous look). */
  lastFrameMs = 0;
  messagesSeen = 0;
  // Counters (hot increments in the subclass, cold reads).
  messages = 0;
  bytes = 0;
  parseErrors = 0;
  /** Frames whose handling threw (frameFailed: contained, their books resynced). */
  frameErrors = 0;
  fallbacks = 0;
  unknownTopic = 0;
  connects = 0;
  reconnects = 0;
  pongTimeouts = 0;
  ackTimeouts = 0;
  deadConnections = 0;
  plannedReconnects = 0;
  /** Planned reconnects abandoned because the replacement failed (the old socket kept the connection). */
  plannedReconnectFailures = 0;
  /** Handshakes (its own or a planned replacement's) the venue refused with 429, 418 or 403: a hold followed (connect-hold.ts). */
  connectsRefused = 0;
  /**
   * Replay: capture records of this connection ignored as malformed (damaged or forged): a file head's `ws:asked`
   * whose body is neither a JSON array nor null, a `ws:req` that is not a request live writes (recorded-request.ts).
   * ConnectionLifecycle.replaySocketEvent counts them.
   */
  malformedRecords = 0;
  pongs = 0;

  /**
   * "conn<id>.<market>": names this connection in stats, metrics and capture files. Made once: a getter built the
   * string on every read, which the raw-frame tap (`feeder record`) and replay's lookup do per frame.
   */
  readonly name: string;

  /** `url` as logs, /status, /readyz and captures show it: credentials (user:pw@) as `***` (core/redact-url.ts). */
  readonly shownUrl: string;

  constructor(
    readonly id: number,
    readonly market: MarketName,
    readonly url: string,
    name = `conn${id}.${market}`,
  ) {
    this.name = name;
    this.shownUrl = redactUrl(url);
  }

  /**
   * Installs the socket's message handler: frames of generation `gen` go to the venue's frame entry point when
   * gen is `generation` or `retiringGeneration`; anything from an older socket is dropped. Defined by the venue so
   * the hot call is not a generic hook.
   */
  abstract bindMessages(ws: WebSocket, gen: number): void;

  /**
   * Told of a frame whose handling threw (set by the connection lifecycle when it binds a socket: it resyncs the
   * frame's books). Undefined for a connection no lifecycle bound (tests): the frame is only counted.
   */
  frameFault: ((conn: VenueConnection, frame: string, error: unknown) => void) | undefined = undefined;

  /**
   * Records SOCKET_UNDECODABLE_URL (body: the decoder's error) before the frame record of a binary frame that is no
   * UTF-8 (handlerThrew); set by the connection lifecycle when a capture is written. Cold.
   */
  undecodableMark: ((conn: VenueConnection, why: string) => void) | undefined = undefined;

  /**
   * Replay: the next frame is one live could not decode (SOCKET_UNDECODABLE_URL, its body): a frame fault, not read.
   * Forgotten at a capture gap, `ws:close` or `ws:open` (live records the frame right after the mark: one between says
   * the frame was lost), so it never faults a later, unrelated frame.
   */
  replayNextUndecodable: string | null = null;

  /**
   * The one topic of this connection `frame` names, or undefined when none or several (cold: a frame no reader could
   * read, or whose handling threw). By the topic's name quoted in the frame, as Bybit, Binance, Deribit, Coinbase and
   * Upbit frames carry it (looked up by name: frame-topic.ts topicQuotedIn); a venue whose frames name a book otherwise
   * overrides this (OKX: channel and instId).
   */
  topicOfFrame(frame: string): TopicState<this> | undefined {
    return topicQuotedIn(this.byTopic, frame);
  }

  /**
   * Replay, cold: a frame naming a topic this connection does not carry (onUnknownTopic; Upbit's onUnknownCode) was
   * also unknown to the live run that recorded it, which then resynced every book of the connection: true when the
   * requests recorded since the socket opened are known (replayAsked) and name none of the frame's topics. False for a
   * topic a recorded request named (a capture may hold topics the replay's config leaves out: ignored) and when the
   * requests are not known. A name written with an escape (`\u0041`) is looked for as JSON reads it, as live's JSON
   * path read it (until s-rd21a only in the raw text: taken for a topic live never asked for, every book resynced).
   */
  replayUnknownToLive(frame: string): boolean {
    const asked = this.replayAsked;
    if (asked === null || this.namesOneOf(asked, frame)) return false;
    return !frame.includes("\\") || !this.namesOneOf(asked, unescapedJson(frame));
  }

  /**
   * Cold: the one rule for a frame naming a topic this connection does not carry (onUnknownTopic; Upbit's
   * onUnknownCode). True when it is lost as live lost it (every book of the connection resyncs), counted then in
   * unknownTopic; false when replay ignores it (replayUnknownToLive false: a topic live asked for, or live's requests
   * not known), not counted: replay's unknown_topic_total is live's. Until s-unkcount every venue counted first, so a
   * replay with a narrower config counted the left-out topics' frames, which live never counted.
   */
  unknownTopicLost(frame: string, replaying: boolean): boolean {
    if (replaying && !this.replayUnknownToLive(frame)) return false;
    this.unknownTopic++;
    return true;
  }

  /** Cold: true when `frame` names one of the topic names `names` (quoted, as topicOfFrame reads them; OKX overrides). */
  namesOneOf(names: ReadonlySet<string>, frame: string): boolean {
    return quotesOneOf(names, frame);
  }

  /**
   * Cold: the venue's handler threw on `frame` (a bug, or input no check foresaw). Each venue's message handler
   * catches it and calls this, so the exception ends neither the socket's handler nor the process (under Bun an
   * exception out of a WebSocket event listener ends the process); the books it may have touched resync
   * (frameFault). Never throws.
   */
  frameFailed(frame: string | Uint8Array, error: unknown): void {
    this.frameErrors++;
    try {
      this.frameFault?.(this, typeof frame === "string" ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString(), error);
    } catch {
      // The resync of a frame that threw threw too: counted above; nothing more can be done from a socket's handler.
    }
  }

  /** A pong (or the keepalive's answer) arrived: the ping deadline of the socket it came on is met. Cold. */
  onPong(): void {
    this.pongs++;
    // The old socket of a planned reconnect answers the ping it was sent before the swap, not the replacement's.
    if (this.fromRetiring) this.retiringPongDeadlineMs = 0;
    else this.pongDeadlineMs = 0;
  }
}

/** The outbox tag of a client_ping keepalive (no pending request has it): while it is there, the ping has not gone. */
export const KEEPALIVE_TAG = "keepalive";

/** Frames counted on the connection's current socket: every one but the old socket's of an overlap (retiringCounted). */
export function ownMessages(conn: VenueConnection): number {
  return conn.messages - conn.retiringCounted;
}

/** Whether the connection's keepalive ping waits in its outbox for the pacing budget (one ping is in flight at most). */
export function keepaliveQueued(conn: VenueConnection): boolean {
  for (const m of conn.outbox) if (m.reqId === KEEPALIVE_TAG) return true;
  return false;
}

/**
 * Replay: live's socket of `conn` ended or was replaced (its close, a new socket), or the capture lost records (the
 * subscribe may be among them): no unsubscribe of it is out any more, so no topic stays held
 * (TopicState.replayUnsubscribing). Not at a go-back: live's book stays unsubscribed until a request recorded after it.
 */
export function endReplayHolds(conn: VenueConnection): void {
  for (const t of conn.topics) {
    t.replayUnsubscribing = false;
    replayHeldSubscribeGone(t); // as live's dropQueued at a close: a go-back's held subscribe is gone with its socket
  }
}

/**
 * Replay: a go-back's subscribe held for the venue's request count (venue.ts SOCKET_BACK_HELD_URL: SUB_PENDING and
 * subscribeQueued, as live's) is written (its ws:req), gone with its socket, or maybe among lost records: subscribed
 * as replay keeps its topics (SUB_ACTIVE). Replay queues nothing else, so subscribeQueued is only that mark there.
 */
export function replayHeldSubscribeGone(t: TopicState): void {
  if (!t.subscribeQueued) return;
  t.subscribeQueued = false;
  if (t.sub === SUB_PENDING) t.sub = SUB_ACTIVE;
}

/** Replay: the connection named `name`, by a loop (per recorded socket event, `ws:old` one a frame: find() made a closure each time). */
export function connectionNamed<C extends VenueConnection>(conns: readonly C[], name: string): C | undefined {
  for (let i = 0; i < conns.length; i++) if (conns[i]!.name === name) return conns[i];
  return undefined;
}

/**
 * Replay: the topics of `conn` a record's body names (TopicState.topic, space-separated, as recordTopics and the file
 * heads write them), in conn's order (the live run's); names of none of its topics are passed over. Cold.
 */
export function topicsNamed(conn: VenueConnection, body: string): TopicState[] {
  const names = new Set(body.split(" "));
  return conn.topics.filter((t) => names.has(t.topic));
}

/**
 * Replay: the connection a recorded frame names, else the market's first (an unknown name). A loop, not find():
 * called per replayed frame, where a closure per call was garbage.
 */
export function replayConnection<C extends VenueConnection>(conns: readonly C[], connection: string, market: MarketName): C | undefined {
  for (let i = 0; i < conns.length; i++) if (conns[i]!.name === connection) return conns[i];
  for (let i = 0; i < conns.length; i++) if (conns[i]!.market === market) return conns[i];
  return undefined;
}

/**
 * Replay: feeds one recorded frame to the connection it names (replayConnection). A frame recorded as the old
 * socket's during a planned reconnect's overlap (SOCKET_OLD_FRAME_URL before it) is handled as the live run did, from
 * the retiring socket. False when no connection takes it.
 */
export function replayFrame<C extends VenueConnection & { onFrameAt(frame: string, tsRecvUs: number): void }>(
  conns: readonly C[],
  market: MarketName,
  connection: string,
  frame: string,
  tsRecvUs: number,
): boolean {
  const conn = replayConnection(conns, connection, market);
  if (!conn) return false;
  conn.replayRefusalHeld?.();
  if (!conn.replayNextFromOld) {
    replayFrameAt(conn, frame, tsRecvUs);
    return true;
  }
  conn.replayNextFromOld = false;
  conn.fromRetiring = true;
  try {
    replayFrameAt(conn, frame, tsRecvUs);
  } finally {
    conn.fromRetiring = false;
  }
  return true;
}

/**
 * Replay: one recorded frame to its connection, an exception while it is handled contained as live's is (frameFailed:
 * the frame's books resync, from the capture's next snapshot): before, it ended the replay or export. A frame live
 * could not decode (replayNextUndecodable) goes to frameFailed as live's did, unread.
 */
export function replayFrameAt<C extends VenueConnection & { onFrameAt(frame: string, tsRecvUs: number): void }>(conn: C, frame: string, tsRecvUs: number): void {
  const undecodable = conn.replayNextUndecodable;
  if (undecodable !== null) {
    // Live could not decode it (SOCKET_UNDECODABLE_URL before it): never read there, its text went to the frame fault.
    conn.replayNextUndecodable = null;
    conn.frameFailed(frame, new TypeError(undecodable));
    return;
  }
  try {
    conn.onFrameAt(frame, tsRecvUs);
  } catch (err) {
    conn.frameFailed(frame, err);
  }
}

/** `socket` delivered the book's lastSeq again: it becomes the socket of record, and the one before it (if another) is kept as having reached it too. */
export function seqRepeated(t: TopicState, socket: number): void {
  if (socket !== t.seqSocket) {
    t.seqAlsoSocket = t.seqSocket;
    t.seqAlsoAt = t.lastSeq;
  }
  t.seqSocket = socket;
}

/**
 * The socket of generation `from` goes on as `to` (a planned reconnect's go-back binds the old socket afresh): the
 * socket of record where it had reached lastSeq (seqReached), and the other socket kept at its own last id where it
 * was that one.
 */
export function seqSocketRenamed(t: TopicState, from: number, to: number): void {
  if (seqReached(t, from)) t.seqSocket = to;
  if (t.seqAlsoSocket === from) t.seqAlsoSocket = to;
}

/**
 * Whether the socket of generation `gen` has delivered the book's lastSeq (the socket of record, or another that
 * repeated it). lastSeq 0 is "none" unless hasSeq (OKX's seqId 0: until s-seqzero2 a socket that repeated it was not
 * counted, the book held RESYNCING at an overlap's end until its next book).
 */
export function seqReached(t: TopicState, gen: number): boolean {
  return gen >= 0 && (t.seqSocket === gen || (t.seqAlsoSocket === gen && t.seqAlsoAt === t.lastSeq && (t.lastSeq !== 0 || t.hasSeq)));
}

/** Cold: `frame` as JSON reads it, written again without escapes but the ones JSON needs (itself when it is no JSON). */
function unescapedJson(frame: string): string {
  try {
    return JSON.stringify(JSON.parse(frame));
  } catch {
    return frame;
  }
}

/**
 * Binary frames' text, for every venue's bindMessages (but Upbit's, which reads bytes): one decoder for the process, not
 * one per frame (until 2026-12-07 each handler made one per binary frame). Strict: bytes that are no UTF-8, or no bytes
 * at all, throw, so it is called inside the handler's try and such a frame is a frame fault (frameFailed, with
 * handlerThrew: recorded, then faulted), never read with U+FFFD in it nor an exception out of the handler. HOT only
 * for binary frames.
 */
export function frameText(data: unknown): string {
  return typeof data === "string" ? data : frameDecoder.decode(data as ArrayBuffer);
}

const frameDecoder = new TextDecoder("utf-8", { fatal: true });

/** A received frame for frameFailed: its text, its bytes, or (neither) nothing. Cold. */
export function failedFrame(data: unknown): string | Uint8Array {
  if (typeof data === "string" || data instanceof Uint8Array) return data;
  return data instanceof ArrayBuffer ? new Uint8Array(data) : "";
}

/**
 * Cold: the catch of a venue's handler (bindMessages) of frame `data`, whose handling threw `error`. A binary frame
 * that is no UTF-8 threw in frameText, before the venue's raw tap: with a capture written (the adapter's tap), it is
 * recorded here (its U+FFFD text, after SOCKET_UNDECODABLE_URL: replay then faults it as live, never reads it; during
 * a planned reconnect the old socket's ws:old, already recorded, gets its frame). Then frameFailed, with that text.
 */
export function handlerThrew(conn: VenueConnection, data: unknown, error: unknown, adapter: { readonly rawFrameTap: RawFrameTap | undefined }): void {
  const frame = failedFrame(data);
  if (typeof frame === "string" || !isUndecodable(frame)) {
    conn.frameFailed(frame, error);
    return;
  }
  const text = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString();
  try {
    const tap = adapter.rawFrameTap; // read here: a throw out of the catch would end the process
    if (tap !== undefined) {
      conn.undecodableMark?.(conn, error instanceof Error ? error.message : String(error));
      tap(conn.market, conn.name, text, turnReceiptUs());
    }
  } catch {
    // A capture that cannot take it: the fault below is live's all the same.
  }
  conn.frameFailed(text, error);
}

/** Whether `bytes` are no UTF-8 (frameText's decoder throws on them). Cold. */
function isUndecodable(bytes: Uint8Array): boolean {
  try {
    frameDecoder.decode(bytes);
    return false;
  } catch {
    return true;
  }
}
