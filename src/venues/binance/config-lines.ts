/**
 * What `feeder check-config` says Binance makes of its settings (the descriptor's VenueSpec.describeConfig): the
 * split of rest_bridge_buffer_bytes (options.ts splitBufferBudget), each market's part of the three per worker
 * (market-bridges.ts splitByMarket over the streams the worker takes, as the adapter splits them), and each market's
 * connect and REST weight budgets (those this shard takes streams of): spot and USD-M are two hosts, each with its own
 * limits. Cold.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { ConfigShare } from "../registry.ts";
import { splitBudget } from "../common/budgets.ts";
import { splitByMarket } from "./market-bridges.ts";
import { splitBufferBudget } from "./options.ts";
import { CONNECT_WINDOW_MS, CONNECTS_PER_WINDOW, FUTURES_REST_WEIGHT_PER_MINUTE, SPOT_REST_WEIGHT_PER_MINUTE } from "./protocol.ts";
import { ownWeight } from "./rest.ts";

export function binanceConfigLines(v: VenueConfig, share: ConfigShare): string[] {
  const { workers, streamsOfWorker, restBridgeBytesPerWorker: bytesPerWorker } = share;
  const out: string[] = [];
  // A shard taking no Binance stream keeps no Binance bridge: no split to show (until 2026-12-07 shown all the same).
  const takesStreams = streamsOfWorker.some((byMarket) => [...byMarket.values()].some((n) => n > 0));
  if (bytesPerWorker !== undefined && takesStreams) {
    const s = splitBufferBudget(bytesPerWorker);
    out.push(`# binance splits ${workers > 1 ? "each worker's part" : "it"}: ${s.resyncBytes} for resync bridges, ${s.refreshBytes} for depth refreshes, ${s.holdBytes} for the overlap hold`);
    // Until s-binmisc only the three figures above, for both markets together.
    streamsOfWorker.forEach((byMarket, w) => {
      const [resync, refresh, hold] = [s.resyncBytes, s.refreshBytes, s.holdBytes].map((b) => splitByMarket(b, byMarket));
      const each = [...resync.keys()].map((m) => `${m} (${byMarket.get(m)} stream${byMarket.get(m) === 1 ? "" : "s"}) ${resync.get(m)}, ${refresh.get(m)}, ${hold.get(m)}`);
      if (each.length === 0) return;
      out.push(`# binance${workers > 1 ? ` worker ${w}` : ""} per market (resync bridges, depth refreshes, overlap hold; half in equal parts, half by streams): ${each.join("; ")}`);
    });
  }
  const budgetShare = workers > 1 ? 1 / workers : undefined;
  // The markets this shard takes streams of: this process opens no connection to another's host and asks it nothing.
  // Until s-cfgfold every configured market was listed, also one whose streams all go to other shards.
  const markets = v.markets.map((m) => m.market).filter((m) => (m === "spot" || m === "linear") && streamsOfWorker.some((w) => (w.get(m) ?? 0) > 0));
  const connects = splitBudget(CONNECTS_PER_WINDOW, CONNECT_WINDOW_MS, budgetShare);
  const weight = (m: MarketName) => ownWeight(m === "spot" ? SPOT_REST_WEIGHT_PER_MINUTE : FUTURES_REST_WEIGHT_PER_MINUTE, budgetShare); // rest.ts's, before exchangeInfo
  if (markets.length > 0) {
    out.push(`# binance per market${workers > 1 ? ", each worker" : ""} (each its own host): ${markets.map((m) => `${m} ${connects.count} connects per ${connects.windowMs / 1000} s, REST weight ${weight(m)} a minute`).join("; ")} (the weight follows exchangeInfo's rateLimits)`);
  }
  return out;
}
