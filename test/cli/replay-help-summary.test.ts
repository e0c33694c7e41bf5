import { describe, expect, test } from "vitest";
import { emptyReplayResult } from "../../src/app/replay.ts";
import { replayCommand } from "../../src/cli/commands/replay.ts";

// The summary's fields are named in --help by hand: a field added to ReplayResult (resynced, lostTotal, lostRecords
// came from separate branches) and left out of the help's list would go unsaid. The CLI adds datagrams and malformedRecords.
describe("feeder replay --help", () => {
  test("names each field of the JSON summary, and no other", () => {
    const help = replayCommand.help.replace(/\s+/g, " ");
    const listed = /summary goes to stdout: \{([^}]*)\}/.exec(help)?.[1];
    expect(listed).toBeDefined();
    const named = listed!.split(",").map((s) => s.trim());
    expect(named.slice().sort()).toEqual([...Object.keys(emptyReplayResult()), "datagrams", "malformedRecords"].sort());
  });
});
