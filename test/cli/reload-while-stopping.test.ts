/**
 * A SIGHUP that arrives while `run` or `record` stops (after SIGINT/SIGTERM) is logged as ignored, the file not
 * re-checked. Until 2026-12-07 it was checked as ever and its line said "running on as started" (or "the same as the
 * running configuration") of a process that was ending. In process: the SIGHUP listener is called through process.emit.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { reloadOnHangup } from "../../src/cli/config-reload.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { captureLog } from "../support/capture-log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

let end: (() => void) | undefined;
afterEach(() => end?.());

test("before the stop a SIGHUP re-checks the file; once the stop signal has come it is ignored, said once a SIGHUP", async () => {
  const dir = makeTempDir("feeder-reload-stopping-");
  const path = join(dir, "run.toml");
  writeFileSync(path, ["[venues.bybit.linear]", 'symbols = ["BTCUSDT"]', "[venues.bybit]", `instrument_cache = "${join(dir, "instruments.json")}"`, ""].join("\n"));
  const { log, lines } = captureLog({ info: true });
  let stop: (signal: string) => void = () => {};
  const stopSignal = new Promise<string>((resolve) => (stop = resolve));
  end = reloadOnHangup(path, loadConfigFile(path), log, {}, stopSignal);
  process.emit("SIGHUP", "SIGHUP");
  expect(lines.map((l) => l.msg)).toEqual(["configuration reload: the file is valid and the same as the running configuration"]);
  stop("SIGTERM");
  await stopSignal;
  writeFileSync(path, "not toml ["); // would be "reload refused … running on as started" if it were checked
  process.emit("SIGHUP", "SIGHUP");
  expect(lines.slice(1)).toEqual([{ level: "info", msg: "configuration reload ignored: the process is stopping", fields: { path } }]);
});
