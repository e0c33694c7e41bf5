/**
 * What the config check says an instance takes (config/load.ts checkShares, by config/share.ts) is what the app
 * assigns it: for random symbol sets over venues and markets (further depths `SYMBOL@N` included), random shard and
 * worker counts, the counts the check names in its refusals equal the subscriptions configuredSubscriptions gives
 * the shard (and, split by inWorkerShare, its workers: every symbol in exactly one worker). Deterministic seeds.
 */
import { describe, expect, test } from "vitest";
import { configuredSubscriptions, inWorkerShare } from "../../src/app/feeder.ts";
import { parseConfigText } from "../../src/config/load.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";
import { rng } from "../support/mulberry32.ts";

/** A file's venue tables: random symbols (some with a further depth) in bybit linear/spot and binance spot. */
function venueTables(r: () => number): string {
  const tables: string[] = [];
  const pick = (n: number, prefix: string, extraDepth: number) => {
    const out = new Set<string>();
    while (out.size < n) {
      const s = `${prefix}${Math.floor(r() * 100_000)}USDT`;
      out.add(s);
      if (r() < 0.2) out.add(`${s}@${extraDepth}`);
    }
    return [...out];
  };
  if (r() < 0.8) tables.push(`[venues.bybit.linear]\nsymbols = ${JSON.stringify(pick(1 + Math.floor(r() * 6), "L", 1))}`);
  if (r() < 0.5) tables.push(`[venues.bybit.spot]\nsymbols = ${JSON.stringify(pick(1 + Math.floor(r() * 4), "S", 200))}`);
  if (tables.length === 0 || r() < 0.5) tables.push(`[venues.binance.spot]\nsymbols = ${JSON.stringify(pick(1 + Math.floor(r() * 5), "B", 5))}`);
  return tables.join("\n");
}

/** Subscriptions the app gives shard `index` of the file (workers = 1), over every venue. */
function shardTakes(config: FeederConfig, index: number, count: number): number {
  const c = { ...config, shard: { index, count } };
  return c.venues.reduce((n, v) => n + configuredSubscriptions(c, v).length, 0);
}

describe("the config check's shares are the app's", () => {
  test("random symbol sets, shard and worker counts: the counts named equal what the app assigns", () => {
    let refusedEmpty = 0;
    let refusedWorkers = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const tables = venueTables(r);
      const count = 1 + Math.floor(r() * 6);
      const index = Math.floor(r() * count);
      // The whole file, unsharded: what every shard of it takes, as the app splits it.
      const whole = parseConfigText(tables, "t.toml", { localAddresses: LOOPBACK_ONLY });
      const takes = Array.from({ length: count }, (_, i) => shardTakes(whole, i, count));
      const total = takes.reduce((a, b) => a + b, 0);
      expect(total, `seed ${seed}`).toBe(whole.venues.reduce((n, v) => n + v.markets.reduce((m, mk) => m + mk.symbols.length, 0), 0));
      const workers = 1 + Math.floor(r() * 8);
      const shardKeys = count > 1 ? `shard = "${index}/${count}"\n[publish]\nsource_id = 100\n` : "";
      const problems = configProblems(`workers = ${workers}\n${shardKeys}${tables}`);
      const mine = takes[index]!;
      if (mine === 0) {
        refusedEmpty++;
        expect(problems, `seed ${seed}`).toEqual([
          `shard: "${index}/${count}" is not a share holding a configured symbol: none of the ${total} configured has instrument id mod ${count} = ${index}; the shards take ${takes.join(", ")} (fewer shards, or more symbols)`,
        ]);
      } else if (workers > mine) {
        refusedWorkers++;
        expect(problems, `seed ${seed}`).toHaveLength(1);
        expect(problems[0], `seed ${seed}`).toContain(`workers: ${workers} is not at most the number of symbols this instance publishes (${mine} ${count > 1 ? `shard ${index}/${count} takes` : "are configured"})`);
      } else {
        expect(problems, `seed ${seed}`).toEqual([]);
        // Taken: the workers' shares (as the supervisor and each worker compute them) partition the shard's symbols.
        const config = parseConfigText(`workers = ${workers}\n${shardKeys}${tables}`, "t.toml", { localAddresses: LOOPBACK_ONLY });
        let split = 0;
        for (let w = 0; w < workers; w++) for (const v of config.venues) split += configuredSubscriptions(config, v, (venue, sub) => inWorkerShare(venue, sub, w, workers)).length;
        expect(split, `seed ${seed}`).toBe(mine);
      }
    }
    // Both refusals and acceptances were met (the seeds are fixed: this only guards the test's own reach).
    expect(refusedEmpty).toBeGreaterThan(5);
    expect(refusedWorkers).toBeGreaterThan(5);
  });
});
