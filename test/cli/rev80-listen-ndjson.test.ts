/**
 * `feeder listen -f ndjson` with many books and with a forged name. Many books: a publisher restart supersedes every
 * book of its source, one 'supersede' event per book, and listen looked over every book it had written for each of
 * them (books² reads of `usable`: 10,000 books held the event loop ~5 s, datagrams dropped meanwhile); a book's own
 * event now looks at that book only, a channel-wide event (gap, session, stale) at every book once. A forged name:
 * JSON.stringify escapes C0 controls but leaves DEL and C1 (U+009B: CSI) as they are, for the terminal a script's
 * output may reach. A repair: its event came before the update with the repaired levels, and a usable:true record
 * written there said the book usable while a script held the levels that differed. In process, the feed on 127.0.0.1 unicast (--bind), datagrams from the wire's packer; the work
 * counted as reads of `usable`, not timed.
 */
import { createSocket } from "node:dgram";
import { afterEach, expect, test, vi } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { listen } from "../../src/cli/commands/listen.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { until } from "../support/until.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";

const BOOKS = 400;
const BOUND_MS = 15_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length > 0) await cleanups.pop()!();
});

type Rec = { type: string; symbol?: string; usable?: boolean; bids?: [string, string][] };

/** listen -f ndjson --bind 127.0.0.1:PORT in process: its lines as written, and a sender to it. */
async function startListen(): Promise<{ lines: string[]; send: (datagrams: Uint8Array[]) => void }> {
  const probe = createSocket("udp4");
  await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const lines: string[] = [];
  let stopListen: (sig: string) => void = () => {};
  const ctx: CommandContext = {
    values: { bind: [`127.0.0.1:${port}`], format: "ndjson" },
    positionals: [],
    log: silentLogger,
    out: (t) => void lines.push(t),
    stopSignal: new Promise<string>((resolve) => (stopListen = resolve)),
  };
  const exit = listen(ctx);
  cleanups.push(() => (stopListen("SIGTERM"), exit));
  const sender = createSocket("udp4");
  cleanups.push(() => new Promise<void>((resolve) => sender.close(() => resolve())));
  return { lines, send: (ds) => ds.forEach((d) => sender.send(d, port, "127.0.0.1")) };
}

test("a publisher restart superseding every book: each gets a usable:false record, and usable is read about once per book, not once per book per book", { timeout: 60_000 }, async () => {
  const { lines, send } = await startListen();
  const records = () => lines.map((l) => JSON.parse(l) as Rec);
  const lastUsable = () => {
    const last = new Map<string, boolean>();
    for (const r of records()) if (r.symbol !== undefined && r.usable !== undefined) last.set(r.symbol, r.usable);
    return last;
  };

  const first = packer({ sessionId: 11, sessionStartUs: T0 });
  for (let i = 0; i < BOOKS; i++) {
    const book = new TestBook(makeInstrument("bybit", "linear", `S${i}USDT`, 1, 3));
    book.load([[1000 + i, 5]], [[1001 + i, 7]], 1, T0);
    packInstrumentDefinition(first, new EncodedDefinition(book.instrument), false);
    packBookSnapshot(first, book, 0, false);
    // A few books a datagram batch: loopback keeps every datagram of a batch this size.
    if (i % 50 === 49) {
      send(take(first, Date.now() * 1000));
      await until(() => [...lastUsable().values()].filter(Boolean).length === i + 1, `${i + 1} books usable`, BOUND_MS);
    }
  }

  const reads = vi.spyOn(SubscriberBook.prototype, "usable", "get");
  // The publisher restarted: a newer session on the same channel and source supersedes all of its books.
  const second = packer({ sessionId: 12, sessionStartUs: T0 + 1_000_000 });
  second.appendHeartbeat(0);
  send(take(second, Date.now() * 1000));
  await until(() => lastUsable().size === BOOKS && [...lastUsable().values()].every((u) => !u), "every book said not usable", BOUND_MS);
  expect(records().filter((r) => r.type === "supersede")).toHaveLength(BOOKS);
  // About once per book and event, plus BOOKS per 100 ms check while this waited (the bound leaves it 10 s of
  // checks on a loaded machine); books² (160,000) before.
  expect(reads.mock.calls.length).toBeLessThan((BOOKS * BOOKS) / 4);
});

