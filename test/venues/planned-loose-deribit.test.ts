/**
 * Deribit: a planned reconnect (maximum connection age) whose replacement fails goes back to the old socket and binds
 * its handlers again. Its `close` listener is added once per socket, not once per go-back: before, every fallback added
 * two more listeners to the old socket (8 after three), each holding its generation, and every one of them ran when
 * that socket closed (the `open` one is gone since 2026-12-07: set_heartbeat goes from the lifecycle's socketInUse). Counted on WebSocket.prototype.addEventListener, over real sockets through the proxy.
 * And a replacement that hears nothing is judged by its own silence, not by the old socket's frames (which until
 * 2026-12-07 kept it "alive" until its ack deadline): given up after the dead-connection time, the old socket feeding
 * the books meanwhile. And a replacement whose swap waited (the old socket had a request in flight at its open) asks
 * for the heartbeat when it is swapped in: before, set_heartbeat went only on a socket that was the connection's at
 * its open, so such a replacement never asked (no test_request, no heartbeat bound for its whole life). On every socket
 * set_heartbeat is the first message, before the subscribe (until 2026-12-07 after it: the books could be LIVE
 * before the heartbeat was asked, while it waited for the message budget).
 */
import { afterEach, expect, test } from "vitest";
import { StatusReason } from "../../src/core/types.ts";
import { startDeribit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
const original = WebSocket.prototype.addEventListener;
afterEach(async () => {
  WebSocket.prototype.addEventListener = original;
  while (runs.length > 0) await runs.pop()!.stop();
});

test("deribit: three failed replacements leave the old socket with its one listener; the fourth replacement completes", { timeout: 30_000 }, async () => {
  const added = new Map<WebSocket, string[]>();
  WebSocket.prototype.addEventListener = function (this: WebSocket, ...args: unknown[]) {
    added.set(this, [...(added.get(this) ?? []), String(args[0])]);
    return (original as (...a: unknown[]) => void).apply(this, args);
  } as typeof original;
  const FAILING = 3;
  const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], 1_500, {
    // Replacements 1–3: nothing the simulator sends them arrives (no ack, no test_request): each fails.
    prepare: (p) => {
      for (let i = 1; i <= FAILING; i++) p.byIndex.set(i, { holdDown: true });
    },
  });
  runs.push(run);
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live");
  const p = run.proxy;
  await until(() => run.adapter.stats().plannedReconnectFailures === FAILING, `${FAILING} replacements failed`);
  expect(p.links[0]!.closed).toBe(false);
  // The first socket the adapter opened is the old one of every fallback (the proxy's upstream sockets add none).
  const [oldSocket, types] = [...added][0]!;
  expect(oldSocket.url.startsWith(p.origin)).toBe(true);
  expect(types.sort()).toEqual(["close"]);
  expect(p.links[0]!.fromClient[0], "set_heartbeat first on the old socket").toContain("public/set_heartbeat");
  // Gone back to three times, it is not asked again (socketInUse runs where a socket becomes the connection's anew:
  // its open, a swap; not a go-back, whose server's promise still holds from its first ask).
  expect(p.links[0]!.fromClient.filter((f) => f.includes("public/set_heartbeat")).length, "set_heartbeat once on the old socket").toBe(1);
  await until(() => p.links.length > FAILING + 1 && p.links[0]!.closed, "a later replacement done, the old socket closed");
  run.step(2);
  await until(() => run.equal(0) && run.equal(1), "both books equal on the new socket");
  expect(p.links.at(-1)!.fromClient[0], "set_heartbeat first on the replacement swapped in at its open").toContain("public/set_heartbeat");
  expect(run.sink.invalid).toEqual([]);
  expect(run.adapter.stats().reconnects).toBe(0);
});

