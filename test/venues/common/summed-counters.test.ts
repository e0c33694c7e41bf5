/**
 * Every venue's stats() (the status JSON) sums each per-connection counter of the common list
 * (SUMMED_CONNECTION_COUNTERS) over its used connections. Binance and OKX lay out stats() of their own and kept lists
 * of their own until s-smallleft, which left out `connectsRefused` (a refused handshake showed in /metrics' per-
 * connection connects_refused_total but stayed 0 in the status JSON). Offline adapters, the counters set by hand.
 */
import { expect, test } from "vitest";
import type { VenueName } from "../../../src/core/types.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import { SUMMED_CONNECTION_COUNTERS } from "../../../src/venues/common/metrics.ts";
import { VENUES } from "../../../src/venues/registry.ts";
import type { VenueAdapter } from "../../../src/venues/venue.ts";
import { offlineRig } from "./offline-venue.ts";

test.each(Object.keys(VENUES) as VenueName[])("%s: stats() sums every common per-connection counter over the used connections", async (venue) => {
  const o = offlineRig(venue);
  const adapter = VENUES[venue]!.create(o.config, o.subscriptions, o.options) as VenueAdapter;
  const conns = (adapter as unknown as { conns: VenueConnection[] }).conns;
  expect(conns.length).toBeGreaterThan(0);
  // Each counter a value of its own (on each connection, where there are several): a sum left out shows.
  conns.forEach((c, i) => {
    c.used = true;
    SUMMED_CONNECTION_COUNTERS.forEach((k, j) => void (c[k] = (i + 1) * 100 + j + 1));
  });
  const stats = adapter.stats();
  const want = Object.fromEntries(SUMMED_CONNECTION_COUNTERS.map((k) => [k, conns.reduce((n, c) => n + c[k], 0)]));
  expect(Object.fromEntries(SUMMED_CONNECTION_COUNTERS.map((k) => [k, stats[k]]))).toEqual(want);
  await adapter.stop();
});