test("a symbol with DEL and C1 controls (a forged definition; JSON.stringify leaves them as they are, U+009B is CSI to a UTF-8 terminal) is written as \\u escapes: the line parses to the same symbol", { timeout: 30_000 }, async () => {
  const { lines, send } = await startListen();
  const evil = "EVIL\u009b2J\x7f\u0085USDT";
  const p = packer();
  const book = new TestBook(makeInstrument("bybit", "linear", evil, 1, 3));
  book.load([[1000, 5]], [[1001, 7]], 1, T0);
  packInstrumentDefinition(p, new EncodedDefinition(book.instrument), false);
  packBookSnapshot(p, book, 0, false);
  send(take(p, Date.now() * 1000));
  await until(() => lines.some((l) => (JSON.parse(l) as Rec).type === "update"), "the book's update", BOUND_MS);
  const line = lines.find((l) => (JSON.parse(l) as Rec).type === "update")!;
  expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
  expect((JSON.parse(line) as Rec).symbol).toBe(evil);
  expect(line).toContain('"symbol":"EVIL\\u009b2J\\u007f\\u0085USDT"');
});

test("a repair (a snapshot at the book's own instrSeq whose levels differ) of a book said unusable: no record says it usable before the update carrying the repaired levels", { timeout: 30_000 }, async () => {
  const { lines, send } = await startListen();
  const records = () => lines.map((l) => JSON.parse(l) as Rec);
  const p = packer();
  const a = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  const b = new TestBook(makeInstrument("bybit", "linear", "ETHUSDT", 2, 3));
  a.load([[943503, 1500]], [[943504, 250]], 1, T0);
  b.load([[349999, 551]], [[350000, 503]], 1, T0);
  for (const book of [a, b]) {
    packInstrumentDefinition(p, new EncodedDefinition(book.instrument), false);
    packBookSnapshot(p, book, 0, false);
  }
  send(take(p, Date.now() * 1000));
  const lastA = () => records().filter((r) => r.symbol === "BTCUSDT" && r.usable !== undefined).at(-1);
  await until(() => lastA()?.usable === true, "BTCUSDT usable", BOUND_MS);

  const cs = new ChangeSet();
  cs.addBid(349999, 600);
  b.apply(cs, 2, T0 + 1);
  packBookDelta(p, b, cs);
  take(p, Date.now() * 1000); // lost: never sent
  cs.clear();
  cs.addBid(349999, 700);
  b.apply(cs, 3, T0 + 2);
  packBookDelta(p, b, cs);
  send(take(p, Date.now() * 1000)); // a gap: BTCUSDT invalid, said at once
  await until(() => lastA()?.usable === false, "BTCUSDT said not usable", BOUND_MS);
  const from = lines.length;

  // The publisher's book at BTCUSDT's own instrSeq, other levels: the subscriber repairs it (valid: usable again).
  a.load([[943500, 1000]], [[943504, 250]], 1, T0);
  a.instrSeq = 1;
  packBookSnapshot(p, a, 0, true);
  send(take(p, Date.now() * 1000));
  await until(() => records().slice(from).some((r) => r.type === "update" && r.symbol === "BTCUSDT"), "BTCUSDT's repaired update", BOUND_MS);
  const after = records().slice(from).filter((r) => r.symbol === "BTCUSDT");
  expect(after.map((r) => r.type)).toContain("repair");
  const firstUsable = after.find((r) => r.usable === true)!;
  // Old: {"type":"usable","usable":true} at the repair event, while a script's levels were the ones that differed.
  expect(firstUsable).toMatchObject({ type: "update", usable: true });
  expect(firstUsable.bids?.[0]).toEqual(["94350.0", "1.000"]);
});
