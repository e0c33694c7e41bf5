/**
 * `feeder record`: each connection's sockets as the capture's own records say them, written at the head of every new
 * capture file (record/capture.ts CaptureFileHead). A file replayed without the ones before it (rotated away by
 * retention, or not given) then knows from its first record what the connection's `ws:sockets` and any `ws:swap` in
 * earlier files said: `ws:state` for an open connection with one socket, `ws:overlap` for one in a planned
 * reconnect's overlap (venues/venue.ts). Before, such a file was replayed on the older guesses until the connection's
 * next `ws:state`, up to a minute, and an overlap it began in was never known. Since s-replaymark also each
 * connection's books closed by their listing (`ws:closedset`, body their topics: what its `ws:closed`, `ws:reopened`
 * and subscribes' `ws:req` left closed, as replay reads them), so such a file shows them halted as live had them
 * (before, awaiting their snapshot for good, frames of them taken). Since s-headask also, per open connection whose
 * `ws:open` it saw, the topics asked on its socket (`ws:asked`, body a JSON array: every name a `ws:req` named since
 * that open, as replay keeps them in VenueConnection.replayAsked; `null` while none was written since), so such a
 * file decides a frame of a topic live never asked for as live did (before, it ignored every such frame until the
 * connection's next open or close: on a socket that lives 24 h, the whole file). Since s-recrd also, per OKX
 * connection, the topics whose resync waits for the request budget (`ws:waitset`, venues/okx/budget-wait.ts), so such a file
 * ignores their frames as live did (before, a snapshot of one made it LIVE there). Since s-rd27a also the books a
 * recorded unsubscribe still holds (`ws:unsubset`) and those a go-back's resubscribe held (`ws:back-heldset`), before
 * the sockets' records (venue.ts SOCKET_UNSUBSCRIBED_SET_URL). Each `ws:req` is read as replay reads
 * it, by venues/common/recorded-request.ts (since s-wsreq; before, with rules of its own written again here). Cold: told of REST and
 * connection-event records only (a `ws:old` per old-socket frame during an overlap returns at once).
 * @module
 */
import type { CaptureFileHead, CaptureHeadEvent } from "../record/capture.ts";
import {
  BUDGET_WAIT_SET_URL,
  BUDGET_WAIT_URL,
  BUDGET_WAITED_URL,
  CONNECTION_CLOSED_URL,
  CONNECTION_OPENED_URL,
  INSTRUMENTS_CLOSED_SET_URL,
  INSTRUMENTS_CLOSED_URL,
  INSTRUMENTS_REOPENED_URL,
  RECORDER_STOPPED_WHY,
  SOCKET_ASKED_URL,
  SOCKET_BACK_HELD_SET_URL,
  SOCKET_BACK_HELD_URL,
  SOCKET_BACK_URL,
  SOCKET_OLD_FRAME_URL,
  SOCKET_REQUEST_URL_PREFIX,
  SOCKET_RETIRED_URL,
  SOCKET_SWAP_URL,
  SOCKETS_OVERLAP_URL,
  SOCKETS_RECORDED_URL,
  SOCKETS_STATE_URL,
  SOCKET_UNSUBSCRIBED_SET_URL,
  isConnectionEventUrl,
  isRecordedStop,
} from "../venues/venue.ts";
import { parseRecordedRequest, type RecordedRequest } from "../venues/common/recorded-request.ts";

/**
 * What the records so far left of one connection (venue, market and connection name), as replay reads them. Kept
 * after its close: its books closed by their listing, their waits and its asked state (null) outlive the socket; a
 * record per connection, so bounded by the connections planned.
 */
interface ConnectionHead {
  readonly venue: string;
  readonly market: string;
  readonly connection: string;
  /** The head event of its open sockets (ws:state or ws:overlap); "" while it is not open. */
  sockets: string;
  /** Books closed by their listing, whether it is open or not: their topics; undefined when none is. */
  closed: Set<string> | undefined;
  /**
   * Topics asked on its socket since its last ws:open or ws:close: null when none was asked since (replay:
   * VenueConnection.replayAsked null); undefined before its first open or close. A planned reconnect (ws:swap …
   * ws:retired) does not start it over, on purpose: live's unknown-topic rule is by the connection's topics, not by
   * what its current socket was asked, so a name asked only on a retired socket (a book closed before the swap, not
   * subscribed on the replacement) is still one live knew. It stays bounded: requests name only the connection's
   * topics, fixed when its connections are planned.
   */
  asked: Set<string> | null | undefined;
  /**
   * OKX: topics whose resync waits for the connection's request budget, as replay keeps them
   * (BudgetWaits.replaying): a `ws:wait` until its `ws:waited`, a request naming the topic (any op) or the
   * connection's close (not a book closed by its listing: live's wait runs on, since s-rd29b; but at the recorder's
   * stop, since s-rd2b).
   */
  readonly waiting: Set<string>;
  /**
   * Topics a recorded unsubscribe holds (`held`) and topics whose go-back subscribe is held (`backHeld`), as replay
   * marks them (TopicState.replayUnsubscribing, subscribeQueued: SubscriptionControl.replayHold,
   * ConnectionLifecycle.replayBackHeld, replayReopened, endReplayHolds). Written before the sockets' record: a venue
   * whose replay ends a hold at a ws:state once answered (Bybit), which only frames say, ends them there as before.
   */
  readonly held: Set<string>;
  readonly backHeld: Set<string>;
}

