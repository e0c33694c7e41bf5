/**
 * The OKX REST bridge's byte budget (src/venues/okx/rest-bridge.ts) against a scripted adapter: REST answers the
 * bridges' requests one at a time in the order they were sent, each SERVE_STEPS frames after it. Before, the frame
 * that did not fit dropped its own book's buffer: once the wait passed the time the budget took to fill, every bridge
 * was dropped before its answer came and no book ever went LIVE. Now the newest bridges give way.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState } from "../../../src/core/types.ts";
import type { OkxAdapter } from "../../../src/venues/okx/adapter.ts";
import type { OkxTopic } from "../../../src/venues/okx/connection.ts";
import { BUFFERED_FRAME_OVERHEAD_BYTES, RestBridge } from "../../../src/venues/okx/rest-bridge.ts";
import { REST_WINDOW_MS } from "../../../src/venues/okx/protocol.ts";

describe("okx REST bridge: a full byte budget never starves the bridge whose snapshot comes next", () => {
  test("4 books over a budget of ~6 frames, each answer 20 frames after its request: every book goes LIVE", async () => {
    const BOOKS = 4;
    const SERVE_STEPS = 20;
    const clock = { ms: 1_000_000 };
    // A frame is "seqId:prevSeqId:padding"; the scripted connection reads it back as the scanner would.
    const scanner = { seqId: 0, prevSeqId: 0 };
    let reading = 0;
    const conn = {
      update: { tsRecvUs: 0 },
      scanner,
      readAgain: (f: string) => {
        const [s, p] = f.split(":");
        scanner.seqId = Number(s);
        scanner.prevSeqId = Number(p);
        return reading;
      },
    };
    const topics = Array.from({ length: BOOKS }, (_, i) => ({ index: i, topic: `books:Q${i}-USDT`, market: "spot", symbol: `Q${i}-USDT`, depth: 400, book: BookState.RESYNCING as BookState, conn }));
    const requests: { index: number; resolve: (r: Response) => void; current: boolean; dueStep: number }[] = [];
    const current: ((typeof requests)[number] | null)[] = topics.map(() => null);
    const a = {
      now: () => clock.ms,
      wallNow: () => clock.ms,
      random: () => 0.5,
      log: silentLogger,
      c: { gaps: 0 },
      books: {
        replaying: false,
        resync: (t: OkxTopic) => {
          current[t.index]!.current = false; // its answer (if any) is for a bridge that ended
          current[t.index] = null;
        },
      },
      configOf: () => ({ restUrl: "http://127.0.0.1:9", markets: [] }),
      instrumentOf: () => ({ priceExp: 1, qtyExp: 1 }),
      fetchFn: (url: string) =>
        new Promise<Response>((resolve) => {
          const index = Number(/instId=Q(\d+)-USDT/.exec(url)![1]);
          reading = index;
          const r = { index, resolve, current: true, dueStep: 0 };
          requests.push(r);
          current[index] = r;
        }),
      applyRestSnapshot: (t: OkxTopic) => {
        (t as { book: BookState }).book = BookState.LIVE;
        current[t.index] = null;
      },
      onBook: () => {},
      recheckInstrument: () => {},
    };
    const frameOf = (seq: number) => `${seq}:${seq - 1}:${"x".repeat(100)}`;
    const frameBytes = frameOf(1001).length * 2 + BUFFERED_FRAME_OVERHEAD_BYTES;
    const budget = 6 * frameBytes + 1;
    const bridge = new RestBridge(a as unknown as OkxAdapter, BOOKS, undefined, undefined, undefined, budget);
    const seq = topics.map(() => 1000);
    let serving: (typeof requests)[number] | null = null;
    for (let step = 1; step <= 2000 && topics.some((t) => t.book !== BookState.LIVE); step++) {
      clock.ms += REST_WINDOW_MS; // the request budget never holds a request back here
      const i = step % BOOKS;
      const t = topics[i]!;
      seq[i]!++;
      if (t.book !== BookState.LIVE) {
        reading = i;
        bridge.buffer(t as unknown as OkxTopic, frameOf(seq[i]!));
        expect(bridge.bufferedBytes).toBeLessThanOrEqual(budget);
      }
      // REST serves one request at a time, in the order they were sent; one whose bridge ended costs no time.
      while (serving === null && requests.length > 0) {
        const r = requests.shift()!;
        if (r.current) {
          r.dueStep = step + SERVE_STEPS;
          serving = r;
        }
        else r.resolve(new Response("gone", { status: 503 }));
      }
      if (serving && serving.dueStep <= step) {
        const r = serving;
        serving = null;
        reading = r.index;
        // Taken a frame ago: the newest buffered frame bridges it.
        r.resolve(new Response(JSON.stringify({ code: "0", data: [{ asks: [], bids: [["1", "1"]], seqId: seq[r.index]! - 1, ts: "1" }] })));
        await new Promise((res) => setTimeout(res, 0));
      }
    }
    expect(topics.map((t) => t.book)).toEqual(topics.map(() => BookState.LIVE));
    expect(bridge.bufferedBytes).toBe(0);
    expect(bridge.budgetDrops).toBeGreaterThan(0);
    bridge.stop();
  });
});
