/** `feeder listen` end to end over loopback multicast (group 239.255.43.1, ports private to this file). */
import { afterEach, describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import { listenCommand } from "../../src/cli/commands/listen.ts";
import type { CommandContext } from "../../src/cli/command.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../support/destination.ts";

const PORT = uniqueDestination(455).port; // below the ephemeral ports (test/support/destination.ts)
const GROUP = "239.255.43.1";
const T0 = 1_764_000_000_000_000;

function ctxFor(values: CommandContext["values"], lines: string[], stop = new Promise<string>(() => {})): CommandContext {
  return { values, positionals: [], log: silentLogger, out: (t) => lines.push(t), stopSignal: stop };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function startPublisher(port: number): Promise<{ pub: FeedPublisher; book: TestBook; handle: number }> {
  const publish: PublishConfig = {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 1000,
    snapshotIntervalMs: 20, // the listener joins at some point; refreshes make sure it sees books
    snapshotDepth: 0,
    destinations: [{ name: "t", group: GROUP, port, iface: "127.0.0.1", ttl: 1, channelId: 9, match: { venue: "*", market: "*", symbols: ["*"] } }],
  };
  const pub = new FeedPublisher({ publish });
  await pub.start();
  stops.push(() => pub.stop());
  const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  book.load([[302472, 1500], [302470, 20]], [[302473, 250], [302480, 1]], 77, T0);
  const handle = pub.register(book.instrument, book);
  pub.publishSnapshot(handle, book);
  return { pub, book, handle };
}

describe("feeder listen", () => {
  it("--format ndjson prints one JSON object per update with names, sequences, timestamps and decimal levels", async () => {
    const { pub, book, handle } = await startPublisher(PORT);
    const lines: string[] = [];
    const running = listenCommand.run(ctxFor({ group: [`${GROUP}:${PORT}`], format: "ndjson", depth: "1", count: "5", duration: "10" }, lines));
    const cs = new ChangeSet();
    const ticker = setInterval(() => {
      cs.clear();
      cs.addBid(302472, 1000 + book.instrSeq);
      book.apply(cs, book.venueSeq + 1, T0 + book.instrSeq);
      pub.publishDelta(handle, book, cs);
    }, 5);
    const code = await running;
    clearInterval(ticker);
    expect(code).toBe(0);
    const updates = lines.map((l) => JSON.parse(l)).filter((o) => o.type === "update");
    expect(updates).toHaveLength(5);
    const snap = updates.find((u) => u.kind === "snapshot" && u.valid);
    expect(snap).toBeDefined();
    const last = updates.at(-1)!;
    expect(last).toMatchObject({ venue: "bybit", market: "linear", symbol: "BTCUSDT", channelId: 9, state: "live" });
    expect(typeof last.instrSeq).toBe("number");
    expect(typeof last.venueSeq).toBe("number");
    expect(last.tsExchangeUs).toBeGreaterThanOrEqual(T0);
    expect(last.bids).toHaveLength(1);
    expect(last.bids[0][0]).toBe("30247.2");
    expect(last.asks).toEqual([["30247.3", "0.250"]]);
    expect(lines.some((l) => JSON.parse(l).type === "session")).toBe(true);
  });

  it("table format prints the top of book with state, validity and counters, and exits on --duration", async () => {
    await startPublisher(PORT + 1);
    const lines: string[] = [];
    const code = await listenCommand.run(ctxFor({ group: [GROUP], port: String(PORT + 1), duration: "1.2" }, lines));
    expect(code).toBe(0);
    const last = lines.at(-1)!;
    expect(last).toMatch(/INSTRUMENT\s+USABLE\s+STATE\s+VALID/);
    // Not a terminal: 80 columns, so the venue moves to the title (one venue) and latency is left out.
    expect(last).toMatch(/^feeder listen {2}239\.255\.43\.1:\d+ on 127\.0\.0\.1 {2}venue bybit$/m);
    expect(last).toMatch(/^linear BTCUSDT\s+yes\s+live\s+yes\s+1\.500@30247\.2\s+30247\.3@0\.250/m);
    expect(last).toMatch(/datagrams \d+/);
    for (const line of last.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });

  it("an empty table says what it is waiting for", async () => {
    const lines: string[] = [];
    const port = PORT + 4; // nobody publishes here
    expect(await listenCommand.run(ctxFor({ group: [`${GROUP}:${port}`], duration: "0.3" }, lines))).toBe(0);
    expect(lines.at(-1)).toContain(`waiting for the first datagram on ${GROUP}:${port} on 127.0.0.1`);
    expect(lines.at(-1)).toMatch(/books 0 \(0 usable, 0 valid\)/);
    // -n 1 with --duration: the time up with none of the updates asked for is no success (was exit 0).
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (m) => void errors.push(m) };
    for (const format of ["table", "ndjson"]) {
      expect(await listenCommand.run({ ...ctxFor({ group: [`${GROUP}:${port}`], format, count: "1", duration: "0.2" }, []), log })).toBe(1);
    }
    expect(errors).toEqual(["--duration 0.2 s ended after 0 of --count 1 updates", "--duration 0.2 s ended after 0 of --count 1 updates"]);
  });

  it("after a channel gap the INVAL column and the footer agree, and every line fits 80 columns", async () => {
    const port = PORT + 3;
    let joined: () => void = () => {};
    let gapped: () => void = () => {};
    const listening = new Promise<void>((resolve) => (joined = resolve));
    const gapSeen = new Promise<void>((resolve) => (gapped = resolve));
    const log: Logger = { ...silentLogger, info: (m) => m === "listening" && joined(), warn: (m) => m === "gap" && gapped() };
    let stop: (why: string) => void = () => {};
    const lines: string[] = [];
    const running = listenCommand.run({ ...ctxFor({ group: [`${GROUP}:${port}`] }, lines, new Promise<string>((resolve) => (stop = resolve))), log });
    await listening;
    const { createSocket } = await import("node:dgram");
    const tx = createSocket("udp4");
    stops.push(async () => void tx.close());
    await new Promise<void>((resolve) => tx.bind(0, "127.0.0.1", resolve));
    tx.setMulticastInterface("127.0.0.1");
    tx.setMulticastTTL(1);
    const packer = new ChannelPacker(1400, 4, 0, 77);
    /** Sends the pending datagrams, or drops them (a loss on the wire). */
    const flush = async (lose = false) => {
      packer.stampSendTime(Date.now() * 1000);
      for (let i = 0; i < packer.count && !lose; i++) {
        const bytes = packer.bytes[i]!.slice(0, packer.lengths[i]);
        await new Promise<void>((resolve, reject) => tx.send(bytes, port, GROUP, (err) => (err ? reject(err) : resolve())));
      }
      packer.clear();
    };
    const books = ["BTCUSDT", "ETHUSDT"].map((s, i) => {
      const b = new TestBook(makeInstrument("bybit", "linear", s, 1, 3));
      b.load([[302472 + i, 1500]], [[302473 + i, 250]], 1, T0);
      packInstrumentDefinition(packer, new EncodedDefinition(b.instrument), false);
      packBookSnapshot(packer, b, 0, false);
      return b;
    });
    await flush();
    const cs = new ChangeSet();
    const delta = (b: TestBook) => {
      cs.clear();
      cs.addBid(302470, 5);
      b.apply(cs, b.venueSeq + 1, T0 + 1);
      packBookDelta(packer, b, cs);
    };
    delta(books[0]!);
    await flush(true); // lost: the next datagram's channel sequence jumps, both books on the channel are invalid
    delta(books[1]!);
    await flush();
    await gapSeen;
    stop("test");
    expect(await running).toBe(0);
    const table = lines.at(-1)!.split("\n");
    for (const line of table) expect(line.length).toBeLessThanOrEqual(80);
    const header = table.find((l) => l.startsWith("INSTRUMENT"))!;
    const end = header.indexOf("INVAL") + "INVAL".length; // right-aligned column
    const rows = table.filter((l) => /^linear /.test(l));
    expect(rows).toHaveLength(2);
    const inval = rows.map((r) => Number(r.slice(0, end).trim().split(/\s+/).at(-1)));
    expect(inval).toEqual([1, 1]);
    expect(table.join("\n")).toMatch(/invalidations 2\s+channel gaps 1 \(lost 1\)/);
  });

  it("a book the publisher marks RESYNCING (venue disconnect) is valid but not usable, in ndjson and in the table", async () => {
    const port = PORT + 3;
    const { pub, book, handle } = await startPublisher(port);
    book.instrSeq++;
    book.state = BookState.RESYNCING;
    book.reason = StatusReason.DISCONNECTED;
    pub.publishStatus(handle, book);
    pub.flush(); // out before the listener joins: it sees only refreshes of the RESYNCING book
    const lines: string[] = [];
    const running = listenCommand.run(ctxFor({ group: [`${GROUP}:${port}`], format: "ndjson", count: "1", duration: "10" }, lines));
    expect(await running).toBe(0);
    const updates = lines.map((l) => JSON.parse(l)).filter((o) => o.type === "update");
    // The listener joins late: its first update is a refresh of the RESYNCING book, an exact copy, not usable.
    expect(updates.length).toBe(1);
    for (const u of updates) expect(u).toMatchObject({ symbol: "BTCUSDT", state: "resyncing", valid: true, usable: false });
    const table: string[] = [];
    expect(await listenCommand.run(ctxFor({ group: [`${GROUP}:${port}`], duration: "0.5" }, table))).toBe(0);
    expect(table.at(-1)).toMatch(/linear BTCUSDT\s+NO\s+resync\s+disconn\s+yes\s/); // STATE, REASON, VALID
  });

  it("--format ndjson reports a restarted publisher taking the book over (supersede), then its book", async () => {
    const port = PORT + 4;
    const { pub } = await startPublisher(port);
    const lines: string[] = [];
    let restarted: Promise<void> | undefined;
    const out = (t: string) => {
      lines.push(t);
      // The first update seen: the old process stops (nothing of it after this) and a new one starts.
      if (restarted === undefined && JSON.parse(t).type === "update") {
        restarted = (async () => {
          await pub.stop();
          const publish: PublishConfig = {
            maxDatagramBytes: 1400,
            heartbeatIntervalMs: 1000,
            snapshotIntervalMs: 20,
            snapshotDepth: 0,
            destinations: [{ name: "t", group: GROUP, port, iface: "127.0.0.1", ttl: 1, channelId: 9, match: { venue: "*", market: "*", symbols: ["*"] } }],
          };
          const next = new FeedPublisher({ publish, sessionStartUs: pub.sessionStartUs + 1 });
          await next.start();
          stops.push(() => next.stop());
          const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
          book.load([[302500, 7]], [[302501, 8]], 1, T0);
          next.publishSnapshot(next.register(book.instrument, book), book);
        })();
      }
    };
    const ctx: CommandContext = { values: { group: [`${GROUP}:${port}`], format: "ndjson", count: "2", duration: "10" }, positionals: [], log: silentLogger, out, stopSignal: new Promise(() => {}) };
    expect(await listenCommand.run(ctx)).toBe(0);
    await restarted;
    const records = lines.map((l) => JSON.parse(l));
    const supersede = records.findIndex((o) => o.type === "supersede");
    expect(supersede).toBeGreaterThan(0);
    expect(records[supersede]).toMatchObject({ symbol: "BTCUSDT", previousSessionId: pub.sessionId, channelId: 9 });
    const after = records.slice(supersede).find((o) => o.type === "update");
    expect(after).toMatchObject({ usable: true, bids: [["30250.0", "0.007"]] });
  });

  it("--config joins the configuration's destinations and honours its max_datagram_bytes", async () => {
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const dir = makeTempDir("feeder-listen-");
    const path = join(dir, "feeder.toml");
    const port = PORT + 2;
    writeFileSync(
      path,
      [
        "[publish]",
        "max_datagram_bytes = 1200",
        "[[publish.destinations]]",
        'name = "a"',
        `group = "${GROUP}"`,
        `port = ${port}`,
        'interface = "127.0.0.1"',
        "ttl = 1",
        "channel = 5",
        'venue = "*"',
        'market = "*"',
      ].join("\n"),
    );
    await startPublisher(port);
    const lines: string[] = [];
    const code = await listenCommand.run(ctxFor({ config: path, format: "ndjson", count: "1", duration: "10" }, lines));
    expect(code).toBe(0);
    const first = lines.map((l) => JSON.parse(l)).find((o) => o.type === "update");
    expect(first).toMatchObject({ symbol: "BTCUSDT", channelId: 9 });
  });

  it("rejects bad options as usage errors", async () => {
    const lines: string[] = [];
    await expect(listenCommand.run(ctxFor({ format: "xml" }, lines))).rejects.toThrow(/--format/);
    await expect(listenCommand.run(ctxFor({ group: ["10.0.0.1:5000"] }, lines))).rejects.toThrow(/multicast/);
    await expect(listenCommand.run(ctxFor({ group: ["239.255.43.9"] }, lines))).rejects.toThrow(/port/);
    await expect(listenCommand.run(ctxFor({ depth: "-1" }, lines))).rejects.toThrow(/--depth/);
  });

  it("table mode logs a stream a revert took from the table as removed", async () => {
    const port = PORT + 5;
    let joined: () => void = () => {};
    let reverted: () => void = () => {};
    const listening = new Promise<void>((resolve) => (joined = resolve));
    const revertSeen = new Promise<void>((resolve) => (reverted = resolve));
    const sessions: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const log: Logger = {
      ...silentLogger,
      info: (m, f) => {
        if (m === "listening") joined();
        if (!m.startsWith("session ")) return;
        sessions.push({ message: m, fields: f as Record<string, unknown> | undefined });
        if (m === "session reverted") reverted();
      },
    };
    let stop: (why: string) => void = () => {};
    const running = listenCommand.run({ ...ctxFor({ group: [`${GROUP}:${port}`] }, [], new Promise<string>((resolve) => (stop = resolve))), log });
    await listening;
    const { createSocket } = await import("node:dgram");
    const tx = createSocket("udp4");
    stops.push(async () => void tx.close());
    await new Promise<void>((resolve) => tx.bind(0, "127.0.0.1", resolve));
    tx.setMulticastInterface("127.0.0.1");
    tx.setMulticastTTL(1);
    let sendUs = Date.now() * 1000;
    /** One heartbeat, its own send time (a copy would count once as session evidence). */
    const heartbeat = async (p: ChannelPacker) => {
      p.appendHeartbeat(0);
      p.stampSendTime(++sendUs);
      const bytes = p.bytes[0]!.slice(0, p.lengths[0]);
      p.clear();
      await new Promise<void>((resolve, reject) => tx.send(bytes, port, GROUP, (err) => (err ? reject(err) : resolve())));
    };
    const live = new ChannelPacker(1400, 4, 0, 77, { sessionStartUs: T0, heartbeatIntervalMs: 1000 });
    await heartbeat(live);
    await heartbeat(live); // session 77 confirmed
    await heartbeat(new ChannelPacker(1400, 5, 0, 99, { sessionStartUs: T0 + 1e9, heartbeatIntervalMs: 1000 })); // bogus, on channel 5
    await heartbeat(live);
    await heartbeat(live); // two of 77: 99 undone, channel 5's stream (only 99 had it) leaves the table
    await revertSeen;
    stop("test");
    expect(await running).toBe(0);
    // Before: logged as a plain "session reverted", the same as a stream that went back to its session.
    expect(sessions.filter((s) => s.message === "session reverted").map((s) => s.fields)).toEqual([{ channelId: 5, sourceId: 0, sessionId: 77, removed: true }]);
  });
});

describe("feeder listen --retransmit beside --config", () => {
  it("asks source s on PORT + s − the file's publish.source_id (before: + s, the file's source_id ignored)", async () => {
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const port = PORT + 6;
    const publish: PublishConfig = {
      maxDatagramBytes: 1400,
      heartbeatIntervalMs: 1000,
      snapshotIntervalMs: 20,
      snapshotDepth: 0,
      sourceId: 7,
      retransmit: { host: "127.0.0.1", port: 0, ringBytes: 1 << 20, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: 1 << 24, totalBytesPerSec: 1 << 26 },
      destinations: [{ name: "t", group: GROUP, port, iface: "127.0.0.1", ttl: 1, channelId: 9, match: { venue: "*", market: "*", symbols: ["*"] } }],
    };
    // Every 5th datagram lost on the way: each such gap is asked for.
    const pub = new FeedPublisher({ publish, dropFilter: (_c, seq) => seq % 5 === 3 });
    await pub.start();
    stops.push(() => pub.stop());
    const serverPort = pub.retransmitAddress()!.port;
    const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
    book.load([[302472, 1500]], [[302473, 250]], 77, T0);
    const handle = pub.register(book.instrument, book);
    pub.publishSnapshot(handle, book);
    // The reader's file: the publisher's source_id, no [publish.retransmit] (its server's port is the flag's).
    const dir = makeTempDir("feeder-listen-");
    const path = join(dir, "feeder.toml");
    const destination = ["[[publish.destinations]]", 'name = "t"', `group = "${GROUP}"`, `port = ${port}`, 'interface = "127.0.0.1"', "ttl = 1", "channel = 9", 'venue = "*"', 'market = "*"'];
    writeFileSync(path, ["[publish]", "source_id = 7", ...destination].join("\n"));
    const lines: string[] = [];
    const running = listenCommand.run(ctxFor({ config: path, retransmit: `127.0.0.1:${serverPort}`, format: "ndjson", count: "80", duration: "3" }, lines));
    const cs = new ChangeSet();
    const ticker = setInterval(() => {
      cs.clear();
      cs.addBid(302472, 1000 + book.instrSeq);
      book.apply(cs, book.venueSeq + 1, T0 + book.instrSeq);
      pub.publishDelta(handle, book, cs);
    }, 2);
    const code = await running;
    clearInterval(ticker);
    expect(code).toBe(0);
    expect(pub.counters.droppedOnPurpose).toBeGreaterThan(0);
    // Before, source 7 was asked on serverPort + 7, where nothing listens: no request reached the server.
    expect(pub.retransmitCounters!.received).toBeGreaterThan(0);
    expect(pub.retransmitCounters!.answered).toBeGreaterThan(0);
  });
});
