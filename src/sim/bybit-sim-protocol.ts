/**
 * The Bybit simulator's answers to client requests on a WebSocket (§2, §3): ping → per-category pong, subscribe
 * and unsubscribe → per-category ack shapes, and the errors Bybit sends: a batch poisoned by one bad or duplicate
 * topic (§2.4), spot's `args size >10`, the per-connection args limits (§2.3), undecodable JSON, unknown ops.
 * @module
 */
import type { MarketName } from "../core/types.ts";
import { MAX_ARGS_CHARS_PER_CONNECTION, OPTION_MAX_ARGS_PER_CONNECTION, SPOT_MAX_ARGS_PER_REQUEST } from "../venues/bybit/protocol.ts";
import type { SimStats } from "./bybit-sim-types.ts";
import type { Ws } from "./bybit-sim-topics.ts";

/** What request handling needs from the simulator. */
export interface SimProtocolHost {
  readonly stats: SimStats;
  /** Sends a frame (counted; dropped while the server is stalled). */
  send(ws: Ws, frame: string): void;
  isValidTopic(market: MarketName, topic: string): boolean;
  /** Whether this subscribe of a valid topic is refused all the same (BybitSim.refuseSubscribes; counted down). */
  refusedNow(market: MarketName, topic: string): boolean;
  /** Subscribes the connection to the topic and sends its first snapshot. */
  attach(ws: Ws, topic: string): void;
  /** Removes the connection from the topic's subscribers. */
  detach(ws: Ws, topic: string): void;
}

/** Handles one text message from a client. */
export function handleClientMessage(host: SimProtocolHost, ws: Ws, text: string): void {
  let msg: { op?: unknown; args?: unknown; req_id?: unknown };
  try {
    const parsed: unknown = JSON.parse(text);
    // JSON that is not an object (`null`, `5`, `[]`) is a request without an op: answered `error:invalid op` below
    // (before, `null` threw out of the message handler and went unanswered).
    msg = typeof parsed === "object" && parsed !== null ? (parsed as typeof msg) : {};
  } catch (err) {
    sendError(host, ws, { success: false, ret_msg: `Failed to decode incoming data: ${String(err)}`, conn_id: ws.data.connId, op: "" });
    return;
  }
  const market = ws.data.market;
  const reqId = typeof msg.req_id === "string" ? msg.req_id : undefined;
  if (msg.op === "ping") {
    host.stats.pings++;
    if (market === "option") host.send(ws, JSON.stringify({ args: [String(Date.now())], op: "pong" }));
    else if (market === "spot") host.send(ws, JSON.stringify({ success: true, ret_msg: "pong", conn_id: ws.data.connId, ...(reqId !== undefined ? { req_id: reqId } : {}), op: "ping" }));
    else host.send(ws, JSON.stringify({ success: true, ret_msg: "pong", conn_id: ws.data.connId, req_id: reqId ?? "", op: "ping" }));
    return;
  }
  if (msg.op !== "subscribe" && msg.op !== "unsubscribe") {
    sendError(host, ws, { success: false, ret_msg: "error:invalid op", conn_id: ws.data.connId, ...(reqId !== undefined ? { req_id: reqId } : {}), op: msg.op ?? "" });
    return;
  }
  // No list of topic strings (absent, null, a string, a number in it): refused in the op's ack shape. Bybit's answer
  // is undocumented; before, this was acked as a success that subscribed nothing, hiding a client's bug.
  if (!Array.isArray(msg.args) || !msg.args.every((a) => typeof a === "string")) {
    const retMsg = "error:args must be a list of topic strings (simulator)";
    if (market === "option") sendError(host, ws, { success: false, ret_msg: retMsg, conn_id: ws.data.connId, type: "COMMAND_RESP" });
    else {
      host.stats.errorsSent++;
      host.send(ws, ackFrame(ws, msg.op, reqId, false, retMsg));
    }
    return;
  }
  const args = msg.args as string[];
  if (msg.op === "subscribe") onSubscribe(host, ws, args, reqId);
  else onUnsubscribe(host, ws, args, reqId);
}

function ackFrame(ws: Ws, op: string, reqId: string | undefined, success: boolean, retMsg: string): string {
  const market = ws.data.market;
  if (market === "spot") {
    // Spot: ret_msg is the op on success; req_id only when the request had one (§2.2).
    const body: Record<string, unknown> = { success, ret_msg: success ? op : retMsg, conn_id: ws.data.connId };
    if (reqId !== undefined) body.req_id = reqId;
    body.op = op;
    return escapeGt(JSON.stringify(body));
  }
  return escapeGt(JSON.stringify({ success, ret_msg: success ? "" : retMsg, conn_id: ws.data.connId, req_id: reqId ?? "", op }));
}

