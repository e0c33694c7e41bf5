/**
 * src/wire (CRC-32 and CRC-32C, HMAC, decoder) runs under plain Node 20 as well as Bun: the subscriber imports it
 * (issue #10: no Bun.* API in src/wire). The entry is bundled for Node with Bun.build and run by `node`;
 * it must decode every golden vector exactly as the Bun run does. A source scan also refuses any `Bun.` call.
 * The compiled library (dist/lib of the package's `npm pack`, whose prepack runs `npm run build:lib`: the run's one
 * pack, test/package/packed-library.ts) runs under Node too, once as it is and once with node:zlib's `crc32` hidden
 * by module hooks (node-no-crc32/): the TypeScript CRC-32 a Node < 20.15 uses.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sharedPack } from "../package/packed-library.ts";

const VECTORS = new URL("./vectors.json", import.meta.url).pathname;
const WIRE_DIR = new URL("../../src/wire/", import.meta.url).pathname;

/**
 * The real Node binary and its version (from the same probe: no further `node -p` per check): under `bun --bun` the
 * first `node` on PATH is Bun's shim (a bun-node-* directory), which would prove nothing. undefined when the host
 * has no Node.
 */
function realNode(): { path: string; major: number; minor: number } | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "" || dir.includes("bun-node")) continue;
    const candidate = join(dir, "node");
    if (!existsSync(candidate)) continue;
    try {
      const v = execFileSync(candidate, ["-e", "process.stdout.write(typeof Bun === 'undefined' ? process.version : 'bun')"], { encoding: "utf8" });
      if (v.startsWith("v")) {
        const [major, minor] = v.slice(1).split(".").map(Number);
        return { path: candidate, major: major!, minor: minor! };
      }
    } catch {
      // not runnable: try the next one
    }
  }
  return undefined;
}
const FOUND = realNode();
const NODE = FOUND?.path;
/** node:zlib has crc32 from Node 20.15 / 22.2 on. */
const NODE_HAS_CRC32 = FOUND !== undefined && (FOUND.major > 22 || (FOUND.major === 22 && FOUND.minor >= 2) || (FOUND.major === 20 && FOUND.minor >= 15) || FOUND.major === 21);

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
    // The native path is the one exercised where node:zlib has crc32.
    expect(got.native).toBe(NODE_HAS_CRC32);
    const vectors = JSON.parse(readFileSync(VECTORS, "utf8")) as { name: string; expectError?: string; datagrams: string[] }[];
    const want = Object.fromEntries(vectors.map((v) => [v.name, v.datagrams.map(() => v.expectError ?? "ok").join(",")]));
    expect(got.results).toEqual(want);
  });

  // The compiled library (tsconfig.lib.json, what `npm run build:lib` ships for `engines.node >= 20`) on this Node,
  // and on a node:zlib without crc32 (Node 20.0–20.14, simulated by module hooks): the TypeScript CRC-32 then.
  it.runIf(NODE !== undefined)("the compiled library decodes every vector under Node with and without zlib.crc32", async () => {
    // The library as shipped, from the run's tarball (node-package.test.ts installs the same one): until s-suitecli this
    // file compiled it again with tsc (~6 CPU-s), beside the pack's own compile of the same tsconfig.lib.json.
    const unpacked = mkdtempSync(join(tmpdir(), "feeder-node-lib-"));
    execFileSync("tar", ["-xzf", await sharedPack(NODE!), "-C", unpacked]);
    const out = join(unpacked, "package", "dist", "lib");
    const entry = new URL("./node-no-crc32/lib-entry.mjs", import.meta.url).pathname;
    const hooks = new URL("./node-no-crc32/register.mjs", import.meta.url).pathname;
    const vectors = JSON.parse(readFileSync(VECTORS, "utf8")) as { name: string; expectError?: string; datagrams: string[] }[];
    // Without a key, the forgery (a valid CRC) decodes: only a keyed reader refuses it (node-entry.ts checks that).
    const want = Object.fromEntries(vectors.map((v) => [v.name, v.datagrams.map(() => (v.expectError === "bad_auth" ? "ok" : (v.expectError ?? "ok"))).join(",")]));
    for (const withoutCrc32 of [false, true]) {
      const args = withoutCrc32 ? ["--import", hooks, entry, out, VECTORS] : [entry, out, VECTORS];
      const got = JSON.parse(execFileSync(NODE!, args, { encoding: "utf8" }).trim()) as {
        native: boolean;
        check32: string;
        results: Record<string, string>;
        rejected: Record<string, number>;
        bookUsable: boolean | null;
      };
      expect(got.native, `without crc32: ${withoutCrc32}`).toBe(!withoutCrc32 && NODE_HAS_CRC32);
      expect(got.check32).toBe("cbf43926");
      expect(got.results).toEqual(want);
      expect(Object.values(got.rejected).every((n) => n === 0)).toBe(true);
      expect(got.bookUsable).toBe(true);
    }
  }, 420_000); // packs the library (or waits for node-package.test.ts's pack: up to 300 s), then two Node runs: timed out at 60 s under load ~35
});
