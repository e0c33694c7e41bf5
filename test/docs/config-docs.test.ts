/**
 * README.md § Configuration reference against the loader (src/config/load.ts) and the venue registry: every key the
 * loader accepts has a row and every row names a key it accepts (the accepted keys are read from the loader's own
 * "unknown key (expected one of …)" answers, so a key added to load.ts without a row fails here); every default
 * written as a literal is what `feeder check-config` prints for that key when the file leaves it out; and the table
 * "Venues, markets and defaults" gives each venue's URLs, markets, depths (default in bold) and stale defaults and
 * floors as src/venues/registry.ts has them. config/feeder.example.toml names every key the loader accepts too (set,
 * or in a comment as `key =` / `key:`; a key only some venues take, on a line naming each of them), and check-config's
 * output names every key a venue uses (its value, or a `# key not set: …` comment where the default is the adapter's).
 * Every integer key's row names both bounds the loader enforces (read from its "is not an integer MIN–MAX" answer).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError } from "../../src/core/errors.ts";
import { parseConfigText, validateConfig } from "../../src/config/load.ts";
import { formatConfigToml } from "../../src/config/format.ts";
import { supportedVenues, venueSpec } from "../../src/venues/registry.ts";
import type { MarketName } from "../../src/core/types.ts";

const README = readFileSync(resolve(import.meta.dirname, "../../README.md"), "utf8");
const LOCAL = [{ name: "lo", address: "127.0.0.1" }];
const OVERRIDE = '"market:SYMBOL"';
/** A symbol each venue's market accepts (the loader checks only its shape): by venue:market, else by venue. */
const SYMBOL: Record<string, string> = {
  upbit: "KRW-BTC", bithumb: "KRW-BTC", coinbase: "BTC-USD", okx: "BTC-USDT", deribit: "BTC-PERPETUAL",
  "bybit:option": "BTC-27DEC24-100000-C", "deribit:option": "BTC-27DEC24-100000-C", "deribit:linear": "BTC_USDC-PERPETUAL", "deribit:spot": "BTC_USDC",
};
const symbolOf = (venue: string, market: string) => SYMBOL[`${venue}:${market}`] ?? SYMBOL[venue] ?? "BTCUSDT";

/** The keys the loader accepts in the table at `raw`'s `path`, from its answer to an unknown key put there. */
function acceptedKeys(raw: Record<string, unknown>, path: string[]): string[] {
  let t = raw;
  for (const p of path) t = t[p] as Record<string, unknown>;
  t.no_such_key = 1;
  try {
    validateConfig(raw, { localAddresses: LOCAL });
  } catch (err) {
    const problem = (err as ConfigError).problems.find((p) => p.includes("no_such_key: unknown key"));
    if (problem !== undefined) return /\(expected one of (.*)\)$/.exec(problem)![1]!.split(", ");
  }
  throw new Error(`no unknown-key answer at ${path.join(".")}`);
}

const marketsOf = (venue: string) => Object.keys(venueSpec(venue)!.markets) as MarketName[];

