/**
 * docs/operations.md § HTTP against src/app/http-server.ts and src/app/readiness.ts: every route the server answers
 * has its row in the routes table (and every row is a route), and every readiness check the rules can report has its
 * row in the readiness table (and every row is a check), read from the sources' literals; and every reason a
 * `symbol_unresolved` can carry is named in its row.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { UNRESOLVED_KINDS } from "../../src/venues/common/instruments.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (p: string) => readFileSync(resolve(ROOT, p), "utf8");
const doc = read("docs/operations.md");
const http = doc.slice(doc.indexOf("## HTTP"), doc.indexOf("\n## ", doc.indexOf("## HTTP") + 5));

/** First cells of the table whose header row starts with `| first |`. */
function firstCells(first: string): string[] {
  const lines = http.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`| ${first} |`));
  expect(start, `a table with header "${first}"`).toBeGreaterThanOrEqual(0);
  const out: string[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith("|"); i++) out.push(lines[i]!.split(" | ")[0]!.slice(2));
  return out;
}

describe("docs/operations.md § HTTP = the server", () => {
  test("routes", () => {
    const server = read("src/app/http-server.ts");
    // Routes compared with the path, and the data routes' method names in DATA_ROUTES.
    const routes = [...server.matchAll(/(?:path === |async )"(\/[a-z]*)"/g)].map((m) => m[1]!);
    if (/\\\/books\\\/\(\[\^\/\]\+\)\\\/\(\[\^\/\]\+\)\\\/\(\[\^\/\]\+\)/.test(server)) routes.push("/books/{venue}/{market}/{symbol}");
    expect(routes.length).toBe(7);
    const documented = firstCells("route").map((c) => /`GET ([^`? ]+)/.exec(c)![1]!);
    expect(documented.sort()).toEqual([...new Set(routes)].sort());
  });

  test("readiness checks", () => {
    const checks = [...read("src/app/readiness.ts").matchAll(/check: "([a-z_]+)"/g)].map((m) => m[1]!);
    expect(checks.length).toBeGreaterThanOrEqual(6);
    const documented = firstCells("`check`").map((c) => /`([a-z_]+)`/.exec(c)![1]!);
    expect(documented.sort()).toEqual([...new Set(checks)].sort());
  });

  test("symbol_unresolved's row names every reason one can carry", () => {
    // The venues' (UNRESOLVED_KINDS) and the app's own: `resolving` (feeder.ts, supervisor.ts) and a down worker's
    // `worker_unavailable` (supervisor.ts), read from their `reason: "…"` literals.
    const app = ["src/app/feeder.ts", "src/app/supervisor.ts"].flatMap((p) => [...read(p).matchAll(/reason: "([a-z_]+)"/g)].map((m) => m[1]!));
    expect(app).toContain("worker_unavailable");
    const row = http.split("\n").find((l) => l.startsWith("| `symbol_unresolved` |"));
    expect(row, "the readiness table's symbol_unresolved row").toBeDefined();
    const missing = [...new Set([...UNRESOLVED_KINDS, ...app])].filter((k) => !row!.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });
});
