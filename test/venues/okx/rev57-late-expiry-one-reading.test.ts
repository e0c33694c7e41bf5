/**
 * A symbol that joins late (REST down at start), listed already past its expTime, with the wall clock stepped back
 * while it joins. s-rev55 noted two clock readings (the join's "past its expiry?" and the watch's close); 9a82e6e
 * made the join's one reading serve both checks of its callback, but the close (checkExpiries) still read the clock
 * again: judged expired by the first reading, the topic was left idle (not subscribed), and not closed by the second,
 * so neither LIVE nor HALTED, its book never published, until the clock came back past the expiry. Now the close uses
 * the join's reading: closed at once. The step comes from the sink's onInstrumentResolved, which the join calls
 * between the two. Real simulator on 127.0.0.1.
 */
import { afterEach, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { haltRecorder } from "../halt-recorder.ts";
import { okxConfig } from "./helpers.ts";

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!();
});

test("a late join past its expTime, the clock stepped back an hour as it joins: closed at once, not left idle", { timeout: 60_000 }, async () => {
  const symbols = ["BTC-USDT-261225"];
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 400 }));
  const sim = await startOkxSimulator({ markets: [{ market: "linear", symbols }], seed: 57, now: () => Date.now() - 60_000 });
  sim.setExpTime(symbols[0]!, Date.now() - 10_000);
  let offsetMs = 0;
  const adapter = new OkxAdapter(okxConfig(sim, subs), subs, {
    log: silentLogger,
    now: () => Date.now() + offsetMs,
    allowNoInstruments: true,
    lateRetryBaseMs: 50,
    lateCheckMs: 5,
    listingRetryMs: 300,
  });
  running.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  sim.setInstrumentsAvailable(false);
  expect(await adapter.loadInstruments()).toEqual([undefined]);
  const { sink, halted } = haltRecorder(1);
  const resolved: number[] = [];
  const onInstrumentResolved = (i: number) => {
    resolved.push(i);
    offsetMs = -3_600_000; // the wall clock stepped back an hour, between the join's expiry check and the close
  };
  adapter.start(Object.assign(sink, { onInstrumentResolved }));
  sim.setInstrumentsAvailable(true);
  await waitFor(() => resolved.length === 1, "the future resolved late", 20_000);
  // The join's callback ran to its end with onInstrumentResolved: the close, if any, has happened.
  expect(halted).toMatchObject([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
  expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false });
  expect(adapter.connections()).toEqual([]);
});
