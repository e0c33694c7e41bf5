/**
 * What the loader names as wrong in a config text: the problems of its ConfigError. Written out the same in a dozen
 * test/config files before.
 * @module
 */
import { expect } from "vitest";
import { parseConfigText } from "../../src/config/load.ts";
import type { ValidateOptions } from "../../src/config/load.ts";
import { ConfigError } from "../../src/core/errors.ts";

/** This host's addresses as the config tests give them: destinations and listen addresses on loopback only. */
export const LOOPBACK_ONLY = [{ name: "lo", address: "127.0.0.1" }];

/** The problems named for `toml`, [] when it loads; anything thrown but a ConfigError fails the test. */
export function configProblems(toml: string, opts: ValidateOptions = { localAddresses: LOOPBACK_ONLY }): string[] {
  try {
    parseConfigText(toml, "test.toml", opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  return [];
}

/** The problems named for a `toml` that must be refused: one that loads fails the test. */
export function refusedProblems(toml: string, opts: ValidateOptions = {}): string[] {
  const problems = configProblems(toml, opts);
  if (problems.length === 0) throw new Error("expected a ConfigError");
  return problems;
}
