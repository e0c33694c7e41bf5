/**
 * Bybit replay of subscribe answers across a capture gap (a file that ended early or could not be read, with another
 * after it; a time jump). Bybit spot acks may carry no `req_id` (docs/venues/bybit.md): such an answer is matched to
 * the oldest written request of its op. Until 2026-12-07 the requests unanswered at a gap stayed pending across it, so
 * an answer after the gap was taken for a request from before it (the lost records held that one's answer): a refusal
 * put the wrong book RESYNCING / subscribe_rejected. Now the common layer (ConnectionLifecycle.replayCaptureGap)
 * forgets them and matches nothing by order until the connection's next recorded `ws:open` or `ws:close`; so does a
 * replay begun in a later file (its head `ws:state`), whose earlier file's requests may still be unanswered.
 */
import { afterEach, describe, expect, test } from "vitest";
import { join } from "node:path";
import { Feeder } from "../../../src/app/feeder.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../../src/core/types.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { uniqueDestination } from "../../e2e/harness.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const CONN = "conn0.spot";

function gapConfig(seed: number) {
  const overrides = Object.fromEntries(SYMBOLS.map((s) => [`spot:${s}`, { tick_size: "0.1", lot_size: "0.001" }]));
  return validateConfig({
    log: { level: "error" },
    http: { enabled: false },
    publish: { startup_listen_ms: 0, destinations: [{ ...uniqueDestination(seed), interface: "127.0.0.1", ttl: 1 }] },
    venues: { bybit: { ws_url: "ws://127.0.0.1:9/v5/public", rest_url: "http://127.0.0.1:9", instrument_cache: join(makeTempDir("bybit-replay-gap-"), "instruments.json"), spot: { depth: 50, symbols: SYMBOLS }, overrides } },
  });
}

/** A replaying Feeder on Bybit spot BTCUSDT and ETHUSDT, fed one record at a time; every book's "SYMBOL state/reason" after each. */
async function replaying(seed: number) {
  const feeder = new Feeder({ config: gapConfig(seed), log: silentLogger, replay: true });
  await feeder.start();
  cleanup.push(() => feeder.stop());
  let tsUs = 1_765_000_000_000_000;
  const states: string[] = [];
  const now = () => feeder.books().map((b) => `${b.instrument.symbol} ${BOOK_STATE_NAMES[b.state]}/${STATUS_REASON_NAMES[b.reason]}`).join(", ");
  const after = (ok: boolean) => {
    expect(ok).toBe(true);
    states.push(now());
  };
  const event = (url: string, body = "") => after(feeder.ingestRest("bybit", "spot", CONN, url, body, (tsUs += 1000)));
  const frame = (text: string) => after(feeder.ingest("bybit", "spot", CONN, text, (tsUs += 1000)));
  const request = (id: string, op: string, symbols: string[]) => event(`ws:req ${JSON.stringify([id, op, symbols.map((s) => `orderbook.50.${s}`)])}`);
  /** An ack without req_id, as Bybit spot's may be. */
  const ack = (op: string, success: boolean, retMsg = op) => frame(JSON.stringify({ success, ret_msg: retMsg, conn_id: "c1", op }));
  const snapshot = (symbol: string, u: number, bid: string) =>
    frame(`{"topic":"orderbook.50.${symbol}","type":"snapshot","ts":1,"data":{"s":"${symbol}","b":[["${bid}","1.000"]],"a":[["${Number(bid) + 1}.0","1.000"]],"u":${u},"seq":${u}},"cts":1}`);
  const delta = (symbol: string, u: number) => frame(`{"topic":"orderbook.50.${symbol}","type":"delta","ts":1,"data":{"s":"${symbol}","b":[],"a":[],"u":${u},"seq":${u}},"cts":1}`);
  /** A time jump of two hours (replay.ts: no file head follows, unlike a file that ended early). */
  const jump = () => feeder.replayTimeJump((tsUs += 2 * 3_600_000_000));
  /** A socket opened, both books subscribed by request `id` (accepted) and LIVE at their snapshots of update `u`. */
  const bothLive = (id = "s1", u = 10, btcBid = "100.0", ethBid = "10.0") => {
    event("ws:open");
    event("ws:sockets");
    request(id, "subscribe", SYMBOLS);
    ack("subscribe", true);
    snapshot("BTCUSDT", u, btcBid);
    snapshot("ETHUSDT", u, ethBid);
  };
  /** `symbol`'s resync: unsubscribe `unsubId` written and accepted, then subscribe `subId` written (unanswered). */
  const resubscribing = (symbol: string, unsubId: string, subId: string) => {
    request(unsubId, "unsubscribe", [symbol]);
    ack("unsubscribe", true);
    request(subId, "subscribe", [symbol]);
  };
  return { feeder, states, now, event, frame, request, ack, snapshot, delta, jump, bothLive, resubscribing, gap: () => feeder.captureGap() };
}

