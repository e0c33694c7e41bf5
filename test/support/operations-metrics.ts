/**
 * The rows of docs/operations.md § Metrics, as the tests that hold /metrics against them read them:
 * `| \`a\`, \`b\` | type[, type] | labels | meaning |` gives one type for all names, or one per name, and the labels
 * a family's samples carry (without `worker`, which every pipeline sample has with workers > 1, and `le`).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ParsedSample } from "../../src/app/prometheus.ts";

export interface MetricRow {
  readonly type: string;
  readonly labels: readonly string[];
}

export function operationsMetricRows(): Map<string, MetricRow> {
  const doc = readFileSync(resolve(import.meta.dirname, "../../docs/operations.md"), "utf8");
  const start = doc.indexOf("\n## Metrics");
  const section = doc.slice(start, doc.indexOf("\n## ", start + 5));
  const rows = new Map<string, MetricRow>();
  for (const line of section.split("\n")) {
    // Split on every "|": split(" | ") gave 3 cells for a row whose labels cell is empty (`| counter | | …`), and
    // the tests skipped those rows, so no unlabelled family's type or labels was checked.
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (!line.startsWith("| `") || cells.length < 4) continue;
    const names = [...cells[0]!.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!);
    const types = cells[1]!.split(", ");
    const labels = cells[2]!.split(",").map((l) => l.trim()).filter((l) => l !== "");
    names.forEach((n, i) => rows.set(n, { type: types.length === names.length ? types[i]! : types[0]!, labels }));
  }
  return rows;
}

/**
 * What is wrong in the table for this scrape: each family without a row, of another type than its row's, or whose
 * samples carry other labels than its row's (`worker` and `le` aside). Empty when the table is right.
 */
export function tableMismatches(samples: readonly ParsedSample[], types: ReadonlyMap<string, string>): string[] {
  const rows = operationsMetricRows();
  const familyOf = (name: string) => {
    const base = name.replace(/_(bucket|sum|count)$/, "");
    return types.get(base) === "histogram" ? base : name;
  };
  const wrong: string[] = [];
  for (const [name, type] of types) {
    const row = rows.get(name);
    if (row === undefined) {
      wrong.push(`${name}: no row`);
      continue;
    }
    if (row.type !== type) wrong.push(`${name}: a ${type}, documented ${row.type}`);
    const own = samples.filter((s) => familyOf(s.name) === name);
    const labels = [...new Set(own.flatMap((s) => Object.keys(s.labels).filter((k) => k !== "le" && k !== "worker")))].sort();
    if (own.length > 0 && labels.join() !== [...row.labels].sort().join()) wrong.push(`${name}: labels {${labels}}, documented {${row.labels}}`);
  }
  return wrong;
}
