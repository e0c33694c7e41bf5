/**
 * The Grafana dashboard's queries (deploy/grafana/feeder-dashboard.json), and what in one of them a scrape of /metrics
 * does not have: a metric no sample carries, or a label (in `by (…)`, `without (…)`, a matcher or label_values) on none
 * of the metrics it names, an exactly matched label value no sample has, a legend `{{label}}` the query drops.
 * test/app/metrics-live.test.ts holds them against a running feeder; the `feeder record`-only
 * ones (feeder_capture_*) test/app/capture-health.test.ts against a recorder's capture.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ParsedSample } from "../../src/app/prometheus.ts";

function dashboard(): any {
  return JSON.parse(readFileSync(resolve(import.meta.dirname, "../../deploy/grafana/feeder-dashboard.json"), "utf8"));
}

/** Every panel's target (rows' nested panels too): its expression and its legend (`{{label}}` placeholders). */
export function dashboardTargets(): { expr: string; legendFormat: string }[] {
  const targets: { expr: string; legendFormat: string }[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) targets.push({ expr: t.expr, legendFormat: t.legendFormat ?? "" });
      walk(p.panels);
    }
  };
  walk(dashboard().panels);
  return targets;
}

/** Every panel's (rows' nested panels too) and every query variable's expression. */
export function dashboardQueries(): string[] {
  const queries = dashboardTargets().map((t) => t.expr);
  for (const v of dashboard().templating.list) if (v.type === "query") queries.push(typeof v.query === "string" ? v.query : v.query.query);
  return queries;
}

/**
 * The `{{label}}` placeholders of a target's legend that its series do not carry (Grafana draws them empty): with an
 * aggregation, a label some `by (…)` of the query drops; without one, a label on none of the metrics it names.
 */
export function legendMismatches(t: { expr: string; legendFormat: string }, samples: readonly ParsedSample[]): string[] {
  const wanted = [...t.legendFormat.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);
  const bys = [...t.expr.matchAll(/\bby\s*\(([^)]*)\)/g)].map((m) => m[1]!.split(",").map((s) => s.trim()));
  const aggregated = bys.length > 0 || /\b(sum|max|min|avg|count|topk|bottomk|quantile|stddev|stdvar|group)\s*\(/.test(t.expr);
  const names = queryMetricNames(t.expr);
  const onMetric = new Set(samples.filter((s) => names.includes(s.name)).flatMap((s) => Object.keys(s.labels)));
  return wanted
    .filter((l) => (aggregated ? bys.length === 0 || bys.some((by) => !by.includes(l)) : !onMetric.has(l)))
    .map((l) => `legend "${t.legendFormat}" names {{${l}}}, which ${t.expr} does not keep`);
}

/** The feeder and process metric names a query uses. */
export function queryMetricNames(q: string): string[] {
  return [...(q ?? "").matchAll(/\b((?:feeder|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

/** What in `q` the scrape lacks (empty when every metric and label it uses is there). */
export function queryMismatches(q: string, samples: readonly ParsedSample[]): string[] {
  if (!q) return ["a panel without a query"];
  const names = queryMetricNames(q);
  if (names.length === 0) return [`${q} names no feeder metric`];
  const exported = new Set(samples.map((s) => s.name));
  const wrong = names.filter((n) => !exported.has(n)).map((n) => `${n} (in ${q}) is not exported`);
  const labels = new Set(samples.filter((s) => names.includes(s.name)).flatMap((s) => Object.keys(s.labels)));
  const used = [
    ...[...q.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(",").map((s) => s.trim()).filter(Boolean)),
    ...[...q.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]!)),
    ...[...q.matchAll(/label_values\([^,]+,\s*([a-z_]+)\)/g)].map((m) => m[1]!),
  ];
  for (const l of used) if (!labels.has(l)) wrong.push(`label ${l} (in ${q}) is on none of ${names.join(", ")}`);
  // A value matched exactly (`state="live"`, `result!="answered"`) must be one the scrape has: renamed, the panel
  // matches nothing (or, with !=, everything) and shows no error. `$variable` and regex matchers are Grafana's.
  for (const m of q.matchAll(/\b([a-z_]+)\s*(!=|=)\s*"([^"$]*)"/g)) {
    const [, label, op, value] = m as unknown as [string, string, string, string];
    if (!labels.has(label)) continue; // named above
    const values = new Set(samples.filter((s) => names.includes(s.name)).map((s) => s.labels[label]));
    if (!values.has(value)) wrong.push(`${label}${op}"${value}" (in ${q}): no ${names.join(", ")} sample has ${label}="${value}"`);
  }
  return wrong;
}
