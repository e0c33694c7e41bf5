/**
 * Test runner settings (`npm test` = `bun --bun vitest run`). Test files run two at a time even on a 2-vCPU box:
 * vitest's default (one fewer worker than CPUs) ran them one by one there, and most files spend their time waiting on
 * sockets, simulators and timers, not on the CPU (a serial run used ~5 of its ~10 minutes on the CPU). Files are
 * written to run side by side: each opens its own simulators on port 0 and its own multicast group/port pair
 * (test/e2e/harness.ts uniqueDestination and the per-file groups named in each file). Each file keeps its own
 * process (isolate): no module state is shared between files. isolate: false was tried: 3 files failed on state left
 * by others (test/support/temp-dirs.ts, for one, registers its cleanup once per module) and it was no faster.
 * Timeouts are there to catch a hang, not to time anything: vitest's 5 s default failed CPU-heavy randomized tests
 * (200k-number oracles, 3000-step replace runs) on a loaded 2-vCPU box, so the default is 60 s; a file that needs
 * more says so itself.
 */
import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One temporary directory per run (inject("runDir")): artefacts several files need are built once.
    globalSetup: ["test/support/global-setup.ts"],
  },
});
