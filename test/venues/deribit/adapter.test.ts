/**
 * The Deribit adapter against its simulator, for what the contract suite does not cover: heartbeats (set_heartbeat,
 * test_request answered), raw channels refused with 13778 as a config error, 10028 backed off and retried, a
 * change_id break on one channel, grouped books as replace, channels the venue leaves out of its result refused
 * alone, instruments from get_instruments (tick_size_steps), and the simulator's own protocol with a raw client; a subscribe answer with no list of channels (a failure sent again).
 */
import { afterEach, describe, expect, test } from "vitest";
import { type Logger, silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import type { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { deribitInstrumentSource, finestTick, specOfItem } from "../../../src/venues/deribit/instruments.ts";
import { resolveInstruments } from "../../../src/venues/common/instruments.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { parseJsonRaw } from "../../../src/venues/deribit/parse-json.ts";
import { DERIBIT_KEEPALIVE, DeribitRequests } from "../../../src/venues/deribit/protocol.ts";
import type { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { venueSpec } from "../../../src/venues/registry.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { RawClient } from "../../sim/raw-client.ts";
import { equalsSim as equal, Sink, startAdapter } from "./helpers.ts";
import { until } from "../../support/until.ts";

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.stop();
});

/** Two books, on one socket. */
function twoPerpetuals(): Subscription[] {
  return [
    { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
    { market: "inverse", symbol: "ETH-PERPETUAL", depth: 0 },
  ];
}

/**
 * The adapter on a clock of its own (`clock.ms`), run at real time by a ticker until stopTicker() (stopped after the
 * test in any case), for the heartbeat-bound tests: the worker's share of the per-IP budget a token per 2.67 s (1/8,
 * bucket of 1), housekeeping every 5 ms, `clock.lastFrameMs` the clock at the last frame (each also given to onFrame).
 */
async function startClocked(subs: Subscription[], simOpts: Parameters<typeof startAdapter>[3], onFrame: (frame: string) => void = () => undefined) {
  const clock = { ms: 1_000_000, lastFrameMs: 1_000_000 };
  const ticker = setInterval(() => (clock.ms += 5), 5);
  const stopTicker = () => clearInterval(ticker);
  running.push({ stop: async () => stopTicker() });
  const onRawFrame = (_m: string, _c: string, frame: string) => {
    clock.lastFrameMs = clock.ms;
    onFrame(frame);
  };
  const started = await startAdapter(running, subs, { now: () => clock.ms, housekeepingMs: 5, budgetShare: 1 / 8, onRawFrame }, simOpts);
  return { ...started, clock, stopTicker };
}

/**
 * Runs startClocked's clock on by `stepMs` every `realMs` of real time, its ticker stopped, until the adapter finds its
 * connection dead or 30 s of it pass; then expects it found dead.
 */
async function clockOnUntilDead(adapter: DeribitAdapter, clock: { ms: number }, stepMs: number, realMs: number): Promise<void> {
  for (let ranMs = 0; adapter.stats().deadConnections === 0 && ranMs < 30_000; ranMs += stepMs) {
    clock.ms += stepMs;
    await new Promise((r) => setTimeout(r, realMs));
  }
  expect(adapter.stats().deadConnections, "found dead").toBe(1);
}

function capture(): { log: Logger; lines: { level: string; msg: string; fields: unknown }[] } {
  const lines: { level: string; msg: string; fields: unknown }[] = [];
  const mk = (): Logger =>
    ({
      debug: () => {},
      info: (msg: string, fields?: unknown) => lines.push({ level: "info", msg, fields }),
      warn: (msg: string, fields?: unknown) => lines.push({ level: "warn", msg, fields }),
      error: (msg: string, fields?: unknown) => lines.push({ level: "error", msg, fields }),
      child: () => mk(),
    }) as unknown as Logger;
  return { log: mk(), lines };
}

describe("Deribit adapter against the simulator", { timeout: 20_000 }, () => {
  test("set_heartbeat on connect; every test_request is answered with public/test, and the books stay live", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    // 250 ms, not less: the server closes a connection whose answer is late by one interval, and a suite loading
    // both vCPUs can stall this process for ~100 ms (a 50 ms interval made the test flaky under load).
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs, {}, { heartbeatIntervalMs: 250 });
    adapter.start(sink);
    await until(() => sim.stats.testRequests >= 4, "four test_requests sent by the server");
    await until(() => sim.stats.testAnswers >= 4, "four answered");
    sim.step(3);
    await until(() => equal(sim, sink, subs, instruments, 0), "book equal");
    expect(sim.stats.heartbeatCloses).toBe(0);
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().pongs).toBeGreaterThanOrEqual(4);
  });

  test("a refused set_heartbeat is a clear error, and its socket holds no heartbeat promise", async () => {
    const subs = twoPerpetuals();
    const { log, lines } = capture();
    let heartbeatId = -1; // the id of set_heartbeat's answer (its "ok")
    const onRawFrame = (_m: string, _c: string, f: string) => {
      if (f.includes('"result":"ok"')) heartbeatId = (JSON.parse(f) as { id: number }).id;
    };
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs, { log, onRawFrame });
    adapter.start(sink);
    sim.step(1);
    await until(() => heartbeatId > 0 && [0, 1].every((i) => equal(sim, sink, subs, instruments, i)), "books live, set_heartbeat answered");
    const conn = (adapter as unknown as { conns: { serverTested: boolean }[] }).conns[0]!;
    expect(conn.serverTested, "promised once written").toBe(true);
    // The same id answered with an error (as a server refusing it would): before, a pong, nothing said, the promise kept.
    const refusal = JSON.stringify({ jsonrpc: "2.0", id: heartbeatId, error: { code: 11050, message: "bad_request" } });
    expect(adapter.ingestFrame("inverse", `conn${adapter.topicInfo(0).connection}.inverse`, refusal, 0)).toBe(true);
    expect(lines.filter((l) => l.level === "error" && l.msg.includes("set_heartbeat refused")).map((l) => l.fields)).toEqual([{ conn: 0, error: "11050 bad_request", retryInMs: 1000 }]);
    expect(conn.serverTested).toBe(false);
    expect([adapter.topicInfo(0).state, adapter.topicInfo(1).state]).toEqual(["live", "live"]);
  });

  test("a refused set_heartbeat is asked again on its socket after a backoff until accepted; counted per connection", async () => {
    // The simulator refuses the first two set_heartbeat (10040 retry, the session kept). Before 2026-12-07 the socket
    // was never asked again: no test_request, no heartbeat bound for its whole life.
    const subs = twoPerpetuals();
    let clock = 1_000_000;
    const answers: string[] = []; // set_heartbeat's answers: its refusals (10040) and its "ok"
    const onRawFrame = (_m: string, _c: string, f: string) => {
      if (f.includes('"result":"ok"') || f.includes('"code":10040')) answers.push(f.includes('"result":"ok"') ? "ok" : "refused");
    };
    const { sim, adapter, sink } = await startAdapter(running, subs, { now: () => clock, housekeepingMs: 5, onRawFrame }, { heartbeatIntervalMs: 60_000 });
    sim.inject("heartbeat_refused", undefined, { count: 2 });
    adapter.start(sink);
    const conn = (adapter as unknown as { conns: { serverTested: boolean }[] }).conns[0]!;
    await until(() => answers.length === 1, "first set_heartbeat refused");
    await until(() => !conn.serverTested, "no heartbeat promise after the refusal");
    clock += 999; // the backoff (1 s) not over: not asked again
    await new Promise((r) => setTimeout(r, 30));
    expect(answers).toEqual(["refused"]);
    clock += 1;
    await until(() => answers.length === 2, "asked again after 1 s, refused again");
    clock += 1_999; // the backoff doubled (2 s)
    await new Promise((r) => setTimeout(r, 30));
    expect(answers).toEqual(["refused", "refused"]);
    clock += 1;
    await until(() => answers.length === 3, "asked again after 2 s more");
    expect(answers).toEqual(["refused", "refused", "ok"]);
    expect(conn.serverTested, "the promise holds again").toBe(true);
    clock += 4_000; // accepted: not asked again (the next backoff would have been 4 s)
    await new Promise((r) => setTimeout(r, 30));
    expect(answers.length).toBe(3);
    // Counted per connection: in stats() as the sum, in /metrics per connection only (a sum over the name is 2).
    expect(adapter.stats().heartbeatRefused).toBe(2);
    const series = adapter.metrics().filter((m) => m.name === "heartbeat_refused_total");
    expect(series.map((m) => [m.type, m.labels, m.value])).toEqual([["counter", { market: "inverse", connection: "conn0.inverse" }, 2]]);
  });

  test("JSON-RPC ids stay below 2^31, each kind in its own range, after their counters have gone round many times", () => {
    const r = new DeribitRequests();
    const seqs = r as unknown as { testSeq: number; heartbeatSeq: number };
    const idOf = (text: string) => (JSON.parse(text) as { id: number }).id;
    const testRequest = { method: "heartbeat", params: { type: "test_request" } };
    const replyId = () => idOf((r.classifyControl(testRequest) as { reply: string }).reply);
    const probe = (DERIBIT_KEEPALIVE as { encodeProbe(seq: number): string }).encodeProbe;
    const ids = { test: [] as number[], heartbeat: [] as number[], probe: [] as number[] };
    // From the start, and from counters far on (a process running for years: 10^9 and 2^31 taken far past).
    for (const start of [0, 1_000, 499_999_990, 1_000_000_000, 2 ** 31, 3_000_000_000]) {
      seqs.testSeq = start;
      seqs.heartbeatSeq = start;
      for (let k = 0; k < 20; k++) {
        ids.test.push(replyId());
        ids.heartbeat.push(idOf(r.setHeartbeat()));
        ids.probe.push(idOf(probe(start + k + 1)));
      }
    }
    const all = [...ids.test, ...ids.heartbeat, ...ids.probe];
    expect(all.filter((id) => !(id > 0 && id < 2 ** 31 && Number.isSafeInteger(id)))).toEqual([]);
    // Requests are below every other kind; the kinds do not overlap.
    const lo = (xs: number[]) => Math.min(...xs);
    const hi = (xs: number[]) => Math.max(...xs);
    expect(lo(ids.test)).toBeGreaterThan(999_999_999);
    expect(hi(ids.test)).toBeLessThan(lo(ids.heartbeat));
    expect(hi(ids.heartbeat)).toBeLessThan(lo(ids.probe));
    // A refusal is set_heartbeat's by its id alone: each heartbeat id's counted, no test reply's or probe's.
    const refuse = (id: number) => r.classifyControl({ jsonrpc: "2.0", id, error: { code: 10028, message: "too_many_requests" } });
    for (const id of [...ids.test, ...ids.probe]) expect(refuse(id).kind).toBe("pong");
    expect(r.heartbeatRefused).toBe(0);
    for (const id of ids.heartbeat) refuse(id);
    expect(r.heartbeatRefused).toBe(ids.heartbeat.length);
  });

  test("a quiet connection is probed with public/test and stays up; a silent server is found dead within 8 s by default", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    // The adapter's clock runs 100 ms per look of the test's (each look a turn of the event loop the simulator shares,
    // so a loaded CPU slows both alike); heartbeats a minute apart and no book messages: only the adapter's probes and
    // their answers cross the socket.
    let clock = 1_000_000;
    let lastFrameAt = clock;
    const { sim, adapter, sink, instruments } = await startAdapter(
      running,
      subs,
      { now: () => clock, housekeepingMs: 5, onRawFrame: () => void (lastFrameAt = clock) },
      { heartbeatIntervalMs: 60_000 },
    );
    adapter.start(sink);
    const drive = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
        clock += 100;
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until(() => equal(sim, sink, subs, instruments, 0), "book live");
    // Quiet for 25 s of the adapter's time (beyond two heartbeat intervals): probed, answered, never recycled.
    const quietUntil = clock + 25_000;
    await drive(() => clock >= quietUntil, "25 s of quiet");
    expect(sim.stats.testAnswers).toBeGreaterThanOrEqual(5);
    expect(adapter.stats().reconnects).toBe(0);
    expect(sink.invalid).toEqual([]);
    // Silent: the server sends and answers nothing.
    sim.inject("stall", undefined, { stallMs: 60_000 });
    await drive(() => adapter.stats().deadConnections === 1, "the dead connection found");
    expect(clock - lastFrameAt).toBeLessThanOrEqual(8_000);
    expect(sink.invalid).toContainEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
  });

  test("one of 64 workers: a new socket whose first message waits for the worker's message slot is not found dead meanwhile", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    // Worker 0 of 64: one message per 64 × 417 ms (26.7 s) in its slot (its REST in slots too). The connect budget
    // is set aside (a count of its own: no slot), so the socket opens at once when started. The clock starts on the
    // worker's REST slot (64 × 62 ms apart): get_instruments goes at once, not ~4 s of real time later.
    let clock = 252 * 64 * 62;
    let stepMs = 5; // real time while the instruments load, then 40× as fast
    const ticker = setInterval(() => (clock += stepMs), 5);
    try {
      const { sim, adapter, sink } = await startAdapter(running, subs, { now: () => clock, housekeepingMs: 5, budgetShare: 1 / 64, budgetIndex: 0, maxConnectsPerWindow: 100 });
      const periodMs = 64 * 417;
      clock = Math.ceil(clock / periodMs) * periodMs + periodMs - 20_000; // its next message slot 20 s on
      const slotAt = clock + 20_000;
      stepMs = 200;
      adapter.start(sink);
      await until(() => sim.stats.connections >= 1, "the socket open");
      // Its set_heartbeat waits for the slot: the server, asked nothing, says nothing. Past the dead-connection rule
      // (7 s) and before the slot, the socket is still the first one.
      const opensAt = clock;
      await until(() => clock - opensAt >= 12_000, "12 s of the adapter's clock");
      expect(clock, "still before the slot").toBeLessThan(slotAt);
      expect(sim.stats.testAnswers + sim.stats.subscribes, "nothing sent yet").toBe(0);
      expect(adapter.stats().deadConnections).toBe(0);
      expect(adapter.stats().reconnects).toBe(0);
      expect(sim.stats.connectionsTotal).toBe(1);
    } finally {
      clearInterval(ticker);
    }
  });

  test("a probe or request waiting for the message budget: the quiet socket is not found dead meanwhile", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    // Deribit's own heartbeats come 10 s apart at the least, past the 7 s dead-connection rule: a quiet socket lives
    // on our probes' answers. Scaled down: dead after 300 ms, probed after 150 ms of quiet, and half the per-IP budget
    // (4 messages, then one per 667 ms); the server sends nothing of its own. Until 2026-12-07 a probe (or, with no
    // probe then, a request) waiting for the budget left the socket silent past the rule: recycled, and its new
    // socket spent the next token on set_heartbeat again (for one of 64 workers, a slot every 26.7 s: set_heartbeat
    // answered, its subscribe waiting for the next slot, the books never LIVE).
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs, { deadConnectionMs: 300, budgetShare: 1 / 2 }, { heartbeatIntervalMs: 600_000 });
    adapter.start(sink);
    await until(() => equal(sim, sink, subs, instruments, 0), "book live");
    // set_heartbeat, subscribe and two probes spend the burst; two more probes each wait 667 ms for a token.
    await until(() => sim.stats.testAnswers >= 4, "four probes answered");
    expect(adapter.stats().deadConnections).toBe(0);
    // A resync's unsubscribe and subscribe wait for a token each (no probe while they wait).
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    await until(() => sim.stats.subscribes >= 2 && equal(sim, sink, subs, instruments, 0), "book live again");
    expect(adapter.stats().deadConnections).toBe(0);
    expect(sim.stats.connectionsTotal).toBe(1);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
  });

  test("a server dead while a message waits for the budget is found by its promised heartbeat: silent past 10 s + the dead time", async () => {
    // Two books on one socket; the worker's share of the per-IP budget is a token per 2.67 s (bucket of 1). Past the
    // server's first test_request (heartbeats asked every 10 s), the server dies while book 0's resync waits for a
    // token, book 1 LIVE. The queued message suspends the 7 s rule (its silence counts from when it goes), and with
    // a small slot, a queue kept fed, it may go much later. Until 2026-12-07 nothing bounded that: book 1 stayed
    // LIVE on the dead socket until its message went and its ack was late (here: never within the test).
    const subs = twoPerpetuals();
    const { sim, adapter, sink, instruments, clock, stopTicker } = await startClocked(subs, { heartbeatIntervalMs: 100 });
    adapter.start(sink);
    await until(() => equal(sim, sink, subs, instruments, 0) && equal(sim, sink, subs, instruments, 1), "books live", 30_000); // the budget's real-time flush timer: a token per 2.67 s, slower under load
    await until(() => sim.stats.testAnswers >= 1, "a test_request answered");
    stopTicker();
    // The server dies; book 0's unsubscribe waits for the next token (the flush timer, in real time, seconds off).
    sim.inject("stall", undefined, { stallMs: 60_000 });
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    await clockOnUntilDead(adapter, clock, 250, 2);
    expect(clock.ms - clock.lastFrameMs).toBeLessThanOrEqual(10_000 + 7_000 + 1_000); // two steps of the clock: the round that saw the last frame, the one that judged
    expect(sink.invalid).toContainEqual({ index: 1, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
  }, 60_000);

  test("a server dead before its first test_request, a message waiting for the budget: found by the heartbeat asked (set_heartbeat written)", async () => {
    // As above, but the server dies after answering set_heartbeat and before any test_request (its first one would
    // come an interval later: the simulator's is long here). The promise holds from set_heartbeat going out: until
    // 2026-12-07 only a test_request started it, so in that window a queue kept fed kept a dead socket's books LIVE
    // until a message went and its ack was late (here: never within the test).
    const subs = twoPerpetuals();
    let heartbeatSet = false;
    const onFrame = (frame: string) => {
      if (frame.includes('"result":"ok"')) heartbeatSet = true; // set_heartbeat's answer
    };
    const { sim, adapter, sink, instruments, clock, stopTicker } = await startClocked(subs, { heartbeatIntervalMs: 600_000 }, onFrame);
    adapter.start(sink);
    await until(() => equal(sim, sink, subs, instruments, 0) && equal(sim, sink, subs, instruments, 1), "books live", 30_000); // the budget's real-time flush timer: a token per 2.67 s, slower under load
    await until(() => heartbeatSet, "set_heartbeat answered");
    stopTicker();
    expect(sim.stats.testRequests).toBe(0);
    sim.inject("stall", undefined, { stallMs: 60_000 });
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    await clockOnUntilDead(adapter, clock, 250, 2);
    expect(clock.ms - clock.lastFrameMs).toBeLessThanOrEqual(10_000 + 7_000 + 1_000);
    expect(sink.invalid).toContainEqual({ index: 1, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
  }, 60_000);

  test("set_heartbeat goes before the first subscribe: books LIVE on a socket whose server then dies are found dead within the bound", async () => {
    // The worker's share of the per-IP budget is a token per 2.67 s (bucket of 1): a new socket's first message goes at
    // once, its second 2.67 s later. Until 2026-12-07 set_heartbeat was queued behind the open's subscribe: the books
    // went LIVE on the subscribe's snapshots while set_heartbeat waited, the server promised nothing, and the waiting
    // message held the 7 s rule, so a server dead then kept the books LIVE for the whole wait + 7 s (one of 64 workers:
    // 26.7 s + 7 s). Now set_heartbeat is the socket's first message: the books come up one slot later, under its bound.
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    const { sim, adapter, sink, instruments, clock, stopTicker } = await startClocked(subs, { heartbeatIntervalMs: 600_000 });
    adapter.start(sink);
    await until(() => equal(sim, sink, subs, instruments, 0), "book live", 30_000); // the budget's real-time flush timer: a token per 2.67 s, slower under load
    stopTicker();
    sim.inject("stall", undefined, { stallMs: 120_000 });
    // The flush timer runs in real time: a message still waiting for the budget stays queued while the clock runs on
    // (30 s of it in about a second; housekeeping, every 5 ms, sees steps of a few hundred ms).
    await clockOnUntilDead(adapter, clock, 100, 3);
    // Nothing waits once the subscribe has gone, and the probe 3.5 s into the silence finds its token (2.67 s after
    // the subscribe's): the 7 s rule, found within 8 s.
    expect(clock.ms - clock.lastFrameMs).toBeLessThanOrEqual(7_000 + 1_000);
    expect(sink.invalid).toContainEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
  }, 60_000);

  test("raw channels: 13778 is a clear config error and the books are HALTED / SUBSCRIBE_REJECTED", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    const { log, lines } = capture();
    const { adapter, sink } = await startAdapter(running, subs, { interval: "raw", log });
    adapter.start(sink);
    await until(() => sink.invalid.length > 0, "the refusal");
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect(adapter.stats().rawRefused).toBeGreaterThan(0);
    const errors = lines.filter((l) => l.level === "error").map((l) => `${l.msg} ${JSON.stringify(l.fields)}`);
    expect(errors.some((e) => e.includes("config error") && e.includes("13778") && e.includes("100ms"))).toBe(true);
  });

  test("10028 too_many_requests: the subscribe is sent again after a backoff and the books come up", async () => {
    const subs = twoPerpetuals();
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs);
    sim.inject("rate_limit", undefined, { count: 2 });
    adapter.start(sink);
    sim.step(1);
    await until(() => [0, 1].every((i) => equal(sim, sink, subs, instruments, i)), "both books live after the backoff");
    expect(adapter.stats().rateLimited).toBe(2);
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(sink.invalid).toEqual([]);
  });

  test("a change_id break on one channel resyncs that book alone (unsubscribe + subscribe) and it recovers", async () => {
    const subs = twoPerpetuals();
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs);
    adapter.start(sink);
    sim.step(1);
    await until(() => [0, 1].every((i) => equal(sim, sink, subs, instruments, i)), "books live");
    const unsubsBefore = sim.stats.unsubscribes;
    sim.inject("change_id_break", { market: "inverse", symbol: "BTC-PERPETUAL" });
    sim.step(1);
    await until(() => sink.invalid.length > 0, "the break noticed");
    sim.step(2);
    await until(() => [0, 1].every((i) => equal(sim, sink, subs, instruments, i)), "books equal again");
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
    expect(sim.stats.unsubscribes).toBe(unsubsBefore + 1);
    expect(adapter.stats().gaps).toBe(1);
  });

  test("grouped depths are whole books applied as replace; an unknown channel is refused alone", async () => {
    const subs: Subscription[] = [
      { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 1 },
      { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 20 },
      { market: "option", symbol: "ETH-27MAR26-4000-P", depth: 0 },
    ];
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs);
    adapter.start(sink);
    for (let k = 0; k < 5; k++) {
      sim.step(3);
      await until(() => [0, 1, 2].every((i) => equal(sim, sink, subs, instruments, i)), `books equal, round ${k}`);
    }
    expect(sink.replaces).toBeGreaterThan(5);
    expect(sink.bids[0]!.size).toBe(1);
    expect(adapter.stats().deltas).toBeGreaterThan(0);
    expect(sink.invalid).toEqual([]);
  });

  test("requests of a socket dropped before its answer are forgotten; the id map does not grow", async () => {
    const subs = twoPerpetuals();
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs);
    adapter.start(sink);
    sim.step(1);
    const bothEqual = () => [0, 1].every((i) => equal(sim, sink, subs, instruments, i));
    await until(bothEqual, "books live");
    await until(() => adapter.requests.pending === 0, "every subscribe answered");
    for (let round = 1; round <= 3; round++) {
      // The server holds what it receives; the resync's unsubscribe goes out on this socket and is never answered,
      // because the socket is dropped before the server reads it.
      sim.inject("stall", undefined, { stallMs: 200 });
      adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
      expect(adapter.requests.pending, `round ${round}: the unsubscribe in flight`).toBe(1);
      sim.inject("disconnect");
      await until(() => adapter.stats().reconnects === round, `round ${round}: reconnected`);
      sim.step(1);
      await until(() => bothEqual() && adapter.requests.pending === 0, `round ${round}: books live again, nothing left in the id map`, 15_000);
    }
  });

  test("a channel missing from the subscribe result is rejected alone", async () => {
    const subs: Subscription[] = [
      { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
      { market: "inverse", symbol: "BTC-PERPETUAL", depth: 5 }, // not a Deribit depth: the venue leaves it out
    ];
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs);
    adapter.start(sink);
    sim.step(1);
    await until(() => sink.invalid.length > 0 && equal(sim, sink, subs, instruments, 0), "one refused, one live");
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect(adapter.topicInfo(0).subscribed).toBe(true);
  });
});

