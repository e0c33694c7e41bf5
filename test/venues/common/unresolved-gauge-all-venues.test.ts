/**
 * Every venue feeds `instruments_unresolved{market,reason}` (the app's feeder_venue_instruments_unresolved): a
 * symbol left out at start (no override, no cache, REST refused) counts as rest_unreachable, the resolved one not.
 * An alert on that gauge must fire for every venue, not only those a test happened to cover. Offline adapters.
 */
import { expect, test } from "vitest";
import type { VenueName } from "../../../src/core/types.ts";
import { VENUES } from "../../../src/venues/registry.ts";
import type { VenueAdapter } from "../../../src/venues/venue.ts";
import { offlineRig } from "./offline-venue.ts";

test.each(Object.keys(VENUES) as VenueName[])("%s: a symbol left out at start counts in instruments_unresolved", async (venue) => {
  const { market, symbols, ...o } = offlineRig(venue);
  // No spec for the second symbol: REST refuses, no cache.
  const config = { ...o.config, overrides: new Map([...o.config.overrides].filter(([key]) => key !== `${market}:${symbols[1]}`)) };
  const adapter = VENUES[venue]!.create(config, o.subscriptions, o.options) as VenueAdapter;
  try {
    const instruments = await adapter.loadInstruments();
    expect(instruments.map((i) => i?.symbol)).toEqual([symbols[0], undefined]);
    const unresolved = adapter
      .metrics()
      .filter((m) => m.name === "instruments_unresolved" && m.value > 0)
      .map((m) => [m.labels?.market, m.labels?.reason, m.value]);
    expect(unresolved).toEqual([[market, "rest_unreachable", 1]]);
  } finally {
    await adapter.stop();
  }
});