function onSubscribe(host: SimProtocolHost, ws: Ws, args: string[], reqId: string | undefined): void {
  host.stats.subscribes++;
  const market = ws.data.market;
  // Connection limits (§2.3): 21,000 characters of args, 2000 args on option. Bybit's reply to a breach is
  // undocumented; this one rejects the request and names the limit.
  let addChars = 0;
  for (const t of args) addChars += argChars(t);
  if (argsCharsOf(ws.data.topics) + addChars > MAX_ARGS_CHARS_PER_CONNECTION) {
    host.stats.errorsSent++;
    host.send(ws, ackFrame(ws, "subscribe", reqId, false, `error:args exceed ${MAX_ARGS_CHARS_PER_CONNECTION} characters per connection (simulator)`));
    return;
  }
  if (market === "option" && ws.data.topics.size + args.length > OPTION_MAX_ARGS_PER_CONNECTION) {
    host.stats.errorsSent++;
    host.send(ws, JSON.stringify({ success: false, ret_msg: `error:more than ${OPTION_MAX_ARGS_PER_CONNECTION} args per connection (simulator)`, conn_id: ws.data.connId, type: "COMMAND_RESP" }));
    return;
  }
  if (market === "option") {
    // Option: per-topic lists in a COMMAND_RESP (§2.2); no batch-wide failure.
    const ok: string[] = [];
    const failed: string[] = [];
    for (const t of args) (host.isValidTopic(market, t) && !ws.data.topics.has(t) && !host.refusedNow(market, t) ? ok : failed).push(t);
    host.send(ws, JSON.stringify({ success: failed.length === 0, conn_id: ws.data.connId, data: { failTopics: failed, successTopics: ok }, type: "COMMAND_RESP" }));
    if (failed.length > 0) host.stats.errorsSent++;
    for (const t of ok) host.attach(ws, t);
    return;
  }
  if (market === "spot" && args.length > SPOT_MAX_ARGS_PER_REQUEST) {
    host.stats.errorsSent++;
    host.send(ws, ackFrame(ws, "subscribe", reqId, false, "args size >10"));
    return;
  }
  // One bad topic fails the whole batch, as seen in the wild (§2.4, §6.3).
  for (const t of args) {
    if (!host.isValidTopic(market, t)) {
      host.stats.errorsSent++;
      host.send(ws, ackFrame(ws, "subscribe", reqId, false, `error:handler not found,topic:${t}`));
      return;
    }
    if (ws.data.topics.has(t)) {
      host.stats.errorsSent++;
      host.send(ws, ackFrame(ws, "subscribe", reqId, false, `error:already subscribed,topic:${t}`));
      return;
    }
  }
  for (const t of args) {
    if (host.refusedNow(market, t)) {
      host.stats.errorsSent++;
      host.send(ws, ackFrame(ws, "subscribe", reqId, false, "error:system busy (simulator)"));
      return;
    }
  }
  host.send(ws, ackFrame(ws, "subscribe", reqId, true, ""));
  for (const t of args) host.attach(ws, t);
}

function onUnsubscribe(host: SimProtocolHost, ws: Ws, args: string[], reqId: string | undefined): void {
  host.stats.unsubscribes++;
  const market = ws.data.market;
  // Spot's 10-args cap is per request (§2.3): an unsubscribe over it is refused whole, nothing unsubscribed.
  if (market === "spot" && args.length > SPOT_MAX_ARGS_PER_REQUEST) {
    host.stats.errorsSent++;
    host.send(ws, ackFrame(ws, "unsubscribe", reqId, false, "args size >10"));
    return;
  }
  for (const t of args) {
    ws.data.topics.delete(t);
    host.detach(ws, t);
  }
  // Unsubscribing a topic that is not subscribed is answered with success here; Bybit's answer is undocumented.
  if (market === "option") host.send(ws, JSON.stringify({ success: true, conn_id: ws.data.connId, data: { failTopics: [], successTopics: args }, type: "COMMAND_RESP" }));
  else host.send(ws, ackFrame(ws, "unsubscribe", reqId, true, ""));
}

function sendError(host: SimProtocolHost, ws: Ws, body: Record<string, unknown>): void {
  host.stats.errorsSent++;
  host.send(ws, escapeGt(JSON.stringify(body)));
}

/** Characters one topic adds to a connection's args: its JSON string and a comma (as the adapter counts them). */
function argChars(topic: string): number {
  return JSON.stringify(topic).length + 1;
}

function argsCharsOf(topics: Set<string>): number {
  let n = 0;
  for (const t of topics) n += argChars(t);
  return n;
}

/** Bybit's server writes ">" as \u003e inside JSON strings ("args size \u003e10", §2.4). */
function escapeGt(text: string): string {
  return text.replace(/>/g, "\\u003e");
}
