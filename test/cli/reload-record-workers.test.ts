/**
 * SIGHUP's re-check for `feeder record` (which runs one process and ignores the file's `workers`) listed a changed
 * `workers` under `changed`, logged as "configuration reload refused … (restart to apply)": a restart applies no
 * other value either. It is now under `ignored`, and a file that differs only there is no change to restart for.
 * `feeder run` (the file's workers) still names it as a change. A change in [nats] (the bridge's section, which
 * neither run nor record reads, in a feeder.toml they may share) was a change to restart for too, for both; it is
 * now under `ignored` as well. In process: checkReload on a temporary file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { checkReload } from "../../src/cli/config-reload.ts";
import { loadConfigFile, type ValidateOptions } from "../../src/config/load.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const RECORD_LOAD: ValidateOptions = { runWorkers: 1 }; // as record loads it (record.ts)
const text = (workers: number, depth: number) => `workers = ${workers}\nhttp = { enabled = false }\n[publish]\nsource_id = 0\n[venues.bybit.linear]\ndepth = ${depth}\nsymbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]\n`;

test("record: another workers in the file is ignored, not a change to restart for; run: a change", () => {
  const dir = makeTempDir("feeder-reload-record-workers-");
  const path = join(dir, "feeder.toml");
  writeFileSync(path, text(2, 50));
  const asRecord = loadConfigFile(path, RECORD_LOAD);
  const asRun = loadConfigFile(path);
  writeFileSync(path, text(3, 50));
  expect(checkReload(path, asRecord, undefined, RECORD_LOAD)).toEqual({ changed: [], ignored: ["workers"] });
  expect(checkReload(path, asRun)).toEqual({ changed: ["workers"] });
  writeFileSync(path, text(3, 200));
  expect(checkReload(path, asRecord, undefined, RECORD_LOAD)).toEqual({ changed: ["venues.bybit.linear.depth"], ignored: ["workers"] });
  writeFileSync(path, text(2, 200));
  expect(checkReload(path, asRecord, undefined, RECORD_LOAD)).toEqual({ changed: ["venues.bybit.linear.depth"] });
});

test("run and record: a changed [nats] (the bridge's, which neither reads) is ignored, not a change to restart for", () => {
  const dir = makeTempDir("feeder-reload-nats-");
  const path = join(dir, "feeder.toml");
  // The bridge's section in the feeder's own file (docs/nats.md: feeder.toml's [nats]); tls and user change below.
  const nats = (tls: boolean, user: string) => `[nats]\nuser = "${user}"\npassword_file = "/etc/feeder/nats-password"\ntls = ${tls}\n`;
  writeFileSync(path, text(2, 50) + nats(false, "bridge"));
  const asRecord = loadConfigFile(path, RECORD_LOAD);
  const asRun = loadConfigFile(path);
  writeFileSync(path, text(2, 50) + nats(true, "bridge2"));
  expect(checkReload(path, asRun)).toEqual({ changed: [], ignored: ["nats.user", "nats.tls"] });
  expect(checkReload(path, asRecord, undefined, RECORD_LOAD)).toEqual({ changed: [], ignored: ["nats.user", "nats.tls"] });
  // The section removed, with a change a restart applies: that is still named.
  writeFileSync(path, text(3, 200));
  expect(checkReload(path, asRun)).toEqual({ changed: ["workers", "venues.bybit.linear.depth"], ignored: ["nats.user", "nats.password_file", "nats.tls"] });
  expect(checkReload(path, asRecord, undefined, RECORD_LOAD)).toEqual({ changed: ["venues.bybit.linear.depth"], ignored: ["workers", "nats.user", "nats.password_file", "nats.tls"] });
});
