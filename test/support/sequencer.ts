/**
 * The order test files start in (vitest.config.ts sequence.sequencer). Several files run at once; the run ends when
 * the last one does, so a long file started last keeps the others' workers idle meanwhile. vitest starts the files it
 * has timed before (its cache, node_modules/.vite) longest first; a clean checkout (CI) has no cache, and vitest
 * then starts the largest files first, which are not the longest (the slowest ones wait on sockets and backoffs, not
 * on code). Here, with no timings cached, the files in LONG_FILES start first, in that order, then the rest in
 * vitest's order. The list only changes when files start, never what they test: a file missing from it just starts
 * later.
 */
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The longest files first. The first part is from a full run on 2026-12-06 (`bun --bun vitest run --reporter=json
 * --outputFile=v.json`, 3 files at a time) on a box shared with other work (load average ~25 on 2 vCPUs, 41 min): that
 * load stretches the CPU-bound files (random-ops, levels-wasm-mutations, bursts) far more than those that wait on
 * sockets and backoffs, so after them come the rest of the previous list, from an idle CI log, in its order (files
 * that wait are the long ones there). rev57-keep-best-model (63 s in that run) is left out: its model is no longer
 * rebuilt each step. Re-measure when the suite changes much.
 */
export const LONG_FILES: readonly string[] = [
  "test/book/random-ops.test.ts", // 192 s
  "test/app/review-bounds-http.test.ts", // 157 s
  "test/bench-smoke/benches.test.ts", // 142 s
  "test/venues/common/levels-wasm-mutations.test.ts", // 126 s
  "test/wire/bursts.test.ts", // 106 s
  "test/e2e/chaos-okx.test.ts", // 102 s
  "test/e2e/binary-venues.test.ts", // 79 s
  "test/venues/okx/contract.test.ts", // 76 s
  "test/app/status-page-truth.test.ts", // 75 s
  "test/e2e/isolation.test.ts", // 72 s
  "test/e2e/chaos-bybit.test.ts", // 68 s
  "test/wire/node-compat.test.ts", // 63 s
  "test/e2e/chaos-shards.test.ts", // 62 s
  "test/book/ladder-adversarial.test.ts", // 61 s
  "test/app/status-page.test.ts", // 60 s
  "test/venues/bybit/adapter.test.ts", // 56 s
  "test/e2e/okx-pipeline.test.ts", // 53 s
  "test/e2e/chaos-retransmit.test.ts", // 53 s
  "test/venues/bybit/scanner.test.ts", // 52 s
  "test/e2e/chaos-instruments.test.ts", // 50 s
  "test/e2e/chaos-workers.test.ts", // 43 s
  "test/sim/sim-market.test.ts", // 43 s
  "test/app/status-page-polls.test.ts", // 42 s
  "test/subscriber/fuzz.test.ts", // 42 s
  "test/venues/okx/sequence-model.test.ts", // 41 s
  "test/venues/binance/diff-wasm.test.ts", // 41 s
  "test/bridge/bridge-cli.test.ts", // 40 s
  "test/e2e/chaos-nats.test.ts", // 39 s
  "test/book/ladder.test.ts", // 38 s
  // The previous list (an idle CI log, 2 at a time) for the files not above, in its order.
  "test/venues/common/stall-housekeeping.test.ts",
  "test/venues/binance/contract.test.ts",
  "test/e2e/chaos-upbit.test.ts",
  "test/venues/planned-fallback.test.ts",
  "test/venues/upbit/adapter.test.ts",
  "test/e2e/chaos-binance.test.ts",
  "test/e2e/upbit-pipeline.test.ts",
  "test/subscriber/stall-timers.test.ts",
  "test/e2e/chaos-binance-instruments.test.ts",
  "test/app/replay-reconnect-deribit.test.ts",
  "test/app/review-bounds-workers.test.ts",
  "test/venues/planned-loose-retry.test.ts",
  "test/app/rev20-worker-budget-carry.test.ts",
  "test/app/replay-reconnect-okx.test.ts",
  "test/venues/binance/adapter.test.ts",
  "test/cli/replay-args.test.ts",
  "test/venues/deribit/contract.test.ts",
  "test/venues/bybit/contract.test.ts",
  "test/app/replay-reconnect-binance.test.ts",
];

export default class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const keyOf = (f: TestSpecification) => `${f.project.name}:${relative(root, f.moduleId)}`;
    // Timed before: vitest's own order (longest first, by its cache) is the better one.
    if (sorted.every((f) => this.ctx.cache.getFileTestResults(keyOf(f)) !== undefined)) return sorted;
    const rank = new Map(LONG_FILES.map((p, i) => [p, i]));
    const pathOf = (f: TestSpecification) => relative(root, f.moduleId).split("\\").join("/");
    const rankOf = (f: TestSpecification) => rank.get(pathOf(f)) ?? LONG_FILES.length;
    // Array.prototype.sort is stable: the unlisted files keep vitest's order among themselves.
    const ranked = sorted.map((f, i) => ({ f, i }));
    return ranked.sort((a, b) => rankOf(a.f) - rankOf(b.f) || a.i - b.i).map((x) => x.f);
  }
}