describe("venues.deribit.<market>.interval from the config", { timeout: 20_000 }, () => {
  test("each market subscribes its configured interval (agg2 here, 100ms there) and its books are exact", async () => {
    const subs: Subscription[] = [
      { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
      { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 0 },
      { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 10 },
    ];
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }, { market: "option", symbols: ["BTC-27MAR26-70000-C"] }], seed: 8 });
    const config = validateConfig({
      venues: {
        deribit: {
          ws_url: sim.wsUrl,
          rest_url: sim.restUrl,
          instrument_cache: `${makeTempDir("deribit-interval-")}/i.json`,
          inverse: { symbols: ["BTC-PERPETUAL"] },
          option: { symbols: ["BTC-27MAR26-70000-C", "BTC-27MAR26-70000-C@10"], interval: "agg2" },
        },
      },
    });
    // The registry's factory, as the app calls it with the validated venue config.
    const adapter = venueSpec("deribit")!.create(config.venues[0]!, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 }) as DeribitAdapter;
    running.push({ stop: async () => (await adapter.stop(), await sim.stop()) });
    const instruments = (await adapter.loadInstruments()) as Instrument[];
    const sink = new Sink();
    adapter.start(sink);
    expect(subs.map((_, i) => adapter.topicInfo(i).channel)).toEqual(["book.BTC-PERPETUAL.100ms", "book.BTC-27MAR26-70000-C.agg2", "book.BTC-27MAR26-70000-C.none.10.agg2"]);
    for (let k = 0; k < 3; k++) {
      sim.step(2);
      await until(() => [0, 1, 2].every((i) => equal(sim, sink, subs, instruments, i)), `books equal, round ${k}`);
    }
    // The venue served exactly those channels.
    expect(sim.channels().filter((c) => c.subscribers > 0).map((c) => c.name).sort()).toEqual(["book.BTC-27MAR26-70000-C.agg2", "book.BTC-27MAR26-70000-C.none.10.agg2", "book.BTC-PERPETUAL.100ms"]);
    expect(sink.invalid).toEqual([]);
  });
});

