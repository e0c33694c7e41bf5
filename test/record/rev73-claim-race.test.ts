/**
 * Recorders started at the same instant on a claim left by a killed one: exactly one claims DIR. Before, each judged
 * the stale file by its PID and unlinked what it had judged, by then (the inode number reused) another starter's new
 * claim, so two or three of them recorded into DIR (11 of 30 rounds of three starters on this machine). The claim is
 * a kernel lock now (src/record/dir-claim.ts). Each round's starters wait on one file, then take DIR and hold it
 * until every one has answered.
 */
import { expect, test } from "vitest";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CLAIM_FILE } from "../../src/record/dir-claim.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const STARTERS = 4;
const ROUNDS = 2;
const CLAIM_MODULE = resolve(import.meta.dirname, "../../src/record/dir-claim.ts");

const STARTER = `
import { existsSync } from "node:fs";
import { DirClaim } from ${JSON.stringify(CLAIM_MODULE)};
const [dir, go, done] = process.argv.slice(2);
console.log("ready");
while (!existsSync(go)) {}
let claim;
try { claim = DirClaim.take(dir); console.log("won"); } catch (err) { console.log(err.constructor.name); }
while (!existsSync(done)) await Bun.sleep(5);
claim?.release();
`;

test("starters racing on a stale claim: exactly one claims DIR, the others are refused", { timeout: 30_000 }, async () => {
  const root = makeTempDir("feeder-claim-race-");
  const script = join(root, "starter.ts");
  writeFileSync(script, STARTER);
  for (let round = 0; round < ROUNDS; round++) {
    const dir = join(root, `d${round}`);
    const [go, done] = [join(root, `go${round}`), join(root, `done${round}`)];
    await Bun.write(join(dir, CLAIM_FILE), JSON.stringify({ pid: 2 ** 22 + 1, since: "2026-01-01T00:00:00.000Z" })); // no such PID (above pid_max)
    const kids = Array.from({ length: STARTERS }, () => Bun.spawn([process.execPath, script, dir, go, done], { stdout: "pipe", stderr: "inherit" }));
    const lines = kids.map((k) => lineReader(k.stdout));
    await Promise.all(lines.map((next) => next()));
    writeFileSync(go, "");
    const answers = await Promise.all(lines.map((next) => next()));
    writeFileSync(done, "");
    await Promise.all(kids.map((k) => k.exited));
    expect(answers.filter((a) => a === "won"), `round ${round}: ${answers.join(", ")}`).toHaveLength(1);
    expect(answers.filter((a) => a === "DirClaimedError")).toHaveLength(STARTERS - 1);
    expect(existsSync(join(dir, CLAIM_FILE))).toBe(false); // released by the winner
  }
});

/** Successive lines of a child's stdout. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  return async () => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return buf;
      buf += decoder.decode(value, { stream: true });
    }
  };
}
