/**
 * A capture file that is gone (or unreadable) when its turn comes, e.g. deleted by the retention of a recorder
 * writing the same directory after `feeder replay` checked its arguments: it is reported under `truncated` and the
 * other files are replayed. Before, replayCaptures threw ENOENT (statSync of every file up front), so the replay
 * ended with a stack trace, no summary, and the books never marked HALTED.
 */
import { describe, expect, test } from "vitest";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";

describe("a capture file gone before its turn", { timeout: 20_000 }, () => {
  test("is named under truncated; the files around it are replayed", async () => {
    const dir = makeTempDir("feeder-review-gone-");
    const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(69)));
    mkdirSync(join(dir, "a"));
    const { file, frames } = writeXrpCapture(join(dir, "a"));
    const gone = join(dir, "gone.fcap");
    const feeder = new Feeder({ config, log: silentLogger, replay: true });
    await feeder.start();
    const result = await replayCaptures(feeder, [file, gone, file], { pace: "fast" });
    await feeder.stop();
    expect(result).toMatchObject({ frames: 2 * frames.length, ingested: 2 * frames.length, stoppedEarly: false });
    expect(result.truncated).toEqual([{ file: gone, why: "could not be read: ENOENT" }]);
  });
});
