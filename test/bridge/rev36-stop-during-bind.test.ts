/**
 * ForwardBridge.stop() while start() is binding a group socket (a signal during start-up). Before, start() never
 * settled: the socket stop() closed mid-bind never called back, so `feeder bridge` (or any owner awaiting start())
 * hung there. Now the bind ends with the close and start() returns as after any stop during start-up, nothing left
 * open. A minimal NATS server on 127.0.0.1 (held-nats-server.ts).
 */
import type dgram from "node:dgram";
import { afterEach, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { heldNatsServer } from "./held-nats-server.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

test("stop() while the forward bridge binds its group socket: start() settles, no socket left open", { timeout: 30_000 }, async () => {
  const nats = heldNatsServer(stops);
  nats.greet();
  const { group, port } = uniqueDestination(250);
  const bridge = new ForwardBridge({ groups: [{ group, port, iface: "127.0.0.1" }], servers: nats.url, prefix: "bind-stop", log: silentLogger });
  stops.push(() => bridge.stop());
  // The stop comes right after the group socket's bind is asked for, before it completes.
  const sockets = (bridge as unknown as { sockets: dgram.Socket[] }).sockets;
  let stopping: Promise<void> | undefined;
  sockets.push = (s: dgram.Socket) => {
    const bind = s.bind.bind(s) as (...a: unknown[]) => dgram.Socket;
    (s as unknown as { bind: (...a: unknown[]) => dgram.Socket }).bind = (...a: unknown[]) => {
      const r = bind(...a);
      stopping = bridge.stop();
      return r;
    };
    return Array.prototype.push.call(sockets, s);
  };
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    bridge.start().then(
      () => "resolved",
      (e: Error) => `rejected: ${e.message}`,
    ),
    new Promise<string>((res) => (deadline = setTimeout(() => res("still pending after 5 s"), 5000))),
  ]).finally(() => clearTimeout(deadline));
  await stopping;
  // Old: still pending (the bind's callback never came).
  expect(outcome).toBe("resolved");
  expect(sockets).toHaveLength(0);
});
