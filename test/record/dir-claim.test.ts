/**
 * One recorder per capture directory (src/record/dir-claim.ts): a kernel lock (flock) on DIR/.feeder-record.lock
 * says who holds DIR. A held claim refuses the next, naming DIR and the holder's PID; a claim file whose lock is free
 * (its recorder killed or crashed) is taken over and said; release removes only the releaser's own claim. The capture
 * listing does not count the claim file. flock locks belong to an open file, so two claims in this one process are
 * two recorders to the kernel.
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

function refusal(dir: string): Error {
  try {
    DirClaim.take(dir).release();
  } catch (err) {
    expect(err).toBeInstanceOf(DirClaimedError);
    return err as Error;
  }
  throw new Error("the claim was not refused");
}

test("a claim held by a running process refuses the next, naming DIR and its PID; released, DIR can be claimed again", () => {
  const dir = makeTempDir("feeder-claim-");
  const first = DirClaim.take(dir);
  expect(JSON.parse(readFileSync(join(dir, CLAIM_FILE), "utf8"))).toMatchObject({ pid: process.pid });
  const refused = refusal(dir);
  expect(refused.message).toContain(`directory ${JSON.stringify(dir)}`);
  expect(refused.message).toContain(`pid ${process.pid}`);
  expect(listCaptures(dir, "feeder")).toEqual([]); // the claim is no capture
  first.release();
  expect(existsSync(join(dir, CLAIM_FILE))).toBe(false);
  DirClaim.take(dir).release();
});

test("a claim file whose lock is free (its recorder killed or crashed; whatever it holds) is taken over and said", async () => {
  const dir = makeTempDir("feeder-claim-");
  const path = join(dir, CLAIM_FILE);
  for (const content of [JSON.stringify({ pid: await deadPid(), since: "2026-01-01T00:00:00.000Z" }), JSON.stringify({ pid: process.pid }), "garbage"]) {
    writeFileSync(path, content);
    const heard: [string, string][] = [];
    const c = DirClaim.take(dir, (holder, why) => heard.push([holder, why]));
    expect(heard, content).toEqual([[content, "its recorder no longer runs (the file's lock was free)"]]);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid });
    c.release();
  }
});

test("a live holder whose PID means nothing here (another PID namespace: a container sharing DIR) is refused, not taken over", async () => {
  // Before, the claim was judged by its PID: one of another namespace (or any PID this process cannot see) read as
  // "no process", and the second recorder took DIR over from a running one.
  const dir = makeTempDir("feeder-claim-");
  const holder = DirClaim.take(dir);
  const foreign = JSON.stringify({ pid: await deadPid(), since: "2026-01-01T00:00:00.000Z" });
  writeFileSync(join(dir, CLAIM_FILE), foreign); // the same file, as the other namespace's recorder wrote it
  expect(refusal(dir).message).toContain(`(pid ${JSON.parse(foreign).pid}, since 2026-01-01T00:00:00.000Z;`);
  holder.release();
});

test("release leaves a claim that is not the releaser's; renew writes the claim back once DIR lost it (DIR made again)", () => {
  const dir = makeTempDir("feeder-claim-");
  const path = join(dir, CLAIM_FILE);
  const c = DirClaim.take(dir);
  const own = readFileSync(path, "utf8");
  unlinkSync(path); // DIR deleted and made again under the recorder
  expect(c.renew()).toEqual({ state: "renewed" });
  expect(readFileSync(path, "utf8")).toBe(own);
  refusal(dir); // and it holds DIR again
  unlinkSync(path);
  writeFileSync(path, JSON.stringify({ pid: 1 })); // another's now
  c.release();
  expect(readFileSync(path, "utf8")).toBe(JSON.stringify({ pid: 1 }));
});

test("the claim file deleted under the recorder (an operator's rm): check writes it again; claimed by another meanwhile: lost, naming it", () => {
  // Before, nothing looked: the recorder went on without a claim, and a second recorder started in DIR.
  const dir = makeTempDir("feeder-claim-");
  const path = join(dir, CLAIM_FILE);
  const c = DirClaim.take(dir);
  expect(c.check()).toEqual({ state: "held" });
  unlinkSync(path);
  expect(c.check()).toEqual({ state: "renewed" });
  expect(c.check()).toEqual({ state: "held" });
  refusal(dir);
  unlinkSync(path);
  const other = DirClaim.take(dir);
  const lost = c.check();
  expect(lost.state).toBe("lost");
  expect(JSON.parse((lost as { holder: string }).holder)).toMatchObject({ pid: process.pid });
  c.release();
  expect(existsSync(path)).toBe(true); // the other's, left alone
  other.release();
  expect(existsSync(path)).toBe(false);
});

test("a claim file that cannot be opened or locked (here: DIR gone): the start fails naming DIR, the file and why, not as claimed", () => {
  const dir = join(makeTempDir("feeder-claim-"), "gone");
  const path = join(dir, CLAIM_FILE);
  let failed: unknown;
  try {
    DirClaim.take(dir).release();
  } catch (err) {
    failed = err;
  }
  expect(failed).not.toBeInstanceOf(DirClaimedError);
  expect((failed as Error).message).toBe(`--out: cannot claim directory ${JSON.stringify(dir)} (${path}): ENOENT: no such file or directory, open '${path}'`);
});
