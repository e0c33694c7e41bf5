/**
 * Every file of this repository that README.md, docs/ or test/fixtures/README.md names exists: backticked paths
 * under src/, test/, bench/, scripts/, deploy/, config/, docs/ and .ci/ (a `:line` or `#anchor` after them ignored;
 * `{a,b}` names each; a `*` in the last segment must match a file), and relative markdown links. Paths of other
 * repositories that the venue docs cite as sources (tardis-node `src/realtimefeeds/…`, Bybit's `docs/v5/…`) do not
 * start with one of this repository's directories at their second level, so they are not taken for ours. (Section numbers cited in the docs: test/architecture/doc-refs.test.ts.)
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function markdownFiles(): string[] {
  const out = ["README.md", "test/fixtures/README.md"];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith(".md")) out.push(path);
    }
  };
  walk("docs");
  return out;
}

/** This repository's directories one level down, so `src/app/…` is ours and `src/realtimefeeds/…` is not. */
const OWN_TOP = ["src", "test", "bench", "scripts", "deploy", "config", "docs", ".ci"];
function isOwnPath(path: string): boolean {
  const [top, second] = path.split("/");
  if (!OWN_TOP.includes(top!) || second === undefined || second === "") return false;
  if (path.split("/").length === 2) return true; // a file directly in one of them
  return existsSync(join(ROOT, top!, second)); // src/app/x.ts: ours when src/app exists
}

/** `test/venues/{upbit,bithumb}/x.ts` → both paths (one brace group, as the docs write them). */
function expandBraces(path: string): string[] {
  const m = /\{([^{}]*)\}/.exec(path);
  if (!m) return [path];
  return m[1]!.split(",").map((alt) => path.slice(0, m.index) + alt + path.slice(m.index + m[0].length));
}

/** A `*` in the last segment (`test/app/replay-reconnect-*.test.ts`, `test/book/*`): at least one file matches. */
function globMatches(path: string): boolean {
  const dir = dirname(path);
  if (dir.includes("*") || !existsSync(join(ROOT, dir))) return false;
  const re = new RegExp(`^${path.slice(dir.length + 1).replace(/[.+?^$()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return readdirSync(join(ROOT, dir)).some((f) => re.test(f));
}

describe("paths and links in the docs exist", () => {
  test.each(markdownFiles().map((f) => [f]))("%s", (file) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    const missing: string[] = [];
    let checked = 0;
    for (const m of text.matchAll(/`([^`\s]+)`/g)) {
      const path = m[1]!.replace(/[.,;:]+$/, "").split(/[#:(]/)[0]!.replace(/\/$/, "");
      if (!/^\.?[a-z]+\//.test(path) || /[<…]/.test(path)) continue;
      const paths = expandBraces(path).filter(isOwnPath);
      checked += paths.length;
      for (const p of paths) if (!(p.includes("*") ? globMatches(p) : existsSync(join(ROOT, p)))) missing.push(`\`${m[1]}\``);
    }
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!.split("#")[0]!;
      if (target === "" || /^[a-z]+:/.test(target)) continue; // an anchor in this file, or http(s):, mailto:
      checked++;
      const path = relative(ROOT, resolve(ROOT, dirname(file), target));
      if (!existsSync(join(ROOT, path))) missing.push(`(${m[1]})`);
    }
    expect(missing, `${file} names files that do not exist`).toEqual([]);
    if (file === "README.md") expect(checked).toBeGreaterThan(20);
  });
});

// The reverse for folders: README § Layout says what each is, so one added without a word there fails here
// (until s-rddocs it named neither test/architecture, test/deploy, test/package, test/support, config/ nor .ci/).
test("README § Layout names every folder of src/ and test/ and every top-level one", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("## Layout");
  const end = readme.indexOf("\n## ", start + 3);
  const layout = readme.slice(start, end < 0 ? undefined : end);
  const dirs = (dir: string) => readdirSync(join(ROOT, dir)).filter((n) => statSync(join(ROOT, dir, n)).isDirectory());
  // Folders .gitignore names (node_modules/, dist/, var/: a run writes the default instrument caches under var/) are
  // no part of the repository: a test run that made one failed this in CI.
  const ignored = readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n").filter((l) => /^[\w.-]+\/$/.test(l.trim())).map((l) => l.trim().slice(0, -1));
  const tracked = (n: string) => ![...ignored, ".git"].includes(n) && (!n.startsWith(".") || n === ".ci");
  const folders = [...dirs(".").filter(tracked), ...dirs("src").map((n) => `src/${n}`), ...dirs("test").map((n) => `test/${n}`)];
  // test/<x> mirroring src/<x> is "test/ mirrors src/".
  const unnamed = folders.filter((f) => !(f.startsWith("test/") && existsSync(join(ROOT, "src", f.slice(5))))).filter((f) => !new RegExp(`\`${f.replace(".", "\\.")}[/\`]`).test(layout));
  expect(unnamed).toEqual([]);
});
