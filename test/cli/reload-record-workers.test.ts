/**
 * SIGHUP's re-check for `feeder record` (which runs one process and ignores the file's `workers`) listed a changed
 * `workers` under `changed`, logged as "configuration reload refused … (restart to apply)": a restart applies no
 * other value either. It is now under `ignored`, and a file that differs only there is no change to restart for.
 * `feeder run` (the file's workers) still names it as a change. In process: checkReload on a temporary file.
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
