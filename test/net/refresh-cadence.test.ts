/**
 * Refresh cadence (issue #10): every book is refreshed exactly once per publish.snapshot_interval_ms, spread
 * evenly over the interval. Before wire v2, 3 books with a 5 s interval were each refreshed every 150 ms (one
 * book per 50 ms tick at least), and refreshes were 32 % of the bytes. Time is vitest's fake clock (setInterval,
 * Date and performance), so the counts are exact; datagrams are observed through the drop filter and never sent.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PublishConfig } from "../../src/config/types.ts";
import { FeedPublisher, REFRESH_TICK_MS } from "../../src/net/feed-publisher.ts";
import { RefreshSchedule } from "../../src/net/refresh-schedule.ts";
import { decodeDatagram, type DecodedMessage } from "../../src/wire/decode-objects.ts";
import { MSG_FLAG_REFRESH } from "../../src/wire/layout.ts";
import { makeInstrument, randomBookSides, rng, TestBook } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const INTERVAL_MS = 5000;
const PORT = uniqueDestination(456).port; // below the ephemeral ports (test/support/destination.ts)

function config(): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 1000,
    snapshotIntervalMs: INTERVAL_MS,
    snapshotDepth: 0,
    destinations: [
      { name: "all", group: "239.255.43.1", port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 1, match: { venue: "*", market: "*", symbols: ["*"] } },
    ],
  };
}

interface Refresh {
  atMs: number;
  instrumentId: number;
}

/** Runs a publisher with `n` books for `intervals` refresh intervals of fake time; returns every refresh snapshot and the bytes. */
async function run(n: number, intervals: number): Promise<{ refreshes: Refresh[]; refreshBytes: number; books: TestBook[]; startMs: number }> {
  const refreshes: Refresh[] = [];
  let refreshBytes = 0;
  let counting = false;
  const pub = new FeedPublisher({
    publish: config(),
    dropFilter: (_ch, _seq, bytes) => {
      const res = decodeDatagram(bytes);
      if (!res.ok) throw res.error;
      const refresh = res.packet.messages.some((m) => (m.msgFlags & MSG_FLAG_REFRESH) !== 0);
      if (counting && refresh) {
        refreshBytes += bytes.byteLength;
        for (const m of res.packet.messages) {
          if (m.type === "snapshot" && (m.msgFlags & MSG_FLAG_REFRESH) !== 0) refreshes.push({ atMs: Date.now(), instrumentId: m.instrumentId });
        }
      }
      return true; // observed, not sent
    },
  });
  await pub.start();
  const r = rng(n);
  const books = Array.from({ length: n }, (_, i) => {
    const b = new TestBook(makeInstrument("bybit", "linear", `S${i}USDT`, 1, 3));
    const s = randomBookSides(r, 20, 300_000);
    b.load(s.bids, s.asks, 1, 1_764_000_000_000_000);
    return b;
  });
  books.forEach((b) => pub.register(b.instrument, b));
  pub.flush(); // the registration definitions, not counted
  counting = true;
  const startMs = Date.now();
  vi.advanceTimersByTime(intervals * INTERVAL_MS);
  counting = false;
  await pub.stop();
  return { refreshes, refreshBytes, books, startMs };
}

/** Per book: the times between its consecutive refreshes (ms), and how many refreshes it had. */
function gapsPerBook(refreshes: Refresh[], books: TestBook[]): { gaps: number[]; count: number }[] {
  return books.map((b) => {
    const at = refreshes.filter((x) => x.instrumentId === b.instrument.instrumentId).map((x) => x.atMs);
    return { gaps: at.slice(1).map((t, i) => t - at[i]!), count: at.length };
  });
}

