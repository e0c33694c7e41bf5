/**
 * Setup shared by reopen-pending and retire-pending: two books live on a simulator, then the first one delisted
 * while the resync's subscribe of its topic is held by the test and the listing re-check is held until that
 * subscribe is out, so the book closes (halted) with its subscribe still unanswered.
 */
import { silentLogger } from "../../../src/core/log.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { SUB_PENDING } from "../../../src/venues/common/connection.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import type { BookSink, CommonAdapterOptions } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, subsOf, venueConfig, waitFor } from "./helpers.ts";

export interface ClosedWhilePendingOptions {
  market: "linear" | "option";
  depth: number;
  symbols: readonly string[];
  seed: number;
  /** Hold only the first subscribe of the topic (later ones go out), else every one until `ws.send` is restored. */
  holdFirstOnly: boolean;
  waitMs: number;
  cleanups: (() => Promise<void>)[];
  /** Record → replay: the live adapter's taps (what `feeder record` passes) and a sink told of every book event too. */
  taps?: Pick<CommonAdapterOptions, "onRawFrame" | "onRawRest">;
  tee?: BookSink;
}

export async function closeWhileSubscribePending(o: ClosedWhilePendingOptions) {
  const { market, depth, symbols, waitMs: W } = o;
  const markets = [{ market, depth, symbols: [...symbols] }];
  const sim = await startBybitSimulator({ markets: [{ market, symbols: [...symbols] }], seed: o.seed, messagesPerSecond: 0 });
  o.cleanups.push(() => sim.stop());
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
  const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, fetch: fetchFn, pingIntervalMs: 200, pongTimeoutMs: 5_000, listingRetryMs: 300, lateCheckMs: 20, ...o.taps });
  o.cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  const tee = o.tee;
  adapter.start(
    tee === undefined
      ? sink
      : {
          onBookUpdate: (i, u) => (tee.onBookUpdate(i, u), sink.onBookUpdate(i, u)),
          onBookInvalid: (i, state, reason) => (tee.onBookInvalid(i, state, reason), sink.onBookInvalid(i, state, reason)),
          onInstrumentChanged: (i, instrument) => (tee.onInstrumentChanged(i, instrument), sink.onInstrumentChanged(i, instrument)),
        },
  );
  await waitFor(() => adapter.stats().topicsLive === 2, "both books live", W);

  // Subscribes of the first topic from here on are held by the test (the socket's send wrapped).
  const a = adapter as unknown as { conns: { ws: WebSocket }[]; topics: { sub: number }[] };
  const ws = a.conns[0]!.ws;
  const send = ws.send.bind(ws);
  const held: string[] = [];
  const topic = `orderbook.${depth}.${symbols[0]}`;
  let subscribesOfTopic = 0;
  ws.send = ((text: string) => {
    if (text.includes('"op":"subscribe"') && text.includes(topic) && (subscribesOfTopic++ === 0 || !o.holdFirstOnly)) held.push(text);
    else send(text);
  }) as typeof ws.send;
  holdRest = true;

  sim.setStatus(market, symbols[0]!, market === "option" ? "Delivering" : "Closed"); // u = 1, empty sides, then silence
  await waitFor(() => held.length === 1 && a.topics[0]!.sub === SUB_PENDING && restWaiting > 0, "the resync's subscribe out (held) and the listing asked for", W);
  releaseRest();
  await waitFor(() => adapter.topicInfo(0).state === "halted", "the book closed while its subscribe is out", W);
  return { sim, adapter, sink, a, ws, send, held, topic, subscribesOfTopic: () => subscribesOfTopic };
}