export class CaptureSocketHead implements CaptureFileHead {
  /** By venue, market and connection name (first seen first): the head events each gets are read from its record. */
  private readonly connections = new Map<string, ConnectionHead>();

  observe(venue: string, market: string, connection: string, url: string, body = ""): void {
    // A REST answer: nothing of the sockets; nor a ws:old (one per old-socket frame in an overlap), before the key is
    // made: replay's run boundaries (run-boundary.ts) are told every one (until s-rd3i two strings a record).
    if (!isConnectionEventUrl(url) || url === SOCKET_OLD_FRAME_URL) return;
    const key = `${venue}\u0000${market}\u0000${connection}`;
    let c = this.connections.get(key);
    if (c === undefined) {
      c = { venue, market, connection, sockets: "", closed: undefined, asked: undefined, waiting: new Set(), held: new Set(), backHeld: new Set() };
      this.connections.set(key, c);
    }
    if (url.startsWith(SOCKET_REQUEST_URL_PREFIX)) {
      const req = parseRecordedRequest(url.slice(SOCKET_REQUEST_URL_PREFIX.length));
      if (typeof req === "string") return; // not a request live writes: replay takes no part of it either
      this.observeAsked(c, req);
      for (const name of req.names) c.waiting.delete(name);
      this.observeHeld(c, req.op, req.names);
      return this.observeClosed(c, url, body, req);
    }
    if (url === INSTRUMENTS_REOPENED_URL || url === SOCKET_BACK_HELD_URL) {
      this.observeHeld(c, url === SOCKET_BACK_HELD_URL ? "back-held" : "reopened", body.split(" "));
      if (url === SOCKET_BACK_HELD_URL) return;
    }
    // A new socket or none: no unsubscribe of the old one is out, no held subscribe stays (endReplayHolds).
    if (url === CONNECTION_OPENED_URL || url === CONNECTION_CLOSED_URL || url === SOCKETS_RECORDED_URL) {
      c.held.clear();
      c.backHeld.clear();
    }
    if (url === INSTRUMENTS_CLOSED_URL || url === INSTRUMENTS_REOPENED_URL) return this.observeClosed(c, url, body, null);
    if (url === BUDGET_WAIT_URL) {
      c.waiting.add(body);
      return;
    }
    if (url === BUDGET_WAITED_URL) {
      c.waiting.delete(body);
      return;
    }
    // A wait ends with the socket but a closed book's (okx adapter.ts `disconnected`: live's runs on, its ws:waited due);
    // the recorder's stop ends every one, as replay's (ingestConnectionEvent): live's ended with its process.
    if (url === CONNECTION_CLOSED_URL) for (const topic of c.waiting) if (!c.closed?.has(topic) || isRecordedStop(url, body)) c.waiting.delete(topic);
    // As replayOpened / replayDisconnected: the socket is asked anew (its first ws:req begins the set).
    if (url === CONNECTION_OPENED_URL || url === CONNECTION_CLOSED_URL) c.asked = null;
    if (url === CONNECTION_OPENED_URL || url === SOCKETS_RECORDED_URL || url === SOCKETS_STATE_URL || url === SOCKET_RETIRED_URL || url === SOCKET_BACK_URL) c.sockets = SOCKETS_STATE_URL;
    else if (url === SOCKET_SWAP_URL || url === SOCKETS_OVERLAP_URL) c.sockets = SOCKETS_OVERLAP_URL;
    else if (url === CONNECTION_CLOSED_URL) c.sockets = "";
  }