describe("Deribit instrument re-check", { timeout: 20_000 }, () => {
  test("a price the tick cannot hold re-checks get_instruments; the new tick rebuilds the book", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    let calls = 0;
    // The first answer claims a tick of 1 (exponent 0); the venue's frames carry half ticks (0.5).
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      const text = await res.text();
      return new Response(calls++ === 0 ? text.replace('"tick_size":0.5', '"tick_size":1') : text, { status: res.status });
    }) as typeof fetch;
    const { sim, adapter, sink } = await startAdapter(running, subs, { fetch: fetchFn });
    const instruments = [...((adapter as unknown as { instruments: Instrument[] }).instruments)];
    expect(instruments[0]!.priceExp).toBe(0);
    adapter.start(sink);
    sim.step(1);
    await until(() => sink.changed.length > 0, "the instrument change");
    expect([sink.changed[0]!.tickSize, sink.changed[0]!.priceExp]).toEqual(["0.5", 1]);
    sim.step(2);
    await until(() => equal(sim, sink, subs, sink.changed, 0), "book equal at the new exponent");
    expect(adapter.stats().instrumentChanges).toBe(1);
    // The snapshot that did not fit made the book RESYNCING / parse_error; the change is told through onInstrumentChanged.
    expect(sink.invalid.map((e) => e.reason)).toEqual([StatusReason.PARSE_ERROR]);
  });
});

