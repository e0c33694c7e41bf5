/**
 * A Coinbase full-depth book of 100,000 levels a side (BTC-USD: its 0.01 tick leaves room for them), its simulator
 * in a process of its own (test/support/sim-child.ts; not stepped, so the book stays the snapshot's), one Feeder and
 * a FeedSubscriber on 127.0.0.1. The book becomes LIVE at the feeder with every level, and the subscriber's book is
 * usable and equal to the feeder's top 65,535 levels a side: the most a wire snapshot carries
 * (docs/wire-protocol.md; docs/architecture.md "Isolation between symbols", limits). Behaviour only: the
 * deadlines are generous and nothing here is a timing.
 * @module
 */
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import type { Logger } from "../../src/core/log.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { MAX_SNAPSHOT_LEVELS_PER_SIDE } from "../../src/wire/layout.ts";
import { spawnSim, type SimChild } from "../support/sim-child.ts";
import { tempDir, uniqueDestination, waitFor } from "./harness.ts";

const LEVELS = 100_000;

let sim: SimChild | undefined;
let feeder: Feeder | undefined;
let subscriber: FeedSubscriber | undefined;
afterAll(async () => {
  await feeder?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

/** First rank (of the top `n` per side) where the two books differ, or "" when they agree there. */
function firstDifference(a: BookView, b: BookView, n: number): string {
  for (let r = 0; r < n; r++) {
    if (a.bidPriceAt(r) !== b.bidPriceAt(r) || a.bidQtyAt(r) !== b.bidQtyAt(r)) return `bid rank ${r}`;
    if (a.askPriceAt(r) !== b.askPriceAt(r) || a.askQtyAt(r) !== b.askQtyAt(r)) return `ask rank ${r}`;
  }
  return "";
}

describe("a full-depth book of 100k levels a side", { timeout: 150_000 }, () => {
  test("becomes LIVE at the feeder with every level, and usable at the subscriber, equal to the feeder's top 65,535 a side", async () => {
    sim = await spawnSim({ venue: "coinbase", symbols: ["BTC-USD"], levels: LEVELS, rate: 0, seed: 3 });
    const { group, port } = uniqueDestination(23);
    subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], maxLevelsPerSide: 250_000, maxAssemblyLevels: 2_000_000 });
    await subscriber.start();
    const logLines: string[] = [];
    const log: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (m) => void logLines.push(m),
      error: (m) => void logLines.push(m),
      child: () => log,
    };
    const config = validateConfig({
      workers: 1,
      log: { level: "info", format: "json" },
      http: { enabled: false, listen: "127.0.0.1:0" },
      publish: { startup_listen_ms: 0, destinations: [{ name: "big", group, port, interface: "127.0.0.1", ttl: 1, channel: 5 }] },
      venues: { coinbase: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tempDir("feeder-bigbook-"), "instruments.json"), spot: { symbols: ["BTC-USD"] } } },
    });
    feeder = new Feeder({ config, log });
    await feeder.start();
    const f = feeder;
    const id = instrumentIdOf("coinbase", "spot", "BTC-USD");
    const feederBook = () => f.books().find((b) => b.instrument.venue === "coinbase")!;
    // Before the simulator's fix, the frames after its ~22 MB snapshot were dropped by the socket (Bun's 16 MiB
    // backpressure limit) and the feeder saw a sequence gap after every snapshot: never LIVE.
    await waitFor(() => f.bookSummaries().some((b) => b.state === "live"), () => `the book LIVE at the feeder (log: ${logLines.slice(0, 3).join("; ")})`, 120_000);
    const fb = feederBook();
    expect(fb.bidCount).toBe(LEVELS);
    expect(fb.askCount).toBe(LEVELS);
    const sub = subscriber;
    await waitFor(() => sub.books.get(id)?.usable === true && sub.books.get(id)!.instrSeq === fb.instrSeq, "the book usable at the subscriber, at the feeder's instrSeq", 60_000);
    const sb = sub.books.get(id)!;
    expect(sb.bidCount).toBe(MAX_SNAPSHOT_LEVELS_PER_SIDE);
    expect(sb.askCount).toBe(MAX_SNAPSHOT_LEVELS_PER_SIDE);
    expect(firstDifference(sb, fb, MAX_SNAPSHOT_LEVELS_PER_SIDE)).toBe("");
    expect(f.bookSummaries()[0]!.state).toBe("live");
    expect(logLines.filter((m) => /gap|resync/i.test(m))).toEqual([]);
  });
});