describe("bybit replay across a capture gap: answers without req_id to requests written before it", () => {
  /**
   * Live (one socket throughout): s1 subscribed both books, answered; BTC was resynced (u2, answered; s3 written). The
   * capture lost s3's answer (accepted) and what followed, up to BTC's new snapshot. After the gap ETH was resynced:
   * u4 answered, s5 refused for a reason that may pass ("system busy": ETH RESYNCING / subscribe_rejected), its retry s6
   * accepted, ETH LIVE at its new snapshot; BTC LIVE throughout. Until 2026-12-07 replay took s5's refusal for s3's
   * (the oldest subscribe still pending): BTC, LIVE at its snapshot after the gap, was made RESYNCING /
   * subscribe_rejected where live kept it LIVE, and no snapshot followed to bring it back.
   */
  test("Feeder: the refusal after the gap is matched to no request before it; both books LIVE at their snapshots, as live", async () => {
    const r = await replaying(57);
    r.bothLive();
    expect(r.now()).toBe("BTCUSDT live/snapshot_applied, ETHUSDT live/snapshot_applied");
    r.resubscribing("BTCUSDT", "u2", "s3");
    // Lost: s3's answer, and more.
    r.gap();
    r.event("ws:state");
    r.snapshot("BTCUSDT", 20, "101.0");
    const fromGap = r.states.length;
    expect(r.now()).toBe("BTCUSDT live/snapshot_applied, ETHUSDT resyncing/sequence_gap");
    r.resubscribing("ETHUSDT", "u4", "s5");
    r.ack("subscribe", false, "system busy");
    r.request("s6", "subscribe", ["ETHUSDT"]);
    r.ack("subscribe", true);
    r.snapshot("ETHUSDT", 30, "11.0");
    const btc = r.states.slice(fromGap).map((s) => s.split(", ")[0]);
    expect(btc.filter((s) => s !== "BTCUSDT live/snapshot_applied"), r.states.join("\n")).toEqual([]);
    expect(r.now()).toBe("BTCUSDT live/snapshot_applied, ETHUSDT live/snapshot_applied");
    // The next socket's requests and answers are all in the capture: a refusal is matched (and acts) as live's.
    r.event("ws:close");
    r.bothLive("s7", 40, "102.0", "12.0");
    r.request("s8", "subscribe", ["ETHUSDT"]);
    r.request("s9", "subscribe", ["BTCUSDT"]);
    r.ack("subscribe", false, "system busy");
    expect(r.now()).toBe("BTCUSDT live/snapshot_applied, ETHUSDT resyncing/subscribe_rejected");
  });

  /**
   * Live: BTC's resync subscribe s3 was written before the gap, whose lost records did not hold its answer: it came
   * after, once ETH's resubscribe s5 had been written, a refusal for good ("handler not found": BTC HALTED), then s5's
   * acceptance and ETH's snapshot. Forgetting s3 at the gap but still matching by order would take that refusal for
   * s5's and halt ETH, which live kept; it matches nothing now. ETH is never halted. BTC is not halted either (as in a
   * capture without `ws:req`): it stays resyncing from the gap, never LIVE, where live halted it; before the fix s3
   * was kept and BTC halted as live (the price of forgetting: the lost records may as well have held s3's answer, as
   * in the test above). Passes before the fix; fails with the requests forgotten at the gap but matched by order.
   */
  test("Feeder: an answer after the gap to a request written before it is taken for no request recorded after it", async () => {
    const r = await replaying(58);
    r.bothLive();
    r.resubscribing("BTCUSDT", "u2", "s3");
    r.gap();
    r.event("ws:state");
    r.resubscribing("ETHUSDT", "u4", "s5");
    r.ack("subscribe", false, "error:handler not found"); // s3's
    r.ack("subscribe", true); // s5's
    r.snapshot("ETHUSDT", 20, "11.0");
    const eth = r.states.map((s) => s.split(", ")[1]!);
    expect(eth.filter((s) => s.includes("halted")), r.states.join("\n")).toEqual([]);
    expect(eth.at(-1)).toBe("ETHUSDT live/snapshot_applied");
    expect(r.now().split(", ")[0]).not.toContain("live");
  });
});

