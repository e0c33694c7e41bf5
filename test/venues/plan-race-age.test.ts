/**
 * A planned reconnect's replacement still opening (its handshake held by the proxy, ws-proxy.ts `holdUpgrades`) when
 * the old connection ends at its age: our age deadline (maxConnectionAgeMs + plannedAgeGraceMs, on the adapter's
 * clock), or the venue's own close (Binance's 24 h). The ordinary reconnect follows once: every book leaves LIVE once
 * (DISCONNECTED), the opening replacement is given up (closed while CONNECTING: it never becomes a socket, the
 * proxy never gets a link for it), one new connection carries every book again, equal to the simulator's, and no
 * second socket is opened. Binance spot; no defect found (pins the behaviour).
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { housekeepingRounds } from "../support/housekeeping-rounds.ts";
import { startBinance, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { replacing: WebSocket | null; retiringWs: WebSocket | null; ws: WebSocket | null; open: boolean };
const AGE_MS = 10_000;
const GRACE_MS = 1_000;

for (const end of ["our age deadline", "the venue's close"] as const) {
  describe(`binance: a replacement still opening at ${end}`, { timeout: 30_000 }, () => {
    test("one ordinary reconnect: each book DISCONNECTED once, the opening replacement given up, no second socket", async () => {
      let clock = 1_000_000;
      const run = await startBinance(["BTCUSDT", "ETHUSDT"], {
        // The replacement's handshake is not given up before the age deadline; nothing else runs on the adapter's clock.
        adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, maxConnectionAgeMs: AGE_MS, plannedAgeGraceMs: GRACE_MS, ackTimeoutMs: 60_000, deadConnectionMs: 1e9, staleAfterMs: () => 1e9 },
      });
      runs.push(run);
      const p = run.proxy;
      const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
      const afterHousekeeping = housekeepingRounds(run.adapter);
      run.step(1);
      await until(() => run.equal(0) && run.equal(1), "both books live at start");
      p.holdUpgrades = true;
      clock += AGE_MS; // the age limit: the planned reconnect opens a replacement, its handshake held
      await until(() => p.upgradesHeld === 1 && conn.replacing !== null, "the replacement opening (handshake held)");
      expect(conn.replacing!.readyState).toBe(WebSocket.CONNECTING);
      const replacement = conn.replacing!;
      p.holdUpgrades = false; // the ordinary reconnect's handshake goes through
      if (end === "our age deadline") clock += GRACE_MS;
      else p.closeClient(p.links[0]!, 1001);
      await until(() => run.sink.invalid.length === 2, "both books invalid");
      expect(run.sink.invalid.map((x) => [x.state, x.reason])).toEqual([
        [BookState.RESYNCING, StatusReason.DISCONNECTED],
        [BookState.RESYNCING, StatusReason.DISCONNECTED],
      ]);
      expect(conn.replacing).toBeNull();
      await until(() => replacement.readyState === WebSocket.CLOSED, "the opening replacement closed");
      p.releaseUpgrades(); // its handshake completes at the proxy after the client gave up: no link
      await until(() => p.links.length === 2 && conn.open, "the ordinary reconnect open");
      run.step(1);
      await until(() => run.equal(0) && run.equal(1), "both books live and equal on the new connection");
      await afterHousekeeping(5);
      expect(p.links.length).toBe(2);
      expect(p.links.map((l) => l.closed)).toEqual([true, false]);
      expect(conn.ws).not.toBe(replacement);
      const s = run.adapter.stats();
      expect([s.reconnects, s.plannedReconnects, s.plannedReconnectFailures, s.connects]).toEqual([1, 1, 0, 3]);
      expect(run.sink.invalid.length).toBe(2);
    });
  });
}
