/**
 * A recorded request (venue.ts SOCKET_REQUEST_URL_PREFIX: `ws:req ` and its JSON) read once, by one set of rules, for
 * both its readers: replay (ConnectionLifecycle.replaySocketEvent: the topics asked, SubscriptionControl.replayRecorded:
 * the request matched and closed books brought back) and `feeder record`'s file heads (app/capture-sockets.ts:
 * `ws:asked`, `ws:closedset`). Live writes `[id, op, [topic, …]]`, a subscribe naming books still closed
 * `[id, "subscribe", [topic, …], [topic, …]]` (ConnectionLifecycle.recordWritten). Anything else is a damaged or forged
 * capture: no part of it is taken, and the reason says what was wrong. Until s-wsreq each reader parsed it with rules
 * of its own: the heads and replay's asked topics took the strings of any third element (whatever its id and op),
 * the request matching only a string id and a known op. Elements past the fourth are ignored (a later writer's, as
 * readers before s-replaymark ignored the fourth). Cold (a request).
 * @module
 */

export interface RecordedRequest {
  readonly id: string;
  readonly op: "subscribe" | "unsubscribe";
  /** The topics it named (TopicState.topic; Upbit/Bithumb: codes), as written. */
  readonly names: readonly string[];
  /** A subscribe's books still closed when live wrote it (the fourth element): replay leaves them closed. Empty: none. */
  readonly stillClosed: ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();

/** The request `json` (the record's url after SOCKET_REQUEST_URL_PREFIX) says, or why it is not one (a string). */
export function parseRecordedRequest(json: string): RecordedRequest | string {
  let req: unknown;
  try {
    req = JSON.parse(json);
  } catch {
    return "not JSON";
  }
  if (!Array.isArray(req)) return "not a JSON array";
  const [id, op, names, stillClosed] = req as unknown[];
  if (typeof id !== "string") return "its id (first element) is not a string";
  if (op !== "subscribe" && op !== "unsubscribe") return "its op (second element) is neither subscribe nor unsubscribe";
  if (!isStrings(names)) return "its topics (third element) are not an array of strings";
  if (stillClosed !== undefined && !isStrings(stillClosed)) return "its books still closed (fourth element) are not an array of strings";
  // Only a subscribe's (live writes none on an unsubscribe; a reader before s-wsreq ignored one there too).
  return { id, op, names, stillClosed: op === "subscribe" && stillClosed !== undefined && stillClosed.length > 0 ? new Set(stillClosed) : NONE };
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}
