/**
 * A book closed while its subscribe is out (retire-pending.test.ts) and listed as trading again before that subscribe
 * is answered: the reopen subscribed the topic a second time. The venue takes one and refuses the other as already
 * subscribed; on the option socket that refusal is a failTopics entry with no reason, which halted the book as
 * rejected for good (SUBSCRIBE_REJECTED, never asked for again); on linear it was counted and resynced. Now the reopen
 * sends no second subscribe while the first is out: its ack makes the topic active and its snapshot the book LIVE.
 * The order is forced: the first subscribe is held by the test until the reopen has happened.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { SUB_PENDING } from "../../../src/venues/common/connection.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, subsOf, venueConfig, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const W = 20_000;

describe("a closed book reopened while its subscribe is out", { timeout: 90_000 }, () => {
  for (const [market, depth, symbols] of [
    ["linear", 50, ["BTCUSDT", "ETHUSDT"]],
    ["option", 25, ["BTC-27MAR26-70000-P-USDT", "BTC-27MAR26-80000-C-USDT"]],
  ] as const) {
    test(`${market}: no second subscribe; the first one's ack brings the book LIVE`, async () => {
      const markets = [{ market, depth, symbols: [...symbols] }];
      const sim = await startBybitSimulator({ markets: [{ market, symbols: [...symbols] }], seed: 6, messagesPerSecond: 0 });
      cleanups.push(() => sim.stop());
      // The listing is held while `holdRest` is set (the re-check a delisting asks for).
      let holdRest = false;
      let releaseRest: () => void = () => undefined;
      const restHeld = new Promise<void>((r) => (releaseRest = r));
      let restWaiting = 0;
      const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
        if (holdRest && String(input).includes("instruments-info")) {
          restWaiting++;
          await restHeld;
        }
        return fetch(input, init);
      }) as typeof fetch;
      const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, fetch: fetchFn, pingIntervalMs: 200, pongTimeoutMs: 5_000, listingRetryMs: 300, lateCheckMs: 20 });
      cleanups.push(() => adapter.stop());
      const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
      adapter.start(sink);
      await waitFor(() => adapter.stats().topicsLive === 2, "both books live", W);

      // The first subscribe of the first topic from here on is held by the test (the socket's send wrapped).
      const a = adapter as unknown as { conns: { ws: WebSocket }[]; topics: { sub: number }[] };
      const ws = a.conns[0]!.ws;
      const send = ws.send.bind(ws);
      const held: string[] = [];
      const topic = `orderbook.${depth}.${symbols[0]}`;
      let subscribesOfTopic = 0;
      ws.send = ((text: string) => {
        if (text.includes('"op":"subscribe"') && text.includes(topic) && subscribesOfTopic++ === 0) held.push(text);
        else send(text);
      }) as typeof ws.send;
      holdRest = true;

      sim.setStatus(market, symbols[0], market === "option" ? "Delivering" : "Closed"); // u = 1, empty sides, then silence
      await waitFor(() => held.length === 1 && a.topics[0]!.sub === SUB_PENDING && restWaiting > 0, "the resync's subscribe out (held) and the listing asked for", W);
      releaseRest();
      await waitFor(() => adapter.topicInfo(0).state === "halted", "the book closed while its subscribe is out", W);

      // Listed as trading again while that subscribe is still out: the reopen asks for nothing more.
      sim.setStatus(market, symbols[0], "Trading");
      await waitFor(() => adapter.stats().instrumentReopens === 1, "the book reopened", W);
      expect(a.topics[0]!.sub).toBe(SUB_PENDING);
      expect(subscribesOfTopic).toBe(1);

      send(held.shift()!); // the venue takes the first subscribe and acks it
      await waitFor(() => adapter.topicInfo(0).state === "live", "live again on the first subscribe's snapshot", W);
      expect(adapter.topicInfo(1).state).toBe("live");
      // Nothing refused on the way: three pings later, still live, one subscribe in all.
      const pings = sim.stats.pings;
      await waitFor(() => sim.stats.pings >= pings + 3, "three more pings", W);
      expect(adapter.topicInfo(0).state).toBe("live");
      expect(subscribesOfTopic).toBe(1);
      expect(adapter.stats()).toMatchObject({ subscribeRejected: 0, alreadySubscribed: 0 });
    });
  }
});
