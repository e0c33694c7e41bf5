/**
 * Frame text of the Coinbase simulator, in the documented shapes (docs/venues/coinbase.md, "Frames"): l2_data with
 * events[] of several products, subscriptions, heartbeats, errors. Cold (a test tool).
 * @module
 */
import { formatFixed } from "../core/fixed.ts";
import type { SimBook } from "./sim-book.ts";

/** RFC 3339 UTC with µs, as Coinbase prints its times (it prints up to ns). */
export function timestamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

/** One event: snapshot (the whole book) or update (changed levels with absolute sizes, "0" = removed). */
export function eventJson(type: "snapshot" | "update", product: string, book: SimBook, bids: [number, number][], asks: [number, number][], time: string): string {
  const level = (side: string, [px, qty]: [number, number]) =>
    `{"side":"${side}","event_time":"${time}","price_level":"${formatFixed(px, book.priceExp)}","new_quantity":"${formatFixed(qty, book.qtyExp)}"}`;
  const updates = [...bids.map((l) => level("bid", l)), ...asks.map((l) => level("offer", l))].join(",");
  return `{"type":"${type}","product_id":"${product}","updates":[${updates}]}`;
}

/** The production envelope: no `client_id` (Coinbase's AsyncAPI, checked against production [F6]; its prose docs print one). */
export function envelope(channel: string, seq: number, events: string[], time: string): string {
  return `{"channel":"${channel}","timestamp":"${time}","sequence_num":${seq},"events":[${events.join(",")}]}`;
}

export function subscriptionsEvent(level2: readonly string[], heartbeats: boolean): string {
  const subs: Record<string, string[]> = { level2: [...level2] };
  if (heartbeats) subs.heartbeats = ["heartbeats"];
  return JSON.stringify({ subscriptions: subs });
}

/** current_time as Go's Time.String prints it, with its monotonic reading (`m=+` seconds since start) [F14]. */
export function heartbeatEvent(counter: number, time: string): string {
  const monotonicS = (performance.now() / 1000).toFixed(9);
  return `{"current_time":"${time.replace("T", " ").replace("Z", " +0000 UTC")} m=+${monotonicS}","heartbeat_counter":${counter}}`;
}

/** `{"type":"error","message":…}`, with `reason` when given (the Exchange feed names a bad product there). */
export function errorFrame(message: string, reason?: string): string {
  return JSON.stringify(reason === undefined ? { type: "error", message } : { type: "error", message, reason });
}
