/**
 * Replay decides staleness as the live run did, on the capture's receive times (docs/operations.md, Replay): captures
 * built here are replayed through `replayCaptures`, and each book's state is read after every record against the rule
 * live's housekeeping applies (a book silent for more than its stale time goes STALE; Upbit's older books are no sign of
 * life, and a book gone stale that way forgets the timestamp ahead; a quiet LIVE Upbit code is asked again and stays
 * LIVE when its answer comes within min(5 s, stale / 2)). Before, replay had no stale time: the book stamped ahead stayed
 * LIVE at its levels for good, every later book ignored as older, and a silent book was never STALE.
 * A STALE book (gone so from LIVE) whose next message continues its venue sequence within one housekeeping interval of
 * the verdict is LIVE again there, where live's later round may have kept it LIVE (Bybit, OKX, Binance, Deribit,
 * Coinbase; a Bybit reference model over random captures); before, it waited for the capture's next snapshot.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { exportCaptures } from "../../src/app/export.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES } from "../../src/core/types.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";

/** Each record's receive time and, after it, every book's "state:bestBidMantissa". */
class Probe extends Feeder {
  readonly after: { atUs: number; books: string[] }[] = [];
  /** The same after each clock move between records (a --pace recorded wait): atUs negative. */
  override replayClockAt(tsRecvUs: number): void {
    super.replayClockAt(tsRecvUs);
    this.after.push({ atUs: -tsRecvUs, books: this.books().map((b) => `${BOOK_STATE_NAMES[b.state]}:${b.bidCount > 0 ? b.bidPriceAt(0) : "-"}`) });
  }
  /** Per recorded REST answer or connection event: its url, the datagrams sent before and by the time it returned, the books after it. */
  readonly restSent: { atUs: number; url: string; before: number; after: number; books: string[] }[] = [];
  override ingestRest(venue: string, market: string, connection: string, url: string, body: string, tsRecvUs: number): boolean {
    const before = this.stats().publisher.datagrams!;
    const ok = super.ingestRest(venue, market, connection, url, body, tsRecvUs);
    this.restSent.push({ atUs: tsRecvUs, url, before, after: this.stats().publisher.datagrams!, books: this.books().map((b) => `${BOOK_STATE_NAMES[b.state]}:${b.bidCount > 0 ? b.bidPriceAt(0) : "-"}`) });
    return ok;
  }
  override ingest(venue: string, market: string, connection: string, frame: string, tsRecvUs: number): boolean {
    const ok = super.ingest(venue, market, connection, frame, tsRecvUs);
    this.after.push({ atUs: tsRecvUs, books: this.books().map((b) => `${BOOK_STATE_NAMES[b.state]}:${b.bidCount > 0 ? b.bidPriceAt(0) : "-"}`) });
    return ok;
  }
}

/** The records as a capture file (the section's market, connection conn0.MARKET) and a config of `venue` with `section`. */
function captureOf(venue: string, section: Record<string, unknown>, records: { atUs: number; frame: string; url?: string }[], destSeed: number): { files: string[]; config: FeederConfig } {
  const dir = tempDir("feeder-replay-stale-");
  const w = new CaptureWriter({ dir: join(dir, "cap"), compression: "none", flushBytes: 1 << 20 });
  const market = Object.keys(section).find((k) => k !== "overrides") ?? "spot";
  for (const r of records) {
    if (r.url !== undefined) w.writeRest(r.atUs, venue, market, `conn0.${market}`, r.url, r.frame);
    else w.write(r.atUs, venue, market, `conn0.${market}`, r.frame);
  }
  w.close();
  const config = validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: false },
    publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, destinations: [{ name: "t", ...uniqueDestination(destSeed), interface: "127.0.0.1", ttl: 1, channel: 3 }] },
    venues: { [venue]: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", instrument_cache: join(dir, "instruments.json"), ...section } },
  });
  return { files: w.files, config };
}

async function replay(venue: string, section: Record<string, unknown>, records: { atUs: number; frame: string; url?: string }[], destSeed: number, pace: "fast" | { speed: number } = "fast"): Promise<Probe["after"]> {
  return (await replayProbe(venue, section, records, destSeed, pace)).after;
}

async function replayProbe(venue: string, section: Record<string, unknown>, records: { atUs: number; frame: string; url?: string }[], destSeed: number, pace: "fast" | { speed: number } = "fast"): Promise<Probe> {
  const { files, config } = captureOf(venue, section, records, destSeed);
  const feeder = new Probe({ config, log: silentLogger, replay: true });
  await feeder.start();
  const result = await replayCaptures(feeder, files, pace === "fast" ? { pace } : { pace: "recorded", speed: pace.speed });
  await feeder.stop();
  expect(result).toMatchObject({ frames: records.length, skipped: 0 });
  return feeder;
}

const T0_US = 1_765_000_000_000_000; // a receive time (µs)
const S0_MS = 1_765_000_000_000; // Upbit's stamps (ms)
const upbitBook = (code: string, stampMs: number, bid: number) => `{"ty":"orderbook","cd":"${code}","tms":${stampMs},"obu":[{"ap":900000000,"bp":${bid * 1000},"as":1,"bs":1}]}`;
const upbitSection = (codes: string[]) => ({
  spot: { depth: 15, symbols: codes },
  overrides: Object.fromEntries(codes.map((c) => [`spot:${c}`, { tick_size: "1000", lot_size: "0.00000001" }])),
});