describe("refresh cadence", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout", "Date", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a few books: each is refreshed exactly once per interval, and the refresh bytes are one book each per interval", async () => {
    const intervals = 5;
    const { refreshes, refreshBytes, books } = await run(3, intervals);
    // Exactly one interval between two refreshes of a book (3 books: their due times fall on ticks).
    expect(gapsPerBook(refreshes, books)).toEqual(books.map(() => ({ gaps: new Array(intervals - 1).fill(INTERVAL_MS), count: intervals })));
    // Spread: the 3 books of a cycle go out a third of an interval apart (to the tick), not back to back.
    const firstCycle = refreshes.slice(0, 3).map((x) => x.atMs - refreshes[0]!.atMs);
    expect(firstCycle[1]! - firstCycle[0]!).toBeGreaterThanOrEqual(INTERVAL_MS / 3 - REFRESH_TICK_MS);
    expect(firstCycle[2]! - firstCycle[1]!).toBeGreaterThanOrEqual(INTERVAL_MS / 3 - REFRESH_TICK_MS);
    // Bytes: at most one datagram per book refresh (definition + snapshot of 20 + 20 levels fit one datagram).
    const perRefreshBytes = 48 + 40 + (8 + 64 + 40 * 16);
    expect(refreshes.length).toBeLessThanOrEqual(books.length * intervals);
    expect(refreshBytes).toBe(refreshes.length * perRefreshBytes);
    expect(refreshBytes).toBeLessThanOrEqual(books.length * intervals * perRefreshBytes);
  });

  it("many books: each once per interval, an even slice per tick", async () => {
    const n = 1000;
    const intervals = 3;
    const { refreshes, refreshBytes, books } = await run(n, intervals);
    // Once per interval, to the tick: a due time between two ticks goes out at the next one.
    for (const { gaps, count } of gapsPerBook(refreshes, books)) {
      expect(count).toBeGreaterThanOrEqual(intervals - 1);
      expect(count).toBeLessThanOrEqual(intervals);
      for (const g of gaps) expect(Math.abs(g - INTERVAL_MS)).toBeLessThanOrEqual(REFRESH_TICK_MS);
    }
    const perTick = new Map<number, number>();
    for (const x of refreshes) perTick.set(x.atMs, (perTick.get(x.atMs) ?? 0) + 1);
    const slice = (n * REFRESH_TICK_MS) / INTERVAL_MS; // 10
    expect(Math.max(...perTick.values())).toBeLessThanOrEqual(slice + 1);
    // Bytes: one definition (40 B) + one 20 + 20 level snapshot (712 B) per book and interval, plus headers.
    const messageBytes = 40 + 8 + 64 + 40 * 16;
    expect(refreshBytes).toBeGreaterThanOrEqual((intervals - 1) * n * messageBytes);
    expect(refreshBytes).toBeLessThanOrEqual(intervals * n * (48 + messageBytes));
  });
});

describe("RefreshSchedule", () => {
  it("with jittered, late and skipped ticks, each book is refreshed once per cycle, in index order", () => {
    const r = rng(11);
    for (const n of [1, 2, 3, 7, 100, 5000]) {
      const s = new RefreshSchedule(1000);
      const seen: number[] = [];
      let now = 0;
      s.tick(now, n, (i) => seen.push(i));
      for (let step = 0; step < 400; step++) {
        now += 1 + Math.floor(r() * 60); // 1–60 ms between ticks
        s.tick(now, n, (i) => seen.push(i));
      }
      // The refreshed indices are 0..n−1 repeated: once per cycle, in order.
      seen.forEach((idx, k) => expect(idx).toBe(k % n));
      const cycles = Math.floor(now / 1000);
      expect(Math.floor(seen.length / n)).toBeGreaterThanOrEqual(cycles);
      expect(seen.length).toBeLessThanOrEqual((cycles + 1) * n);
    }
  });

  it("many books registered mid-cycle (a second venue's list) never come due at once: each tick a bounded slice, each book within its bound", () => {
    // Before: n grew 100 → 20,000 halfway through a cycle and every book whose slot (i × interval / n) had passed came
    // due at the next tick: ~9,900 refreshes (a definition and a snapshot each) in one turn ahead of live deltas.
    const r = rng(23);
    // [from ms, books] steps; the last: lots of random sizes joining at random times over the first cycles.
    const randomSteps: [number, number][] = [[0, 50]];
    for (let k = 0; k < 12; k++) randomSteps.push([randomSteps.at(-1)![0] + Math.floor(r() * 1200), randomSteps.at(-1)![1] + 1 + Math.floor(r() * 2500)]);
    for (const steps of [
      [[0, 100], [2_500, 20_000]],
      [[0, 1], [4_990, 5_000]],
      [[0, 3_000], [100, 6_000]],
      [[0, 0], [0, 20_000]],
      [[0, 100], [500, 10_100], [2_500, 20_100]],
      randomSteps,
    ] as [number, number][][]) {
      const to = steps.at(-1)![1];
      const intervalMs = 5000;
      const s = new RefreshSchedule(intervalMs);
      const lastMs = new Map<number, number>();
      const joinedMs = new Map<number, number>();
      const late: string[] = [];
      const overBound: string[] = [];
      let now = 0;
      while (now < 6 * intervalMs) {
        const n = steps.findLast(([atMs]) => atMs <= now)![1];
        for (let i = joinedMs.size; i < n; i++) joinedMs.set(i, now);
        let thisTick = 0;
        s.tick(now, n, (i) => {
          const prev = lastMs.get(i);
          // Once per interval, to the tick; a book that joined, first within an interval of joining.
          if (now - (prev ?? joinedMs.get(i)!) > intervalMs + 60) late.push(`book ${i} at ${now}`);
          lastMs.set(i, now);
          thisTick++;
        });
        // A steady slice (n × 60 ms / interval, rounded up) for the books the cycle began with and one for each lot that
        // joined since the last cycle began (each lot is spread at that rate at most; a late tick also owes the last
        // cycle's).
        const lots = 1 + steps.filter(([atMs], k) => k > 0 && atMs > now - intervalMs - 60 && atMs <= now).length;
        if (thisTick > lots * (Math.ceil((n * 60) / intervalMs) + 1)) overBound.push(`${thisTick} at ${now} (n ${n}, ${lots} lots)`);
        now += 40 + Math.floor(r() * 21); // 40–60 ms between ticks
      }
      expect(overBound.slice(0, 3), JSON.stringify(steps)).toEqual([]);
      expect(late.slice(0, 3)).toEqual([]);
      // Every book refreshed in the last interval.
      let stale = 0;
      for (let i = 0; i < to; i++) if (!(now - lastMs.get(i)! <= intervalMs + 60)) stale++;
      expect(stale).toBe(0);
    }
  });

  it("a book registered mid-cycle joins the current cycle at its slot; the others' slots stay", () => {
    const s = new RefreshSchedule(1000);
    const seen: [number, number][] = [];
    for (let t = 0; t < 3000; t += 50) s.tick(t, t < 1200 ? 2 : 3, (i) => seen.push([t, i]));
    expect(seen).toEqual([
      [0, 0],
      [500, 1],
      [1000, 0],
      [1500, 1],
      [1700, 2],
      [2000, 0],
      [2350, 1],
      [2700, 2],
    ]);
  });
});

