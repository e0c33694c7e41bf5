import { describe, expect, test } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { VENUE_IDS } from "../../src/core/types.ts";

// Dependencies point one way (docs/architecture.md): core ← book, wire, net, venues ← app ← cli.
const SRC = resolve(import.meta.dirname, "../../src");
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  book: ["core"],
  wire: ["core", "config"],
  net: ["core", "config", "wire"],
  venues: ["core", "config"],
  sim: ["core", "venues", "record"],
  subscriber: ["core", "wire", "book"],
  config: ["core", "venues"],
  record: ["core"],
  bridge: ["core", "config", "wire", "net", "subscriber"],
  app: ["core", "config", "book", "wire", "net", "venues", "subscriber", "sim", "record"],
  cli: ["core", "config", "book", "wire", "net", "venues", "subscriber", "sim", "record", "app", "bridge"],
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

describe("layering", () => {
  const files = filesUnder(SRC).filter((f) => layerOf(f) !== "index.ts");
  test("every source file sits in a known layer", () => {
    for (const f of files) expect(Object.keys(ALLOWED), relative(SRC, f)).toContain(layerOf(f));
  });

  test("imports only point to allowed layers", () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']/g)) {
        const spec = m[1]!;
        if (!spec.startsWith(".")) continue;
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(SRC)) continue; // package.json for the version
        const to = layerOf(target);
        if (to !== from && !ALLOWED[from]!.includes(to)) violations.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(violations).toEqual([]);
  });

  // A new venue edits nothing in app/ or config/ (docs/add-venue.md): they reach a venue through its descriptor
  // (registry.ts), never its own folder. Until s-cfgfold config/format.ts imported Binance's and Coinbase's files to
  // print their check-config lines (now VenueSpec.describeConfig, MarketSpec.defaultSymbolsPerConnection).
  test("app/ and config/ import from venues/ only registry.ts, venue.ts and common/", () => {
    const VENUES = join(SRC, "venues");
    const violations: string[] = [];
    for (const file of files.filter((f) => ["app", "config"].includes(layerOf(f)))) {
      for (const m of readFileSync(file, "utf8").matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']/g)) {
        const target = relative(VENUES, resolve(dirname(file), m[1]!));
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
// a message naming one as an example (`[venues.bybit.linear]`), is no hit: a literal that is a venue's name is.
describe("no venue name", () => {
  test("no string literal in config/ or app/ is a venue's name", () => {
    const names = Object.keys(VENUE_IDS).join("|");
    const literal = new RegExp(`(["'\`])(?:${names})\\1`, "gi");
    const transpiler = new Bun.Transpiler({ loader: "ts" });
    const hits: string[] = [];
    for (const file of filesUnder(SRC).filter((f) => ["app", "config"].includes(layerOf(f)))) {
      for (const m of transpiler.transformSync(readFileSync(file, "utf8")).matchAll(literal)) hits.push(`${relative(SRC, file)}: ${m[0]}`);
    }
    expect(hits).toEqual([]);
  });
});

