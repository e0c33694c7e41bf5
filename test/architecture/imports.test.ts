import { describe, expect, test } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { VENUE_IDS } from "../../src/core/types.ts";

// Dependencies point one way (docs/architecture.md): core ← book, wire, net, venues ← app ← cli.
const SRC = resolve(import.meta.dirname, "../../src");
// Exactly the edges in use: docs/architecture.md § Layers gives this table as the dependency graph, so an edge
// allowed but unused (wire → config, bridge → config, app → wire/subscriber/sim, cli → book until s-rddocs) is a
// claim the doc made of code that did not do it. An import added across layers fails below; one removed, here too.
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  book: ["core"],
  wire: ["core"],
  net: ["core", "config", "wire"],
  venues: ["core", "config"],
  record: ["core"],
  config: ["core", "venues"],
  sim: ["core", "venues", "record"],
  subscriber: ["core", "wire", "book"],
  bridge: ["core", "wire", "net", "subscriber"],
  app: ["core", "config", "book", "net", "venues", "record"],
  cli: ["core", "config", "wire", "net", "venues", "record", "sim", "subscriber", "app", "bridge"],
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function layerOf(file: string): string {
  return relative(SRC, file).split("/")[0]!;
}

/**
 * The modules a source text imports: `import … from` (also `import type`), `export … from`, a bare `import "x"` and a
 * dynamic `import("x")`. Until s-rd15c only the first two: `await import("../venues/binance/…")` passed every rule.
 */
