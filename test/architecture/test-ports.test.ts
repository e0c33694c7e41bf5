/**
 * No test or bench picks a port from a range that reaches Linux's ephemeral ports (32768–60999 by default): test files
 * run side by side, every UDP sender and WebSocket client of another file holds an ephemeral port, and a subscriber
 * or server binding one of those fails (EADDRINUSE) by chance. Ports a file binds come from
 * test/support/destination.ts (uniqueDestination) or port 0. This reads the sources for the two ways files chose a
 * port before: a base plus Math.random() or plus something modulo a span.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { expect, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const EPHEMERAL_FIRST = 32_768;
const EPHEMERAL_LAST = 60_999;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? (name === "node_modules" ? [] : filesUnder(p)) : p.endsWith(".ts") ? [p] : [];
  });
}

const num = (s: string) => Number(s.replaceAll("_", ""));
/** base + Math.floor(Math.random() * span) [* step] */
const RANDOM = /(\d[\d_]*)\s*\+\s*Math\.floor\(Math\.random\(\)\s*\*\s*(\d[\d_]*)\)(?:\s*\*\s*(\d+))?/g;
/** base + (… % span) */
const MODULO = /(\d[\d_]*)\s*\+\s*\((?:[^;%()]|\([^;%()]*\))*%\s*(\d[\d_]*)\s*\)/g;

const meets = (first: number, last: number) => first <= EPHEMERAL_LAST && last >= EPHEMERAL_FIRST && last - first < 65_536;

/**
 * "file:line: text" of each port choice whose range meets the ephemeral range. Every line: a port's name need not say
 * port (workers-retransmit's BASE); arithmetic spanning more than 65536 values (hashes modulo a prime) is no port.
 */
export function portsInEphemeralRange(text: string, name: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(RANDOM)) {
      const step = m[3] === undefined ? 1 : num(m[3]);
      if (meets(num(m[1]!), num(m[1]!) + (num(m[2]!) - 1) * step + step - 1)) found.push(`${name}:${i + 1}: ${m[0]}`);
    }
    for (const m of line.matchAll(MODULO)) {
      if (meets(num(m[1]!), num(m[1]!) + num(m[2]!) - 1)) found.push(`${name}:${i + 1}: ${m[0]}`);
    }
  });
  return found;
}

test("the check sees both ways of choosing a port (a check that cannot fail is no check)", () => {
  expect(portsInEphemeralRange("const PORT = 44000 + Math.floor(Math.random() * 900) * 2;", "a")).toHaveLength(1);
  expect(portsInEphemeralRange("const port = 20_000 + ((process.pid * 11 + 83) % 30_000);", "b")).toHaveLength(1);
  expect(portsInEphemeralRange("port: 50_000 + ((pid * 7 + seed * 131) % 10_000) };", "c")).toHaveLength(1);
  // Below or above the range: fine.
  expect(portsInEphemeralRange("const port = 20_000 + ((process.pid * 3 + 977) % 12_000);", "d")).toEqual([]);
  expect(portsInEphemeralRange("let retxPort = 61_000 + Math.floor(Math.random() * 450) * 8;", "e")).toEqual([]);
  // A name that does not say port, as workers-retransmit's BASE (until 2026-12-07 only lines saying port were read).
  expect(portsInEphemeralRange("const BASE = 40_000 + Math.floor(Math.random() * 1000) * 4;", "f")).toHaveLength(1);
  // Arithmetic spanning more than 65536 values is no port (planned-fallback-harness's digest modulo a prime).
  expect(portsInEphemeralRange("h = (h + (p % 1_000_003) * 131 + (q % 1_000_003)) % 2_147_483_647;", "g")).toEqual([]);
  expect(portsInEphemeralRange("const port = 60_000 + Math.floor(Math.random() * 10_000);", "h")).toHaveLength(1);
});

test("no test or bench chooses a port in a range that reaches the ephemeral ports", () => {
  const self = resolve(import.meta.filename);
  const files = [...filesUnder(join(ROOT, "test")), ...filesUnder(join(ROOT, "bench"))].filter((f) => f !== self);
  expect(files.length).toBeGreaterThan(100);
  expect(files.flatMap((f) => portsInEphemeralRange(readFileSync(f, "utf8"), relative(ROOT, f)))).toEqual([]);
});