describe("Deribit instruments", () => {
  test("the finest of tick_size and tick_size_steps sets the exponent; numbers are read from the text", () => {
    expect(finestTick(["0.0005", "0.001", "5e-5"])).toBe("0.00005");
    // The tick every listed tick is a multiple of (before 2026-12-06: the finest at the largest exponent, 2.5 for
    // steps 2.5 and 1, though a price of 101 is no multiple of it; 0.0002 for 0.0005 and 0.0002).
    expect(finestTick(["2.5", "1"])).toBe("0.5");
    expect(finestTick(["0.0005", "0.0002"])).toBe("0.0001");
    expect(finestTick(["0.0001", "0.0005"])).toBe("0.0001");
    expect(finestTick(["5", "10", "25"])).toBe("5");
    expect(specOfItem(parseJsonRaw('{"instrument_name":"BTC-2","tick_size":2.5,"tick_size_steps":[{"above_price":1000,"tick_size":1}],"min_trade_amount":10}'))).toEqual({ symbol: "BTC-2", spec: { tickSize: "0.5", lotSize: "10" } });
    const item = parseJsonRaw('{"instrument_name":"BTC-1","tick_size":0.0005,"tick_size_steps":[{"above_price":0.005,"tick_size":1e-4}],"min_trade_amount":0.1}');
    expect(specOfItem(item)).toEqual({ symbol: "BTC-1", spec: { tickSize: "0.0001", lotSize: "0.1" } });
    expect(specOfItem(parseJsonRaw('{"instrument_name":"X","tick_size":0,"min_trade_amount":1}'))).toEqual({ symbol: "X", refused: "listed without a usable tick_size (0: not a positive number)" });
    expect(specOfItem(parseJsonRaw('{"tick_size":1,"min_trade_amount":1}'))).toBeNull();
  });

  test("a field of the wrong type refuses the instrument, naming the field and its value (every field × value)", () => {
    // Before 2026-12-07: a wrong-typed expiration_timestamp read as no expiry, is_active as active, and a step's
    // tick_size left out (tick 0.0005 where prices come in 0.0001: misread at the wrong exponent).
    const values: [string, string][] = [['"5"', '"5"'], ["true", "true"], ["null", "null"], ["[]", "a list"], ['{"a":1}', "an object"], ["5", "5"], ["-1", "-1"], ["0.5", "0.5"]];
    const fields = ["tick_size", "min_trade_amount", "is_active", "expiration_timestamp", "tick_size_steps[0].tick_size"];
    // The reference: which JSON values each field takes (steps are multiples of one tick at one exponent).
    const takes = (field: string, v: string): boolean =>
      field === "is_active" ? v === "true" : field === "expiration_timestamp" ? v === "5" : /^\d/.test(v) && Number(v) > 0;
    for (const field of fields) {
      for (const [v, named] of values) {
        const f: Record<string, string> = { tick_size: "0.0005", min_trade_amount: "0.1", is_active: "true", expiration_timestamp: "1774598400000", "tick_size_steps[0].tick_size": "0.0001" };
        f[field] = v;
        const text = `{"instrument_name":"BTC-1","tick_size":${f.tick_size},"min_trade_amount":${f.min_trade_amount},"is_active":${f.is_active},"expiration_timestamp":${f.expiration_timestamp},"tick_size_steps":[{"above_price":0.005,"tick_size":${f["tick_size_steps[0].tick_size"]}}]}`;
        const got = specOfItem(parseJsonRaw(text));
        if (takes(field, v)) expect(got, text).toHaveProperty("spec");
        else expect(got, text).toEqual({ symbol: "BTC-1", refused: expect.stringMatching(new RegExp(`^listed without a usable ${field.replace(/[[\].]/g, "\\$&")} \\(${named.replace(/[[\].]/g, "\\$&")}: not a`)) });
      }
    }
    // A steps list that is no list, and a step that is no object, are refused too; absent fields keep their meaning.
    expect(specOfItem(parseJsonRaw('{"instrument_name":"B","tick_size":1,"min_trade_amount":1,"tick_size_steps":5}'))).toEqual({ symbol: "B", refused: "listed without a usable tick_size_steps (5: not a list)" });
    expect(specOfItem(parseJsonRaw('{"instrument_name":"B","tick_size":1,"min_trade_amount":1,"tick_size_steps":[0.5]}'))).toMatchObject({ refused: "listed without a usable tick_size_steps[0].tick_size (0.5: not a positive number)" });
    expect(specOfItem(parseJsonRaw('{"instrument_name":"B","tick_size":1,"min_trade_amount":1}'))).toEqual({ symbol: "B", spec: { tickSize: "1", lotSize: "1" } });
  });

  test("an instrument refused for a wrong-typed field is bad_spec naming it; the listing's others resolve", async () => {
    const good = { tick_size: 0.5, min_trade_amount: 10, instrument_type: "reversed", is_active: true, expiration_timestamp: 1774598400000 };
    const result = [
      { ...good, instrument_name: "BTC-PERPETUAL" },
      { ...good, instrument_name: "BTC-27MAR26", expiration_timestamp: "1774598400000" },
      { ...good, instrument_name: "BTC-26JUN26", is_active: "true" },
      { ...good, instrument_name: "BTC-25SEP26", tick_size_steps: [{ above_price: 1000, tick_size: "0.1" }] },
      { ...good, instrument_name: "BTC-25DEC26" },
    ];
    const fetchFn = (async () => Response.json({ jsonrpc: "2.0", result })) as unknown as typeof fetch;
    const cfg = { venue: "deribit", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 0, symbols: [] }], overrides: new Map() } as unknown as VenueConfig;
    const symbols = result.map((r) => r.instrument_name);
    const { instruments, unresolved } = await resolveInstruments(cfg, symbols.map((symbol) => ({ market: "inverse" as const, symbol, depth: 0 })), deribitInstrumentSource(cfg, fetchFn), silentLogger);
    expect(instruments.map((i) => i?.symbol)).toEqual(["BTC-PERPETUAL", undefined, undefined, undefined, "BTC-25DEC26"]);
    expect(unresolved.map((u) => [symbols[u.index], u.kind])).toEqual([["BTC-27MAR26", "bad_spec"], ["BTC-26JUN26", "bad_spec"], ["BTC-25SEP26", "bad_spec"]]);
    expect(unresolved[0]!.detail).toContain('expiration_timestamp ("1774598400000": not a time in ms)');
    expect(unresolved[1]!.detail).toContain('is_active ("true": not a boolean)');
    expect(unresolved[2]!.detail).toContain('tick_size_steps[0].tick_size ("0.1": not a positive number)');
  });

  test("listed with is_active false: not_trading (asked for again), not subscribed; one not listed stays not_listed", async () => {
    const item = (name: string, active: boolean, type = "reversed") => ({ instrument_name: name, tick_size: 0.5, min_trade_amount: 10, instrument_type: type, is_active: active });
    const fetchFn = (async () => Response.json({ result: [item("BTC-PERPETUAL", false), item("BTC-27MAR26", true), item("BTC_USDC-PERPETUAL", false, "linear")] })) as unknown as typeof fetch;
    const cfg = { venue: "deribit", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 0, symbols: [] }], overrides: new Map() } as unknown as VenueConfig;
    const symbols = ["BTC-PERPETUAL", "BTC-27MAR26", "BTC-NOPE"];
    const { instruments, unresolved } = await resolveInstruments(cfg, symbols.map((symbol) => ({ market: "inverse" as const, symbol, depth: 0 })), deribitInstrumentSource(cfg, fetchFn), silentLogger);
    // Before: BTC-PERPETUAL resolved (and subscribed) like the active future.
    expect(unresolved.map((u) => `${symbols[u.index]}:${u.kind}`)).toEqual(["BTC-PERPETUAL:not_trading", "BTC-NOPE:not_listed"]);
    expect(instruments.map((i) => i?.symbol)).toEqual([undefined, "BTC-27MAR26", undefined]);
  });

  test("from the simulator's get_instruments: inverse lot in USD, option steps", async () => {
    const subs: Subscription[] = [
      { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
      { market: "option", symbol: "ETH-27MAR26-4000-P", depth: 0 },
      { market: "linear", symbol: "BTC_USDC-PERPETUAL", depth: 0 },
    ];
    const { instruments } = await startAdapter(running, subs);
    expect(instruments.map((i) => [i.symbol, i.tickSize, i.lotSize, i.priceExp, i.qtyExp])).toEqual([
      ["BTC-PERPETUAL", "0.5", "10", 1, 0],
      ["ETH-27MAR26-4000-P", "0.0005", "0.1", 4, 1],
      ["BTC_USDC-PERPETUAL", "1", "0.001", 0, 3],
    ]);
  });
});

