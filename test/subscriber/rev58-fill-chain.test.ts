/**
 * s-rev58: a long run of datagrams reordered into a gap asked for (the later ones first), then the gap's first one.
 * Each held datagram, once next, is applied into the gap in turn (01c180f) — but each fill was applied from inside
 * the processing of the one before (replayReady called again per datagram): the stack grew by a frame set per
 * datagram, and under Node 8000 of them threw 'Maximum call stack size exceeded' (Bun's deeper stack hid it).
 * The depth is measured here, so the test fails on the old code under either runtime.
 */
import { afterEach, expect, it } from "vitest";
import { makeInstrument } from "../wire/helpers.ts";
import { levelsOf } from "../wire/helpers.ts";
import { deltaFeed } from "./delta-feed.ts";
import { newSubscriber, T0 } from "./feed-harness.ts";

const limit = Error.stackTraceLimit;
afterEach(() => {
  Error.stackTraceLimit = limit;
});

it("datagrams reordered last-first into a gap: each fills it in turn at the same stack depth, the book exact", () => {
  const eth = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);
  const n = 300;
  const { book, head, deltas } = deltaFeed(eth, 7, n + 2);
  const sub = newSubscriber({ retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000 } }); // no server answers
  const errors: string[] = [];
  sub.on("error", (e) => errors.push(e.error.message));
  for (const d of head) sub.ingest(d, T0);
  sub.ingest(deltas[0]!, T0);
  sub.ingest(deltas[1]!, T0);
  Error.stackTraceLimit = Infinity;
  const depths: number[] = [];
  sub.on("update", () => depths.push((new Error().stack ?? "").split("\n").length));
  for (let i = n + 1; i >= 2; i--) sub.ingest(deltas[i]!, T0);
  expect(errors).toEqual([]);
  expect(depths).toHaveLength(n);
  // [1] .. [n - 2]: the held ones that filled the gap ([n - 1] is the one that opened it, replayed once recovered).
  expect(depths[n - 2]! - depths[1]!).toBe(0); // old: grew with every fill (hundreds of frames here)
  expect(sub.retransmitsPending).toBe(0);
  expect(sub.counters.gaps).toBe(0);
  const sb = sub.book(eth.instrumentId)!;
  expect(sb.usable).toBe(true);
  expect(levelsOf(sb)).toEqual(levelsOf(book));
});
