/**
 * A capture written in a later format (header "FDRCAP03") given to this version's `export` and `replay`: refused
 * before anything starts (exit 2) with a message saying it is a capture of a format this version does not read.
 * Before, it was "not a feeder capture file", which sends an operator looking for a corrupt or foreign file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

test("export and replay name a later capture format as such, exit 2", async () => {
  const dir = makeTempDir("feeder-capture-newer-");
  const file = join(dir, "feeder-20270101T000000Z-0.fcap");
  writeFileSync(file, Buffer.concat([Buffer.from("FDRCAP03"), Buffer.alloc(24, 1)]));
  const said = `capture file ${file}: a capture in format FDRCAP03, which this feeder version does not read (it reads FDRCAP01 and FDRCAP02)`;
  const e = await run(["export", file]);
  expect(e.code).toBe(2);
  expect(e.err[0]).toContain(`feeder export: ${said}`);
  const r = await run(["replay", "--config", join(dir, "unread.toml"), file]);
  expect(r.code).toBe(2);
  expect(r.err[0]).toContain(`feeder replay: ${said}`);
  // A file of another program is still named as one.
  const other = join(dir, "other.fcap");
  writeFileSync(other, "PK\x03\x04 a zip file, not a capture");
  expect((await run(["export", other])).err[0]).toContain(`${other}: not a feeder capture file`);
});
