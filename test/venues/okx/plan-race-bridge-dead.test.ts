/**
 * OKX `books` without its initial snapshot (docs/venues/okx.md "No initial snapshot": the updates are buffered and a
 * REST snapshot is bridged to them) when the connection is lost with that REST snapshot on its way: a planned
 * reconnect (64008) whose replacement is still opening when the old socket closes, and the reconnect's handshake held
 * by the proxy (the venue unreachable for a while). The snapshot coming back must not make the book LIVE: no socket
 * feeds the stream (not subscribed until the new socket opens, so never found stale). Before: LIVE while disconnected
 * (the snapshot applied with the dead socket's buffered updates).
 */
import { afterEach, expect, test } from "vitest";
import { startOkx, until, type PlannedRun } from "../planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { replacing: WebSocket | null; open: boolean };

test("okx: a REST snapshot coming back while disconnected does not make the book LIVE; the new socket's own bridge does", { timeout: 30_000 }, async () => {
  const held = { on: false, waiting: [] as (() => void)[], bodiesRead: 0 };
  // The body read is counted: what the adapter does with it follows within that task's microtasks.
  const counting = (async (input: string | URL | Request, init?: RequestInit) => {
    if (!String(input).includes("/market/books")) return fetch(input, init);
    const res = await fetch(input, init);
    if (held.on) await new Promise<void>((r) => held.waiting.push(r));
    const body = await res.text();
    return {
      ok: res.ok,
      status: res.status,
      headers: res.headers,
      text: async () => {
        held.bodiesRead++;
        return body;
      },
    } as unknown as Response;
  }) as typeof fetch;
  const run = await startOkx(["BTC-USDT"], { initialSnapshot: false, adapter: { fetch: counting, ackTimeoutMs: 5_000 } });
  runs.push(run);
  const p = run.proxy;
  const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
  run.step(1);
  await until(() => run.equal(0), "the book live (bridged) at start");
  // A break: the book resubscribes; its updates are buffered and a REST snapshot is asked for (held).
  held.on = true;
  run.sim.inject("gap", "BTC-USDT");
  run.step(2);
  await until(() => held.waiting.length === 1, "the bridge's REST snapshot asked for (held)");
  p.holdUpgrades = true;
  run.announce!();
  await until(() => p.upgradesHeld === 1 && conn.replacing !== null, "the replacement opening");
  p.closeClient(p.links[0]!); // the old socket closes: the ordinary reconnect (its handshake held too)
  await until(() => conn.replacing === null && p.upgradesHeld === 2, "disconnected, the reconnect opening");
  const read = held.bodiesRead;
  held.on = false;
  held.waiting.shift()!();
  await until(() => held.bodiesRead > read, "the REST snapshot's body read");
  await new Promise((r) => setTimeout(r, 0)); // a task later: what the adapter does with it is done (microtasks)
  // Main before the fix: live here, with no socket open.
  expect((run.adapter as unknown as { topicInfo(i: number): { state: string } }).topicInfo(0).state).not.toBe("live");
  expect(conn.open).toBe(false);
  p.releaseUpgrades();
  await until(() => conn.open, "reconnected");
  run.step(2);
  await until(() => run.equal(0), "the book live and equal on the new socket");
  expect(run.sink.invalid.length, JSON.stringify(run.sink.invalid)).toBe(1); // the break only: RESYNCING already, the disconnect published nothing more
  expect(run.adapter.stats().reconnects).toBe(1);
});
