/**
 * The Coinbase simulator's /sim control (coinbase-sim-control.ts) takes stallMs and n as the other simulators do:
 * whole numbers from 1 (until 2026-12-07 it took 0: a stall of 0 ms, a step of nothing), else a 400 naming the field.
 * A fake host: no server, no socket.
 */
import { expect, test } from "vitest";
import { handleCoinbaseControl, type CoinbaseControlHost } from "../../src/sim/coinbase-sim-control.ts";
import type { CoinbaseSimFaultSummary, CoinbaseSimStats } from "../../src/sim/coinbase-sim-types.ts";

function fakeHost(): CoinbaseControlHost & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    stats: {} as CoinbaseSimStats,
    inject: (fault, product, opts) => (calls.push(`inject ${fault} ${product ?? "-"} ${opts?.stallMs}`), {} as CoinbaseSimFaultSummary),
    step: (n) => void calls.push(`step ${n}`),
    setRestAvailable: () => undefined,
    productIds: () => ["BTC-USD"],
    connectionInfo: () => [],
  };
}

const post = async (host: CoinbaseControlHost, path: string, body: unknown) => {
  const url = new URL(`http://127.0.0.1${path}`);
  const res = await handleCoinbaseControl(host, new Request(url.href, { method: "POST", body: JSON.stringify(body) }), url);
  return { status: res.status, body: (await res.json()) as { ok: boolean; field?: string; error?: string } };
};

test("stallMs and n: whole numbers from 1 (0 refused, naming the field, nothing done), as the other simulators", async () => {
  const host = fakeHost();
  expect(await post(host, "/sim/fault", { type: "stall", stallMs: 0 })).toEqual({ status: 400, body: { ok: false, field: "stallMs", error: "stallMs: must be an integer in 1..3600000, got 0" } });
  expect(await post(host, "/sim/step", { n: 0 })).toEqual({ status: 400, body: { ok: false, field: "n", error: "n: must be an integer in 1..100000, got 0" } });
  expect(await post(host, "/sim/step?n=0", {})).toMatchObject({ status: 400, body: { field: "n" } });
  expect(host.calls).toEqual([]);
  // The least and the most are taken; one past the most is not.
  expect((await post(host, "/sim/fault", { type: "stall", stallMs: 1 })).status).toBe(200);
  expect((await post(host, "/sim/fault", { type: "stall", stallMs: 3_600_000 })).status).toBe(200);
  expect((await post(host, "/sim/fault", { type: "stall", stallMs: 3_600_001 })).status).toBe(400);
  expect((await post(host, "/sim/step", { n: 1 })).status).toBe(200);
  expect((await post(host, "/sim/step", {})).status).toBe(200);
  expect(host.calls).toEqual(["inject stall - 1", "inject stall - 3600000", "step 1", "step 1"]);
});