/** A Bybit spot snapshot of `sym` (u 1) with its best bid at `bid`. */
const bybitSnap = (sym: string, bid: string) => `{"topic":"orderbook.50.${sym}","type":"snapshot","ts":1,"data":{"s":"${sym}","b":[["${bid}","1"]],"a":[["900","1"]],"u":1,"seq":1},"cts":1}`;
const BYBIT_OVERRIDES = Object.fromEntries(["BTCUSDT", "ETHUSDT"].map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
/** Bybit spot BTCUSDT and ETHUSDT, stale after 5 s. */
const BYBIT_SECTION = { spot: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT"], stale_after_ms: 5000 }, overrides: BYBIT_OVERRIDES };
/** Both books at t0, then nothing for 8 s of the capture, then BTCUSDT's snapshot (live's resubscribe answer). */
const QUIET_STRETCH = [
  { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
  { atUs: T0_US + 1, frame: bybitSnap("ETHUSDT", "300") },
  { atUs: T0_US + 8e6, frame: bybitSnap("BTCUSDT", "101") },
];

describe("replay: a book's stale time on the capture's receive times", () => {
  test("upbit: a book stamped ahead goes STALE at its stale time, forgets that stamp and takes the next book, as live", async () => {
    // KRW-BTC: a book at t0, one stamped a day ahead at t0 + 1 s, then the venue's books (older than it) every second.
    // KRW-XRP: a book every second, half a second off, so the clock passes BTC's stale time on an XRP record.
    const records: { atUs: number; frame: string }[] = [];
    for (let s = 0; s <= 40; s++) {
      const bid = s === 1 ? 500 : 100 + s; // the book stamped ahead has bid 500
      records.push({ atUs: T0_US + s * 1e6, frame: upbitBook("KRW-BTC", s === 1 ? S0_MS + 86_400_000 : S0_MS + s * 1000, bid) });
      records.push({ atUs: T0_US + s * 1e6 + 500_000, frame: upbitBook("KRW-XRP", S0_MS + s * 1000, 200 + s) });
    }
    const after = await replay("upbit", upbitSection(["KRW-BTC", "KRW-XRP"]), records, 91);
    const btc = (atUs: number) => after.find((a) => a.atUs === atUs)!.books[0];
    // The rule: silent (older books are no sign of life) from t0 + 1 s for more than 30 s.
    expect(btc(T0_US + 1e6)).toBe("live:500000");
    expect(btc(T0_US + 31e6)).toBe("live:500000"); // exactly 30 s: not more
    expect(btc(T0_US + 31.5e6)).toBe("stale:500000"); // past it: STALE (before, LIVE at the book ahead for good)
    expect(btc(T0_US + 32e6)).toBe("live:132000"); // that stamp forgotten: the venue's next book is taken
    expect(btc(T0_US + 40e6)).toBe("live:140000");
    expect(after.slice(1).every((a) => a.books[1]!.startsWith("live:"))).toBe(true); // KRW-XRP (from its first book), never silent, untouched
  });

  test("upbit: a quiet LIVE code is asked again at its stale time; an answer within 5 s keeps it LIVE, none makes it STALE", async () => {
    // KRW-BTC is quiet after t0; its "answer" (the same book again) comes 4 s after its stale time. KRW-ETH is quiet too,
    // and nothing of it comes: STALE at 30 s + 5 s. KRW-XRP ticks every 0.5 s.
    const records: { atUs: number; frame: string }[] = [
      { atUs: T0_US, frame: upbitBook("KRW-BTC", S0_MS, 100) },
      { atUs: T0_US + 1, frame: upbitBook("KRW-ETH", S0_MS, 300) },
    ];
    for (let h = 1; h <= 100; h++) {
      records.push({ atUs: T0_US + h * 500_000, frame: upbitBook("KRW-XRP", S0_MS + h * 500, 200) });
      if (h === 68) records.push({ atUs: T0_US + 34e6 + 1, frame: upbitBook("KRW-BTC", S0_MS, 100) });
    }
    const after = await replay("upbit", upbitSection(["KRW-BTC", "KRW-ETH", "KRW-XRP"]), records, 93);
    const state = (i: number, atUs: number) => after.find((a) => a.atUs === atUs)!.books[i];
    expect(state(0, T0_US + 34e6 + 1)).toBe("live:100000");
    expect(after.every((a) => a.books[0]!.startsWith("live:"))).toBe(true); // answered in time: never STALE
    expect(state(1, T0_US + 35e6)).toBe("live:300000"); // asked at 30 s, the answer awaited until 35 s
    expect(state(1, T0_US + 35.5e6)).toBe("stale:300000"); // none came
  });

  test("bybit: a recorded ws:close's RESYNCING statuses are sent at that record, as live sends them in the close's turn", async () => {
    // Until s-repleft Feeder.ingestRest returned before its flush for a connection event: the statuses waited for the
    // next record's flush (or the turn's end), sent and stamped later than live's, with the next record's changes.
    const probe = await replayProbe("bybit", BYBIT_SECTION, [
      { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
      { atUs: T0_US + 1, frame: bybitSnap("ETHUSDT", "300") },
      { atUs: T0_US + 1000, frame: "test: socket closed", url: "ws:close" },
      { atUs: T0_US + 2e6, frame: bybitSnap("BTCUSDT", "101") },
    ], 125);
    const close = probe.restSent.find((r) => r.url === "ws:close")!;
    expect(close.after).toBeGreaterThan(close.before);
    expect(probe.after.find((a) => a.atUs === T0_US + 2e6)!.books).toEqual(["live:1010", "resyncing:3000"]);
  });

  test("bybit: a book closed, its round run meanwhile, and subscribed again goes STALE at its stale time from that subscribe when no snapshot comes", async () => {
    // The only book: closed at 1 s (ws:closed), so the round due at 5 s finds nothing to judge; subscribed again at 10 s
    // (its listing found it trading), and its snapshot never comes. Live's housekeeping judges it past 15 s. Until
    // s-repleft replay computed its next round only at a round, none was due, and the book was never STALE.
    const section = { spot: { depth: 50, symbols: ["BTCUSDT"], stale_after_ms: 5000 }, overrides: { "spot:BTCUSDT": BYBIT_OVERRIDES["spot:BTCUSDT"] } };
    const probe = await replayProbe("bybit", section, [
      { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
      { atUs: T0_US + 1e6, frame: "orderbook.50.BTCUSDT", url: "ws:closed" },
      { atUs: T0_US + 10e6, frame: "", url: `ws:req ["7","subscribe",["orderbook.50.BTCUSDT"]]` },
      { atUs: T0_US + 15e6, frame: "", url: "ws:state" },
      { atUs: T0_US + 15e6 + 10, frame: "", url: "ws:state" },
      { atUs: T0_US + 40e6, frame: "", url: "ws:state" },
    ], 127);
    const btc = (atUs: number) => probe.restSent.find((r) => r.atUs === atUs)!.books[0]!.split(":")[0];
    expect(btc(T0_US + 1e6)).toBe("halted");
    expect(btc(T0_US + 15e6)).not.toBe("stale"); // silent 5 s since its subscribe: not more than its stale time
    expect(btc(T0_US + 15e6 + 10)).toBe("stale");
    expect(btc(T0_US + 40e6)).toBe("stale");
  });

  test("bybit: a silent book goes STALE at its stale time and is LIVE again at the next snapshot the capture holds", async () => {
    const snap = (sym: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"snapshot","ts":1,"data":{"s":"${sym}","b":[["${bid}","1"]],"a":[["900","1"]],"u":${u},"seq":${u}},"cts":1}`;
    const delta = (sym: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"delta","ts":1,"data":{"s":"${sym}","b":[["${bid}","2"]],"a":[],"u":${u},"seq":${u}},"cts":1}`;
    const records = [
      { atUs: T0_US, frame: snap("BTCUSDT", 1, "100") },
      { atUs: T0_US + 1, frame: snap("ETHUSDT", 1, "300") },
    ];
    // BTCUSDT a delta every 0.25 s; ETHUSDT silent until its snapshot (live's resubscribe answer) at t0 + 6 s.
    for (let q = 1; q <= 32; q++) records.push({ atUs: T0_US + q * 250_000, frame: delta("BTCUSDT", 1 + q, "100") });
    records.push({ atUs: T0_US + 6e6 + 10, frame: snap("ETHUSDT", 50, "301") });
    const after = await replay("bybit", BYBIT_SECTION, records, 95);
    const eth = (atUs: number) => after.find((a) => a.atUs === atUs)!.books[1];
    expect(eth(T0_US + 5e6)).toBe("live:3000"); // silent 5 s less 1 µs: not more than its stale time
    expect(eth(T0_US + 5.25e6)).toBe("stale:3000");
    expect(eth(T0_US + 6e6 + 10)).toBe("live:3010");
    expect(after.every((a) => a.books[0]!.startsWith("live:"))).toBe(true);
  });

  test("bybit: a STALE book whose next delta continues its u within a housekeeping round is LIVE again there; a gap or a later one waits", async () => {
    // Live judged a silence at its next round (every 250 ms here), so a delta 0.2 s past the stale time may have found
    // the book still LIVE: with its u the next one, nothing was missed and the kept levels are the venue's. Before,
    // replay left it STALE until the capture's next snapshot (for a quiet Bybit book, possibly a long time).
    const delta = (sym: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"delta","ts":1,"data":{"s":"${sym}","b":[["${bid}","2"]],"a":[],"u":${u},"seq":${u}},"cts":1}`;
    const syms = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
    const records = syms.map((sym, i) => ({ atUs: T0_US, frame: bybitSnap(sym, String(100 * (i + 1))) })); // one stale round
    for (let q = 1; q <= 32; q++) records.push({ atUs: T0_US + q * 250_000, frame: delta("BTCUSDT", 1 + q, "100") });
    records.push({ atUs: T0_US + 5.2e6 + 1, frame: delta("ETHUSDT", 2, "201") }); // u continues, 0.2 s past: LIVE again
    records.push({ atUs: T0_US + 5.2e6 + 2, frame: delta("SOLUSDT", 3, "301") }); // u skips one: stays STALE
    records.push({ atUs: T0_US + 5.6e6 + 3, frame: delta("XRPUSDT", 2, "401") }); // u continues, 0.6 s past: stays STALE
    records.push({ atUs: T0_US + 5.7e6, frame: delta("ETHUSDT", 3, "202") });
    records.sort((a, b) => a.atUs - b.atUs);
    const overrides = Object.fromEntries(syms.map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
    const after = await replay("bybit", { spot: { depth: 50, symbols: syms, stale_after_ms: 5000 }, overrides }, records, 101);
    const at = (atUs: number) => after.find((a) => a.atUs === atUs)!.books;
    expect(at(T0_US + 5e6)).toEqual(["live:1000", "live:2000", "live:3000", "live:4000"]); // silent 5 s: not more
    expect(at(T0_US + 5.2e6 + 1)).toEqual(["live:1000", "live:2010", "stale:3000", "stale:4000"]); // STALE at 5 s, then ETH's delta
    expect(at(T0_US + 5.2e6 + 2)[2]).toBe("stale:3000");
    expect(at(T0_US + 5.6e6 + 3)[3]).toBe("stale:4000");
    expect(after.at(-1)!.books).toEqual(["live:1000", "live:2020", "stale:3000", "stale:4000"]);
  });

  test("bybit: a book whose verdict waited for another's round resumes only within a round of its own stale time", async () => {
    // BTCUSDT's stale time passes at 5 s (its round makes it STALE there), ETHUSDT's at 5.1 s: replay's next round waits
    // an interval (250 ms here), so ETH's verdict is at 5.25 s. Live's round came by 5.35 s at the latest (its first
    // past 5.1 s), so ETH's continuing delta at 5.4 s came after live had made it STALE and resynced it (ignored there,
    // the resubscribe's snapshot awaited). Before, the window counted from replay's late verdict: LIVE again at 5.4 s.
    // SOLUSDT, the same at 5.3 s (within a round of its stale time): LIVE again, as before.
    const delta = (sym: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"delta","ts":1,"data":{"s":"${sym}","b":[["${bid}","2"]],"a":[],"u":${u},"seq":${u}},"cts":1}`;
    const syms = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
    const records = [
      { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
      { atUs: T0_US + 0.1e6, frame: bybitSnap("ETHUSDT", "200") },
      { atUs: T0_US + 0.1e6, frame: bybitSnap("SOLUSDT", "300") },
      { atUs: T0_US + 5.3e6, frame: delta("SOLUSDT", 2, "301") },
      { atUs: T0_US + 5.4e6, frame: delta("ETHUSDT", 2, "201") },
    ];
    const overrides = Object.fromEntries(syms.map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
    const after = await replay("bybit", { spot: { depth: 50, symbols: syms, stale_after_ms: 5000 }, overrides }, records, 117);
    const at = (atUs: number) => after.find((a) => a.atUs === atUs)!.books;
    expect(at(T0_US + 5.3e6)).toEqual(["stale:1000", "stale:2000", "live:3010"]);
    expect(at(T0_US + 5.4e6)[1]).toBe("stale:2000");
  });

  test("bybit: a STALE book that saw its venue reset (u back on its socket) is not LIVE again when the new u reaches the old u + 1", async () => {
    // ETHUSDT at u 2 (a quiet book, just after a venue reset), STALE at 5 s. Within a round: the venue resets again (a
    // delta with u = 1: live, its book LIVE until its round, resynced there) and moves on (u 2, u 3). Before, the STALE
    // book ignored u 1 and took u 3 (= its old u + 1) for its continuation: LIVE at its pre-reset levels.
    const snap = (sym: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"snapshot","ts":1,"data":{"s":"${sym}","b":[["${bid}","1"]],"a":[["900","1"]],"u":${u},"seq":1},"cts":1}`;
    const delta = (sym: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"delta","ts":1,"data":{"s":"${sym}","b":[["${bid}","2"]],"a":[],"u":${u},"seq":${u}},"cts":1}`;
    const records = [
      { atUs: T0_US, frame: snap("BTCUSDT", 1, "100") },
      { atUs: T0_US, frame: snap("ETHUSDT", 2, "200") },
      { atUs: T0_US + 5.05e6, frame: delta("ETHUSDT", 1, "250") },
      { atUs: T0_US + 5.1e6, frame: delta("ETHUSDT", 2, "251") },
      { atUs: T0_US + 5.15e6, frame: delta("ETHUSDT", 3, "252") },
    ];
    for (let q = 1; q <= 22; q++) records.push({ atUs: T0_US + q * 250_000 + 1, frame: delta("BTCUSDT", 1 + q, "100") });
    records.sort((a, b) => a.atUs - b.atUs);
    const after = await replay("bybit", BYBIT_SECTION, records, 119);
    const eth = (atUs: number) => after.find((a) => a.atUs === atUs)!.books[1]!;
    expect(eth(T0_US + 5.05e6)).toBe("stale:2000");
    expect(eth(T0_US + 5.15e6)).toBe("stale:2000");
  });

  test("bybit: a book gone STALE from RESYNCING (its levels not the venue's) is not LIVE again at a continuing delta", async () => {
    // ETHUSDT's delta u 2 puts a bid at price 0: refused (RESYNCING), yet the builder holds it. Silent 5 s more, the book
    // goes STALE; a delta continuing u 2 then must not make those levels LIVE (before, published whole as LIVE).
    const delta = (sym: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"delta","ts":1,"data":{"s":"${sym}","b":[["${bid}","2"]],"a":[],"u":${u},"seq":${u}},"cts":1}`;
    const records = [
      { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
      { atUs: T0_US, frame: bybitSnap("ETHUSDT", "200") },
      { atUs: T0_US + 1e6, frame: delta("ETHUSDT", 2, "0") },
    ];
    for (let q = 1; q <= 32; q++) records.push({ atUs: T0_US + q * 250_000 + 1, frame: delta("BTCUSDT", 1 + q, "100") });
    records.push({ atUs: T0_US + 6.1e6, frame: delta("ETHUSDT", 3, "201") }); // 0.1 s past its stale time, continues u 2
    records.sort((a, b) => a.atUs - b.atUs);
    const after = await replay("bybit", BYBIT_SECTION, records, 111);
    const eth = (atUs: number) => after.find((a) => a.atUs === atUs)!.books[1]!;
    expect(eth(T0_US + 1e6).startsWith("resyncing:")).toBe(true);
    expect(eth(T0_US + 6e6 + 1).startsWith("stale:")).toBe(true);
    expect(eth(T0_US + 6.1e6).startsWith("stale:")).toBe(true);
  });

  test("bybit, randomized: each record's state and best bid as the reference model says (silences, gaps, repeats, snapshots)", async () => {
    // The model: silent for more than 5 s, a LIVE book goes STALE at its stale time + 1 µs (resumable), a RESYNCING one
    // too (not resumable); a STALE one resumes at the delta with the last applied u + 1 within 250 ms (this config's
    // housekeeping interval) of that verdict; a snapshot makes it LIVE; a delta past u + 1 on a LIVE book is a gap.
    const STALE_MS = 5000;
    const ROUND_MS = 250;
    const frame = (type: "snapshot" | "delta", u: number) =>
      `{"topic":"orderbook.50.ETHUSDT","type":"${type}","ts":1,"data":{"s":"ETHUSDT","b":[["${100 + u}","1"]],"a":${type === "snapshot" ? '[["900","1"]]' : "[]"},"u":${u},"seq":${u}},"cts":1}`;
    for (let seed = 1; seed <= 12; seed++) {
      let x = seed * 2654435761;
      const rand = () => ((x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0) >>> 0) / 2 ** 32;
      const records: { atUs: number; frame: string }[] = [{ atUs: T0_US, frame: frame("snapshot", 1) }];
      const expected = ["live:1010"];
      let atMs = T0_US / 1000;
      let venueU = 1;
      // The model's book.
      let state = "live";
      let applied = 1;
      let lastMs = atMs;
      let verdictMs = -Infinity;
      for (let i = 0; i < 40; i++) {
        const r = rand();
        // A pause: short, or just past the stale time (within a round of it, or well after it).
        const pauseMs = r < 0.5 ? 50 + rand() * 3000 : r < 0.8 ? STALE_MS + 10 + rand() * 190 : STALE_MS + 300 + rand() * 2000;
        atMs += Math.round(pauseMs * 1000) / 1000;
        const k = rand();
        const type = k < 0.12 ? "snapshot" : "delta";
        const u = type === "snapshot" ? ++venueU : k < 0.8 ? ++venueU : k < 0.9 ? (venueU += 2) : venueU; // next, one lost, repeat
        records.push({ atUs: Math.round(atMs * 1000), frame: frame(type, u) });
        // The rounds due before this record.
        if ((state === "live" || state === "resyncing") && atMs - lastMs > STALE_MS) {
          verdictMs = state === "live" ? lastMs + STALE_MS + 0.001 : -Infinity;
          state = "stale";
        }
        if (type === "snapshot") [state, applied, lastMs] = ["live", u, atMs];
        else if (state === "live" && u === applied + 1) [applied, lastMs] = [u, atMs];
        else if (state === "live" && u > applied + 1) state = "resyncing";
        else if (state === "stale" && u === applied + 1 && atMs - verdictMs <= ROUND_MS) [state, applied, lastMs] = ["live", u, atMs];
        expected.push(`${state}:${(100 + applied) * 10}`);
      }
      const after = await replay("bybit", { spot: { depth: 50, symbols: ["ETHUSDT"], stale_after_ms: STALE_MS }, overrides: { "spot:ETHUSDT": { tick_size: "0.1", lot_size: "0.001" } } }, records, 113);
      expect(after.map((a) => a.books[0]), `seed ${seed}`).toEqual(expected);
    }
  });

  test("okx: a STALE book that saw an update not chaining on its seqId does not resume when a later one chains on it", async () => {
    // ETH at seqId 10, STALE at 65 s. Within a round: an update chaining on 30 (a gap: live, its book still LIVE until its
    // round, resynced it), a maintenance reset to lower seqIds (31 -> 5), and the new run's update chaining on 10.
    // Before, that last one was taken for the continuation: the levels from before the gap LIVE again.
    const books = (action: "snapshot" | "update", instId: string, bid: string, prevSeqId: number, seqId: number) =>
      JSON.stringify({ arg: { channel: "books", instId }, action, data: [{ asks: action === "snapshot" ? [["900", "1", "0", "1"]] : [], bids: [[bid, "2", "0", "1"]], checksum: 0, prevSeqId, seqId }] });
    const records = [
      { atUs: T0_US, frame: books("snapshot", "BTC-USDT", "100", -1, 10) },
      { atUs: T0_US, frame: books("snapshot", "ETH-USDT", "200", -1, 10) },
      { atUs: T0_US + 65.05e6, frame: books("update", "ETH-USDT", "250", 30, 31) },
      { atUs: T0_US + 65.08e6, frame: books("update", "ETH-USDT", "251", 31, 5) },
      { atUs: T0_US + 65.1e6, frame: books("update", "ETH-USDT", "252", 5, 10) },
      { atUs: T0_US + 65.15e6, frame: books("update", "ETH-USDT", "253", 10, 11) },
    ];
    const overrides = Object.fromEntries(["BTC-USDT", "ETH-USDT"].map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
    const after = await replay("okx", { spot: { depth: 400, symbols: ["BTC-USDT", "ETH-USDT"], stale_after_ms: 65_000 }, overrides }, records, 123);
    const eth = (atUs: number) => after.find((a) => a.atUs === atUs)!.books[1]!;
    expect(eth(T0_US + 65.05e6)).toBe("stale:2000");
    expect(eth(T0_US + 65.15e6)).toBe("stale:2000");
  });

  test("okx: a STALE book bridged from a REST book does not resume at an update stamped before that REST book (it contradicts the bridge); one stamped after resumes", async () => {
    // ETH bridged from the recorded REST answer at seqId 10, stamped 5 ms after its buffered update; STALE at 65 s. The
    // next update chains on 10: stamped before the REST book, it cannot follow it (the REST book may be from after a
    // reset the socket has not delivered). Until s-okxts resumed unchecked: LIVE with it applied.
    const T_MS = T0_US / 1000;
    const books = (bid: string, prevSeqId: number, seqId: number, ts: number) =>
      JSON.stringify({ arg: { channel: "books", instId: "ETH-USDT" }, action: "update", data: [{ asks: [], bids: [[bid, "2", "0", "1"]], ts: String(ts), checksum: 0, prevSeqId, seqId }] });
    const rest = JSON.stringify({ code: "0", msg: "", data: [{ asks: [["900", "1", "0", "1"]], bids: [["200", "2", "0", "1"]], ts: String(T_MS + 5), seqId: 10 }] });
    const section = { spot: { depth: 400, symbols: ["ETH-USDT"], stale_after_ms: 65_000 }, overrides: { "spot:ETH-USDT": { tick_size: "0.1", lot_size: "0.001" } } };
    const head = [
      { atUs: T0_US, frame: books("200", 9, 10, T_MS) },
      { atUs: T0_US, frame: rest, url: "https://www.okx.com/api/v5/market/books?instId=ETH-USDT&sz=400" },
    ];
    const stampedAt = async (ts: number, seed: number) => (await replay("okx", section, [...head, { atUs: T0_US + 65.05e6, frame: books("250", 10, 15, ts) }], seed)).at(-1)!.books[0];
    expect([await stampedAt(T_MS + 1, 133), await stampedAt(T_MS + 65_000, 135)]).toEqual(["stale:2000", "live:2500"]);
  });

  test("okx: a STALE book bridged from a REST book, nothing chained since (a keepalive aside), does not resume at a maintenance reset chaining on it (live resyncs it)", async () => {
    // ETH bridged from the recorded REST answer at seqId 10, STALE at 65 s; next a reset (prevSeqId 10, seqId 3),
    // stamped after the REST book. Live, the book LIVE, resynced it: the REST book may be from after that reset
    // (resetOnBridgedSnapshot). Until s-sr2 replay resumed the STALE book with it applied (LIVE at 2510), also after a
    // keepalive resumed it (a keepalive leaves the REST book open, live; the stale round closed it here).
    const T_MS = T0_US / 1000;
    const books = (bid: string | null, prevSeqId: number, seqId: number, ts: number) =>
      JSON.stringify({ arg: { channel: "books", instId: "ETH-USDT" }, action: "update", data: [{ asks: [], bids: bid === null ? [] : [[bid, "2", "0", "1"]], ts: String(ts), checksum: 0, prevSeqId, seqId }] });
    const rest = JSON.stringify({ code: "0", msg: "", data: [{ asks: [["900", "1", "0", "1"]], bids: [["200", "2", "0", "1"]], ts: String(T_MS), seqId: 10 }] });
    const section = { spot: { depth: 400, symbols: ["ETH-USDT"], stale_after_ms: 65_000 }, overrides: { "spot:ETH-USDT": { tick_size: "0.1", lot_size: "0.001" } } };
    const head = [
      { atUs: T0_US, frame: books("200", 9, 10, T_MS) },
      { atUs: T0_US, frame: rest, url: "https://www.okx.com/api/v5/market/books?instId=ETH-USDT&sz=400" },
    ];
    const reset = { atUs: T0_US + 65.08e6, frame: books("251", 10, 3, T_MS + 65_000) };
    const direct = await replay("okx", section, [...head, reset], 137);
    const keepalive = await replay("okx", section, [...head, { atUs: T0_US + 65.05e6, frame: books(null, 10, 10, T_MS + 60_000) }, reset], 139);
    expect(keepalive.find((a) => a.atUs === T0_US + 65.05e6)!.books[0]).toBe("live:2000"); // the keepalive resumed it
    // Not resumed; resumed by the keepalive, resynced at the reset as live's.
    expect([direct.at(-1)!.books[0], keepalive.at(-1)!.books[0]]).toEqual(["stale:2000", "resyncing:2000"]);
  });

  test("okx: seqId 0 is a sequence: a book STALE at 0 (a maintenance reset's) resumes at the update chaining on 0, not at one chaining on a seqId kept from before", async () => {
    // ETH: (3,5) then a gap resyncs it (its last seqId, 5, kept); a snapshot at 20 and a
    // maintenance reset (20,0): LIVE at 0, STALE at its stale time. Before, 0 read as "no sequence": the 5 from before
    // stayed the seqId the STALE book was at, so (5,8) (a gap: (0,5) never came; live, the book LIVE at 0, resynced it)
    // made it LIVE again without (0,5), and (0,5) itself did not resume it.
    const books = (action: "snapshot" | "update", instId: string, bid: string, prevSeqId: number, seqId: number) =>
      JSON.stringify({ arg: { channel: "books", instId }, action, data: [{ asks: action === "snapshot" ? [["900", "1", "0", "1"]] : [], bids: [[bid, "2", "0", "1"]], checksum: 0, prevSeqId, seqId }] });
    const head = [
      { atUs: T0_US, frame: books("snapshot", "ETH-USDT", "200", -1, 3) },
      { atUs: T0_US + 1000, frame: books("update", "ETH-USDT", "201", 3, 5) },
      { atUs: T0_US + 2000, frame: books("update", "ETH-USDT", "202", 9, 10) }, // a gap: resync
      { atUs: T0_US + 3000, frame: books("snapshot", "ETH-USDT", "210", -1, 20) },
      { atUs: T0_US + 4000, frame: books("update", "ETH-USDT", "211", 20, 0) }, // the maintenance reset, to 0
    ];
    const section = { spot: { depth: 400, symbols: ["ETH-USDT"], stale_after_ms: 65_000 }, overrides: { "spot:ETH-USDT": { tick_size: "0.1", lot_size: "0.001" } } };
    const gap = await replay("okx", section, [...head, { atUs: T0_US + 65.05e6, frame: books("update", "ETH-USDT", "250", 5, 8) }], 129);
    expect(gap.find((a) => a.atUs === T0_US + 4000)!.books[0]).toBe("live:2110");
    expect(gap.at(-1)!.books[0]).toBe("stale:2110");
    const chained = await replay("okx", section, [...head, { atUs: T0_US + 65.05e6, frame: books("update", "ETH-USDT", "250", 0, 5) }], 131);
    expect(chained.at(-1)!.books[0]).toBe("live:2500");
  });

  test("okx: a STALE book whose next update chains on its seqId within a housekeeping round is LIVE again there; a gap or a later one waits", async () => {
    // books' least stale time is 65 s (its keepalive comes after ~60 s without change).
    const books = (action: "snapshot" | "update", instId: string, bid: string, qty: string, prevSeqId: number, seqId: number) =>
      JSON.stringify({ arg: { channel: "books", instId }, action, data: [{ asks: action === "snapshot" ? [["900", "1", "0", "1"]] : [], bids: bid === "" ? [] : [[bid, qty, "0", "1"]], checksum: 0, prevSeqId, seqId }] });
    const syms = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT"];
    const records = syms.map((sym, i) => ({ atUs: T0_US, frame: books("snapshot", sym, String(100 * (i + 1)), "1", -1, 10) }));
    for (let q = 1; q <= 272; q++) records.push({ atUs: T0_US + q * 250_000, frame: books("update", "BTC-USDT", "100", String(q), 9 + q, 10 + q) });
    records.push({ atUs: T0_US + 65.2e6 + 1, frame: books("update", "ETH-USDT", "201", "2", 10, 11) }); // chains, 0.2 s past: LIVE again
    records.push({ atUs: T0_US + 65.2e6 + 2, frame: books("update", "SOL-USDT", "301", "2", 11, 12) }); // one lost: stays STALE
    records.push({ atUs: T0_US + 65.6e6 + 3, frame: books("update", "XRP-USDT", "401", "2", 10, 11) }); // chains, 0.6 s past: stays STALE
    records.push({ atUs: T0_US + 65.1e6 + 4, frame: books("update", "ADA-USDT", "", "", 10, 10) }); // its keepalive: LIVE again
    records.push({ atUs: T0_US + 65.7e6, frame: books("update", "ETH-USDT", "202", "2", 11, 12) });
    records.push({ atUs: T0_US + 65.8e6, frame: books("update", "ADA-USDT", "501", "2", 10, 11) });
    records.sort((a, b) => a.atUs - b.atUs);
    const overrides = Object.fromEntries(syms.map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
    const after = await replay("okx", { spot: { depth: 400, symbols: syms, stale_after_ms: 65_000 }, overrides }, records, 103);
    const at = (atUs: number) => after.find((a) => a.atUs === atUs)!.books;
    expect(at(T0_US + 65e6)).toEqual(["live:1000", "live:2000", "live:3000", "live:4000", "live:5000"]);
    expect(at(T0_US + 65.1e6 + 4)).toEqual(["live:1000", "stale:2000", "stale:3000", "stale:4000", "live:5000"]);
    expect(at(T0_US + 65.2e6 + 1)).toEqual(["live:1000", "live:2010", "stale:3000", "stale:4000", "live:5000"]);
    expect(at(T0_US + 65.2e6 + 2)[2]).toBe("stale:3000");
    expect(at(T0_US + 65.6e6 + 3)[3]).toBe("stale:4000");
    expect(after.at(-1)!.books).toEqual(["live:1000", "live:2020", "stale:3000", "stale:4000", "live:5010"]);
  });

  for (const market of ["spot", "linear"] as const) {
    test(`binance ${market}: a STALE book whose next diff continues its u within a housekeeping round is LIVE again there; a gap or a later one waits`, async () => {
      // Spot chains by U = the last u + 1, USD-M by pu = the last u.
      const diff = (sym: string, first: number, u: number, pu: number, bid: string) =>
        `{"stream":"${sym.toLowerCase()}@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"${sym}","U":${first},"u":${u},${market === "linear" ? `"pu":${pu},` : ""}"b":[["${bid}","2"]],"a":[]}}`;
      const syms = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
      // Each book from the REST snapshot the capture holds (lastUpdateId 10) and its first diff (U 10 to u 11).
      const records: { atUs: number; frame: string; url?: string }[] = syms.flatMap((sym, i) => [
        { atUs: T0_US, frame: `{"lastUpdateId":10,"bids":[["${100 * (i + 1)}","1"]],"asks":[["900","1"]]}`, url: `https://x/${market === "spot" ? "api/v3" : "fapi/v1"}/depth?symbol=${sym}&limit=1000` },
        { atUs: T0_US, frame: diff(sym, 10, 11, 9, String(100 * (i + 1))) },
      ]);
      for (let q = 1; q <= 32; q++) records.push({ atUs: T0_US + q * 250_000, frame: diff("BTCUSDT", 11 + q, 11 + q, 10 + q, "100") });
      records.push({ atUs: T0_US + 5.2e6 + 1, frame: diff("ETHUSDT", 12, 13, 11, "201") }); // continues, 0.2 s past: LIVE again
      records.push({ atUs: T0_US + 5.2e6 + 2, frame: diff("SOLUSDT", 13, 13, 12, "301") }); // one lost: stays STALE
      records.push({ atUs: T0_US + 5.6e6 + 3, frame: diff("XRPUSDT", 12, 12, 11, "401") }); // continues, 0.6 s past: stays STALE
      records.push({ atUs: T0_US + 5.7e6, frame: diff("ETHUSDT", 14, 14, 13, "202") });
      records.sort((a, b) => a.atUs - b.atUs);
      const overrides = Object.fromEntries(syms.map((s) => [`${market}:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
      const after = await replay("binance", { [market]: { depth: 1000, symbols: syms, stale_after_ms: 5000 }, overrides }, records, market === "spot" ? 105 : 115);
      const at = (atUs: number) => after.find((a) => a.atUs === atUs)!.books;
      expect(at(T0_US + 5e6)).toEqual(["live:1000", "live:2000", "live:3000", "live:4000"]);
      expect(at(T0_US + 5.2e6 + 1)).toEqual(["live:1000", "live:2010", "stale:3000", "stale:4000"]);
      expect(at(T0_US + 5.2e6 + 2)[2]).toBe("stale:3000");
      expect(at(T0_US + 5.6e6 + 3)[3]).toBe("stale:4000");
      expect(after.at(-1)!.books).toEqual(["live:1000", "live:2020", "stale:3000", "stale:4000"]);
    });
  }

  test("deribit: a STALE book whose next change links to its change_id within a housekeeping round is LIVE again there; a gap or a later one waits", async () => {
    const book = (sym: string, type: "snapshot" | "change", prev: number, id: number, bid: string, ask: boolean) =>
      `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.${sym}.100ms","data":{"type":"${type}","timestamp":1,${type === "change" ? `"prev_change_id":${prev},` : ""}"instrument_name":"${sym}","change_id":${id},"bids":[["new",${bid},2]],"asks":[${ask ? '["new",900,1]' : ""}]}}}`;
    const syms = ["BTC-PERPETUAL", "ETH-PERPETUAL", "SOL-PERPETUAL", "XRP-PERPETUAL"];
    const records = syms.map((sym, i) => ({ atUs: T0_US, frame: book(sym, "snapshot", 0, 10, String(100 * (i + 1)), true) }));
    for (let q = 1; q <= 32; q++) records.push({ atUs: T0_US + q * 250_000, frame: book("BTC-PERPETUAL", "change", 9 + q, 10 + q, "100", false) });
    records.push({ atUs: T0_US + 5.2e6 + 1, frame: book("ETH-PERPETUAL", "change", 10, 11, "201", false) }); // links, 0.2 s past: LIVE again
    records.push({ atUs: T0_US + 5.2e6 + 2, frame: book("SOL-PERPETUAL", "change", 11, 12, "301", false) }); // one lost: stays STALE
    records.push({ atUs: T0_US + 5.6e6 + 3, frame: book("XRP-PERPETUAL", "change", 10, 11, "401", false) }); // links, 0.6 s past: stays STALE
    records.push({ atUs: T0_US + 5.7e6, frame: book("ETH-PERPETUAL", "change", 11, 12, "202", false) });
    records.sort((a, b) => a.atUs - b.atUs);
    const overrides = Object.fromEntries(syms.map((s) => [`inverse:${s}`, { tick_size: "0.1", lot_size: "1" }]));
    const after = await replay("deribit", { inverse: { depth: 0, symbols: syms, stale_after_ms: 5000 }, overrides }, records, 107);
    const at = (atUs: number) => after.find((a) => a.atUs === atUs)!.books;
    expect(at(T0_US + 5e6)).toEqual(["live:1000", "live:2000", "live:3000", "live:4000"]);
    expect(at(T0_US + 5.2e6 + 1)).toEqual(["live:1000", "live:2010", "stale:3000", "stale:4000"]);
    expect(at(T0_US + 5.2e6 + 2)[2]).toBe("stale:3000");
    expect(at(T0_US + 5.6e6 + 3)[3]).toBe("stale:4000");
    expect(after.at(-1)!.books).toEqual(["live:1000", "live:2020", "stale:3000", "stale:4000"]);
  });

  test("deribit: a STALE book that saw a change below its change_id (the venue rebuilt its ids) does not resume when the new chain links to the old id", async () => {
    // ETH at change_id 10, STALE at 5 s. Within a round the venue rebuilds the book with lower ids (a change at 5, which
    // live, its book still LIVE until its round, took for a venue reset and resynced), the new chain passing 10. Before,
    // the change linking to 10 was taken for the continuation: the pre-reset levels LIVE again.
    const book = (sym: string, type: "snapshot" | "change", prev: number, id: number, bid: string) =>
      `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.${sym}.100ms","data":{"type":"${type}","timestamp":1,${type === "change" ? `"prev_change_id":${prev},` : ""}"instrument_name":"${sym}","change_id":${id},"bids":[["new",${bid},2]],"asks":[${type === "snapshot" ? '["new",900,1]' : ""}]}}}`;
    const syms = ["BTC-PERPETUAL", "ETH-PERPETUAL"];
    const records = [
      { atUs: T0_US, frame: book("BTC-PERPETUAL", "snapshot", 0, 10, "100") },
      { atUs: T0_US, frame: book("ETH-PERPETUAL", "snapshot", 0, 10, "200") },
      { atUs: T0_US + 5.05e6, frame: book("ETH-PERPETUAL", "change", 4, 5, "250") },
      { atUs: T0_US + 5.1e6, frame: book("ETH-PERPETUAL", "change", 10, 11, "251") },
    ];
    for (let q = 1; q <= 22; q++) records.push({ atUs: T0_US + q * 250_000 + 1, frame: book("BTC-PERPETUAL", "change", 9 + q, 10 + q, "100") });
    records.sort((a, b) => a.atUs - b.atUs);
    const overrides = Object.fromEntries(syms.map((s) => [`inverse:${s}`, { tick_size: "0.1", lot_size: "1" }]));
    const after = await replay("deribit", { inverse: { depth: 0, symbols: syms, stale_after_ms: 5000 }, overrides }, records, 121);
    const eth = (atUs: number) => after.find((a) => a.atUs === atUs)!.books[1]!;
    expect(eth(T0_US + 5.05e6)).toBe("stale:2000");
    expect(eth(T0_US + 5.1e6)).toBe("stale:2000");
  });

  test("coinbase: a STALE book's next update, its connection's sequence unbroken, within a housekeeping round is LIVE again there; later or after a gap it waits", async () => {
    const level = (side: string, px: string) => `{"side":"${side}","event_time":"2026-01-01T00:00:00Z","price_level":"${px}","new_quantity":"2"}`;
    const l2 = (seq: number, type: "snapshot" | "update", product: string, bid: string) =>
      `{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":${seq},"events":[{"type":"${type}","product_id":"${product}","updates":[${level("bid", bid)}${type === "snapshot" ? "," + level("offer", "900") : ""}]}]}`;
    // One connection: its sequence_num counts every frame.
    const syms = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"];
    const events: { atUs: number; type: "snapshot" | "update"; product: string; bid: string }[] = syms.map((product, i) => ({ atUs: T0_US, type: "snapshot", product, bid: String(100 * (i + 1)) }));
    for (let q = 1; q <= 32; q++) events.push({ atUs: T0_US + q * 250_000, type: "update", product: "BTC-USD", bid: "100" });
    events.push({ atUs: T0_US + 5.2e6 + 1, type: "update", product: "ETH-USD", bid: "201" }); // 0.2 s past, sequence held: LIVE again
    events.push({ atUs: T0_US + 5.6e6 + 3, type: "update", product: "XRP-USD", bid: "401" }); // 0.6 s past: stays STALE
    events.push({ atUs: T0_US + 5.7e6, type: "update", product: "ETH-USD", bid: "202" });
    events.sort((a, b) => a.atUs - b.atUs);
    const records = events.map((e, n) => ({ atUs: e.atUs, frame: l2(n, e.type, e.product, e.bid) }));
    // Then a frame lost (sequence_num skips one) before SOL's update: every book of the connection RESYNCING.
    records.push({ atUs: T0_US + 8.1e6, frame: l2(records.length + 1, "update", "SOL-USD", "301") });
    const overrides = Object.fromEntries(syms.map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
    const after = await replay("coinbase", { spot: { depth: 0, symbols: syms, stale_after_ms: 5000 }, overrides }, records, 109);
    const at = (atUs: number) => after.find((a) => a.atUs === atUs)!.books;
    expect(at(T0_US + 5e6)).toEqual(["live:1000", "live:2000", "live:3000", "live:4000"]);
    expect(at(T0_US + 5.2e6 + 1)).toEqual(["live:1000", "live:2010", "stale:3000", "stale:4000"]);
    expect(at(T0_US + 5.6e6 + 3)[3]).toBe("stale:4000");
    expect(at(T0_US + 8e6)).toEqual(["live:1000", "live:2020", "stale:3000", "stale:4000"]);
    expect(after.at(-1)!.books).toEqual(["resyncing:1000", "resyncing:2020", "resyncing:3000", "resyncing:4000"]);
  });

  test("bybit, export --books: the rows say STALE where replay does", async () => {
    const delta = (u: number, sym = "BTCUSDT") => `{"topic":"orderbook.50.${sym}","type":"delta","ts":1,"data":{"s":"${sym}","b":[["100","${u}"]],"a":[],"u":${u},"seq":${u}},"cts":1}`;
    const syms = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
    const overrides = Object.fromEntries(syms.map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
    const records = [
      { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
      { atUs: T0_US + 1, frame: bybitSnap("ETHUSDT", "300") },
      { atUs: T0_US + 1, frame: bybitSnap("SOLUSDT", "300") },
      ...[2, 3, 4, 5].map((s) => ({ atUs: T0_US + s * 1e6, frame: delta(s) })),
      { atUs: T0_US + 5.1e6, frame: delta(2, "SOLUSDT") }, // 0.1 s past its stale time, continuing its u
      ...[6, 7].map((s) => ({ atUs: T0_US + s * 1e6, frame: delta(s) })),
    ];
    const { files, config } = captureOf("bybit", { spot: { depth: 50, symbols: syms, stale_after_ms: 5000 }, overrides }, records, 99);
    let out = "";
    await exportCaptures(files, { write: (c) => void (out += c), flush: () => undefined }, { format: "jsonl", books: { config, depth: 1, everyMs: 0 }, log: silentLogger });
    const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { tsUs: number; symbol: string; state: string; reason: string });
    // ETHUSDT silent since t0 + 1 µs: STALE at its stale time, the round just past it (1 µs: "more than"), stamped with
    // the round's time. Before, the row carried the next record's time (t0 + 5.1 s): a lookup between read LIVE.
    const STALE_AT_US = T0_US + 1 + 5e6 + 1;
    expect(rows.filter((r) => r.symbol === "ETHUSDT").map((r) => [r.tsUs, r.state, r.reason])).toEqual([
      [T0_US + 1, "live", "snapshot_applied"],
      [STALE_AT_US, "stale", "stale_feed"],
    ]);
    // SOLUSDT: STALE in the same round, LIVE again at the delta continuing its u (its kept book, then the delta
    // applied, both stamped with that record's time), as replay publishes it.
    expect(rows.filter((r) => r.symbol === "SOLUSDT").map((r) => [r.tsUs, r.state, r.reason])).toEqual([
      [T0_US + 1, "live", "snapshot_applied"],
      [STALE_AT_US, "stale", "stale_feed"],
      [T0_US + 5.1e6, "live", "snapshot_applied"],
      [T0_US + 5.1e6, "live", "snapshot_applied"],
    ]);
  });

  test("export --books, two venues: stale rows before one record come in time order across the venues", async () => {
    // Bybit's book (stale after 5 s) and Coinbase's (3 s) both silent from t0 until a record at t0 + 6 s: the rounds
    // run venue by venue, so Coinbase's row (3 s) was made after Bybit's (5 s); the rows go out in time order.
    const dir = tempDir("feeder-replay-stale-");
    const w = new CaptureWriter({ dir: join(dir, "cap"), compression: "none", flushBytes: 1 << 20 });
    const level = (side: string, px: string) => `{"side":"${side}","event_time":"2026-01-01T00:00:00Z","price_level":"${px}","new_quantity":"2"}`;
    w.write(T0_US, "bybit", "spot", "conn0.spot", `{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100","1"]],"a":[["900","1"]],"u":1,"seq":1},"cts":1}`);
    const coinbase = (seq: number, type: string) =>
      `{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":${seq},"events":[{"type":"${type}","product_id":"BTC-USD","updates":[${level("bid", "100")}${type === "snapshot" ? "," + level("offer", "900") : ""}]}]}`;
    w.write(T0_US, "coinbase", "spot", "conn0.spot", coinbase(0, "snapshot"));
    w.write(T0_US + 6e6, "coinbase", "spot", "conn0.spot", coinbase(1, "update"));
    w.close();
    const config = validateConfig({
      log: { level: "warn", format: "json" },
      http: { enabled: false },
      publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, destinations: [{ name: "t", ...uniqueDestination(103), interface: "127.0.0.1", ttl: 1, channel: 3 }] },
      venues: {
        bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", instrument_cache: join(dir, "i1.json"), spot: { depth: 50, symbols: ["BTCUSDT"], stale_after_ms: 5000 }, overrides: { "spot:BTCUSDT": { tick_size: "0.1", lot_size: "0.001" } } },
        coinbase: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", instrument_cache: join(dir, "i2.json"), spot: { depth: 0, symbols: ["BTC-USD"], stale_after_ms: 3000 }, overrides: { "spot:BTC-USD": { tick_size: "0.1", lot_size: "0.001" } } },
      },
    });
    let out = "";
    await exportCaptures(w.files, { write: (c) => void (out += c), flush: () => undefined }, { format: "jsonl", books: { config, depth: 1, everyMs: 0 }, log: silentLogger });
    const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { tsUs: number; venue: string; state: string });
    expect(rows.filter((r) => r.state === "stale").map((r) => [r.venue, r.tsUs - T0_US])).toEqual([["coinbase", 3e6 + 1], ["bybit", 5e6 + 1]]);
    const times = rows.map((r) => r.tsUs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  test("bybit, export --books --every-ms: a grid row in a quiet stretch past a book's stale time says STALE, not LIVE until the next record", async () => {
    const { files, config } = captureOf("bybit", BYBIT_SECTION, QUIET_STRETCH, 101);
    let out = "";
    await exportCaptures(files, { write: (c) => void (out += c), flush: () => undefined }, { format: "jsonl", books: { config, depth: 1, everyMs: 1000 }, log: silentLogger });
    const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { tsUs: number; symbol: string; state: string });
    const grid = (sym: string) => rows.filter((r) => r.symbol === sym).map((r) => [(r.tsUs - T0_US) / 1e6, r.state]);
    // The row at grid time t is the book at t: silent for more than 5 s by t0 + 6 s, both books are STALE there, as
    // live's (and replay's --pace recorded) were; before, they read LIVE until the record at t0 + 8 s.
    expect(grid("ETHUSDT")).toEqual([[1, "live"], [2, "live"], [3, "live"], [4, "live"], [5, "live"], [6, "stale"], [7, "stale"], [8, "stale"]]);
    expect(grid("BTCUSDT")).toEqual([[0, "live"], [1, "live"], [2, "live"], [3, "live"], [4, "live"], [5, "live"], [6, "stale"], [7, "stale"], [8, "live"]]);
  });

  test("bybit, --pace recorded: a book silent in a quiet stretch goes STALE during the wait, not at the next record", async () => {
    // QUIET_STRETCH: 8 s of the capture without a record, 0.5 s of wall time at --speed 16.
    const after = await replay("bybit", BYBIT_SECTION, QUIET_STRETCH, 97, { speed: 16 });
    const beforeLast = after.slice(0, after.findIndex((a) => a.atUs === T0_US + 8e6));
    // The wait's clock moves published it (before, the wait moved no clock: STALE came with the next record).
    expect(beforeLast.filter((a) => a.atUs < 0).map((a) => a.books[1]).at(-1)).toBe("stale:3000");
    expect(after.at(-1)!.books).toEqual(["live:1010", "stale:3000"]);
  });
  test("bybit: a long silence runs a few stale rounds, not one per stale time; the rule holds after it", async () => {
    const syms = ["BTCUSDT", "ETHUSDT"];
    const overrides = Object.fromEntries(syms.map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
    // Both books at t0, then 50 minutes of nothing (under a time jump's hour): BTCUSDT's snapshot, then 6 s more.
    const GAP_US = 50 * 60e6;
    const records = [
      { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
      { atUs: T0_US + 1, frame: bybitSnap("ETHUSDT", "300") },
      { atUs: T0_US + GAP_US, frame: bybitSnap("BTCUSDT", "101") },
      { atUs: T0_US + GAP_US + 6e6, frame: bybitSnap("ETHUSDT", "301") },
    ];
    const { files, config } = captureOf("bybit", { spot: { depth: 50, symbols: syms, stale_after_ms: 5000 }, overrides }, records, 89);
    const feeder = new Probe({ config, log: silentLogger, replay: true });
    await feeder.start();
    const result = await replayCaptures(feeder, files, { pace: "fast" });
    const staleResyncs = feeder.stats().venues.bybit!.staleResyncs;
    await feeder.stop();
    expect(result).toMatchObject({ frames: 4, skipped: 0, timeJumps: [], timeJumpsTotal: 0 });
    expect(feeder.after.map((a) => a.books)).toEqual([
      ["live:1000", "awaiting_snapshot:-"],
      ["live:1000", "live:3000"],
      ["live:1010", "stale:3000"], // ETHUSDT silent for 50 minutes
      ["stale:1010", "live:3010"], // BTCUSDT silent 6 s after its snapshot: STALE again, the rule unchanged by the skip
    ]);
    // The gap: both made STALE (2), BTCUSDT judged again at 10 s, a round that made none STALE (1), then both once
    // just before the record (2); after it, BTCUSDT made STALE and ETHUSDT judged again in one round (2). Before:
    // every 5 s of the 50 minutes, 1,201 verdicts.
    expect(staleResyncs).toBe(7);
  });

  test("bybit: a receive time 30 days ahead and back is a time jump: books resync at the previous record, no stale round over it", async () => {
    const delta = (u: number) => `{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["100","${u}"]],"a":[],"u":${u},"seq":${u}},"cts":1}`;
    const overrides = { "spot:BTCUSDT": { tick_size: "0.1", lot_size: "0.001" } };
    const FAR_US = T0_US + 30 * 86_400e6;
    const records = [
      { atUs: T0_US, frame: bybitSnap("BTCUSDT", "100") },
      { atUs: T0_US + 1e6, frame: delta(2) },
      { atUs: FAR_US, frame: delta(3) }, // a forged time: the delta continues u, but nothing is known over the jump
      { atUs: T0_US + 2e6, frame: delta(4) },
      { atUs: T0_US + 3e6, frame: bybitSnap("BTCUSDT", "102") },
      { atUs: T0_US + 9e6, frame: delta(2) }, // silent 6 s after that snapshot: STALE first, on the clock rebased back
    ];
    const { files, config } = captureOf("bybit", { spot: { depth: 50, symbols: ["BTCUSDT"], stale_after_ms: 5000 }, overrides }, records, 87);
    const feeder = new Probe({ config, log: silentLogger, replay: true });
    await feeder.start();
    const result = await replayCaptures(feeder, files, { pace: "fast" });
    const staleResyncs = feeder.stats().venues.bybit!.staleResyncs;
    await feeder.stop();
    expect(result.timeJumps).toEqual([
      { file: files[0]!, atUs: FAR_US, previousUs: T0_US + 1e6 },
      { file: files[0]!, atUs: T0_US + 2e6, previousUs: FAR_US },
    ]);
    expect(result.timeJumpsTotal).toBe(2);
    expect(feeder.after.filter((a) => a.atUs > 0).map((a) => a.books[0])).toEqual(["live:1000", "live:1000", "resyncing:1000", "resyncing:1000", "live:1020", "stale:1020"]);
    expect(staleResyncs).toBe(1); // the last record's alone (before: a round every 5 s of the 30 days)
    // export --books names the same jumps for the same capture.
    const exported = await exportCaptures(files, { write: () => undefined, flush: () => undefined }, { format: "jsonl", books: { config, depth: 1, everyMs: 0 }, log: silentLogger });
    expect({ timeJumps: exported.timeJumps, timeJumpsTotal: exported.timeJumpsTotal }).toEqual({ timeJumps: result.timeJumps, timeJumpsTotal: result.timeJumpsTotal });
  });
});
