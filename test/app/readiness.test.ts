/**
 * /readyz of a running feeder tells the truth: 503 while a configured symbol is unresolved (even with every
 * built book live), and while a venue cannot be reached, naming the venue, its URL and the OS error, which are
 * also logged. Everything stays on 127.0.0.1: a refused port and a TLS handshake against a plain-HTTP port.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { validateConfig } from "../../src/config/load.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

interface ReadyBody {
  ready: boolean;
  books: number;
  live: number;
  reasons: Record<string, string | number>[];
}

let sim: BybitSim;
beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 33, messagesPerSecond: 0 });
});
afterAll(async () => {
  await sim?.stop();
});

async function readyz(rt: Runtime): Promise<{ status: number; body: ReadyBody }> {
  const r = await fetch(`${rt.http!.url}/readyz`);
  return { status: r.status, body: (await r.json()) as ReadyBody };
}

/** A port nothing listens on (bound, then closed). */
function closedPort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

describe("/readyz", { timeout: 30_000 }, () => {
  test("503 while a configured symbol is unresolved, though every built book is live", async () => {
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "NOSUCHUSDT"] }];
    const rt = await startRuntime(validateConfig(rawConfig({ sim, markets, ...uniqueDestination(33), http: true })), silentLogger);
    try {
      await waitFor(() => rt.feeder!.books().length === 2 && rt.feeder!.books().every((b) => b.state === 1), "the two resolvable books live");
      const { status, body } = await readyz(rt);
      expect(status).toBe(503);
      expect(body.books).toBe(2);
      expect(body.live).toBe(2);
      expect(body.reasons).toEqual([
        { check: "symbol_unresolved", venue: "bybit", market: "linear", symbol: "NOSUCHUSDT", reason: "not_listed", detail: expect.stringMatching(/linear:NOSUCHUSDT.*not listed by .*; retried in \d+ s \(at \d{4}-[^)]+Z\)$/) },
      ]);
    } finally {
      await rt.stop();
    }
  });

  // An outage, not a configuration error: the process starts (it used to exit), the venue retries, /readyz names it.
  test("an unreachable instruments REST endpoint is named with its URL and the OS error", async () => {
    const raw = rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }], ...uniqueDestination(33), http: true });
    const restUrl = `http://127.0.0.1:${closedPort()}`;
    (raw.venues as { bybit: Record<string, unknown> }).bybit.rest_url = restUrl;
    const named = new RegExp(`linear:BTCUSDT \\(REST unreachable: bybit REST ${restUrl}/v5/market/instruments-info\\?category=linear[^:]*: ECONNREFUSED`);
    const lines: { level: string; msg: string }[] = [];
    const rt = await startRuntime(validateConfig(raw), createLogger({ level: "warn", format: "json", write: (l) => lines.push(JSON.parse(l)) }));
    try {
      expect(lines.find((l) => named.test(l.msg))?.level).toBe("error");
      const { status, body } = await readyz(rt);
      expect(status).toBe(503);
      const unresolved = body.reasons.filter((r) => r.check === "symbol_unresolved");
      expect(unresolved.map((r) => [r.venue, r.symbol, r.reason])).toEqual([["bybit", "BTCUSDT", "rest_unreachable"]]);
      expect(String(unresolved[0]!.detail)).toMatch(/REST unreachable: bybit REST http:\/\/127\.0\.0\.1:\d+\/v5\/market\/instruments-info\?category=linear.*ECONNREFUSED/);
    } finally {
      await rt.stop();
    }
  });

  const unreachable: [what: string, url: () => string, code: string][] = [
    ["a refused port", () => `ws://127.0.0.1:${closedPort()}/v5/public`, "ECONNREFUSED"],
    ["a TLS handshake with a plain-HTTP server", () => `wss://127.0.0.1:${new URL(sim.restUrl).port}/v5/public`, "EPROTO"],
  ];
  for (const [what, url, code] of unreachable) {
    test(`a venue behind ${what}: logged with its URL and ${code}, and /readyz names it`, async () => {
      const raw = rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }], ...uniqueDestination(33), http: true });
      const wsUrl = url();
      (raw.venues as { bybit: Record<string, unknown> }).bybit.ws_url = wsUrl;
      const lines: { level: string; msg: string; url?: string; error?: string }[] = [];
      const log = createLogger({ level: "warn", format: "json", write: (l) => lines.push(JSON.parse(l)) });
      const rt = await startRuntime(validateConfig(raw), log);
      try {
        const connUrl = `${wsUrl}/linear`;
        await waitFor(() => lines.some((l) => l.msg === "bybit: cannot reach the venue; retrying"), "the unreachable venue logged");
        const line = lines.find((l) => l.msg === "bybit: cannot reach the venue; retrying")!;
        expect(line.level).toBe("error");
        expect(line.url).toBe(connUrl);
        expect(line.error).toContain(code);
        const { status, body } = await readyz(rt);
        expect(status).toBe(503);
        const down = body.reasons.filter((r) => r.check === "venue_down");
        expect(down).toEqual([
          { check: "venue_down", venue: "bybit", market: "linear", connection: "conn0.linear", url: connUrl, error: expect.stringContaining(code), downForMs: expect.any(Number), detail: expect.stringContaining(connUrl) },
        ]);
        expect(body.reasons.filter((r) => r.check === "book_not_live").map((r) => r.symbol)).toEqual(["BTCUSDT"]);
      } finally {
        await rt.stop();
      }
    });
  }
});