/** Every key path the loader accepts; venue and market names concrete, override tables named `"market:SYMBOL"`. */
function acceptedPaths(): { path: string; table: boolean }[] {
  const out: { path: string; table: boolean }[] = [];
  const minimal = () => ({ venues: { bybit: { linear: { symbols: ["BTCUSDT"] } } } }) as Record<string, any>;
  const TABLES = new Set(["log", "http", "publish", "venues", "destinations", "retransmit", "overrides", "nats"]);
  for (const k of acceptedKeys(minimal(), [])) out.push({ path: k, table: TABLES.has(k) });
  for (const section of ["log", "http", "publish", "nats"]) {
    const raw = minimal();
    raw[section] = {};
    for (const k of acceptedKeys(raw, [section])) out.push({ path: `${section}.${k}`, table: TABLES.has(k) });
  }
  const withDest = minimal();
  withDest.publish = { destinations: [{ group: "239.255.9.9", port: 31999 }] };
  for (const k of acceptedKeys(withDest, ["publish", "destinations", "0"])) out.push({ path: `publish.destinations.${k}`, table: false });
  const withRetx = minimal();
  withRetx.publish = { retransmit: {} };
  for (const k of acceptedKeys(withRetx, ["publish", "retransmit"])) out.push({ path: `publish.retransmit.${k}`, table: false });
  for (const venue of supportedVenues()) {
    const markets = marketsOf(venue);
    const raw = () => ({ venues: { [venue]: { [markets[0]!]: { symbols: [symbolOf(venue, markets[0]!)] } } } }) as Record<string, any>;
    out.push({ path: `venues.${venue}`, table: true });
    for (const k of acceptedKeys(raw(), ["venues", venue])) out.push({ path: `venues.${venue}.${k}`, table: k === "overrides" || (markets as string[]).includes(k) });
    for (const market of markets) {
      const r = raw();
      r.venues[venue][market] = { symbols: [symbolOf(venue, market)] };
      for (const k of acceptedKeys(r, ["venues", venue, market])) out.push({ path: `venues.${venue}.${market}.${k}`, table: false });
    }
    const o = raw();
    o.venues[venue].overrides = { [`${markets[0]}:${symbolOf(venue, markets[0]!)}`]: { tick_size: "0.1", lot_size: "0.1" } };
    for (const k of acceptedKeys(o, ["venues", venue, "overrides", `${markets[0]}:${symbolOf(venue, markets[0]!)}`])) out.push({ path: `venues.${venue}.overrides.${OVERRIDE}.${k}`, table: false });
  }
  return out;
}

interface Row {
  readonly keys: string[];
  readonly defaults: string;
  readonly line: string;
}

