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
 * The longest files first. The first part is the summed file times of the last full CI run (2026-12-07, ~545 s, 4 files
 * at a time on 2 vCPUs), where a file was made faster or split since, its time scaled by its own before/after
 * single-file runs (the figure it had, then the estimate); rev18-http-bounds is its single-file time (11.8 s alone at
 * load 2), scaled as the suite's other CPU-heavy files. random-ops, chaos-okx and chaos-nats re-scaled 2026-12-07 by
 * their user CPU alone before/after (random-ops 24 -> 9 s; chaos-okx 11.8 -> 9.0 s, then 9.35 -> 8.37 s with the
 * chaos checks' conversion cache, at load ~4; chaos-nats 9.43 -> 9.16 s at load 7-12). After them, the rest of the
 * previous list (a run on a loaded box, then an idle CI log), in its order. Re-measure when the suite changes much.
 */
export const LONG_FILES: readonly string[] = [
  "test/bench-smoke/benches.test.ts", // 39 s; the runner's checks beside the benches since: ~34 s
  "test/app/review-bounds-http.test.ts", // 26.2 s
  "test/e2e/chaos-nats.test.ts", // 26 s; the chaos checks' conversion cache since: ~25 s
  "test/e2e/binary-venues.test.ts", // ~19 s
  "test/e2e/chaos-okx.test.ts", // 26 s; each sim state formatted once, then converted once, since: ~18 s
  "test/app/rev18-http-bounds.test.ts", // ~18 s (see above)
  "test/book/random-ops.test.ts", // 45 s; integer reference since: ~17 s
  "test/book/ladder-adversarial.test.ts", // 16.5 s
  "test/app/connect-hold-shared.test.ts", // ~15 s
  "test/wire/node-compat.test.ts", // ~20 s of the two node-compat files' 25 s; tsc --noCheck since: ~12 s
  "test/subscriber/fuzz.test.ts", // 14.6 s
  "test/venues/okx/contract-rest.test.ts", // the OKX contract file was 36 s; split in three since: 13.6 s alone
  "test/venues/common/levels-wasm-mutations.test.ts", // ~12 s
  "test/venues/okx/contract.test.ts", // 10.3 s alone
  "test/venues/okx/contract-books5.test.ts", // 9 s alone (no 10 s connect hold since)
  "test/venues/upbit/adapter.test.ts", // 26 s; its venue groups concurrent since: ~9 s
  "test/venues/bybit/scanner.test.ts", // ~9 s
  // The previous list, for the files not above, in its order.
  "test/wire/bursts.test.ts",
  "test/app/status-page-truth.test.ts",
  "test/e2e/isolation.test.ts",
  "test/e2e/chaos-bybit.test.ts",
  "test/e2e/chaos-shards.test.ts",
  "test/app/status-page.test.ts",
  "test/venues/bybit/adapter.test.ts",
  "test/e2e/okx-pipeline.test.ts",
  "test/e2e/chaos-retransmit.test.ts",
  "test/e2e/chaos-instruments.test.ts",
  "test/e2e/chaos-workers.test.ts",
  "test/sim/sim-market.test.ts",
  "test/app/status-page-polls.test.ts",
  "test/venues/okx/sequence-model.test.ts",
  "test/venues/binance/diff-wasm.test.ts",
  "test/bridge/bridge-cli.test.ts",
  "test/book/ladder.test.ts",
  "test/venues/common/stall-housekeeping.test.ts",
  "test/venues/binance/contract.test.ts",
  "test/e2e/chaos-upbit.test.ts",
  "test/venues/planned-fallback.test.ts",
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
