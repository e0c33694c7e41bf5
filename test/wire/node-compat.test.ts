/**
 * src/wire (CRC-32 and CRC-32C, HMAC, decoder) runs under plain Node 20 as well as Bun: the subscriber imports it
 * (issue #10: no Bun.* API in src/wire). The entry is bundled for Node with Bun.build and run by `node`;
 * it must decode every golden vector exactly as the Bun run does. A source scan also refuses any `Bun.` call.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const VECTORS = new URL("./vectors.json", import.meta.url).pathname;
const WIRE_DIR = new URL("../../src/wire/", import.meta.url).pathname;

/**
 * The real Node binary: under `bun --bun` the first `node` on PATH is Bun's shim (a bun-node-* directory), which
 * would prove nothing. undefined when the host has no Node.
 */
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

describe("src/wire under plain Node", () => {
  it("no source file in src/wire calls a Bun API", () => {
    for (const f of readdirSync(WIRE_DIR).filter((x) => x.endsWith(".ts"))) {
      const code = readFileSync(join(WIRE_DIR, f), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      expect(code, f).not.toMatch(/\bBun\s*\.|from\s+"bun(:[a-z]+)?"/);
    }
  });

  it.runIf(NODE !== undefined)("node decodes every vector (CRC, HMAC, rejects) exactly as expected", async () => {
    const out = mkdtempSync(join(tmpdir(), "feeder-node-compat-"));
    const built = await Bun.build({ entrypoints: [new URL("./node-entry.ts", import.meta.url).pathname], outdir: out, target: "node" });
    expect(built.success).toBe(true);
    const stdout = execFileSync(NODE!, [join(out, "node-entry.js"), VECTORS], { encoding: "utf8" });
    const got = JSON.parse(stdout.trim()) as { runtime: string; native: boolean; check: string; check32: string; tsAgrees: boolean; results: Record<string, string> };
    expect(got.runtime).toBe("node");
    expect(got.check).toBe("e3069283");
    expect(got.check32).toBe("cbf43926");
    expect(got.tsAgrees).toBe(true);
    // node:zlib has crc32 from Node 20.15 / 22.2 on: the native path is the one exercised there.
    const [major, minor] = execFileSync(NODE!, ["-p", "process.versions.node"], { encoding: "utf8" }).trim().split(".").map(Number);
    expect(got.native).toBe(major! > 22 || (major === 22 && minor! >= 2) || (major === 20 && minor! >= 15) || major === 21);
    const vectors = JSON.parse(readFileSync(VECTORS, "utf8")) as { name: string; expectError?: string; datagrams: string[] }[];
    const want = Object.fromEntries(vectors.map((v) => [v.name, v.datagrams.map(() => v.expectError ?? "ok").join(",")]));
    expect(got.results).toEqual(want);
  });
});
