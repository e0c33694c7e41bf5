/**
 * `publish.source_id` and `publish.startup_listen_ms` (docs/operations.md, "Start-up checks" and "Another
 * publisher on our streams"): defaults, ranges, the workers rule, and the shipped example.
 */
import { describe, expect, test } from "vitest";
import { resolve } from "node:path";
import { loadConfigFile, parseConfigText } from "../../src/config/load.ts";

/** These cases are about [publish] alone; a run config also needs a venue (tested in test/cli/config-refusals.test.ts). */
const PUBLISH_ONLY = { requireVenue: false };
import { ownSourceIds } from "../../src/app/publish-guard.ts";
import { refusedProblems } from "../support/config-problems.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../config/feeder.example.toml");

function problemsOf(toml: string): string[] {
  return refusedProblems(toml, PUBLISH_ONLY);
}

describe("publish.source_id and publish.startup_listen_ms", () => {
  test("defaults: source 0; the startup window is 1.5 heartbeat intervals", () => {
    expect(parseConfigText("", "test.toml", PUBLISH_ONLY).publish).toMatchObject({ sourceId: 0, startupListenMs: 1500 });
    expect(parseConfigText("[publish]\nheartbeat_interval_ms = 200\n", "test.toml", PUBLISH_ONLY).publish.startupListenMs).toBe(300);
    expect(parseConfigText("[publish]\nheartbeat_interval_ms = 15\n", "test.toml", PUBLISH_ONLY).publish.startupListenMs).toBe(23); // rounded up
  });

  test("explicit values, 0 disabling the window", () => {
    const p = parseConfigText("[publish]\nsource_id = 65535\nstartup_listen_ms = 0\n", "test.toml", PUBLISH_ONLY).publish;
    expect(p).toMatchObject({ sourceId: 65535, startupListenMs: 0 });
  });

  test("out-of-range values are named", () => {
    expect(problemsOf("[publish]\nsource_id = 65536\nstartup_listen_ms = -1\n")).toEqual([
      "publish.source_id: 65536 is not an integer 0–65535",
      "publish.startup_listen_ms: -1 is not an integer 0–90000",
    ]);
    expect(problemsOf('[publish]\nsource_id = "3"\n')).toEqual(['publish.source_id: "3" is not an integer 0–65535']);
  });

  test("workers publish as source_id + index + 1, which must fit a u16", () => {
    expect(ownSourceIds(parseConfigText("[publish]\nsource_id = 7\n", "test.toml", PUBLISH_ONLY))).toEqual([7]);
    expect(ownSourceIds(parseConfigText("workers = 3\n[publish]\nsource_id = 7\n", "test.toml", PUBLISH_ONLY))).toEqual([8, 9, 10]);
    expect(ownSourceIds(parseConfigText("workers = 3\n", "test.toml", PUBLISH_ONLY))).toEqual([1, 2, 3]); // as before the key existed
    expect(ownSourceIds(parseConfigText("workers = 4\n[publish]\nsource_id = 65531\n", "test.toml", PUBLISH_ONLY))).toEqual([65532, 65533, 65534, 65535]);
    expect(problemsOf("workers = 4\n[publish]\nsource_id = 65532\n")).toEqual([
      "publish.source_id: 65532 is not at most 65531 with workers = 4 (worker i publishes as source_id + i + 1, a u16)",
    ]);
  });

  test("the shipped example sets both keys to their defaults", () => {
    expect(loadConfigFile(EXAMPLE).publish).toMatchObject({ sourceId: 0, startupListenMs: 1500 });
  });
});