describe("Deribit request answers", () => {
  /** A subscribe of `channels` encoded on a stub connection; returns its JSON-RPC id. */
  function subscribed(requests: DeribitRequests, channels: string[]): number {
    const conn = { ws: null } as unknown as VenueConnection;
    const topics = channels.map((topic) => ({ topic, conn }) as unknown as TopicState);
    return (JSON.parse(requests.encodeRequest("subscribe", topics, "s7")) as { id: number }).id;
  }

  test("a subscribe answer whose result is no list of channels is a failure sent again, not every channel refused", () => {
    const channels = ["book.BTC-PERPETUAL.100ms", "book.ETH-PERPETUAL.100ms"];
    for (const result of ["ok", null, { channels }, 5, undefined]) {
      const requests = new DeribitRequests();
      const id = subscribed(requests, channels);
      const c = requests.classifyControl(result === undefined ? { jsonrpc: "2.0", id } : { jsonrpc: "2.0", id, result });
      if (c.kind !== "ack") throw new Error(`not an ack: ${c.kind}`);
      // Before: taken as a list that names nothing, every channel of the request refused alone (HALTED /
      // subscribe_rejected, "check that X is listed") though the venue said nothing of them.
      expect(c.failTopics, JSON.stringify(result)).toBeUndefined();
      expect(c.success).toBe(false);
      expect(c.retMsg).toMatch(/no list of channels/);
      expect(requests.parseAckError(c.retMsg)).toEqual({ kind: "other" });
    }
    // A list still refuses each channel it leaves out, alone.
    const requests = new DeribitRequests();
    const id = subscribed(requests, channels);
    const c = requests.classifyControl({ jsonrpc: "2.0", id, result: [channels[0]] });
    expect(c.kind === "ack" && [c.successTopics, c.failTopics]).toEqual([[channels[0]], [channels[1]]]);
  });
});