/** The reference table's rows, `….x` expanded against the row's (or the previous rows') first key. */
function documentedRows(): Row[] {
  const start = README.indexOf("## Configuration reference");
  const end = README.indexOf("### Venues, markets and defaults", start);
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  const rows: Row[] = [];
  let prefix = "";
  for (const line of README.slice(start, end).split("\n")) {
    if (!line.startsWith("| `") && !line.startsWith("| `[")) continue;
    const cells = line.split(" | ");
    const items = [...cells[0]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const keys: string[] = [];
    for (const item of items) {
      if (item.startsWith("….")) {
        keys.push(`${prefix}.${item.slice("….".length)}`);
        continue;
      }
      const table = /^\[\[?(.*?)\]?\]$/.exec(item);
      const key = table ? table[1]! : item;
      keys.push(key);
      if (keys.length === 1) prefix = table ? key : key.slice(0, key.lastIndexOf("."));
    }
    rows.push({ keys, defaults: cells[1]!, line });
  }
  return rows;
}

/** Whether a documented key (with `<venue>`, `<market>` placeholders) names a path. */
function matches(pattern: string, path: string): boolean {
  const p = pattern.split(".");
  const k = path.split(".");
  if (p.length !== k.length) return false;
  return p.every((seg, i) => {
    if (seg === k[i]) return true;
    if (seg === "<venue>") return supportedVenues().includes(k[i] as never);
    if (seg === "<market>") return k[1] !== undefined && venueSpec(k[1]) !== undefined && (marketsOf(k[1]) as string[]).includes(k[i]!);
    return false;
  });
}

/** The settings `check-config` prints for a file naming only what it must: every venue and market, one destination, retransmit on. */
function printedDefaults(): Record<string, any> {
  const venues: Record<string, any> = {};
  for (const venue of supportedVenues()) venues[venue] = Object.fromEntries(marketsOf(venue).map((m) => [m, { symbols: [symbolOf(venue, m)] }]));
  const config = validateConfig({ publish: { destinations: [{ group: "239.255.9.9", port: 31999 }], retransmit: {} }, venues }, { localAddresses: LOCAL });
  const toml = Bun.TOML.parse(formatConfigToml(config)) as Record<string, any>;
  toml.publish.destinations = toml.publish.destinations[0];
  return toml;
}

function valueAt(tree: Record<string, any>, path: string): unknown {
  let v: any = tree;
  for (const seg of path.split(".")) v = v?.[seg];
  return v;
}

describe("README.md § Configuration reference = src/config/load.ts", () => {
  const accepted = acceptedPaths();
  const rows = documentedRows();
  const patterns = rows.flatMap((r) => r.keys.map((k) => k.replace(/overrides\."market:[A-Z]+"/, `overrides.${OVERRIDE}`)));

  test("every key the loader accepts has a row", () => {
    expect(accepted.length).toBeGreaterThan(80);
    const missing = accepted.filter((a) => !patterns.some((p) => matches(p, a.path) || (a.table && patterns.some((q) => q.startsWith(p + ".") || matches(p, a.path)))));
    const tablesWithout = accepted.filter((a) => a.table && !patterns.some((p) => matches(p, a.path) || accepted.some((b) => !b.table && b.path.startsWith(a.path + ".") && matches(p, b.path))));
    expect(missing.filter((a) => !a.table).map((a) => a.path)).toEqual([]);
    expect(tablesWithout.map((a) => a.path)).toEqual([]);
  });

  test("every row names a key the loader accepts", () => {
    const stale = patterns.filter((p) => !accepted.some((a) => matches(p, a.path)));
    expect(stale).toEqual([]);
  });

  test("every literal default is what check-config prints when the key is left out", () => {
    const printed = printedDefaults();
    let checked = 0;
    for (const row of rows) {
      let literals = [...row.defaults.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      // A cell of literals and nothing else ("`100`, `16777216`"), or one literal said again in words after it
      // ("`268435456` (256 MiB)", "`0` (default: 7 s)": the literal is what check-config prints); not "1.5 × `…`".
      const oneThenWords = /^`([^`]+)` \(/.exec(row.defaults);
      const isValue = (text: string) => {
        try {
          Bun.TOML.parse(`v = ${text}`);
          return true;
        } catch {
          return false; // `destination-N` (N = its position): a pattern, not a value
        }
      };
      if (oneThenWords !== null && isValue(oneThenWords[1]!)) literals = row.keys.map(() => oneThenWords[1]!);
      else if (literals.length !== row.keys.length || row.defaults.replace(/`[^`]+`/g, "").replace(/[ ,]/g, "") !== "") continue;
      row.keys.forEach((key, i) => {
        const paths = accepted.filter((a) => !a.table && matches(key, a.path)).map((a) => a.path);
        expect(paths.length, `${key} names accepted keys`).toBeGreaterThan(0);
        for (const path of paths) {
          const want = (Bun.TOML.parse(`v = ${literals[i]!.replace("<venue>", path.split(".")[1]!)}`) as { v: unknown }).v;
          const got = valueAt(printed, path);
          if (got === undefined) continue; // printed only when set (stale_after_ms)
          expect(got, `${path}: README says ${literals[i]}`).toEqual(want);
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThan(30);
  });

  test("every integer key's row names the bounds the loader enforces", () => {
    /** A minimal valid file (every venue and market, a destination, retransmit on) with `path` set to a string. */
    const problemsWithText = (path: string): readonly string[] => {
      const venues: Record<string, any> = {};
      for (const venue of supportedVenues()) venues[venue] = Object.fromEntries(marketsOf(venue).map((m) => [m, { symbols: [symbolOf(venue, m)] }]));
      const raw: Record<string, any> = { publish: { destinations: [{ group: "239.255.9.9", port: 31999 }], retransmit: {} }, venues };
      const segs = path.split(".");
      let t = raw;
      for (const seg of segs.slice(0, -1)) t = seg === "destinations" ? t[seg][0] : (t[seg] ??= {});
      t[segs.at(-1)!] = "text";
      try {
        validateConfig(raw, { localAddresses: LOCAL });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    const unchecked: string[] = [];
    let checked = 0;
    for (const a of accepted) {
      if (a.table || a.path.includes(OVERRIDE)) continue;
      const concrete = a.path.replace("publish.destinations.", "publish.destinations[0].");
      const range = problemsWithText(a.path)
        .map((p) => new RegExp(`^${concrete.replace(/[.[\]]/g, "\\$&")}: .* is not an integer (\\d+)–(\\d+)$`).exec(p))
        .find((m) => m !== null);
      if (range === undefined || range === null) continue; // not an integer key
      const [min, max] = [range[1]!, range[2]!];
      if (Number(max) === Number.MAX_SAFE_INTEGER) continue; // depth: one of the venue's depths, its own table
      const row = rows.find((r) => r.keys.some((k) => matches(k.replace(/overrides\."market:[A-Z]+"/, `overrides.${OVERRIDE}`), a.path)));
      expect(row, `${a.path} has a row`).toBeDefined();
      const numbers = new Set([...row!.line.matchAll(/(?<![\d.])\d[\d,]*(?![\d.])/g)].map((m) => m[0].replace(/,/g, "")));
      if (!numbers.has(min) || !numbers.has(max)) unchecked.push(`${a.path}: the loader takes ${min}–${max}; the row: ${row!.line.slice(0, 160)}`);
      checked++;
    }
    expect(unchecked).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});

describe("README.md's promises about [http]", () => {
  test("http.listen beyond loopback without http.bearer_token is a configuration error (check-config says so, as run does)", () => {
    const raw = (http: Record<string, unknown>) => ({ http, venues: { bybit: { linear: { symbols: ["BTCUSDT"] } } } });
    const problems = (http: Record<string, unknown>) => {
      try {
        validateConfig(raw(http), { localAddresses: LOCAL });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ listen: "0.0.0.0:9464", allow_non_loopback: true })).toEqual(["http.bearer_token: missing (expected a token: required when http.listen (0.0.0.0:9464) is beyond loopback)"]);
    expect(problems({ listen: "0.0.0.0:9464", allow_non_loopback: true, bearer_token: "s3cret" })).toEqual([]);
    expect(problems({ listen: "0.0.0.0:9464", allow_non_loopback: true, enabled: false })).toEqual([]);
    expect(problems({ listen: "127.0.0.1:9464" })).toEqual([]);
  });
});

describe("README.md § Venues, markets and defaults = src/venues/registry.ts", () => {
  const start = README.indexOf("### Venues, markets and defaults");
  const table = README.slice(start, README.indexOf("\n## ", start))
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .map((l) => l.slice(2, -2).split(" | "));

  test("one row per venue", () => {
    expect(table.map((r) => /`([a-z]+)`/.exec(r[0]!)![1]).sort()).toEqual([...supportedVenues()].sort());
  });

  test.each(supportedVenues().map((v) => [v]))("%s: URLs, markets and depths, stale defaults and floors", (venue) => {
    const spec = venueSpec(venue)!;
    const [, urls, depthsCell, staleCell] = table.find((r) => r[0] === `\`${venue}\``)!;
    expect(urls).toContain(`\`${spec.wsUrl}\``);
    expect(urls).toContain(`\`${spec.restUrl}\``);
    for (const m of marketsOf(venue)) expect(urls, `${venue} ${m} WebSocket URL`).toContain(spec.marketWsUrl(spec.wsUrl, m));

    // "`spot`, `linear`: 1, **50**, 200; `option`: **25**, 100" (a depth may carry a parenthesis)
    const documented = new Map<string, { depths: number[]; dflt: number[] }>();
    for (const g of depthsCell!.matchAll(/((?:`[a-z]+`(?:, )?)+): ((?:\*\*)?\d+(?:\*\*)?(?: \([^)]*\))?(?:, (?:\*\*)?\d+(?:\*\*)?(?: \([^)]*\))?)*)/g)) {
      const numbers = g[2]!.replace(/\([^)]*\)/g, "");
      const depths = [...numbers.matchAll(/(?:\*\*)?(\d+)/g)].map((m) => Number(m[1]));
      const dflt = [...numbers.matchAll(/\*\*(\d+)\*\*/g)].map((m) => Number(m[1]));
      for (const m of g[1]!.matchAll(/`([a-z]+)`/g)) documented.set(m[1]!, { depths, dflt });
    }
    expect([...documented.keys()].sort(), `${venue}: markets`).toEqual([...marketsOf(venue)].sort());
    for (const m of marketsOf(venue)) {
      const ms = spec.markets[m]!;
      expect(documented.get(m)!.depths.sort((a, b) => a - b), `${venue} ${m}: depths`).toEqual([...ms.depths].sort((a, b) => a - b));
      expect(documented.get(m)!.dflt, `${venue} ${m}: default depth (bold)`).toEqual([ms.defaultDepth]);
    }

    const stale = new Set<number>();
    const floors = new Set<number>();
    for (const m of marketsOf(venue)) {
      for (const d of spec.markets[m]!.depths) {
        stale.add(spec.markets[m]!.staleAfterMs(d));
        const floor = spec.markets[m]!.staleFloor(d).ms;
        if (floor !== 1000) floors.add(floor);
      }
    }
    for (const ms of stale) expect(staleCell, `${venue}: stale default ${ms} ms`).toMatch(new RegExp(`(^|[^\\d])${ms / 1000} s`));
    const written = [...staleCell!.matchAll(/floor (\d+) s/g)].map((m) => Number(m[1]) * 1000);
    expect(written.sort(), `${venue}: floors other than 1 s`).toEqual([...floors].sort());
  });

  test.each(supportedVenues().map((v) => [v]))("%s: a market that refuses some well-formed symbols (refusedSymbol) says so in its row", (venue) => {
    const spec = venueSpec(venue)!;
    const refuses = marketsOf(venue).some((m) => spec.markets[m]!.refusedSymbol !== undefined);
    const row = table.find((r) => r[0] === `\`${venue}\``)!.join(" | ");
    expect(/\brefused\b/.test(row), `${venue}: README row ${refuses ? "lacks" : "has"} "refused"`).toBe(refuses);
  });
});

describe("config/feeder.example.toml names every key the loader accepts", () => {
  test("each key, set or in a comment; a venue-specific key beside the venues that take it", () => {
    const example = readFileSync(resolve(import.meta.dirname, "../../config/feeder.example.toml"), "utf8").split("\n");
    const byKey = new Map<string, Set<string>>();
    for (const a of acceptedPaths()) {
      if (a.table || a.path.includes(OVERRIDE)) continue;
      const parts = a.path.split(".");
      const key = parts.at(-1)!;
      if (!byKey.has(key)) byKey.set(key, new Set());
      if (parts[0] === "venues") byKey.get(key)!.add(parts[1]!);
    }
    const missing: string[] = [];
    for (const [key, venues] of byKey) {
      const lines = example.filter((l) => new RegExp(`(^|[\\s#\\]])${key}\\s*[=:]`).test(l));
      // A key every venue takes needs no venue named; one only some take must name them where it is written.
      const some = venues.size !== 0 && venues.size < supportedVenues().length;
      const ok = lines.length !== 0 && (!some || [...venues].every((v) => lines.some((l) => l.includes(`venues.${v}`))));
      if (!ok) missing.push(some ? `${key} (${[...venues].join(", ")})` : key);
    }
    expect(byKey.size).toBeGreaterThan(30);
    expect(missing).toEqual([]);
  });
});

describe("config/feeder.example.toml shows defaults, as its first line says", () => {
  test("every top-level, [log], [http] and [publish] value set, and every `# key = value` of [publish.retransmit], is the default", () => {
    const text = readFileSync(resolve(import.meta.dirname, "../../config/feeder.example.toml"), "utf8");
    const example = Bun.TOML.parse(text) as Record<string, any>;
    const printed = printedDefaults();
    const wrong: string[] = [];
    let checked = 0;
    for (const section of ["", "log", "http", "publish"]) {
      for (const [key, value] of Object.entries(section === "" ? example : example[section])) {
        if (typeof value === "object") continue; // tables: destinations (examples, not defaults), venues
        const path = section === "" ? key : `${section}.${key}`;
        if (JSON.stringify(value) !== JSON.stringify(valueAt(printed, path))) wrong.push(`${path} = ${JSON.stringify(value)}, default ${JSON.stringify(valueAt(printed, path))}`);
        checked++;
      }
    }
    const retx = text.slice(text.indexOf("# [publish.retransmit]"), text.indexOf("\n\n", text.indexOf("# [publish.retransmit]")));
    for (const m of retx.matchAll(/^# ([a-z_]+) = (.*?)(?:\s+#.*)?$/gm)) {
      const value = (Bun.TOML.parse(`v = ${m[2]}`) as { v: unknown }).v;
      if (JSON.stringify(value) !== JSON.stringify(valueAt(printed, `publish.retransmit.${m[1]}`))) wrong.push(`publish.retransmit.${m[1]} = ${m[2]}`);
      checked++;
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});

describe("config/feeder.example.toml's ranges are the loader's", () => {
  test("a range a key's own line states (lo-hi): lo and hi are taken, lo − 1 and hi + 1 refused naming the key and that bound", () => {
    const lines = readFileSync(resolve(import.meta.dirname, "../../config/feeder.example.toml"), "utf8").split("\n");
    /** Problems the loader finds in the example with line i's value replaced, each as the error names it. */
    const problems = (i: number, value: number): string => {
      const text = lines.map((l, j) => (j === i ? l.replace(/=\s*[^\s#]+/, `= ${value}`) : l)).join("\n");
      try {
        parseConfigText(text, "example");
        return "";
      } catch (err) {
        return (err as Error).message;
      }
    };
    const wrong: string[] = [];
    let checked = 0;
    lines.forEach((line, i) => {
      const m = /^([a-z_]+)\s*=\s*\d+\s*#.*?\b(\d+)\s*[-–]\s*(\d+)\b/.exec(line);
      if (m === null) return;
      const [, key, lo, hi] = [m[1]!, m[1]!, Number(m[2]), Number(m[3])];
      const names = (msg: string) => new RegExp(`(^|[.\\s])${key}\\b`, "m").test(msg);
      // workers' 64 needs 64 symbols ("at most the number of symbols this instance takes", the line above says).
      for (const ok of key === "workers" ? [lo] : [lo, hi]) if (names(problems(i, ok))) wrong.push(`${key} = ${ok} refused: ${problems(i, ok)}`);
      const over = problems(i, hi + 1);
      if (!names(over) || !over.includes(String(hi))) wrong.push(`${key} = ${hi + 1}: ${over || "taken"}`);
      if (lo > 0) {
        const under = problems(i, lo - 1);
        if (!names(under) || !under.includes(String(lo))) wrong.push(`${key} = ${lo - 1}: ${under || "taken"}`);
      }
      checked++;
    });
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});

describe("check-config prints every key a venue uses", () => {
  test("each venue and market key, with its value or a `# key not set` comment", () => {
    const venues: Record<string, any> = {};
    for (const venue of supportedVenues()) venues[venue] = Object.fromEntries(marketsOf(venue).map((m) => [m, { symbols: [symbolOf(venue, m)] }]));
    const text = formatConfigToml(validateConfig({ venues }, { localAddresses: LOCAL }));
    const missing: string[] = [];
    for (const a of acceptedPaths()) {
      const parts = a.path.split(".");
      if (a.table || parts[0] !== "venues" || a.path.includes(OVERRIDE)) continue;
      if (parts.at(-1) === "ws_url" || parts.at(-1) === "rest_url") if (parts.length === 4) continue; // a market's own URL: the venue's unless set
      const table = `[${parts.slice(0, -1).join(".")}]`;
      const start = text.indexOf(`${table}\n`);
      const body = start === -1 ? "" : text.slice(start, text.indexOf("\n[", start + 1) === -1 ? undefined : text.indexOf("\n[", start + 1));
      if (!new RegExp(`^(?:# )?${parts.at(-1)}[ =]`, "m").test(body)) missing.push(a.path);
    }
    expect(missing).toEqual([]);
  });
});
