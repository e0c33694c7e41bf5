/**
 * The Coinbase simulator and a client that stops reading: Coinbase (its Exchange and International feeds' docs)
 * disconnects a slow consumer. Before, the simulator
 * queued everything up to its socket's 1 GiB (and then dropped frames, their sequence_num spent): a test could not
 * make a slow-consumer disconnect, and a client held up for long enough saw holes. Now a connection with more than
 * `slowConsumerBytes` unsent is closed (stats.slowConsumerCloses) and no frame is dropped.
 */
import { connect, type Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import { startCoinbaseSimulator, type CoinbaseSim } from "../../src/sim/coinbase-sim.ts";
import { until } from "../support/until.ts";

let sim: CoinbaseSim | undefined;
let sock: Socket | undefined;
afterEach(async () => {
  sock?.destroy();
  sock = undefined;
  await sim?.stop();
  sim = undefined;
});

/** One masked client text frame (RFC 6455 §5.2). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

/** A WebSocket opened by hand on 127.0.0.1, subscribed to `product`, then never read again (paused). */
async function subscribeAndStopReading(port: number, product: string): Promise<{ closed: () => boolean }> {
  const s = (sock = connect({ host: "127.0.0.1", port }));
  let closed = false;
  s.on("close", () => void (closed = true));
  s.on("error", () => undefined);
  await new Promise<void>((res, rej) => {
    s.once("connect", () => res());
    s.once("error", rej);
  });
  s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((res, rej) => {
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      s.off("data", onData);
      s.pause(); // from here on nothing is read: the kernel's buffers fill, then the simulator's
      if (head.startsWith("HTTP/1.1 101")) res();
      else rej(new Error(`no upgrade: ${head.slice(0, 80)}`));
    };
    s.on("data", onData);
  });
  s.write(clientFrame(JSON.stringify({ type: "subscribe", channel: "heartbeats" })));
  s.write(clientFrame(JSON.stringify({ type: "subscribe", channel: "level2", product_ids: [product] })));
  return { closed: () => closed };
}

it("a client that stops reading is disconnected once more than slowConsumerBytes is unsent; nothing is dropped", async () => {
  // 20k levels a side: each snapshot ~4.4 MB; `reset` sends another to the connection while it does not read.
  sim = await startCoinbaseSimulator({ products: ["BTC-USD"], levels: 20_000, seed: 5, slowConsumerBytes: 4 * 1024 * 1024 });
  const port = Number(new URL(sim.wsUrl).port);
  const client = await subscribeAndStopReading(port, "BTC-USD");
  const s = sim;
  await until(() => s.stats.subscribes === 1, "the subscribe", 30_000);
  // Old: nothing bounded the queue below 1 GiB: the connection stayed open whatever was queued (~90 MB here).
  for (let i = 0; i < 20 && (s.stats.slowConsumerCloses ?? 0) === 0; i++) s.inject("reset", "BTC-USD");
  await until(() => s.stats.slowConsumerCloses === 1, `the slow consumer closed (stats ${JSON.stringify(s.stats)})`, 30_000);
  sock!.on("data", () => undefined);
  sock!.resume(); // reading again, the client comes to the end of what was sent: the close
  await until(() => client.closed(), "the client's socket closed", 30_000);
  expect(s.stats.connections).toBe(0);
  expect(s.stats.framesDropped).toBe(0);
});