describe("bybit replay begun in a later file: answers without req_id to an earlier file's requests", () => {
  /**
   * Live: BTC's subscribe was written in an earlier file; this one begins mid-socket (its head `ws:state`) with ETH's
   * subscribe s5, then BTC's refusal ("system busy"), then s5's acceptance and ETH's snapshot. Until 2026-12-07 replay
   * took the refusal for s5's (the oldest subscribe it knew): ETH went resyncing / subscribe_rejected where live had
   * BTC refused and ETH answered. An answer naming no request now matches none until the connection's `ws:open` or
   * `ws:close` (as Coinbase's since s-rdrepd2).
   */
  test("Feeder: until the connection's ws:open or ws:close, an answer without req_id matches no recorded request", async () => {
    const r = await replaying(59);
    r.event("ws:state");
    r.request("s5", "subscribe", ["ETHUSDT"]);
    r.ack("subscribe", false, "system busy"); // an earlier file's request's
    r.ack("subscribe", true); // s5's
    r.snapshot("ETHUSDT", 20, "11.0");
    expect(r.states.filter((s) => s.includes("subscribe_rejected")), r.states.join("\n")).toEqual([]);
    expect(r.now()).toBe("BTCUSDT awaiting_snapshot/startup, ETHUSDT live/snapshot_applied");
  });
});

describe("bybit replay across a time jump: a topic held by a recorded unsubscribe", () => {
  /**
   * Live: BTC's resync unsubscribed it (u2, answered) and subscribed it again (s3, answered), then its snapshot made it
   * LIVE; the capture lost s3 and its answer (a time jump: no file head after it, whose ws:state would end the hold).
   * Until the merge of s-gappend the hold (replayRequested) lasted until the connection's next socket event: BTC's
   * frames after the jump were ignored, the book resyncing where live had it LIVE.
   */
  test("Feeder: its frames after the jump are taken again; LIVE from its snapshot, as live", async () => {
    const r = await replaying(60);
    r.bothLive();
    r.delta("BTCUSDT", 12); // u 11 missing: BTC resyncs
    expect(r.now()).toBe("BTCUSDT resyncing/sequence_gap, ETHUSDT live/snapshot_applied");
    r.request("u2", "unsubscribe", ["BTCUSDT"]);
    r.ack("unsubscribe", true);
    r.jump(); // lost: s3 and its answer
    r.snapshot("BTCUSDT", 20, "101.0");
    r.snapshot("ETHUSDT", 20, "11.0");
    expect(r.now()).toBe("BTCUSDT live/snapshot_applied, ETHUSDT live/snapshot_applied");
  });
});

