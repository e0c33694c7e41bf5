/**
 * Every TOML example in README.md and docs/ (a ```toml block) is a configuration the loader accepts: keys, values,
 * a market table with its symbols. Fragments are checked as they stand (`requireVenue: false`); the interfaces they
 * name are taken as this host's, since an example's addresses are not this machine's. An example that is a whole
 * file (it has a venue market table) is also loaded as `feeder check-config` and `run` load it (a venue required,
 * the shard's share, source ids, the request servers' ports), and what check-config prints for it loads back the
 * same. config/feeder.example.toml is loaded by test/config/load.test.ts, deploy/ and config/ files by
 * test/config/examples.test.ts.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { formatConfigToml } from "../../src/config/format.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { ConfigError } from "../../src/core/errors.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** This host's addresses for an example: loopback and every address it names as an interface. */
function interfacesOf(body: string): { name: string; address: string }[] {
  return [{ name: "lo", address: "127.0.0.1" }, ...[...body.matchAll(/interface\s*=\s*"([^"]+)"/g)].map((m) => ({ name: "example", address: m[1]! }))];
}

function blocks(): [string, number, string][] {
  const files = ["README.md"];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith(".md")) files.push(path);
    }
  };
  walk("docs");
  const out: [string, number, string][] = [];
  for (const file of files) {
    let n = 0;
    for (const m of readFileSync(join(ROOT, file), "utf8").matchAll(/```toml\n([\s\S]*?)```/g)) out.push([file, ++n, m[1]!]);
  }
  return out;
}

describe("TOML examples in the docs are valid configurations", () => {
  const all = blocks();
  test("there are examples", () => expect(all.length).toBeGreaterThan(5));
  test.each(all)("%s, example %i", (file, n, body) => {
    const interfaces = interfacesOf(body);
    let problems: readonly string[] = [];
    try {
      parseConfigText(body, `${file} example ${n}`, { requireVenue: false, localAddresses: interfaces });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([]);
  });
});

describe("TOML examples that are whole files load as check-config loads them", () => {
  const whole = blocks().filter(([, , body]) => /^\[venues\.[a-z]+\.[a-z]+\]/m.test(body));
  test("there are some", () => expect(whole.length).toBeGreaterThan(3));
  test.each(whole)("%s, example %i", (file, n, body) => {
    const opts = { localAddresses: interfacesOf(body) };
    let problems: readonly string[] = [];
    try {
      const config = parseConfigText(body, `${file} example ${n}`, opts);
      expect(parseConfigText(formatConfigToml(config), `${file} example ${n} (printed)`, opts)).toEqual(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([]);
  });
});
