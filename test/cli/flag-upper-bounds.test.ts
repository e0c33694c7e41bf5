/**
 * Upper bounds of three size and step flags, each refused beyond (exit 2) naming the flag, the bound and the value,
 * and the bound said in --help. Until 2026-12-07 any number was taken: `listen --max-unread-kib 1e12` held output
 * without a memory bound in practice, `record --max-file-mb 1e12` never rotated by size, and `export --every-ms 1e20`
 * put its grid beyond exact integers of µs (its first point past every record: no row at all, exit 0).
 */
import { expect, test } from "vitest";
import { runMain as run } from "./run-main.ts";
import { recordSettings } from "../../src/cli/commands/record.ts";
import { uniqueDestination } from "../support/destination.ts";

test.each([
  [["listen", "--max-unread-kib", "1048577", "--duration", "0.05"], '--max-unread-kib must be at most 1048576 (1 GiB), got "1048577"'],
  [["listen", "--max-unread-kib", "1000000000000", "--duration", "0.05"], '--max-unread-kib must be at most 1048576 (1 GiB), got "1000000000000"'],
  [["record", "-c", "no-such.toml", "-o", "d", "--max-file-mb", "65536.5"], '--max-file-mb must be at most 65536 (64 GiB), got "65536.5"'],
  [["record", "-c", "no-such.toml", "-o", "d", "--max-file-mb", "1e12"], '--max-file-mb must be at most 65536 (64 GiB), got "1e12"'],
  [["export", "--books", "-c", "no-such.toml", "--every-ms", "604800001", "x.fcap"], '--every-ms must be at most 604800000 (7 days), got "604800001"'],
  [["export", "--books", "-c", "no-such.toml", "--every-ms", "1e20", "x.fcap"], '--every-ms must be at most 604800000 (7 days), got "1e20"'],
])("%j: exit 2, naming the flag, its bound and the value", async (argv, message) => {
  const name = argv[0]!;
  expect(await run(...argv)).toEqual({ code: 2, out: [], err: [`feeder ${name}: ${message} (see feeder ${name} --help)`] });
});

test("each bound itself is taken", async () => {
  const { port } = uniqueDestination(11);
  expect(await run("listen", "--bind", `127.0.0.1:${port}`, "--max-unread-kib", "1048576", "--duration", "0.05", "-f", "ndjson")).toEqual({ code: 0, out: [], err: [] });
  expect(recordSettings({ config: "a.toml", out: "d", "max-file-mb": "65536" }).maxMb).toBe(65536);
  // export reaches its capture files' check: past every flag's.
  const r = await run("export", "--books", "-c", "no-such.toml", "--every-ms", "604800000", "no-such.fcap");
  expect(r.err.join("\n")).not.toContain("--every-ms");
});

test("--help says each bound", async () => {
  expect((await run("listen", "--help")).out.join("\n").replace(/\s+/g, " ")).toContain("--max-unread-kib N output its reader has not taken yet held at most (default 16384, 16 MiB; at most 1048576, 1 GiB)");
  expect((await run("record", "--help")).out.join("\n").replace(/\s+/g, " ")).toContain("rotate at this size on disk (default 256, at least 1, at most 65536");
  expect((await run("export", "--help")).out.join("\n").replace(/\s+/g, " ")).toContain("(whole microseconds: 0.001 at least, 604800000 = 7 days at most)");
});
