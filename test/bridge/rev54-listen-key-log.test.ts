/**
 * rev54: `feeder listen --nats --auth-key-file F` logged its "listening" line with the whole NATS read options,
 * the HMAC key among them (authKey: {"0":..,"1":..}): the feed's secret in every log that keeps listen's stderr.
 * The line names the key file, never the key.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const ROOT = join(import.meta.dirname, "../..");
const missing = natsServerMissing();
let nats: NatsServer;

beforeAll(async () => {
  if (!missing) nats = await NatsServer.start();
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`listen --nats with a key${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 60_000 }, () => {
  test("the 'listening' line does not carry the HMAC key", async () => {
    const dir = makeTempDir("feeder-rev54-");
    const keyFile = join(dir, "feed.key");
    const keyHex = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    writeFileSync(keyFile, keyHex + "\n");
    const p = Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), "listen", "-f", "ndjson", "--nats", nats.url, "--prefix", "k.md", "--duration", "1", "--auth-key-file", keyFile], {
      stdout: "pipe",
      stderr: "pipe",
      cwd: ROOT,
    });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code, stderr).toBe(0);
    const listening = stderr.split("\n").find((l) => l.includes("listening"));
    expect(listening, stderr).toBeDefined();
    expect(listening).toContain("k.md"); // the NATS options are still there
    expect(stderr).not.toMatch(/"authKey"/);
    // The key's first bytes as a logger would write them: decimal (0xa1 = 161, 0xb2 = 178) or hex.
    expect(stderr).not.toMatch(/161,\s*"?1"?:?\s*178|161,178/);
    expect(stderr.toLowerCase()).not.toContain(keyHex);
    expect(listening).toContain("feed.key");
  });
});
