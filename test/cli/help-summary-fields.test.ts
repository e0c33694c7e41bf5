import { describe, expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { emptyReplayResult } from "../../src/app/replay.ts";
import { exportCommand } from "../../src/cli/commands/export.ts";
import { replayCommand } from "../../src/cli/commands/replay.ts";
import { silentLogger } from "../../src/core/log.ts";

/** The fields a help text lists in braces after `lead`, sorted. */
function listedAfter(help: string, lead: string): string[] {
  const listed = new RegExp(`${lead} \\{([^}]*)\\}`).exec(help.replace(/\s+/g, " "))?.[1];
  expect(listed, `help has "${lead} {…}"`).toBeDefined();
  return listed!.split(",").map((s) => s.trim()).sort();
}

// The summaries' fields are named in --help by hand: a field added to the result (resynced, lostTotal, lostRecords
// came from separate branches) and left out of the help's list would go unsaid.
describe("--help names each field of the summary, and no other", () => {
  test("replay: the JSON summary on stdout (the result, and the CLI's datagrams and malformedRecords)", () => {
    expect(listedAfter(replayCommand.help, "summary goes to stdout:")).toEqual([...Object.keys(emptyReplayResult()), "datagrams", "malformedRecords"].sort());
  });

  test("export: the summary logged at the end", async () => {
    const result = await exportCaptures([], { write: () => undefined, flush: () => undefined }, { format: "jsonl", log: silentLogger });
    expect(listedAfter(exportCommand.help, "A summary")).toEqual(Object.keys(result).sort());
  });
});