test("deribit: a replacement silent past the dead-connection time is given up while the old socket delivers; the old socket keeps the books LIVE", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const AGE_MS = 10_000;
  const TICK_MS = 50;
  // The replacement's subscribe gets a deadline far past the dead-connection time (7 s): only its own silence can find it.
  const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], AGE_MS, {
    prepare: (p) => p.byIndex.set(1, { holdDown: true }), // the replacement hears nothing, its socket open
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, ackTimeoutMs: 60_000, staleAfterMs: () => 600_000 },
    heartbeatTimeoutMs: 60_000, // the simulator keeps the replacement, whose test_requests never reach us
  });
  runs.push(run);
  const p = run.proxy;
  const conn = (run.adapter as unknown as { conns: { retiringWs: WebSocket | null; openedMs: number }[] }).conns[0]!;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  const drive = async (untilMs: number) => {
    let ticks = 0;
    while (clock < untilMs) {
      clock += TICK_MS;
      if (++ticks % 4 === 0) run.step(1); // the old socket delivers all along
      await new Promise((r) => setTimeout(r, 3));
    }
  };
  await drive(conn.openedMs + AGE_MS);
  await until(() => conn.retiringWs !== null, "the replacement swapped in");
  const swapMs = clock;
  // Before: the old socket's frames were the connection's, so the silent replacement lived on to its ack deadline (60 s).
  await drive(swapMs + 8_000);
  // Given up on the adapter's clock by now; its close reaches the proxy over a real socket (polled, bounded).
  await until(() => p.links[1]!.closed, "the silent replacement closed");
  // Swapped in at its open: set_heartbeat once (the open's and the swap's ask are one).
  expect(p.links[1]!.fromClient.filter((f) => f.includes("public/set_heartbeat")).length).toBe(1);
  expect(run.adapter.stats().plannedReconnectFailures).toBe(1); // gone back to the old socket, a later replacement tried
  expect(run.adapter.stats().reconnects).toBe(0);
  expect(run.sink.invalid, "the old socket kept the books LIVE").toEqual([]);
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books equal");
});

test("deribit: a replacement whose swap waited for the old socket's request in flight still asks for the heartbeat on it", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const AGE_MS = 10_000;
  const TICK_MS = 50;
  const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], AGE_MS, {
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, ackTimeoutMs: 60_000, staleAfterMs: () => 600_000 },
  });
  runs.push(run);
  const p = run.proxy;
  type Conn = { ws: WebSocket | null; retiringWs: WebSocket | null; replacing: WebSocket | null; replacingOpen: boolean; pending: Map<string, unknown> };
  const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  p.holdUpgrades = true;
  let ticks = 0;
  const startedMs = clock;
  while (conn.replacing === null && clock < startedMs + 2 * AGE_MS) {
    clock += TICK_MS;
    if (++ticks % 4 === 0) run.step(1);
    await new Promise((r) => setTimeout(r, 3));
  }
  expect(conn.replacing, "the planned reconnect started").not.toBeNull();
  await until(() => p.upgradesHeld === 1, "the replacement's handshake held");
  // A resync on the old socket, its answer held: a request in flight when the replacement opens, so the swap waits.
  const old = p.links[0]!;
  old.heldDown = [];
  run.adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
  await until(() => conn.pending.size > 0 && old.fromClient.some((f) => f.includes("unsubscribe")), "a request out on the old socket");
  p.releaseUpgrades();
  await until(() => conn.replacingOpen, "the replacement open, its swap waiting");
  expect(conn.replacing, "not swapped yet").not.toBeNull();
  p.releaseDown(old);
  await until(() => conn.replacing === null && conn.retiringWs === null && p.links.length === 2, "swapped, then the old socket closed");
  // Before: the venue's open (set_heartbeat) ran only for a socket already the connection's at its open, so this one
  // never asked: no test_request, and no heartbeat bound on it for its whole life.
  expect(p.links[1]!.fromClient.filter((f) => f.includes("public/set_heartbeat")).length, "set_heartbeat once on the replacement").toBe(1);
  expect(p.links[1]!.fromClient[0], "set_heartbeat first on it, before its subscribe").toContain("public/set_heartbeat");
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books equal on the replacement");
});
