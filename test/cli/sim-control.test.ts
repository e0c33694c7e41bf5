/**
 * `feeder sim` as a child process (bun src/cli/main.ts sim): faults injected over its HTTP control surface reach a
 * raw WebSocket client, bad requests do not crash it, --replay-depth serves the recording under depth 1000, and
 * SIGINT stops it with exit code 0.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { RawClient } from "../sim/raw-client.ts";

const ROOT = join(import.meta.dirname, "../..");
const FIXTURE = resolve(ROOT, "test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const FIXTURE_LINES = readFileSync(FIXTURE, "utf8").split(/\r?\n/).filter((l) => l.length > 0);

/** Reads the child's stdout until a line starting with `prefix` appears; returns all lines so far. */
async function readUntil(reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> }, seen: string[], prefix: string): Promise<string[]> {
  const decoder = new TextDecoder();
  let partial = "";
  while (!seen.some((l) => l.startsWith(prefix))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`feeder sim exited before printing "${prefix}": ${seen.join("\n")}`);
    partial += decoder.decode(value, { stream: true });
    const parts = partial.split("\n");
    partial = parts.pop()!;
    seen.push(...parts);
  }
  return seen;
}

describe("feeder sim (child process) control over HTTP", { timeout: 30_000 }, () => {
  test("faults, steps and bad requests over HTTP; --replay-depth 1000; SIGINT exits 0", async () => {
    const proc = Bun.spawn(
      [process.execPath, "src/cli/main.ts", "sim", "--port", "0", "--rate", "0", "--seed", "3", "--symbols", "linear:BTCUSDT,linear:XRPUSDT", "--replay", FIXTURE, "--replay-depth", "1000"],
      { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
    );
    const clients: RawClient[] = [];
    try {
      const lines = await readUntil(proc.stdout.getReader(), [], "control");
      const field = (name: string) => lines.find((l) => l.startsWith(name))!.split(/\s+/)[1]!;
      const wsUrl = field("wsUrl");
      const restUrl = field("restUrl");
      expect(lines).toContain("replay  linear orderbook.1000.XRPUSDT  50 lines");
      const post = async (path: string, body?: string) => {
        const r = await fetch(`${restUrl}${path}`, { method: "POST", body });
        return { status: r.status, body: (await r.json()) as any };
      };

      const btc = await RawClient.open(`${wsUrl}/linear`);
      const xrp = await RawClient.open(`${wsUrl}/linear`);
      clients.push(btc, xrp);
      const snap = await btc.subscribe("orderbook.50.BTCUSDT");
      const recorded = await xrp.subscribe("orderbook.1000.XRPUSDT");
      expect(recorded.topic).toBe("orderbook.1000.XRPUSDT");
      expect(recorded.data.u).toBe(JSON.parse(FIXTURE_LINES[0]!).data.u);

      // A gap on BTCUSDT: the next delta skips a u; XRPUSDT's recording goes on untouched.
      expect(await post("/sim/fault", JSON.stringify({ type: "gap", market: "linear", symbol: "BTCUSDT" }))).toMatchObject({ status: 200, body: { ok: true, fault: "gap", topics: 1 } });
      expect(await post("/sim/step")).toMatchObject({ status: 200, body: { messagesSent: 2 } });
      expect((await btc.nextJson()).data.u).toBe(snap.data.u + 2);
      expect(await xrp.next()).toBe(FIXTURE_LINES[1]!.replace("orderbook.500.", "orderbook.1000."));

      // Bad requests: 400 naming the field, and the process is still there.
      expect(await post("/sim/fault", '{"type":"meteor"}')).toMatchObject({ status: 400, body: { ok: false, field: "type" } });
      expect(await post("/sim/fault", "{{{")).toMatchObject({ status: 400, body: { field: "body" } });
      expect(await post("/sim/fault?type=stall&stallMs=soon")).toMatchObject({ status: 400, body: { field: "stallMs" } });
      expect(await post("/sim/step?n=-1")).toMatchObject({ status: 400, body: { field: "n" } });
      const stats = (await (await fetch(`${restUrl}/sim/stats`)).json()) as any;
      expect(stats).toMatchObject({ ok: true, stats: { connections: 2 } });

      // A reset on the replayed symbol: a snapshot of the replay book with u = 1.
      expect((await post("/sim/fault?type=reset&symbol=XRPUSDT")).body).toMatchObject({ ok: true, topics: 1 });
      expect(await xrp.nextJson()).toMatchObject({ topic: "orderbook.1000.XRPUSDT", type: "snapshot", data: { u: 1 } });

      // Disconnect everything: both clients are closed by the server.
      expect((await post("/sim/fault?type=disconnect")).body).toMatchObject({ ok: true, target: null, connections: 2 });
      await btc.waitClosed();
      await xrp.waitClosed();

      proc.kill("SIGINT");
      expect(await proc.exited).toBe(0);
    } finally {
      for (const c of clients) c.close();
      proc.kill("SIGKILL");
    }
  });
});
