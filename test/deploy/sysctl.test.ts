/** deploy/sysctl/90-feeder.conf: every key is a real kernel setting, and rmem_max fits the subscriber's request. */
import { describe, expect, test } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const settings = readFileSync(join(ROOT, "deploy/sysctl/90-feeder.conf"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => {
    const m = /^([a-z0-9_.]+)\s*=\s*(\d+)$/.exec(l);
    if (!m) throw new Error(`not a sysctl line: ${l}`);
    return [m[1]!, Number(m[2])] as const;
  });

describe("deploy/sysctl/90-feeder.conf", () => {
  test("every key exists under /proc/sys", () => {
    expect(settings.length).toBeGreaterThanOrEqual(3);
    for (const [key] of settings) expect(existsSync(`/proc/sys/${key.replaceAll(".", "/")}`), key).toBe(true);
  });

  test("net.core.rmem_max is at least the receive buffer the subscriber library asks for", () => {
    const src = readFileSync(join(ROOT, "src/subscriber/feed-subscriber.ts"), "utf8");
    const m = /DEFAULT_RECV_BUFFER_BYTES = ([\d\s*]+);/.exec(src)!;
    const requested = m[1]!.split("*").reduce((p, x) => p * Number(x), 1);
    expect(requested).toBe(8 * 1024 * 1024);
    expect(Object.fromEntries(settings)["net.core.rmem_max"]).toBeGreaterThanOrEqual(requested);
  });
});