describe("bybit replay of a closure by the listing (ws:closed)", () => {
  /**
   * Live closed BTC (its listing no longer named it as trading): the unsubscribe's ws:req, then the closure's
   * ws:closed; listed again, its subscribe's ws:req, answered, and its snapshot. Replay asks no listing: until
   * s-reprec nothing recorded the closure and BTC stayed LIVE (or as its frames left it) where live had it halted.
   * Through the Feeder, as `feeder replay` and `export --books` feed it.
   */
  test("Feeder: halted / instrument_closed at the record, the other book untouched; its recorded subscribe brings it back", async () => {
    const r = await replaying(61);
    r.bothLive();
    r.request("u2", "unsubscribe", ["BTCUSDT"]);
    expect(r.now()).toBe("BTCUSDT live/snapshot_applied, ETHUSDT live/snapshot_applied");
    r.event("ws:closed", "orderbook.50.BTCUSDT");
    expect(r.now()).toBe("BTCUSDT halted/instrument_closed, ETHUSDT live/snapshot_applied");
    r.ack("unsubscribe", true);
    r.snapshot("BTCUSDT", 11, "100.5"); // in flight before the unsubscribe took: not the book's
    expect(r.now()).toBe("BTCUSDT halted/instrument_closed, ETHUSDT live/snapshot_applied");
    r.request("s3", "subscribe", ["BTCUSDT"]);
    r.ack("subscribe", true);
    r.snapshot("BTCUSDT", 1, "101.0");
    expect(r.now()).toBe("BTCUSDT live/snapshot_applied, ETHUSDT live/snapshot_applied");
  });

  /**
   * Live's instrument watch counts each closure and reopening (instrument_closures_total, instrument_reopens_total,
   * instruments closed now); replay asks no listing, and until s-replaymark its counters stayed 0 where live's did not.
   * A subscribe that waited for the pacing budget and names BTC closed meanwhile (its ws:req's fourth element, the
   * ws:closed after it) is no reopening: live's watch kept it closed.
   */
  test("Feeder: a replayed closure and reopening are counted as live's watch counts them", async () => {
    const r = await replaying(62);
    const counts = () => {
      const s = r.feeder.stats().venues["bybit"]!;
      return { closures: s["instrumentClosures"], reopens: s["instrumentReopens"], closed: s["instrumentsClosed"] };
    };
    r.bothLive();
    r.request("u2", "unsubscribe", ["BTCUSDT"]);
    r.event("ws:closed", "orderbook.50.BTCUSDT");
    expect(counts()).toEqual({ closures: 1, reopens: 0, closed: 1 });
    r.event(`ws:req ${JSON.stringify(["s3", "subscribe", ["orderbook.50.BTCUSDT"], ["orderbook.50.BTCUSDT"]])}`);
    r.event("ws:closed", "orderbook.50.BTCUSDT");
    expect(counts()).toEqual({ closures: 1, reopens: 0, closed: 1 });
    r.request("s4", "subscribe", ["BTCUSDT"]); // listed as trading again
    expect(counts()).toEqual({ closures: 1, reopens: 1, closed: 0 });
    r.event("ws:closed", "orderbook.50.BTCUSDT"); // and closed again
    expect(counts()).toEqual({ closures: 2, reopens: 1, closed: 1 });
  });

  /**
   * A replay begun in a later capture file than BTC's closure: that file's head (app/capture-sockets.ts) names the
   * books closed then (ws:closedset). Until s-replaymark heads named sockets only: BTC was awaiting its snapshot, and
   * the venue's snapshot still in flight after the unsubscribe made it LIVE, where live had it halted. A replay begun
   * earlier has it closed already: the head changes nothing there.
   */
  test("Feeder: a replay begun in a later file has the books its head names closed halted / instrument_closed, as live", async () => {
    const r = await replaying(63);
    r.event("ws:state"); // the file's head: one socket
    r.event("ws:closedset", "orderbook.50.BTCUSDT");
    expect(r.now()).toBe("BTCUSDT halted/instrument_closed, ETHUSDT awaiting_snapshot/startup");
    r.snapshot("ETHUSDT", 20, "11.0");
    r.snapshot("BTCUSDT", 20, "101.0"); // not the book's: live ignored it
    expect(r.now()).toBe("BTCUSDT halted/instrument_closed, ETHUSDT live/snapshot_applied");
    expect(r.feeder.stats().venues["bybit"]).toMatchObject({ instrumentsClosed: 1 });

    // A replay that read the closure in the file before: that head changes nothing (not told again, not counted again).
    const c = await replaying(64);
    c.bothLive();
    c.request("u2", "unsubscribe", ["BTCUSDT"]);
    c.event("ws:closed", "orderbook.50.BTCUSDT");
    const before = c.states.length;
    c.event("ws:state");
    c.event("ws:closedset", "orderbook.50.BTCUSDT");
    expect(c.states.slice(before)).toEqual(["BTCUSDT halted/instrument_closed, ETHUSDT live/snapshot_applied", "BTCUSDT halted/instrument_closed, ETHUSDT live/snapshot_applied"]);
    expect(c.feeder.stats().venues["bybit"]).toMatchObject({ instrumentClosures: 1, instrumentsClosed: 1 });
  });
});
