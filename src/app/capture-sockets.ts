/**
 * `feeder record`: each connection's sockets as the capture's own records say them, written at the head of every new
 * capture file (record/capture.ts CaptureFileHead). A file replayed without the ones before it (rotated away by
 * retention, or not given) then knows from its first record what the connection's `ws:sockets` and any `ws:swap` in
 * earlier files said: `ws:state` for an open connection with one socket, `ws:overlap` for one in a planned
 * reconnect's overlap (venues/venue.ts). Before, such a file was replayed on the older guesses until the connection's
 * next `ws:state`, up to a minute, and an overlap it began in was never known. Since s-replaymark also each
 * connection's books closed by their listing (`ws:closedset`, body their topics: what its `ws:closed`, `ws:reopened`
 * and subscribes' `ws:req` left closed, as replay reads them), so such a file shows them halted as live had them
 * (before, awaiting their snapshot for good, frames of them taken). Cold: told of REST and connection-event records
 * only (a `ws:old` per old-socket frame during an overlap returns at once).
 * @module
 */
import type { CaptureFileHead, CaptureHeadEvent } from "../record/capture.ts";
import {
  CONNECTION_CLOSED_URL,
  CONNECTION_OPENED_URL,
  INSTRUMENTS_CLOSED_SET_URL,
  INSTRUMENTS_CLOSED_URL,
  INSTRUMENTS_REOPENED_URL,
  SOCKET_BACK_URL,
  SOCKET_REQUEST_URL_PREFIX,
  SOCKET_RETIRED_URL,
  SOCKET_SWAP_URL,
  SOCKETS_OVERLAP_URL,
  SOCKETS_RECORDED_URL,
  SOCKETS_STATE_URL,
} from "../venues/venue.ts";

export class CaptureSocketHead implements CaptureFileHead {
  /** Open connections by venue, market and connection name: the head event each gets (ws:state or ws:overlap). */
  private readonly open = new Map<string, CaptureHeadEvent>();
  /** Books closed by their listing, by connection (the same key), whether it is open or not: their topics. */
  private readonly closed = new Map<string, { venue: string; market: string; connection: string; topics: Set<string> }>();

  observe(venue: string, market: string, connection: string, url: string, body = ""): void {
    const key = `${venue}\u0000${market}\u0000${connection}`;
    if (url === INSTRUMENTS_CLOSED_URL || url === INSTRUMENTS_REOPENED_URL || url.startsWith(SOCKET_REQUEST_URL_PREFIX)) return this.observeClosed(key, venue, market, connection, url, body);
    let state: string;
    if (url === CONNECTION_OPENED_URL || url === SOCKETS_RECORDED_URL || url === SOCKETS_STATE_URL || url === SOCKET_RETIRED_URL || url === SOCKET_BACK_URL) state = SOCKETS_STATE_URL;
    else if (url === SOCKET_SWAP_URL || url === SOCKETS_OVERLAP_URL) state = SOCKETS_OVERLAP_URL;
    else if (url === CONNECTION_CLOSED_URL) state = "";
    else return; // a REST answer, ws:old
    if (state === "") this.open.delete(key);
    else if (this.open.get(key)?.url !== state) this.open.set(key, { venue, market, connection, url: state });
  }

  /**
   * As replay reads them (ConnectionLifecycle.replaySocketEvent): `ws:closed` closes its topics, `ws:reopened` and a
   * subscribe's `ws:req` bring them back, but those its fourth element names still closed and those of an Upbit or
   * Bithumb probe (tag `probe…`: replay's probe brings back nothing).
   */
  private observeClosed(key: string, venue: string, market: string, connection: string, url: string, body: string): void {
    let of = this.closed.get(key);
    if (url === INSTRUMENTS_CLOSED_URL) {
      if (!of) this.closed.set(key, (of = { venue, market, connection, topics: new Set() }));
      for (const topic of body.split(" ")) if (topic !== "") of.topics.add(topic);
      return;
    }
    if (!of) return;
    if (url === INSTRUMENTS_REOPENED_URL) {
      for (const topic of body.split(" ")) of.topics.delete(topic);
    } else {
      let req: unknown;
      try {
        req = JSON.parse(url.slice(SOCKET_REQUEST_URL_PREFIX.length));
      } catch {
        return; // replay takes none such either
      }
      if (!Array.isArray(req) || req[1] !== "subscribe" || !Array.isArray(req[2]) || String(req[0]).startsWith("probe")) return;
      const still = Array.isArray(req[3]) ? new Set(req[3]) : undefined;
      for (const topic of req[2]) if (!still?.has(topic)) of.topics.delete(String(topic));
    }
    if (of.topics.size === 0) this.closed.delete(key);
  }

  events(): readonly CaptureHeadEvent[] {
    const out: CaptureHeadEvent[] = [...this.open.values()];
    for (const c of this.closed.values()) out.push({ venue: c.venue, market: c.market, connection: c.connection, url: INSTRUMENTS_CLOSED_SET_URL, body: [...c.topics].join(" ") });
    return out;
  }
}