function importsOf(text: string): string[] {
  const re = /(?:import|export)[^"']*?from\s+["']([^"']+)["']|\bimport\s*["']([^"']+)["']|\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g;
  return [...text.matchAll(re)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

const VENUE_NAMES = Object.keys(VENUE_IDS).join("|");

/**
 * A venue's name in transpiled code (comments gone): a string literal that is one (`venue === "okx"`), or an object
 * key that is one (a per-venue table, `{ bybit: …, okx: … }`, as app/export.ts's raw topics were until b3da404a).
 * Until s-rd15c only the literal: such a table passed.
 */
function venueNamesIn(code: string): string[] {
  // Keys as VenueName spells them (lower case): "Bybit, OKX: …" in a message is no table.
  const literal = new RegExp(`(["'\`])(?:${VENUE_NAMES})\\1`, "gi");
  const key = new RegExp(`[{,]\\s*(?:${VENUE_NAMES})\\s*:`, "g");
  return [...code.matchAll(literal), ...code.matchAll(key)].sort((a, b) => a.index! - b.index!).map((m) => m[0].replace(/^[{,]\s*/, ""));
}

describe("layering", () => {
  const files = filesUnder(SRC).filter((f) => layerOf(f) !== "index.ts");
  test("every source file sits in a known layer", () => {
    for (const f of files) expect(Object.keys(ALLOWED), relative(SRC, f)).toContain(layerOf(f));
  });

  /** Every import of one layer's file from another layer's: [from file, target file], both relative to src/. */
  const crossings = files.flatMap((file) =>
    importsOf(readFileSync(file, "utf8"))
      .filter((spec) => spec.startsWith("."))
      .map((spec) => resolve(dirname(file), spec))
      .filter((target) => target.startsWith(SRC) && layerOf(target) !== layerOf(file)) // not package.json (the version)
      .map((target) => [relative(SRC, file), relative(SRC, target)] as const),
  );
  const layer = (path: string) => path.split("/")[0]!;

  test("imports only point to allowed layers", () => {
    const violations = crossings.filter(([from, to]) => !ALLOWED[layer(from)]!.includes(layer(to))).map(([f, t]) => `${f} → ${t}`);
    expect(violations).toEqual([]);
  });

  test("every allowed edge is one some file uses (else drop it here and in docs/architecture.md § Layers)", () => {
    const used = new Set(crossings.map(([from, to]) => `${layer(from)} → ${layer(to)}`));
    const unused = Object.entries(ALLOWED).flatMap(([from, tos]) => tos.map((to) => `${from} → ${to}`)).filter((e) => !used.has(e));
    expect(unused).toEqual([]);
  });

  // The doc says so: the layers below config read its option shapes, nothing else of it (not the loader).
  test("book, wire, net and venues take from config/ only types.ts", () => {
    const beyond = crossings.filter(([from, to]) => ["book", "wire", "net", "venues"].includes(layer(from)) && layer(to) === "config" && to !== "config/types.ts");
    expect(beyond.map(([f, t]) => `${f} → ${t}`)).toEqual([]);
  });

  test("docs/architecture.md § Layers gives each layer's imports as this table has them", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/architecture.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Layers"), doc.indexOf("\n## ", doc.indexOf("## Layers") + 3));
    const rows = Object.fromEntries(
      // A row's first two cells, however padded (a formatter's alignment is no drift).
      [...section.matchAll(/^\|\s*`([a-z]+)`\s*\|([^|\n]*)\|/gm)].map((m) => [m[1]!, [...m[2]!.matchAll(/`([a-z]+)`/g)].map((x) => x[1]!)]),
    );
    expect(rows).toEqual(ALLOWED);
  });

  // A new venue edits nothing in app/ or config/ (docs/add-venue.md): they reach a venue through its descriptor
  // (registry.ts), never its own folder. Until s-cfgfold config/format.ts imported Binance's and Coinbase's files to
  // print their check-config lines (now VenueSpec.describeConfig, MarketSpec.defaultSymbolsPerConnection).
  // cli/ too (it sits above app/: a venue's file imported there is the same edit outside the venue's folder); its
  // `feeder sim --venue` names each venue's simulator, from sim/, not venues/ (docs/add-venue.md, Simulator).
  test("app/, config/ and cli/ import from venues/ only registry.ts, venue.ts and common/", () => {
    const VENUES = join(SRC, "venues");
    const violations: string[] = [];
    for (const file of files.filter((f) => ["app", "config", "cli"].includes(layerOf(f)))) {
      for (const spec of importsOf(readFileSync(file, "utf8"))) {
        const target = relative(VENUES, resolve(dirname(file), spec));
        if (target.startsWith("..") || target === "registry.ts" || target === "venue.ts" || target.startsWith("common/")) continue;
        violations.push(`${relative(SRC, file)} → venues/${target}`);
      }
    }
    expect(violations).toEqual([]);
  });
});

// Nor by name: until s-loadfold config/load.ts took instrument_reload_ms and rest_bridge_buffer_bytes where the venue
// was "okx" or "binance", symbols_per_connection where it was "coinbase" (now VenueSpec.venueKeys,
// MarketSpec.defaultSymbolsPerConnection). Comments are stripped by Bun's transpiler, so a comment naming a venue, or
// a message naming one as an example (`[venues.bybit.linear]`), is no hit: a literal that is a venue's name is, and so
// is an object key (a per-venue table: app/export.ts's raw topics until b3da404a, which the literal rule let pass).
describe("no venue name", () => {
  test("no string literal or object key in config/ or app/ is a venue's name", () => {
    const transpiler = new Bun.Transpiler({ loader: "ts" });
    const hits: string[] = [];
    for (const file of filesUnder(SRC).filter((f) => ["app", "config"].includes(layerOf(f)))) {
      for (const name of venueNamesIn(transpiler.transformSync(readFileSync(file, "utf8")))) hits.push(`${relative(SRC, file)}: ${name}`);
    }
    expect(hits).toEqual([]);
  });

  // The rules above see only what these readers find: each shape a venue's code can leak into app/ or config/ by.
  test("the readers find a per-venue table, a venue literal, and a dynamic or bare import of a venue's file", () => {
    // app/export.ts before b3da404a, as Bun's transpiler prints it.
    const table = new Bun.Transpiler({ loader: "ts" }).transformSync(
      'const TOPIC_OF: Record<string, (h: string) => string | null> = {\n  bybit: BYBIT_TOPIC,\n  binance: named(/"stream"/),\n  okx: (head) => head,\n};\nexport const f = (v: string) => TOPIC_OF[v];\n',
    );
    expect(venueNamesIn(table)).toEqual(["bybit:", "binance:", "okx:"]);
    expect(venueNamesIn('if (venue === "okx" || venue === `Bithumb`) f();')).toEqual(['"okx"', "`Bithumb`"]);
    // A message naming a venue as an example, or a key that only starts like one, is no hit.
    expect(venueNamesIn('problem("[venues.bybit.linear] is missing (Bybit, OKX: none)", { okxish: 1, "okx-like": 2 });')).toEqual([]);
    expect(importsOf('const m = await import("../venues/binance/config-lines.ts");\nimport "../venues/okx/side.ts";\nimport type { A } from "../venues/venue.ts";')).toEqual([
      "../venues/binance/config-lines.ts",
      "../venues/okx/side.ts",
      "../venues/venue.ts",
    ]);
  });
});

