/**
 * Every "(docs/)performance.md §N", "(docs/)wire-protocol.md §N.M" and "runtime-costs.md §N" cited in src/, bench/,
 * test/, docs/ and the README names a numbered section that exists there: a figure or a rule cited from a section
 * nobody wrote cannot be checked.
 * Inside those two docs, a bare §N.M is one of their own sections (an item of a section is "§6.5 item 3").
 * (The venue docs number their protocol facts differently and are not checked here.)
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const CHECKED = ["docs/performance.md", "docs/wire-protocol.md"];
/** Cited by number too (README: "cited as runtime-costs.md §N"). */
const CITED = [...CHECKED, "docs/runtime-costs.md"];

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "fixtures" || name.startsWith(".")) continue;
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (/\.(ts|md)$/.test(name)) yield path;
  }
}

/** Section numbers of a doc's numbered headings ("## 3. …", "### 3.2 …"). */
function sectionsOf(doc: string): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync(join(ROOT, doc), "utf8").split("\n")) {
    const m = /^#{2,4} ([0-9]+(?:\.[0-9]+)*)\.? /.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}

describe("section references between docs and code", () => {
  it("every cited section of docs/performance.md, docs/wire-protocol.md and docs/runtime-costs.md exists", () => {
    const sections = new Map(CITED.map((d) => [d, sectionsOf(d)]));
    const missing: string[] = [];
    let refs = 0;
    const files = [...["src", "bench", "test", "docs"].flatMap((d) => [...sources(join(ROOT, d))]), join(ROOT, "README.md")];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?<![\w-])((?:docs\/)?(?:performance|wire-protocol|runtime-costs)\.md)[ ,]*\(?§ ?([0-9]+(?:\.[0-9]+)*)/g)) {
        refs++;
        const doc = m[1]!.startsWith("docs/") ? m[1]! : `docs/${m[1]}`;
        if (!sections.get(doc)!.has(m[2]!)) missing.push(`${file.slice(ROOT.length + 1)}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
    expect(refs).toBeGreaterThan(20);
  });

  it("every bare §N.M inside docs/wire-protocol.md and docs/performance.md is a section of that doc", () => {
    const missing: string[] = [];
    let refs = 0;
    for (const doc of CHECKED) {
      const own = sectionsOf(doc);
      const text = readFileSync(join(ROOT, doc), "utf8").replace(/\s+/g, " ");
      // Not one citing another document ("RFC 9110 §15", "runtime-costs.md §5"): a bare § after a word that is no name.
      for (const m of text.matchAll(/(\S*)[ ,(]*§ ?([0-9]+(?:\.[0-9]+)*)/g)) {
        if (/\.md|RFC|[A-Z]{2,}/.test(m[1]!)) continue;
        refs++;
        if (!own.has(m[2]!)) missing.push(`${doc}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
    expect(refs).toBeGreaterThan(50);
  });
});
