/**
 * One recorder per capture directory (src/record/dir-claim.ts): a claim held by a running process refuses the next,
 * naming DIR and the holder's PID; one whose holder is gone (a crash, a PID reused since, a reboot) is taken over and
 * said; release removes only the releaser's own claim. The capture listing does not count the claim file.
 */
import { expect, test } from "vitest";
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLAIM_FILE, DirClaim, DirClaimedError } from "../../src/record/dir-claim.ts";
import { listCaptures } from "../../src/record/retention.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** A PID no process has: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const p = Bun.spawn(["true"]);
  await p.exited;
  return p.pid;
}

test("a claim held by a running process refuses the next, naming DIR and its PID; released, DIR can be claimed again", () => {
  const dir = makeTempDir("feeder-claim-");
  const first = DirClaim.take(dir);
  expect(JSON.parse(readFileSync(join(dir, CLAIM_FILE), "utf8"))).toMatchObject({ pid: process.pid });
  let refused: unknown;
  try {
    DirClaim.take(dir);
  } catch (err) {
    refused = err;
  }
  expect(refused).toBeInstanceOf(DirClaimedError);
  expect((refused as Error).message).toContain(`directory ${JSON.stringify(dir)}`);
  expect((refused as Error).message).toContain(`pid ${process.pid}`);
  expect(listCaptures(dir, "feeder")).toEqual([]); // the claim is no capture
  first.release();
  expect(existsSync(join(dir, CLAIM_FILE))).toBe(false);
  DirClaim.take(dir).release();
});

test("a crashed recorder's claim (no such PID), a reused PID's (another start time), an earlier boot's, or garbage: taken over and said", async () => {
  const dir = makeTempDir("feeder-claim-");
  const path = join(dir, CLAIM_FILE);
  const mine = JSON.parse((() => {
    const c = DirClaim.take(dir);
    const text = readFileSync(path, "utf8");
    c.release();
    return text;
  })()) as { start?: string; boot?: string };
  const stale = [
    [JSON.stringify({ pid: await deadPid(), since: "2026-01-01T00:00:00.000Z" }), /^no process \d+$/],
    [JSON.stringify({ pid: process.pid, start: "1", boot: mine.boot }), /is another process now/],
    [JSON.stringify({ pid: process.pid, start: mine.start, boot: "another-boot" }), /before the host last booted/],
    ["", /unreadable/],
  ] as const;
  for (const [content, why] of stale) {
    writeFileSync(path, content);
    const heard: [string, string][] = [];
    const c = DirClaim.take(dir, (holder, w) => heard.push([holder, w]));
    expect(heard, content).toHaveLength(1);
    expect(heard[0]![1]).toMatch(why);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid });
    c.release();
  }
});

test("release leaves a claim that is not the releaser's; renew writes the claim back once DIR lost it (DIR made again)", () => {
  const dir = makeTempDir("feeder-claim-");
  const path = join(dir, CLAIM_FILE);
  const c = DirClaim.take(dir);
  const own = readFileSync(path, "utf8");
  unlinkSync(path); // DIR deleted and made again under the recorder
  c.renew();
  expect(readFileSync(path, "utf8")).toBe(own);
  writeFileSync(path, JSON.stringify({ pid: 1 })); // another's now
  c.release();
  expect(readFileSync(path, "utf8")).toBe(JSON.stringify({ pid: 1 }));
});