describe("Deribit simulator protocol (raw client)", { timeout: 20_000 }, () => {
  test("subscribe result lists the channels taken; snapshot then linked changes; raw → 13778; unanswered test_request closes", async () => {
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 3, heartbeatIntervalMs: 100 });
    running.push(sim);
    const c = await RawClient.open(sim.wsUrl);
    c.send({ jsonrpc: "2.0", id: 7, method: "public/subscribe", params: { channels: ["book.BTC-PERPETUAL.100ms", "book.NOPE.100ms"] } });
    const ack = await c.nextJson();
    expect([ack.id, ack.result]).toEqual([7, ["book.BTC-PERPETUAL.100ms"]]);
    const snap = await c.nextJson();
    expect([snap.method, snap.params.channel, snap.params.data.type]).toEqual(["subscription", "book.BTC-PERPETUAL.100ms", "snapshot"]);
    sim.step(2);
    const c1 = await c.nextJson();
    const c2 = await c.nextJson();
    expect(c1.params.data.prev_change_id).toBe(snap.params.data.change_id);
    expect(c2.params.data.prev_change_id).toBe(c1.params.data.change_id);
    c.send({ jsonrpc: "2.0", id: 8, method: "public/subscribe", params: { channels: ["book.BTC-PERPETUAL.raw"] } });
    const err = await c.nextJson();
    expect([err.id, err.error.code, err.error.message]).toEqual([8, 13778, "raw_subscriptions_not_available_for_unauthorized"]);
    // A grouped book's depth is 1, 10 or 20 [D8]: `none.0` is no channel (taken before 2026-12-07, served as the change stream).
    c.send({ jsonrpc: "2.0", id: 10, method: "public/subscribe", params: { channels: ["book.BTC-PERPETUAL.none.0.100ms", "book.BTC-PERPETUAL.none.5.100ms"] } });
    expect(await c.nextJson()).toMatchObject({ id: 10, result: [] });
    // A client that disables heartbeats with a test_request unanswered is not closed for it (it was, and
    // public/disable_heartbeat was "Method not found").
    const quiet = await RawClient.open(sim.wsUrl);
    quiet.send({ jsonrpc: "2.0", id: 1, method: "public/set_heartbeat", params: { interval: 10 } });
    expect((await quiet.nextJson()).result).toBe("ok");
    expect(await quiet.nextJson()).toEqual({ jsonrpc: "2.0", method: "heartbeat", params: { type: "heartbeat" } });
    expect((await quiet.nextJson()).params.type).toBe("test_request");
    quiet.send({ jsonrpc: "2.0", id: 2, method: "public/disable_heartbeat", params: {} });
    expect(await quiet.nextJson()).toMatchObject({ jsonrpc: "2.0", id: 2, result: "ok" });
    c.send({ jsonrpc: "2.0", id: 9, method: "public/set_heartbeat", params: { interval: 10 } });
    expect((await c.nextJson()).result).toBe("ok");
    expect(await c.nextJson()).toEqual({ jsonrpc: "2.0", method: "heartbeat", params: { type: "heartbeat" } });
    const tr = await c.nextJson();
    expect(tr).toEqual({ jsonrpc: "2.0", method: "heartbeat", params: { type: "test_request" } });
    // Not answered: the next heartbeat closes the connection; the quiet one, judged on the same ticks and due first, stays.
    await c.waitClosed();
    expect(sim.stats.heartbeatCloses).toBe(1);
    expect(quiet.closed).toBe(false);
    expect(quiet.pending).toBe(0);
    quiet.close();
  });
});
