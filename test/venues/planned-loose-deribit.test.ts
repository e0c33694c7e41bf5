/**
 * Deribit: a planned reconnect (maximum connection age) whose replacement fails goes back to the old socket and binds
 * its handlers again. Its `open` and `close` listeners are added once per socket, not once per go-back: before, every
 * fallback added two more to the old socket (8 after three), each holding its generation, and every one of them ran
 * when that socket closed. Counted on WebSocket.prototype.addEventListener, over real sockets through the proxy.
 */
import { afterEach, expect, test } from "vitest";
import { startDeribit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
const original = WebSocket.prototype.addEventListener;
afterEach(async () => {
  WebSocket.prototype.addEventListener = original;
  while (runs.length > 0) await runs.pop()!.stop();
});

test("deribit: three failed replacements leave the old socket with its two listeners; the fourth replacement completes", { timeout: 30_000 }, async () => {
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
  expect(types.sort()).toEqual(["close", "open"]);
  await until(() => p.links.length > FAILING + 1 && p.links[0]!.closed, "a later replacement done, the old socket closed");
  run.step(2);
  await until(() => run.equal(0) && run.equal(1), "both books equal on the new socket");
  expect(run.sink.invalid).toEqual([]);
  expect(run.adapter.stats().reconnects).toBe(0);
});
