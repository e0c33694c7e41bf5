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
 * The longest files of an idle full run (CI log, 2 at a time), longest first. Re-measure with
 * `bun --bun vitest run --reporter=json --outputFile=v.json` when the suite changes much.
 */
export const LONG_FILES: readonly string[] = [
  "test/venues/okx/contract.test.ts",
  // Not from the CI log: 22 benches one after another, CPU-bound, so it stretches with the box's load: 47 s of wall
  // time at a load average of ~6-11, 91 s at ~24-29 (2026-12-06). Early, so it never starts last beside idle workers.
  "test/bench-smoke/benches.test.ts",
  "test/book/random-ops.test.ts",
  "test/venues/common/stall-housekeeping.test.ts",
  "test/e2e/chaos-okx.test.ts",
  "test/venues/binance/contract.test.ts",
  "test/e2e/chaos-upbit.test.ts",
  "test/venues/planned-fallback.test.ts",
  "test/e2e/chaos-nats.test.ts",
  "test/venues/upbit/adapter.test.ts",
  "test/e2e/chaos-binance.test.ts",
  "test/e2e/chaos-instruments.test.ts",
  "test/e2e/chaos-shards.test.ts",
  "test/e2e/upbit-pipeline.test.ts",
  "test/subscriber/stall-timers.test.ts",
  "test/app/status-page.test.ts",
  "test/e2e/chaos-binance-instruments.test.ts",
  "test/app/replay-reconnect-deribit.test.ts",
  "test/app/review-bounds-workers.test.ts",
  "test/venues/planned-loose-retry.test.ts",
  "test/app/rev20-worker-budget-carry.test.ts",
  "test/e2e/chaos-workers.test.ts",
  "test/app/replay-reconnect-okx.test.ts",
  "test/venues/binance/adapter.test.ts",
  "test/app/review-bounds-http.test.ts",
  "test/cli/replay-args.test.ts",
  "test/wire/bursts.test.ts",
  "test/venues/common/levels-wasm-mutations.test.ts",
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
