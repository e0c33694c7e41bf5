/**
 * A book the venue refused (halted / subscribe_rejected) whose listing then says it no longer trades: it is closed
 * (the adapter counts it in instruments_closed), and its status must say so. Until s-rdstatus the closure of a book
 * already halted was never told (the lifecycle skipped a halted one, TopicResync.invalidate and markInvalid dropped a
 * state not changed): subscribers, /books and /readyz kept subscribe_rejected (an expired one then kept /readyz 503,
 * its expiry judged only for instrument_closed). Feeder in process, OKX simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../src/core/types.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!();
});

describe("a rejected book whose instrument then closes", { timeout: 30_000 }, () => {
  test("goes halted / instrument_closed: a status on the wire and in /books", async () => {
    const symbols = ["BTC-USDT", "VIP-USDT"];
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols }], seed: 11, vipOnly: ["VIP-USDT"] });
    const { group, port } = uniqueDestination(71);
    const config = validateConfig({
      log: { level: "warn", format: "json" },
      http: { enabled: false },
      publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] },
      venues: { okx: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tempDir("feeder-rejclosed-"), "instruments.json"), spot: { depth: 400, symbols } } },
    });
    // The rejected book's listing asked 150 ms after its refusal (1 min by default).
    const feeder = new Feeder({ config, log: silentLogger, adapterOptions: { listingRetryMs: 150 } });
    running.push(async () => {
      await feeder.stop();
      await sim.stop();
    });
    const statuses: string[] = [];
    const publishStatus = feeder.publisher.publishStatus.bind(feeder.publisher);
    feeder.publisher.publishStatus = (handle: number, view: BookView) => {
      if (view.instrument.symbol === "VIP-USDT") statuses.push(`${BOOK_STATE_NAMES[view.state]}/${STATUS_REASON_NAMES[view.reason]}`);
      publishStatus(handle, view);
    };
    await feeder.start();
    const vip = () => feeder.bookSummaries().find((b) => b.symbol === "VIP-USDT")!;
    await waitFor(() => vip().state === "halted" && vip().reason === "subscribe_rejected", "VIP-USDT rejected", 20_000);
    expect(statuses).toContain("halted/subscribe_rejected");
    sim.setState("VIP-USDT", "suspend"); // its next listing ask finds it not trading: closed
    const closed = () => feeder.metricsSnapshot().venues.okx!.find((m) => m.name === "instruments_closed" && m.labels.market === "spot")?.value;
    await waitFor(() => closed() === 1, "VIP-USDT closed by its listing", 20_000);
    expect(vip()).toMatchObject({ state: "halted", reason: "instrument_closed", valid: false }); // before: subscribe_rejected
    expect(statuses.at(-1)).toBe("halted/instrument_closed"); // before: no status after the refusal's
  });
});
