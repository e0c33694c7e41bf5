/**
 * `feeder listen` drawing its table says the subscriber's 'error' events on its log (stderr), rate-limited. Before,
 * only `-f ndjson` wrote them: with the table (the default) a rejected datagram, or a retransmission reply dropped
 * as from an address not asked (every gap falling back), was at most a count. In process, the feed on 127.0.0.1
 * unicast (--bind), silent log but for the lines taken here.
 */
import { createSocket } from "node:dgram";
import { afterEach, expect, test } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { listen } from "../../src/cli/commands/listen.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import { until } from "../support/until.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a rejected datagram is a warning naming what was wrong and where it came from", async () => {
  const probe = createSocket("udp4");
  await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const warnings: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  const log: Logger = { ...silentLogger, warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, fields }), child: () => log };
  let stopListen: (sig: string) => void = () => {};
  const ctx: CommandContext = {
    values: { bind: [`127.0.0.1:${port}`], format: "table" },
    positionals: [],
    log,
    out: () => {},
    stopSignal: new Promise<string>((resolve) => (stopListen = resolve)),
  };
  const exit = listen(ctx);
  cleanups.push(async () => {
    stopListen("SIGTERM");
    await exit;
  });
  const sender = createSocket("udp4");
  await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => sender.close(() => resolve())));
  const junk = new Uint8Array(40).fill(0xab); // no packet header: rejected by the reader
  const said = () => warnings.filter((w) => w.msg.startsWith("the feed's subscriber reported an error"));
  // Sent until one is read (listen binds its socket after this test starts it).
  await until(() => said().length > 0, "the rejected datagram's warning", 10_000, () => sender.send(junk, port, "127.0.0.1"));
  const w = said()[0]!;
  expect(w.fields?.detail).toMatch(/datagram \(40 B\)/);
  expect(w.fields?.from).toBe(`127.0.0.1:${sender.address().port}`);
  expect(w.msg).toBe("the feed's subscriber reported an error"); // before: "(the count: since the last such line)", of the first too
  expect(w.fields?.counted).toBe("the first such report");
});
