/**
 * A Feeder run on a simulator whose URLs carry a secret (test/app/cfg8-url-credentials, url-query-secrets): its books
 * live, then the simulator stopped. While up, every connection's url is `shown` (redacted); once down, the readiness
 * evaluation says venue_down and holds no secret. The log lines and what the capture hook saw (each REST URL, and
 * the ws:open record's body) are returned for the caller's checks of them.
 * @module
 */
import { expect } from "vitest";
import { Feeder, type FeederOptions } from "../../src/app/feeder.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { createLogger } from "../../src/core/log.ts";
import { CONNECTION_OPENED_URL } from "../../src/venues/venue.ts";
import { waitFor } from "../e2e/harness.ts";

export interface SecretUrlRun {
  config: FeederOptions["config"];
  sim: { stop(): Promise<void> };
  secret: string;
  /** Whether a connection's url is shown redacted. */
  shown: (url: string) => boolean;
  /** Called while waiting for the books (a simulator that sends only when stepped). */
  step?: () => void;
}

export async function runWithSecretUrls(run: SecretUrlRun): Promise<{ lines: string[]; recorded: string[] }> {
  const { sim, secret } = run;
  const lines: string[] = [];
  const recorded: string[] = [];
  const live = new Feeder({
    config: run.config,
    log: createLogger({ level: "debug", format: "json", write: (l) => void lines.push(l) }),
    onRawFrame: () => undefined,
    onRawRest: (_v, _m, _c, url, body) => void recorded.push(url, url === CONNECTION_OPENED_URL ? body : ""),
  });
  try {
    await live.start();
    await waitFor(() => live.books().length > 0 && live.books().every((b) => b.state === 1), "live book", 15_000, run.step);
    const up = live.readinessInput().connections;
    expect(up.length).toBeGreaterThan(0);
    expect(up.every((c) => run.shown(c.url))).toBe(true);
    await sim.stop();
    await waitFor(() => live.readinessInput().connections.some((c) => !c.up), "connection down", 15_000);
    const down = JSON.stringify(evaluateReadiness(live.readinessInput()));
    expect(down).toContain("venue_down");
    expect(down).not.toContain(secret);
  } finally {
    await live.stop();
    await sim.stop();
  }
  return { lines, recorded };
}