/** A book whose asks cannot be read while `broken` (a view that throws halfway through its snapshot's encoding). */
class BrokenBook extends TestBook {
  broken = true;
  override askPriceAt(rank: number): number {
    if (this.broken) throw new Error("ask ladder unreadable (test)");
    return super.askPriceAt(rank);
  }
}

describe("a book whose encoding throws", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout", "Date", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A started publisher (datagrams decoded through the drop filter, never sent) with books S0, S1 (broken), S2. */
  async function rig() {
    const packets: { seqNum: number; messages: DecodedMessage[] }[] = [];
    const undecodable: string[] = [];
    const failed: string[] = [];
    const pub = new FeedPublisher({
      publish: config(),
      dropFilter: (_ch, _seq, bytes) => {
        const res = decodeDatagram(bytes);
        if (res.ok) packets.push({ seqNum: res.packet.seqNum, messages: res.packet.messages });
        else undecodable.push(res.error.message);
        return true;
      },
      onRefreshFailed: (view) => failed.push(view.instrument.symbol),
    });
    await pub.start();
    const r = rng(5);
    const books = [0, 1, 2].map((i) => {
      const b = i === 1 ? new BrokenBook(makeInstrument("bybit", "linear", `S${i}USDT`, 1, 3)) : new TestBook(makeInstrument("bybit", "linear", `S${i}USDT`, 1, 3));
      const s = randomBookSides(r, 20, 300_000);
      b.load(s.bids, s.asks, 1, 1_764_000_000_000_000);
      return b;
    });
    const handles = books.map((b) => pub.register(b.instrument, b));
    pub.flush();
    packets.length = 0;
    return { pub, books, handles, packets, undecodable, failed };
  }

  /** Every message carries the next channel sequence number (nothing begun and dropped, nothing skipped). */
  function expectContiguous(packets: { seqNum: number; messages: unknown[] }[]): void {
    for (let i = 1; i < packets.length; i++) expect(packets[i]!.seqNum).toBe(packets[i - 1]!.seqNum + packets[i - 1]!.messages.length);
  }

  it("its refresh is dropped whole and reported; the other books' refreshes go on and the timer keeps running", async () => {
    const { pub, books, packets, undecodable, failed } = await rig();
    // Before: the exception left the refresh timer (the process's end under Bun; here advanceTimersByTime throws).
    vi.advanceTimersByTime(2 * INTERVAL_MS);
    const snapshots = packets.flatMap((p) => p.messages).filter((m) => m.type === "snapshot");
    const ids = books.map((b) => b.instrument.instrumentId);
    expect(snapshots.filter((m) => m.instrumentId === ids[0]).length).toBeGreaterThanOrEqual(2);
    expect(snapshots.filter((m) => m.instrumentId === ids[2]).length).toBeGreaterThanOrEqual(2);
    // Nothing of the broken book went out: no half-written snapshot (its header and block, garbage levels), and
    // no refresh definition without its snapshot.
    const ofBroken = packets.flatMap((p) => p.messages).filter((m) => m.type !== "unknown" && m.instrumentId === ids[1]);
    expect(ofBroken).toEqual([]);
    expect(undecodable).toEqual([]);
    expectContiguous(packets);
    // Every snapshot sent is its book, level for level.
    for (const m of snapshots) {
      if (m.type !== "snapshot") continue;
      const b = books[ids.indexOf(m.instrumentId)]!;
      expect(m.bids).toEqual(b.topBids());
      expect(m.asks).toEqual(b.topAsks());
    }
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(new Set(failed)).toEqual(new Set(["S1USDT"]));
    // Mended, it is refreshed again on the next cycle.
    (books[1] as BrokenBook).broken = false;
    packets.length = 0;
    vi.advanceTimersByTime(INTERVAL_MS);
    expect(packets.flatMap((p) => p.messages).some((m) => m.type === "snapshot" && m.instrumentId === ids[1])).toBe(true);
    await pub.stop();
  });

  it("a publish that throws halfway leaves nothing of itself in the datagrams (the caller contains it)", async () => {
    const { pub, books, handles, packets, undecodable } = await rig();
    const r = rng(9);
    // Randomized: good and broken publishes interleaved, so a broken one lands at every place in a datagram.
    let expected = 0;
    for (let k = 0; k < 60; k++) {
      const i = Math.floor(r() * 3);
      if (i === 1) {
        expect(() => pub.publishSnapshot(handles[1]!, books[1]!)).toThrow(/unreadable/);
      } else {
        pub.publishSnapshot(handles[i]!, books[i]!);
        expected++;
      }
      if (r() < 0.2) pub.flush();
    }
    pub.flush();
    const snapshots = packets.flatMap((p) => p.messages).filter((m) => m.type === "snapshot");
    expect(undecodable).toEqual([]);
    expect(snapshots.length).toBe(expected);
    expect(snapshots.some((m) => m.type === "snapshot" && m.instrumentId === books[1]!.instrument.instrumentId)).toBe(false);
    expectContiguous(packets);
    await pub.stop();
  });

  it("a publish that throws on its second destination counts none of its messages (none is sent)", async () => {
    const base = config();
    const cfg: PublishConfig = { ...base, destinations: [...base.destinations, { ...base.destinations[0]!, name: "all2", group: "239.255.43.2", channelId: 2 }] };
    const seen: { channelId: number; instrumentId: number }[] = [];
    const pub = new FeedPublisher({
      publish: cfg,
      dropFilter: (ch, _seq, bytes) => {
        const res = decodeDatagram(bytes);
        if (res.ok) for (const m of res.packet.messages) if (m.type === "snapshot") seen.push({ channelId: ch, instrumentId: m.instrumentId });
        return true;
      },
    });
    await pub.start();
    /** Its asks read fine `limit` times, then throw: the second destination's encoding meets the throw. */
    class ThrowsAfter extends TestBook {
      calls = 0;
      limit = Infinity;
      override askPriceAt(rank: number): number {
        if (++this.calls > this.limit) throw new Error("ask ladder unreadable (test)");
        return super.askPriceAt(rank);
      }
    }
    const book = new ThrowsAfter(makeInstrument("bybit", "linear", "S9USDT", 1, 3));
    const s = randomBookSides(rng(3), 20, 300_000);
    book.load(s.bids, s.asks, 1, 1_764_000_000_000_000);
    const h = pub.register(book.instrument, book);
    pub.publishSnapshot(h, book); // both destinations: the reads one encoding makes
    const perEncoding = book.calls / 2;
    pub.flush();
    expect(seen.map((x) => x.channelId)).toEqual([1, 2]);
    seen.length = 0;
    book.calls = 0;
    book.limit = perEncoding;
    const before = pub.counters.messages;
    expect(() => pub.publishSnapshot(h, book)).toThrow(/unreadable/);
    pub.flush();
    expect(seen).toEqual([]); // taken back out of both
    // Before: the first destination's snapshot was counted (feeder_messages_published_total), then taken back out.
    expect(pub.counters.messages).toBe(before);
    await pub.stop();
  });
});
