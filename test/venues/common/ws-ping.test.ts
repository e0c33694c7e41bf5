/**
 * Keepalive kind `ws_ping` relies on Bun's WebSocket client answering a server's ping frames by itself (Binance
 * pings every 20 s or 3 min and drops a client that does not pong). Proven here on 127.0.0.1.
 */
import { afterEach, expect, test } from "vitest";

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

test("Bun's WebSocket client answers a server ping frame with a pong carrying the same payload", async () => {
  let gotPong: (payload: string) => void = () => {};
  const pong = new Promise<string>((resolve) => (gotPong = resolve));
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      open: (ws) => void ws.ping("keepalive-7"),
      message: () => {},
      pong: (_ws, data) => gotPong(Buffer.from(data).toString()),
    },
  });
  cleanups.push(() => server.stop(true));
  const client = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  cleanups.push(() => client.close());
  expect(await pong).toBe("keepalive-7");
});
