/**
 * The Grafana dashboard's queries (deploy/grafana/feeder-dashboard.json), and what in one of them a scrape of /metrics
 * does not have: a metric no sample carries, or a label (in `by (…)`, `without (…)`, a matcher or label_values) on none
 * of the metrics it names. test/app/metrics-live.test.ts holds them against a running feeder; the `feeder record`-only
 * ones (feeder_capture_*) test/app/capture-health.test.ts against a recorder's capture.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ParsedSample } from "../../src/app/prometheus.ts";

/** Every panel's (rows' nested panels too) and every query variable's expression. */
export function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../deploy/grafana/feeder-dashboard.json"), "utf8"));
  const queries: string[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) queries.push(t.expr);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) if (v.type === "query") queries.push(typeof v.query === "string" ? v.query : v.query.query);
  return queries;
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
  return wrong;
}
