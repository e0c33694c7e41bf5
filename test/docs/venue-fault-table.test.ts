/**
 * docs/add-venue.md's "End-to-end coverage: venue × fault" table against the tests it names: every fault of a
 * binary-venues case (test/e2e/binary-venues-cases.ts) is in its venue's rows with its Binary mark (B: breaks the
 * target, K: keeps every book LIVE), and every B or K in the table is a fault of that venue's cases with that
 * expectation; each fault marked run in process is named (or its ALIASES entry) in that venue's in-process file; every test file
 * the section names exists (bare names are test/e2e/'s; `chaos-<venue>.test.ts` is each venue's of the table).
 * The cases' faults are built with their simulators (on 127.0.0.1), so each case's simulator is started and stopped.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CASES, type Fault } from "../e2e/binary-venues-cases.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const doc = readFileSync(join(ROOT, "docs/add-venue.md"), "utf8");
const start = doc.indexOf("\n## End-to-end coverage: venue × fault");
const end = doc.indexOf("\n## ", start + 4);
const section = doc.slice(start, end === -1 ? undefined : end);

/** The table's venues as its first column names them, and the case venue each stands for. */
const VENUES: Record<string, string[]> = { Bybit: ["bybit"], OKX: ["okx"], Binance: ["binance"], Deribit: ["deribit"], Coinbase: ["coinbase"], "Upbit, Bithumb": ["upbit", "bithumb"] };
/** Table names the in-process files spell otherwise (the simulator's fault, or the option it is made with). */
const ALIASES: Record<string, string> = { "64008 notice": "notice", "stale REST snapshot": "no_bridge", "24 h close": "maxConnectionAgeMs", "REST 429": "refuse" };
/** The in-process file of each venue (the section's list, in its order). */
const IN_PROCESS: Record<string, string> = {
  bybit: "test/e2e/pipeline.test.ts",
  okx: "test/e2e/okx-pipeline.test.ts",
  binance: "test/e2e/binance.test.ts",
  deribit: "test/venues/deribit/e2e.test.ts",
  coinbase: "test/e2e/coinbase.test.ts",
  upbit: "test/e2e/upbit-pipeline.test.ts",
};

interface Row {
  venues: string[];
  faults: string[];
  binary: string;
  inProcess: string;
}

/** The table's rows, each with its group's venues (a row with an empty first cell continues the one above). */
function rows(): Row[] {
  const out: Row[] = [];
  let venues: string[] = [];
  for (const line of section.split("\n")) {
    if (!line.startsWith("| ") || line.startsWith("| Venue") || line.startsWith("|---")) continue;
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells[0] !== "") {
      const key = Object.keys(VENUES).find((k) => cells[0]!.startsWith(k));
      if (key === undefined) throw new Error(`add-venue.md's table: venue cell not known to this test: ${cells[0]}`);
      venues = VENUES[key]!;
    }
    // "gap, malformed", "reset (u = 1)", "64008 notice (planned reconnect)": the names, explanations dropped.
    const faults = cells[1]!.replace(/\([^)]*\)/g, "").split(",").map((f) => f.trim()).filter((f) => f !== "");
    out.push({ venues, faults, binary: cells[2]!, inProcess: cells[3]! });
  }
  return out;
}

/** Each case's venue and faults, read from its started simulator. */
const cases: { venue: string; label: string; faults: Fault[] }[] = [];
const stops: (() => Promise<void>)[] = [];
beforeAll(async () => {
  for (const c of CASES) {
    const v = await c.start();
    stops.push(() => v.stop());
    cases.push({ venue: c.venue, label: c.label ?? c.venue, faults: v.faults });
  }
}, 30_000);
afterAll(async () => {
  for (const stop of stops) await stop();
});

const mark = (binary: string) => (binary.startsWith("B") ? "break" : binary.startsWith("K") ? "keep" : undefined);

describe("docs/add-venue.md venue × fault table", () => {
  test("the section and its table are there", () => {
    expect(start).toBeGreaterThan(-1);
    expect(rows().length).toBeGreaterThan(20);
  });

  test("every binary-venues fault is in its venue's rows with its mark (B or K)", () => {
    const table = rows();
    const wrong: string[] = [];
    expect(cases.length).toBe(CASES.length);
    for (const c of cases) {
      for (const f of c.faults) {
        const row = table.find((r) => r.venues.includes(c.venue) && r.faults.includes(f.name));
        if (!row) wrong.push(`${c.label} ${f.name}: no row`);
        else if (mark(row.binary) !== f.expect) wrong.push(`${c.label} ${f.name}: the table says ${row.binary}, the test ${f.expect}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("every B or K in the table is a binary-venues fault of that venue with that expectation", () => {
    const wrong: string[] = [];
    for (const r of rows()) {
      const expected = mark(r.binary);
      if (expected === undefined) continue;
      for (const venue of r.venues) {
        for (const name of r.faults) {
          const found = cases.filter((c) => c.venue === venue).flatMap((c) => c.faults.filter((f) => f.name === name));
          if (found.length === 0) wrong.push(`${venue} ${name}: marked ${r.binary}, in no case`);
          else if (found.some((f) => f.expect !== expected)) wrong.push(`${venue} ${name}: marked ${r.binary}, the test says otherwise`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  test("each fault marked run in process is named in its venue's in-process file", () => {
    const wrong: string[] = [];
    for (const r of rows()) {
      if (r.inProcess !== "yes") continue; // "—", or a note naming what runs (e.g. "429" of "REST 429, REST 418")
      for (const venue of r.venues) {
        const file = IN_PROCESS[venue === "bithumb" ? "upbit" : venue]!;
        const text = readFileSync(join(ROOT, file), "utf8");
        for (const name of r.faults) if (!text.includes(name) && !(name in ALIASES && text.includes(ALIASES[name]!))) wrong.push(`${venue} ${name}: not in ${file}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("every test file the section names exists", () => {
    const names = [...section.matchAll(/`((?:[\w./-]+\/)?[\w<>-]+\.test\.ts)`/g)].map((m) => m[1]!);
    const paths = names.flatMap((n) => {
      const full = n.includes("/") ? n : `test/e2e/${n}`;
      return full.includes("<venue>") ? Object.keys(IN_PROCESS).map((v) => full.replace("<venue>", v)) : [full];
    });
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });
});