  /**
   * As replay reads them (ConnectionLifecycle.replaySocketEvent): `ws:closed` closes its topics, `ws:reopened` and a
   * subscribe's `ws:req` bring them back, but those its fourth element names still closed and those of an Upbit or
   * Bithumb probe (tag `probe…`: replay's probe brings back nothing).
   */
  private observeClosed(c: ConnectionHead, url: string, body: string, req: RecordedRequest | null): void {
    if (url === INSTRUMENTS_CLOSED_URL) {
      const of = (c.closed ??= new Set());
      for (const topic of body.split(" ")) if (topic !== "") of.add(topic);
      return;
    }
    const of = c.closed;
    if (!of) return;
    if (url === INSTRUMENTS_REOPENED_URL) {
      for (const topic of body.split(" ")) of.delete(topic);
    } else if (req !== null) {
      if (req.op !== "subscribe" || req.id.startsWith("probe")) return;
      for (const topic of req.names) if (!req.stillClosed.has(topic)) of.delete(topic);
    }
    if (of.size === 0) c.closed = undefined;
  }

  /**
   * A request's `op` or a `ws:reopened` / `ws:back-held` naming `names`: an unsubscribe holds a book not closed by its
   * listing (replay holds no closed one), a subscribe ends both marks, a reopening the hold, a go-back's held
   * subscribe turns a book not closed from held to subscribe-held.
   */
  private observeHeld(c: ConnectionHead, op: RecordedRequest["op"] | "reopened" | "back-held", names: readonly string[]): void {
    for (const name of names) {
      if (name === "") continue;
      if (op === "subscribe") {
        c.held.delete(name);
        c.backHeld.delete(name);
      } else if (op === "reopened") c.held.delete(name);
      else if (c.closed?.has(name)) continue;
      else if (op === "unsubscribe") c.held.add(name);
      else {
        c.held.delete(name);
        c.backHeld.add(name);
      }
    }
  }

  /** As replay keeps them (connection-lifecycle.ts replayNoteAsked): any op's names, once the connection's open or close is known. */
  private observeAsked(c: ConnectionHead, req: RecordedRequest): void {
    if (c.asked === undefined) return;
    const topics = (c.asked ??= new Set());
    for (const name of req.names) topics.add(name);
  }

  /**
   * The recorder's stop (since s-recstop): a `ws:close` (body RECORDER_STOPPED_WHY) for every connection open as the
   * capture's records leave it. The stop's socket closes are planned and record nothing (onDisconnected), so without
   * these a replay or export kept the books LIVE across the time the recorder was down. Written by `feeder record`
   * before its venues stop; observing them (as the writer does) leaves no connection open.
   */
  stopCloses(): readonly CaptureHeadEvent[] {
    const out: CaptureHeadEvent[] = [];
    for (const c of this.connections.values()) {
      if (c.sockets !== "") out.push({ venue: c.venue, market: c.market, connection: c.connection, url: CONNECTION_CLOSED_URL, body: RECORDER_STOPPED_WHY });
    }
    return out;
  }

  events(): readonly CaptureHeadEvent[] {
    // Before the sockets' records: a go-back's held subscribes, then the holds (a book unsubscribed after its
    // ws:back-held has both, as in replay); a replay ending answered holds at a ws:state (Bybit) ends them there.
    // Each kind for every connection in turn; the order between connections is theirs to ignore (each record names one).
    const out: CaptureHeadEvent[] = [];
    const all = [...this.connections.values()];
    for (const c of all) if (c.backHeld.size > 0) out.push(eventOf(c, SOCKET_BACK_HELD_SET_URL, [...c.backHeld].join(" ")));
    for (const c of all) if (c.held.size > 0) out.push(eventOf(c, SOCKET_UNSUBSCRIBED_SET_URL, [...c.held].join(" ")));
    for (const c of all) if (c.sockets !== "") out.push({ venue: c.venue, market: c.market, connection: c.connection, url: c.sockets });
    for (const c of all) if (c.closed !== undefined) out.push(eventOf(c, INSTRUMENTS_CLOSED_SET_URL, [...c.closed].join(" ")));
    for (const c of all) if (c.waiting.size > 0) out.push(eventOf(c, BUDGET_WAIT_SET_URL, [...c.waiting].join(" ")));
    // A closed connection's next socket is asked anew after its ws:open (live writes no request without one).
    for (const c of all) {
      if (c.sockets !== "" && c.asked !== undefined) out.push(eventOf(c, SOCKET_ASKED_URL, c.asked === null ? "null" : JSON.stringify([...c.asked])));
    }
    return out;
  }
}

function eventOf(c: ConnectionHead, url: string, body: string): CaptureHeadEvent {
  return { venue: c.venue, market: c.market, connection: c.connection, url, body };
}
