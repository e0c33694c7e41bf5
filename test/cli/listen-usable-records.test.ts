/**
 * `feeder listen -f ndjson` read as a script reads it: the last record of a book says whether it is usable. A book
 * the subscriber stopped holding usable without an update of its own (its stream had a gap, went silent, or came
 * back) gets a {"type":"usable"} record saying so. Before, after a gap on the channel the last record of a book
 * that had no update since was its `"usable":true` update, though the subscriber held it invalid until its next
 * snapshot. In process, the feed on 127.0.0.1 unicast (--bind), datagrams from the wire's packer.
 */
import { createSocket, type Socket } from "node:dgram";
import { afterEach, expect, test } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { listen } from "../../src/cli/commands/listen.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { until } from "../support/until.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";

const BOUND_MS = 10_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

type Rec = { type: string; symbol?: string; usable?: boolean; valid?: boolean; stale?: boolean; state?: string };

/** A free UDP port on 127.0.0.1 (bound and given back: listen --bind takes a number). */
async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** listen -f ndjson --bind 127.0.0.1:PORT in process; its records as they are written, and a sender to it. */
async function startListen(opts: { pendingBytes?: () => number; log?: Logger } = {}): Promise<{ records: () => Rec[]; send: (datagrams: Uint8Array[]) => void; stop: () => Promise<number> }> {
  const port = await freePort();
  const lines: string[] = [];
  let stopListen: (sig: string) => void = () => {};
  const ctx: CommandContext = {
    values: { bind: [`127.0.0.1:${port}`], format: "ndjson", "max-unread-kib": "1" },
    positionals: [],
    log: opts.log ?? silentLogger,
    out: (t) => void lines.push(t),
    outPendingBytes: opts.pendingBytes,
    stopSignal: new Promise<string>((resolve) => (stopListen = resolve)),
  };
  const exit = listen(ctx);
  const sender: Socket = createSocket("udp4");
  cleanups.push(() => new Promise<void>((resolve) => sender.close(() => resolve())));
  const stop = async () => {
    stopListen("SIGTERM");
    return exit;
  };
  cleanups.push(stop);
  return { records: () => lines.map((l) => JSON.parse(l) as Rec), send: (ds) => ds.forEach((d) => sender.send(d, port, "127.0.0.1")), stop };
}

/** The last record naming `symbol`. */
const lastOf = (records: Rec[], symbol: string): Rec | undefined => records.filter((r) => r.symbol === symbol).at(-1);

function twoBooks(p: ChannelPacker): { a: TestBook; b: TestBook; datagrams: Uint8Array[] } {
  const a = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  const b = new TestBook(makeInstrument("bybit", "linear", "ETHUSDT", 2, 3));
  a.load([[943503, 1500]], [[943504, 250]], 1, T0);
  b.load([[349999, 551]], [[350000, 503]], 1, T0);
  for (const book of [a, b]) {
    packInstrumentDefinition(p, new EncodedDefinition(book.instrument), false);
    packBookSnapshot(p, book, 0, false);
  }
  return { a, b, datagrams: take(p, Date.now() * 1000) };
}

function delta(p: ChannelPacker, book: TestBook, qty: number): Uint8Array[] {
  const cs = new ChangeSet();
  cs.addBid(book.bidPriceAt(0), qty);
  book.apply(cs, book.venueSeq + 1, T0 + qty);
  packBookDelta(p, book, cs);
  return take(p, Date.now() * 1000);
}

test("a gap on the channel: every book it invalidated gets a usable:false record, also one with no update since (before: its last record said usable:true)", { timeout: 30_000 }, async () => {
  const l = await startListen();
  const p = packer({ heartbeatIntervalMs: 1000 });
  const { a, b, datagrams } = twoBooks(p);
  l.send(datagrams);
  await until(() => lastOf(l.records(), "BTCUSDT")?.usable === true && lastOf(l.records(), "ETHUSDT")?.usable === true, "both books usable", BOUND_MS);

  delta(p, a, 1600); // lost: never sent
  l.send(delta(p, b, 600)); // the next datagram on the channel: a gap
  await until(() => l.records().some((r) => r.type === "gap") && l.records().filter((r) => r.symbol === "ETHUSDT").length >= 2, "the gap and ETHUSDT's update", BOUND_MS);
  expect(lastOf(l.records(), "ETHUSDT")).toMatchObject({ usable: false, valid: false });
  // BTCUSDT had no update since the gap: its last record must not say usable.
  await until(() => lastOf(l.records(), "BTCUSDT")?.usable === false, "a record saying BTCUSDT is not usable", BOUND_MS);
  expect(lastOf(l.records(), "BTCUSDT")).toMatchObject({ type: "usable", usable: false, valid: false, stale: false, state: "live" });
  expect(await l.stop()).toBe(0);
});

