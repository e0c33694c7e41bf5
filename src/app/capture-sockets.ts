/**
 * `feeder record`: each connection's sockets as the capture's own records say them, written at the head of every new
 * capture file (record/capture.ts CaptureFileHead). A file replayed without the ones before it (rotated away by
 * retention, or not given) then knows from its first record what the connection's `ws:sockets` and any `ws:swap` in
 * earlier files said: `ws:state` for an open connection with one socket, `ws:overlap` for one in a planned
 * reconnect's overlap (venues/venue.ts). Before, such a file was replayed on the older guesses until the connection's
 * next `ws:state`, up to a minute, and an overlap it began in was never known. Cold: told of REST and connection-event
 * records only (a `ws:old` per old-socket frame during an overlap returns at once).
 * @module
 */
import type { CaptureFileHead, CaptureHeadEvent } from "../record/capture.ts";
import {
  CONNECTION_CLOSED_URL,
  CONNECTION_OPENED_URL,
  SOCKET_BACK_URL,
  SOCKET_RETIRED_URL,
  SOCKET_SWAP_URL,
  SOCKETS_OVERLAP_URL,
  SOCKETS_RECORDED_URL,
  SOCKETS_STATE_URL,
} from "../venues/venue.ts";

export class CaptureSocketHead implements CaptureFileHead {
  /** Open connections by venue, market and connection name: the head event each gets (ws:state or ws:overlap). */
  private readonly open = new Map<string, CaptureHeadEvent>();

  observe(venue: string, market: string, connection: string, url: string): void {
    let state: string;
    if (url === CONNECTION_OPENED_URL || url === SOCKETS_RECORDED_URL || url === SOCKETS_STATE_URL || url === SOCKET_RETIRED_URL || url === SOCKET_BACK_URL) state = SOCKETS_STATE_URL;
    else if (url === SOCKET_SWAP_URL || url === SOCKETS_OVERLAP_URL) state = SOCKETS_OVERLAP_URL;
    else if (url === CONNECTION_CLOSED_URL) state = "";
    else return; // a REST answer, ws:old
    const key = `${venue}\u0000${market}\u0000${connection}`;
    if (state === "") this.open.delete(key);
    else if (this.open.get(key)?.url !== state) this.open.set(key, { venue, market, connection, url: state });
  }

  events(): readonly CaptureHeadEvent[] {
    return [...this.open.values()];
  }
}
