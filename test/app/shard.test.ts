import { describe, expect, test } from "vitest";
import { inShard, inWorkerShare } from "../../src/app/feeder.ts";

const SYMBOLS = Array.from({ length: 400 }, (_, i) => `SYM${i}USDT`);
const subs = SYMBOLS.map((symbol) => ({ market: "linear" as const, symbol, depth: 50 }));

describe("sharding", () => {
  test("shard i/n: every symbol lands in exactly one shard, roughly evenly, the same on every call", () => {
    for (const n of [2, 3, 5]) {
      const counts = new Array(n).fill(0);
      for (const s of subs) {
        const owners = [...Array(n).keys()].filter((i) => inShard("bybit", s, i, n));
        expect(owners).toHaveLength(1);
        expect(inShard("bybit", s, owners[0]!, n)).toBe(true);
        counts[owners[0]!]++;
      }
      for (const c of counts) expect(c).toBeGreaterThan(subs.length / n / 2);
    }
    expect(subs.every((s) => inShard("bybit", s, 0, 1))).toBe(true);
  });

  test("workers split each shard evenly too (independently of the shard split)", () => {
    const inShard0 = subs.filter((s) => inShard("bybit", s, 0, 2));
    const perWorker = [0, 1].map((w) => inShard0.filter((s) => inWorkerShare("bybit", s, w, 2)).length);
    expect(perWorker[0]! + perWorker[1]!).toBe(inShard0.length);
    for (const c of perWorker) expect(c).toBeGreaterThan(inShard0.length / 4);
  });
});
