/**
 * stop() and a worker the supervisor has already terminated as hung whose thread has not ended yet (blocked outside
 * JavaScript: it ends when its call returns, maybe never): such a worker runs no JavaScript again and answers no
 * `stop`, so stop() must not wait for its answer. No worker is started: a slot is given a stand-in worker as
 * checkHangs leaves one it terminated.
 */
import { describe, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { silentLogger } from "../../src/core/log.ts";

describe("stop() with a terminated worker whose thread has not ended", () => {
  test("resolves without waiting for the stop answer that worker cannot give", async () => {
    const supervisor = new Supervisor({ publish: {} } as FeederConfig, silentLogger);
    const posted: unknown[] = [];
    const worker = { postMessage: (msg: unknown) => posted.push(msg), terminate: () => undefined };
    const slot = { index: 0, worker, terminatedAtMs: performance.now(), restarts: 1, lastHeardMs: 1, lastBooks: [], lastBooksAtMs: 0, pending: new Map(), share: [] };
    (supervisor as unknown as { slots: unknown[] }).slots.push(slot);
    // Settled before any timer runs: stop() resolved on its own, not at the end of its wait for an answer.
    const settledFirst = await Promise.race([supervisor.stop().then(() => "stop"), new Promise((resolve) => setImmediate(() => resolve("a timer")))]);
    expect(settledFirst).toBe("stop");
    expect(posted).toEqual([]);
  });
});
