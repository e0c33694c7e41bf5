import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { emptyReplayResult } from "../../src/app/replay.ts";
import { exportCommand } from "../../src/cli/commands/export.ts";
import { replayCommand } from "../../src/cli/commands/replay.ts";
import { silentLogger } from "../../src/core/log.ts";

/** The fields a text lists in braces after `lead` (whitespace and backquotes aside), sorted. */
function listedAfter(text: string, lead: string): string[] {
  const listed = new RegExp(`${lead} \\{([^}]*)\\}`).exec(text.replace(/`/g, "").replace(/\s+/g, " "))?.[1];
  expect(listed, `"${lead} {…}" found`).toBeDefined();
  return listed!.split(",").map((s) => s.trim()).sort();
}

const operations = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");

// The summaries' fields are named in --help and docs/operations.md by hand: a field added to the result (resynced,
// lostTotal, lostRecords came from separate branches) and left out of a list went unsaid (operations.md lacked all three).
describe("--help and docs/operations.md name each field of the summary, and no other", () => {
  test("replay: the JSON summary on stdout (the result, and the CLI's datagrams and malformedRecords)", () => {
    const keys = [...Object.keys(emptyReplayResult()), "datagrams", "malformedRecords"].sort();
    expect(listedAfter(replayCommand.help, "summary goes to stdout:")).toEqual(keys);
    expect(listedAfter(operations, "stdout gets one JSON object at the end:")).toEqual(keys);
  });

  test("export: the summary logged at the end", async () => {
    const keys = Object.keys(await exportCaptures([], { write: () => undefined, flush: () => undefined }, { format: "jsonl", log: silentLogger })).sort();
    expect(listedAfter(exportCommand.help, "A summary")).toEqual(keys);
    expect(listedAfter(operations, "with a summary")).toEqual(keys);
  });
});
