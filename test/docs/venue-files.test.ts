/**
 * Every source file of a venue is named in its doc (docs/venues/<venue>.md), and every file of the common venue
 * layer in docs/add-venue.md or docs/architecture.md, so a file added or renamed without its doc fails here (the
 * doc-paths test catches the reverse: a doc naming a path that is gone). A module's index.ts is exempt.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { supportedVenues } from "../../src/venues/registry.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");
const filesOf = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith(".ts") && f !== "index.ts");

describe("source files are named in their docs", () => {
  test.each(supportedVenues().map((v) => [v]))("src/venues/%s/ in docs/venues/<venue>.md", (venue) => {
    const doc = read(`docs/venues/${venue}.md`);
    expect(filesOf(`src/venues/${venue}`).filter((f) => !doc.includes(f))).toEqual([]);
  });

  test("src/venues/common/ in docs/add-venue.md or docs/architecture.md", () => {
    const docs = read("docs/add-venue.md") + read("docs/architecture.md");
    expect(filesOf("src/venues/common").filter((f) => !docs.includes(f))).toEqual([]);
  });
});
