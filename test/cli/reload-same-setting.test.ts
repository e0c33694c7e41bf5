/**
 * SIGHUP's re-check named a setting spelt another way as a change to restart for: `stale_after_ms = 0` beside an
 * absent key (both the adapter's default) and a Coinbase `symbols_per_connection = 20` beside an absent one (the
 * venue's default, 20). A restart would change nothing, and it resyncs every book. Real changes of both keys are
 * still named. In process: checkReload on a temporary file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { checkReload } from "../../src/cli/config-reload.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const text = (bybit: string, coinbase: string) =>
  `http = { enabled = false }\n[publish]\nsource_id = 0\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n${bybit}\n[venues.coinbase.spot]\nsymbols = ["BTC-USD"]\n${coinbase}\n`;

test("stale_after_ms = 0 and a default symbols_per_connection are the absent keys' settings: no change; other values are", () => {
  const path = join(makeTempDir("feeder-reload-same-setting-"), "feeder.toml");
  writeFileSync(path, text("", ""));
  const absent = loadConfigFile(path);
  writeFileSync(path, text("stale_after_ms = 0", "symbols_per_connection = 20"));
  const spelt = loadConfigFile(path);
  expect(checkReload(path, absent)).toEqual({ changed: [] });
  writeFileSync(path, text("", ""));
  expect(checkReload(path, spelt)).toEqual({ changed: [] });
  writeFileSync(path, text("stale_after_ms = 60000", "symbols_per_connection = 10"));
  expect(checkReload(path, absent)).toEqual({ changed: ["venues.bybit.linear.stale_after_ms", "venues.coinbase.spot.symbols_per_connection"] });
});
