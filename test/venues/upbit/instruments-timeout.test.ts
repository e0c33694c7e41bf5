/**
 * Upbit's and Bithumb's instrument REST requests time out: before, they were sent without a timeout, so an endpoint
 * that accepted the request and never answered held start-up (and, while running, every later reload of the
 * market, which waits for the one in flight) for ever. A server on 127.0.0.1 that never answers; the source's
 * timeout shortened so the test need not wait 10 s.
 */
import { afterEach, expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { upbitInstrumentSource } from "../../../src/venues/upbit/instruments.ts";
import { waitFor } from "../../e2e/harness.ts";

const stops: (() => void)[] = [];
afterEach(() => {
  while (stops.length > 0) stops.pop()!();
});

for (const [venue, withTickEndpoint] of [["upbit", true], ["bithumb", false]] as const) {
  test(`${venue}: an instrument request never answered fails naming its URL`, async () => {
    let asked = 0;
    let release = () => {};
    const never = new Promise<void>((r) => (release = r));
    stops.push(() => release());
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch() {
        asked++;
        await never;
        return new Response("[]");
      },
    });
    stops.push(() => void server.stop(true));
    const restUrl = `http://127.0.0.1:${server.port}`;
    const config = { venue, restUrl, wsUrl: "ws://127.0.0.1:1", markets: [{ market: "spot", depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map() } as unknown as VenueConfig;
    const source = upbitInstrumentSource(config, fetch, withTickEndpoint, 0, 300);
    let outcome = "";
    void source.fetchSpecs("spot", ["KRW-BTC"]).then(
      () => void (outcome = "answered"),
      (err: unknown) => void (outcome = String(err)),
    );
    await waitFor(() => outcome !== "", "the unanswered request to fail", 5_000);
    expect(asked).toBe(1);
    expect(outcome).toContain(`${restUrl}/v1/market/all`);
    expect(outcome).toMatch(/timed out|abort/i);
  });
}
