/**
 * A configuration error found past the loader names the configuration file, as the loader's do: the publisher's
 * read of publish.auth_key_file, a key file rotated away between the load and that read (injected: the loader's own
 * read removes the file after it), and the start failure of `run` / `record` / `replay` (logged, exit 2). Before,
 * both said `invalid configuration:` / the error alone, naming the key but not the file that names it.
 */
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test, vi } from "vitest";
import { ConfigError, SymbolsUnusableError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";

/** A key file to remove right after its next read (the loader's): the publisher's read then finds it gone. */
const rotate = vi.hoisted(() => ({ path: undefined as string | undefined }));

vi.mock("../../src/core/auth-key.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/core/auth-key.ts")>();
  const readAuthKeyFile: typeof real.readAuthKeyFile = (path, what, opts) => {
    const key = real.readAuthKeyFile(path, what, opts);
    if (path === rotate.path) (unlinkSync(path), (rotate.path = undefined));
    return key;
  };
  return { ...real, readAuthKeyFile };
});

const { main } = await import("../../src/cli/main.ts");
const { startFailureFields } = await import("../../src/cli/command.ts");
const { PublishGuard } = await import("../../src/app/publish-guard.ts");
const { loadConfigFile } = await import("../../src/config/load.ts");

test("replay: a key file gone between the load and the publisher's read is an invalid configuration in the --config file (exit 2)", async () => {
  const dir = makeTempDir("feeder-config-error-file-");
  const config = writeXrpConfig(dir, uniqueDestination(57));
  const key = join(dir, "feed.key");
  writeFileSync(key, "ab".repeat(32));
  writeFileSync(config, readFileSync(config, "utf8").replace("[publish]\n", `[publish]\nauth_key_file = "${key}"\n`));
  const { file: capture } = writeXrpCapture(dir);
  rotate.path = key;
  const err: string[] = [];
  const code = await main(["replay", "--config", config, capture], { out: () => {}, err: (t) => err.push(t) });
  expect(rotate.path).toBeUndefined(); // the loader read it: the failure is the publisher's read
  expect(code).toBe(2);
  expect(err.join("\n")).toContain(`feeder replay: invalid configuration in ${config}:\n  publish.auth_key_file: cannot read key file`);
});

test("run: a key file gone between the load and the publish guard's read (start-up's first) exits 2, as the publisher's read does", async () => {
  // Until s-rd2a / s-smallleft the guard's read threw a plain Error: exit 1 (restarted for ever by the unit, no
  // config: FILE), where replay, whose publisher reads first, exited 2.
  const dir = makeTempDir("feeder-config-error-file-");
  const config = writeXrpConfig(dir, uniqueDestination(58));
  const key = join(dir, "feed.key");
  writeFileSync(key, "ab".repeat(32));
  writeFileSync(config, readFileSync(config, "utf8").replace("[publish]\n", `[publish]\nauth_key_file = "${key}"\n`));
  rotate.path = key;
  const code = await main(["run", "--config", config], { out: () => {}, err: () => {} });
  expect(rotate.path).toBeUndefined(); // the loader read it
  expect(code).toBe(2);
  // The guard alone: its failure is a configuration error (startFailureFields names the --config file for it).
  writeFileSync(key, "ab".repeat(32));
  const loaded = loadConfigFile(config);
  unlinkSync(key);
  expect(() => new PublishGuard(loaded, silentLogger)).toThrow(ConfigError);
});

test("a failed start's log fields name the --config file for exit 2 (the error's own file first), not for exit 1", () => {
  const fix = "the configuration must change: restarting cannot help";
  expect(startFailureFields(new ConfigError(["publish.auth_key_file: cannot read key file"]), "/etc/feeder.toml")).toEqual({
    error: "publish.auth_key_file: cannot read key file",
    exitCode: 2,
    config: "/etc/feeder.toml",
    fix,
  });
  expect(startFailureFields(new ConfigError(["x: bad"], "/other.toml"), "/etc/feeder.toml")).toMatchObject({ config: "/other.toml" });
  expect(startFailureFields(new SymbolsUnusableError("bybit linear: no symbol usable"), "/etc/feeder.toml")).toMatchObject({ exitCode: 2, config: "/etc/feeder.toml" });
  expect(startFailureFields(new Error("listen EADDRINUSE"), "/etc/feeder.toml")).toEqual({ error: "listen EADDRINUSE", exitCode: 1 });
  // A value with no string form (a venue start rejecting so: Feeder.start throws it as it is): named, not thrown.
  expect(startFailureFields(Object.create(null), "/etc/feeder.toml")).toEqual({ error: "a thrown [object Object] with no string form", exitCode: 1 });
});
