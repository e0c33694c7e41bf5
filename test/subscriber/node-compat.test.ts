/**
 * The subscriber library runs under plain Node 20 as well as Bun (issue #10; another engineer packages it for
 * Node): no Bun API in src/subscriber or anything it imports, and node-entry.ts, bundled for Node with Bun.build
 * and run by the real `node`, receives a snapshot over a real multicast socket and repairs a book from a refresh; a
 * keyed subscriber there verifies by createHmac (no Bun on globalThis), taking a signed snapshot and refusing a forgery.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { uniqueDestination } from "../support/destination.ts";

const ENTRY = new URL("../../src/subscriber/index.ts", import.meta.url).pathname;

/** The real Node binary (under `bun --bun` the first `node` on PATH is Bun's shim); undefined when there is none. */
function realNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "" || dir.includes("bun-node")) continue;
    const candidate = join(dir, "node");
    if (!existsSync(candidate)) continue;
    try {
      const v = execFileSync(candidate, ["-e", "process.stdout.write(typeof Bun === 'undefined' ? process.version : 'bun')"], { encoding: "utf8" });
      if (v.startsWith("v")) return candidate;
    } catch {
      // not runnable: try the next one
    }
  }
  return undefined;
}
const NODE = realNode();

/** Every project file src/subscriber/index.ts imports, transitively. */
function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(f, "utf8");
    for (const m of src.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms)) stack.push(normalize(join(dirname(f), m[1]!)));
  }
  return [...seen];
}

describe("the subscriber under plain Node", () => {
  it("nothing the subscriber imports calls a Bun API", () => {
    const files = importClosure(ENTRY);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const code = readFileSync(f, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      expect(code, f).not.toMatch(/\bBun\s*\.|from\s+"bun(:[a-z]+)?"/);
    }
  });

  it.runIf(NODE !== undefined)("node receives a snapshot over multicast, drops a corrupted datagram and repairs from a refresh", async () => {
    const out = mkdtempSync(join(tmpdir(), "feeder-sub-node-"));
    const built = await Bun.build({ entrypoints: [new URL("./node-entry.ts", import.meta.url).pathname], outdir: out, target: "node" });
    expect(built.success).toBe(true);
    const port = uniqueDestination(473).port; // below the ephemeral ports (test/support/destination.ts)
    const stdout = execFileSync(NODE!, [join(out, "node-entry.js"), String(port)], { encoding: "utf8", timeout: 20_000 });
    expect(JSON.parse(stdout.trim())).toEqual({
      runtime: "node",
      usableOverSocket: true,
      usable: true,
      levels: [100, 9, 99, 8, 101, 6],
      repairs: 1,
      badChecksum: 1,
      runtimeHasher: false, // Node: createHmac
      keyedUsable: true,
      keyedBadAuth: 1,
    });
  });
});
