/**
 * Every configuration file shipped in the repository (config/ and deploy/, any depth, `*.toml`) loads as
 * `feeder check-config` loads it, and what check-config prints for it loads back to the same configuration: an
 * example added later is checked without anyone listing it here. (TOML blocks in the docs: test/docs/doc-toml.)
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { formatConfigToml } from "../../src/config/format.ts";
import { loadConfigFile, parseConfigText } from "../../src/config/load.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const LOCAL = [{ name: "lo", address: "127.0.0.1" }];

function tomlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tomlFiles(path) : name.endsWith(".toml") ? [relative(ROOT, path)] : [];
  });
}

describe("shipped configuration files", () => {
  const files = [...tomlFiles(join(ROOT, "config")), ...tomlFiles(join(ROOT, "deploy"))];
  test("there are some", () => expect(files).toEqual(expect.arrayContaining(["config/feeder.example.toml", "deploy/systemd/record.example.toml"])));
  test("config/feeder.example.toml with heartbeat_interval_ms raised still loads: its startup_listen_ms follows it (it pinned 1500: exit 2)", () => {
    const text = readFileSync(join(ROOT, "config/feeder.example.toml"), "utf8");
    const changed = text.replace(/^heartbeat_interval_ms = 1000\b/m, "heartbeat_interval_ms = 2000");
    expect(changed).not.toBe(text);
    expect(parseConfigText(changed, "changed example", { localAddresses: LOCAL }).publish.startupListenMs).toBe(3000);
  });

  test.each(files)("%s is valid and round-trips through check-config's output", (file) => {
    const config = loadConfigFile(join(ROOT, file), { localAddresses: LOCAL });
    expect(parseConfigText(formatConfigToml(config), `${file} (printed)`, { localAddresses: LOCAL })).toEqual(config);
  });
});
