/**
 * `bridge to-nats`' stop cut at its 1.5 s bound (stopBridge) says how much it lost: the bytes the NATS client still
 * held (unflushedBytes). Before s-sm9 the warning said only that "the last NATS messages" were not flushed.
 * Real parts: the ForwardBridge and its NATS client (its datagrams handed to onDatagram, as rev19-nats-backlog does);
 * the server here greets and answers PINGs until muted, then reads nothing more (the client's socket fills) and
 * answers nothing (the stop's flush waits for a PONG).
 */
import { afterEach, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { stopBridge } from "../../src/cli/commands/bridge.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { captureLog } from "../support/capture-log.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";

const INFO = `INFO {"server_id":"sm9","version":"2.10.0","proto":1,"headers":true,"max_payload":1048576}\r\n`;
const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

function mutableNats() {
  const state = { muted: false };
  const sockets: { pause(): unknown }[] = [];
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        sockets.push(s);
        s.write(INFO);
      },
      data(s, data) {
        if (!state.muted) for (const _ of data.toString().matchAll(/PING\r\n/g)) s.write("PONG\r\n");
      },
    },
  });
  stops.push(() => server.stop(true));
  return {
    url: `nats://127.0.0.1:${server.port}`,
    mute() {
      state.muted = true;
      for (const s of sockets) s.pause(); // reads nothing more: what the client sends stays in its buffers
    },
  };
}

test("bridge to-nats: a stop cut at 1.5 s names the bytes the NATS client still held (unflushedBytes)", { timeout: 20_000 }, async () => {
  const nats = mutableNats();
  const bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: "sm9", log: silentLogger });
  stops.push(() => bridge.stop());
  await bridge.start();
  nats.mute();
  const x = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
  const book = new TestBook(x);
  book.load(
    Array.from({ length: 200 }, (_, i): [number, number] => [943000 - i, 5]),
    Array.from({ length: 200 }, (_, i): [number, number] => [944000 + i, 5]),
    1,
    T0,
  );
  const p = packer({ channelId: 3, sourceId: 7, sessionId: 900, sessionStartUs: T0 });
  packInstrumentDefinition(p, new EncodedDefinition(x), false);
  let sendUs = T0;
  // Snapshots of ~1.4 KB each until the client holds 256 KB unwritten (the kernel's buffers full first).
  for (let i = 0; i < 20_000 && bridge.pendingBytes < 256 * 1024; i++) {
    packBookSnapshot(p, book, 0, true);
    for (const d of take(p, (sendUs += 1))) bridge.onDatagram(d);
    if (i % 200 === 199) await Bun.sleep(0); // the client writes what it holds into its socket
  }
  const heldBytes = bridge.pendingBytes;
  expect(heldBytes).toBeGreaterThanOrEqual(256 * 1024);
  const { log, lines } = captureLog();
  await stopBridge(log, bridge, undefined, "the last NATS messages not flushed");
  const cut = lines.find((l) => l.msg.startsWith("stop not finished within its deadline"));
  expect(cut, JSON.stringify(lines)).toBeDefined();
  // What it held when the stop began, not written since (the server reads nothing), and the flush's PING.
  expect(cut!.fields.unflushedBytes).toBeGreaterThanOrEqual(heldBytes);
});
