/**
 * SIGHUP after the HMAC key file's contents changed (a key rotated in place, publish.auth_key_file the same path).
 * The running publisher signs with the key it read at start; a restart would sign with the new one. The reload check
 * compared only the configuration as check-config prints it (the path), so it logged "the file is valid and the
 * same as the running configuration": the operator was told no restart was needed while subscribers given the new
 * key refused every datagram. It now names publish.auth_key_file as changed (the key itself is never logged).
 * In process: the SIGHUP listener is called through process.emit.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { reloadOnHangup } from "../../src/cli/config-reload.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { captureLog } from "../support/capture-log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const KEY_A = "00112233445566778899aabbccddeeff";
const KEY_B = "ffeeddccbbaa99887766554433221100";
let end: (() => void) | undefined;
afterEach(() => end?.());

function setup(): { path: string; keyPath: string } {
  const dir = makeTempDir("feeder-reload-key-");
  const keyPath = join(dir, "feed.key");
  writeFileSync(keyPath, KEY_A + "\n");
  const path = join(dir, "run.toml");
  writeFileSync(path, [
    "[publish]",
    `auth_key_file = "${keyPath}"`,
    "[venues.bybit.linear]",
    'symbols = ["BTCUSDT"]',
    `[venues.bybit]`,
    `instrument_cache = "${join(dir, "instruments.json")}"`,
    "",
  ].join("\n"));
  return { path, keyPath };
}

test("a key rotated in place: the reload names publish.auth_key_file as what a restart would change, without the key", () => {
  const { path, keyPath } = setup();
  const { log, lines } = captureLog({ info: true });
  end = reloadOnHangup(path, loadConfigFile(path), log);
  process.emit("SIGHUP", "SIGHUP");
  expect(lines.map((l) => l.msg)).toEqual(["configuration reload: the file is valid and the same as the running configuration"]);

  writeFileSync(keyPath, KEY_B + "\n");
  process.emit("SIGHUP", "SIGHUP");
  expect(lines[1]).toMatchObject({ level: "warn", fields: { changed: ["publish.auth_key_file (the key it holds)"] } });
  expect(JSON.stringify(lines)).not.toContain(KEY_B);
  expect(JSON.stringify(lines)).not.toContain(KEY_A);

  writeFileSync(keyPath, KEY_A); // back to the running key (hex without the newline: the same bytes)
  process.emit("SIGHUP", "SIGHUP");
  expect(lines[2]!.msg).toBe("configuration reload: the file is valid and the same as the running configuration");
});