test("a silent stream: usable:false records for its books; its next heartbeat makes them usable again, said by usable:true records", { timeout: 30_000 }, async () => {
  const l = await startListen();
  const p = packer({ heartbeatIntervalMs: 100 }); // silent for 3 intervals (300 ms): stale
  const { datagrams } = twoBooks(p);
  l.send(datagrams);
  await until(() => lastOf(l.records(), "BTCUSDT")?.usable === true && lastOf(l.records(), "ETHUSDT")?.usable === true, "both books usable", BOUND_MS);

  await until(() => l.records().some((r) => r.type === "stale") && lastOf(l.records(), "BTCUSDT")?.usable === false && lastOf(l.records(), "ETHUSDT")?.usable === false, "the stream stale, both books said unusable", BOUND_MS);
  expect(lastOf(l.records(), "BTCUSDT")).toMatchObject({ type: "usable", valid: true, stale: true });

  p.appendHeartbeat(0);
  l.send(take(p, Date.now() * 1000));
  await until(() => lastOf(l.records(), "BTCUSDT")?.usable === true && lastOf(l.records(), "ETHUSDT")?.usable === true, "both books said usable again", BOUND_MS);
  expect(lastOf(l.records(), "ETHUSDT")).toMatchObject({ type: "usable", valid: true, stale: false });
  expect(await l.stop()).toBe(0);
});

test("a reader behind (--max-unread-kib): the usable records wait, and are written once it catches up, after the count of skipped rows", { timeout: 30_000 }, async () => {
  let pending = 0;
  const warned: string[] = [];
  const log: Logger = { ...silentLogger, warn: (msg) => void warned.push(msg), child: () => log };
  const l = await startListen({ pendingBytes: () => pending, log });
  const p = packer({ heartbeatIntervalMs: 1000 });
  const { a, b, datagrams } = twoBooks(p);
  l.send(datagrams);
  await until(() => lastOf(l.records(), "BTCUSDT")?.usable === true && lastOf(l.records(), "ETHUSDT")?.usable === true, "both books usable", BOUND_MS);
  const before = l.records().length;

  pending = 2048; // over 1 KiB not taken: rows are skipped
  delta(p, a, 1600); // lost
  l.send(delta(p, b, 600)); // a gap, then ETHUSDT's update: both rows skipped
  // The gap's row is the first skipped (said on stderr); ETHUSDT's update, in the same datagram, is handled with it.
  await until(() => warned.some((m) => m.includes("reader is behind")), "rows skipped", BOUND_MS);
  expect(l.records().length).toBe(before);
  pending = 0; // caught up
  await until(() => lastOf(l.records(), "BTCUSDT")?.usable === false, "BTCUSDT said not usable", BOUND_MS);
  const after = l.records().slice(before);
  expect(after[0]).toMatchObject({ type: "skipped" });
  expect(after.filter((r) => r.type === "usable").map((r) => [r.symbol, r.usable])).toEqual(expect.arrayContaining([["BTCUSDT", false]]));
  expect(lastOf(l.records(), "ETHUSDT")?.usable).toBe(false);
  expect(await l.stop()).toBe(1); // rows were skipped: the output is not every update
});

test("no key, signed datagrams: one warning that they are read unverified (before: nothing but verifiedWith: none)", { timeout: 30_000 }, async () => {
  const warned: string[] = [];
  const log: Logger = { ...silentLogger, warn: (msg) => void warned.push(msg), child: () => log };
  const l = await startListen({ log });
  const plain = packer({ heartbeatIntervalMs: 1000, sourceId: 1 });
  l.send(twoBooks(plain).datagrams); // unsigned: nothing to say
  await until(() => lastOf(l.records(), "BTCUSDT")?.usable === true, "the unsigned books shown", BOUND_MS);
  // The receive-buffer warning depends on this host's net.core.rmem_max (test/cli/listen-recv-buffer.test.ts): not this test's.
  const others = () => warned.filter((m) => !m.startsWith("receive buffer smaller"));
  expect(others()).toEqual([]);
  // Another publisher, signing: its book's snapshot, then an update, in two datagrams.
  const signed = packer({ heartbeatIntervalMs: 1000, sourceId: 2, channelId: 2, auth: new DatagramAuth(new Uint8Array(32).fill(9)) });
  const c = new TestBook(makeInstrument("bybit", "linear", "SOLUSDT", 3, 3));
  c.load([[150000, 10]], [[150001, 20]], 1, T0);
  packInstrumentDefinition(signed, new EncodedDefinition(c.instrument), false);
  packBookSnapshot(signed, c, 0, false);
  l.send(take(signed, Date.now() * 1000));
  l.send(delta(signed, c, 700));
  await until(() => l.records().filter((r) => r.symbol === "SOLUSDT").length >= 2, "both signed datagrams' records shown", BOUND_MS);
  expect(warned.filter((m) => /signed but this reader has no key/.test(m)).length, JSON.stringify(warned)).toBe(1);
  expect(await l.stop()).toBe(0);
});
