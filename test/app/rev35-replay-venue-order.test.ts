/**
 * Replay registers every venue's books with the publisher in config order, whichever venue's instruments resolve
 * first: the definitions (and every handle after them) go out the same way each time, so replaying a capture twice
 * gives byte-identical datagrams (docs/operations.md § Replay) with several venues too. s-startiso's per-venue start
 * registered each venue as its instruments came (REST or cache answers: timing), in replay as well: two replays of
 * one capture sent their definitions in different orders and datagrams.
 * Bybit and Coinbase from overrides (no REST), each venue's loadInstruments held until the test lets it go; the
 * publisher's register() watched. No venue connection (replay); multicast on 127.0.0.1, TTL 1.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { venueSpec, type VenueSpec } from "../../src/venues/registry.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const { log } = captureLog();
const { group, port } = uniqueDestination(352);
const config = validateConfig({
  workers: 1,
  log: { level: "warn", format: "json" },
  http: { enabled: false, listen: "127.0.0.1:0" },
  publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, startup_listen_ms: 0, destinations: [{ name: "rev35", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
  venues: {
    bybit: {
      ws_url: "ws://127.0.0.1:9",
      rest_url: "http://127.0.0.1:9",
      linear: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
      overrides: { "linear:BTCUSDT": { tick_size: "0.1", lot_size: "0.001" }, "linear:ETHUSDT": { tick_size: "0.01", lot_size: "0.01" } },
    },
    coinbase: {
      ws_url: "ws://127.0.0.1:9",
      rest_url: "http://127.0.0.1:9",
      spot: { symbols: ["BTC-USD"] },
      overrides: { "spot:BTC-USD": { tick_size: "0.01", lot_size: "0.00000001" } },
    },
  },
});

/** Replay start-up with `first`'s instruments resolved before the other venue's; the books as registered, in order. */
async function registered(first: "bybit" | "coinbase"): Promise<string[]> {
  const gates = new Map<string, () => void>();
  const held = new Map<string, Promise<void>>();
  const loaded = new Set<string>();
  const venues: Record<string, VenueSpec> = {};
  for (const name of ["bybit", "coinbase"]) {
    held.set(name, new Promise<void>((r) => gates.set(name, r)));
    const spec = venueSpec(name)!;
    venues[name] = {
      ...spec,
      create: (c, subs, opts) => {
        const adapter = spec.create(c, subs, opts);
        const load = adapter.loadInstruments.bind(adapter);
        adapter.loadInstruments = async () => {
          await held.get(name);
          const out = await load();
          loaded.add(name);
          return out;
        };
        return adapter;
      },
    };
  }
  const feeder = new Feeder({ config, log, replay: true, venues });
  cleanups.push(() => feeder.stop());
  const order: string[] = [];
  const register = feeder.publisher.register.bind(feeder.publisher);
  feeder.publisher.register = (instrument, view) => {
    order.push(`${instrument.venue}:${instrument.symbol}`);
    return register(instrument, view);
  };
  const starting = feeder.start();
  gates.get(first)!();
  await waitFor(() => loaded.has(first), `${first}'s instruments resolved`);
  gates.get(first === "bybit" ? "coinbase" : "bybit")!();
  await starting;
  await feeder.stop();
  return order;
}

test("replay: the books are registered in config order whichever venue's instruments resolve first", { timeout: 30_000 }, async () => {
  const config = ["bybit:BTCUSDT", "bybit:ETHUSDT", "coinbase:BTC-USD"];
  expect(await registered("bybit")).toEqual(config);
  // The old code: coinbase's book first (its instruments came first).
  expect(await registered("coinbase")).toEqual(config);
});
