/**
 * The OKX REST bridge's byte budget (src/venues/okx/rest-bridge.ts) against a scripted adapter: REST answers the
 * bridges' requests one at a time in the order they were sent, each SERVE_STEPS frames after it. Before, the frame
 * that did not fit dropped its own book's buffer: once the wait passed the time the budget took to fill, every bridge
 * was dropped before its answer came and no book ever went LIVE. Now the newest bridges give way. And randomized: the
 * byte count stays what the buffers hold through every path that adds, trims or ends one.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { type Logger, silentLogger } from "../../../src/core/log.ts";
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

describe("okx REST bridge: the byte count is what the buffers hold, whatever ends them", () => {
  // Randomized against the bridge's own buffers: frames of random sizes for books not LIVE; REST answers that bridge,
  // are older than the buffer (no_bridge: its covered frames go), refused (503, code ≠ 0: retried), a 429 holding
  // REST (a held book's bridge is dropped); books the adapter resyncs (drop) or that leave LIVE; a small budget that
  // drops the newest bridges. After every step bufferedBytes must be the sum of the frames held (2 a character plus
  // BUFFERED_FRAME_OVERHEAD_BYTES), each bridge's bytes its frames', within maxBytes; after stop(), 0.
  test("400 random steps over 6 books, 3 seeds: bufferedBytes equals the frames held after every step", async () => {
    const seen = { budgetDrops: 0, noBridge: 0, bridged: 0, refused: 0, droppedWhileHeld: 0 };
    for (const seed of [1, 2, 3]) {
      let x = seed;
      const random = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const int = (n: number) => Math.floor(random() * n);
      const BOOKS = 6;
      const clock = { ms: 1_000_000 };
      const scanner = { seqId: 0, prevSeqId: 0 };
      const conn = {
        update: { tsRecvUs: 0 },
        scanner,
        readAgain: (f: string) => {
          const [s, p, i] = f.split(":");
          scanner.seqId = Number(s);
          scanner.prevSeqId = Number(p);
          return Number(i);
        },
      };
      const topics = Array.from({ length: BOOKS }, (_, i) => ({ index: i, topic: `books:Q${i}-USDT`, market: "spot", symbol: `Q${i}-USDT`, depth: 400, book: BookState.RESYNCING as BookState, conn }));
      const requests: { index: number; resolve: (r: Response) => void }[] = [];
      const errors: string[] = [];
      const a = {
        now: () => clock.ms,
        wallNow: () => clock.ms,
        random: () => 0.5,
        log: silentLogger,
        c: { gaps: 0 },
        books: {
          replaying: false,
          resync: (t: OkxTopic) => void ((t as { book: BookState }).book = BookState.RESYNCING),
        },
        configOf: () => ({ restUrl: "http://127.0.0.1:9", markets: [] }),
        instrumentOf: () => ({ priceExp: 1, qtyExp: 1 }),
        fetchFn: (url: string) => new Promise<Response>((resolve) => requests.push({ index: Number(/instId=Q(\d+)-USDT/.exec(url)![1]), resolve })),
        applyRestSnapshot: (t: OkxTopic) => void ((t as { book: BookState }).book = BookState.LIVE),
        onBook: () => {},
        recheckInstrument: () => {},
      };
      const budget = 20 * 700; // ~20 frames
      const bridge = new RestBridge(a as unknown as OkxAdapter, BOOKS, undefined, undefined, undefined, budget);
      const inner = bridge as unknown as { bridges: ({ frames: string[]; recvUs: number[]; bytes: number } | undefined)[] };
      const seq = topics.map(() => 1000);
      const check = (step: string) => {
        let sum = 0;
        for (const b of inner.bridges) {
          if (!b) continue;
          const own = b.frames.reduce((n, f) => n + f.length * 2 + BUFFERED_FRAME_OVERHEAD_BYTES, 0);
          if (b.bytes !== own) errors.push(`${step}: a bridge counts ${b.bytes} bytes, its frames take ${own}`);
          if (b.recvUs.length !== b.frames.length) errors.push(`${step}: ${b.frames.length} frames, ${b.recvUs.length} receive times`);
          sum += own;
        }
        if (bridge.bufferedBytes !== sum) errors.push(`${step}: bufferedBytes ${bridge.bufferedBytes}, the frames held ${sum}`);
        if (bridge.bufferedBytes > budget) errors.push(`${step}: ${bridge.bufferedBytes} bytes over the budget ${budget}`);
      };
      const answer = (snapSeq: number) => new Response(JSON.stringify({ code: "0", data: [{ asks: [], bids: [["1", "1"]], seqId: snapSeq, ts: "1" }] }));
      for (let step = 0; step < 400; step++) {
        clock.ms += REST_WINDOW_MS; // the request budget never holds a request back (a 429's hold does)
        const i = int(BOOKS);
        const t = topics[i]!;
        const op = int(10);
        if (op < 6) {
          // The book's next frame (LIVE books apply theirs: nothing buffered).
          seq[i]! += 1 + int(2); // prevSeqId is seqId - 1: a step of 2 leaves a gap no snapshot there bridges
          if (t.book !== BookState.LIVE) bridge.buffer(t as unknown as OkxTopic, `${seq[i]}:${seq[i]! - 1}:${i}:${"x".repeat(int(300))}`);
        } else if (op <= 7 && requests.length > 0) {
          const r = requests.splice(int(requests.length), 1)[0]!;
          const kind = int(5);
          if (kind === 0) r.resolve(new Response("busy", { status: 503 }));
          else if (kind === 1) r.resolve(new Response(JSON.stringify({ code: "50011", data: [] })));
          else if (kind === 2) r.resolve(new Response("{}", { status: 429, headers: { "retry-after": "10" } }));
          else if (kind === 3) {
            // No bridge: a buffered frame's seqId where the next frame's prevSeqId is past it (the frames up to it
            // go, the rest wait for the next answer), else one older than the whole buffer.
            const frames = inner.bridges[r.index]?.frames ?? [];
            const gaps = frames.slice(0, -1).map((f, k) => [Number(f.split(":")[0]), Number(frames[k + 1]!.split(":")[1])] as const).filter(([s, p]) => p > s);
            r.resolve(answer(gaps.length > 0 ? gaps[int(gaps.length)]![0] : seq[r.index]! - 40));
          }
          else r.resolve(answer(seq[r.index]! - 1));
          await new Promise((res) => setTimeout(res, 0));
        } else if (op === 8) {
          bridge.drop(i); // the adapter's resync, a dropped connection
          t.book = BookState.RESYNCING;
        } else if (op === 9 && t.book === BookState.LIVE) {
          t.book = BookState.RESYNCING; // a gap: the next frame begins a bridge
        }
        check(`seed ${seed} step ${step}`);
      }
      for (const k of Object.keys(seen) as (keyof typeof seen)[]) seen[k] += bridge[k];
      expect(errors).toEqual([]);
      bridge.stop();
      expect(bridge.bufferedBytes).toBe(0);
      for (const r of requests) r.resolve(new Response("gone", { status: 503 }));
    }
    // Every way a buffer shrinks or ends was taken.
    for (const [k, n] of Object.entries(seen)) expect(n, k).toBeGreaterThan(0);
  });
});

describe("okx REST bridge: a refused request's bridge goes behind those asked since", () => {
  // Before, a bridge kept the place it began at through its retries: its next request waited at the queue's end (or
  // out its backoff) while its buffer pushed out those of the bridges asked for after it began, REST serving them
  // first; one failing every time cost the others their answers. Now a retry asks anew: over the budget it gives way.
  test("book 0 begins first, is refused; book 1's buffer is kept when book 0's next frame does not fit", async () => {
    const { requests, resynced, frame, bridge, b0, b1 } = twoBooksOfFourFrames();
    bridge.buffer(b0, frame(1001)); // book 0's bridge begins (asks) first
    bridge.buffer(b1, frame(2001));
    bridge.buffer(b1, frame(2002));
    requests.find((r) => r.index === 0)!.resolve(new Response("busy", { status: 503 })); // refused: retried later
    await until(() => bridge.refused === 1, "book 0's request refused");
    bridge.buffer(b0, frame(1002)); // 4 frames: the budget is full
    bridge.buffer(b0, frame(1003)); // does not fit: book 0, asked for last, gives way (before: book 1's 2 frames)
    expect(resynced).toEqual([0]);
    expect(bridge.buffered(1)).toBe(2);
    expect(bridge.buffered(0)).toBe(0);
    bridge.stop();
    for (const r of requests) r.resolve(new Response("gone", { status: 503 }));
  });
  // Until 2026-12-07 the retry renewed its place when the request failed, and kept it through the backoff: book 1,
  // asked for meanwhile (REST serves it first), ranked behind it and lost its buffer. Now no request out: last.
  test("book 0 refused, waiting out its backoff; book 1 asked for meanwhile keeps its buffer when book 0's next frame does not fit", async () => {
    const { requests, resynced, frame, bridge, b0, b1 } = twoBooksOfFourFrames();
    bridge.buffer(b0, frame(1001)); // book 0's bridge begins (asks) first
    requests.find((r) => r.index === 0)!.resolve(new Response("busy", { status: 503 })); // refused: retried later
    await until(() => bridge.refused === 1, "book 0's request refused");
    bridge.buffer(b1, frame(2001)); // book 1's bridge begins (asks) during book 0's backoff: REST serves it first
    bridge.buffer(b1, frame(2002));
    bridge.buffer(b0, frame(1002)); // 4 frames: the budget is full
    bridge.buffer(b0, frame(1003)); // does not fit: book 0, no request out, gives way (before: book 1's 2 frames)
    expect(resynced).toEqual([0]);
    expect(bridge.buffered(1)).toBe(2);
    expect(bridge.buffered(0)).toBe(0);
    bridge.stop();
    for (const r of requests) r.resolve(new Response("gone", { status: 503 }));
  });
});

/** Two books sharing a budget of 4 frames; REST answers only when a test resolves a request, by the book it names. */
function twoBooksOfFourFrames() {
  const clock = { ms: 1_000_000 };
  const scanner = { seqId: 0, prevSeqId: 0 };
  const conn = { update: { tsRecvUs: 0 }, scanner, readAgain: () => 0 };
  const topics = [0, 1].map((i) => ({ index: i, topic: `books:Q${i}-USDT`, market: "spot", symbol: `Q${i}-USDT`, depth: 400, book: BookState.RESYNCING as BookState, conn }));
  const requests: { index: number; resolve: (r: Response) => void }[] = [];
  const resynced: number[] = [];
  const a = {
    now: () => clock.ms,
    wallNow: () => clock.ms,
    random: () => 0.5,
    log: silentLogger,
    c: { gaps: 0 },
    books: { replaying: false, resync: (t: OkxTopic) => void resynced.push(t.index) },
    configOf: () => ({ restUrl: "http://127.0.0.1:9", markets: [] }),
    instrumentOf: () => ({ priceExp: 1, qtyExp: 1 }),
    fetchFn: (url: string) => new Promise<Response>((resolve) => requests.push({ index: Number(/instId=Q(\d+)-USDT/.exec(url)![1]), resolve })),
    applyRestSnapshot: () => {},
    onBook: () => {},
    recheckInstrument: () => {},
  };
  const frame = (seq: number) => `${seq}:${seq - 1}:${"x".repeat(100)}`;
  const frameBytes = frame(1001).length * 2 + BUFFERED_FRAME_OVERHEAD_BYTES;
  const bridge = new RestBridge(a as unknown as OkxAdapter, 2, undefined, undefined, undefined, 4 * frameBytes);
  return { requests, resynced, frame, bridge, b0: topics[0] as unknown as OkxTopic, b1: topics[1] as unknown as OkxTopic };
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((res) => setTimeout(res, 0));
  if (!ok()) throw new Error(`never: ${what}`);
}

describe("okx REST bridge: a frame over a full budget reads only the bridges it drops", () => {
  // Before, every frame over the budget read every book's bridge (makeRoom's scan): 5,000 books at a full budget,
  // 5,000 reads a frame. Now a frame of the newest bridge reads none, another's the ones it drops.
  test("5,000 bridges at a full budget: 2,000 frames read a few bridges each, not all of them", () => {
    const BOOKS = 5000;
    const clock = { ms: 1_000_000 };
    const scanner = { seqId: 0, prevSeqId: 0 };
    const conn = { update: { tsRecvUs: 0 }, scanner, readAgain: () => 0 };
    const topics = Array.from({ length: BOOKS }, (_, i) => ({ index: i, topic: `books:Q${i}-USDT`, market: "spot", symbol: `Q${i}-USDT`, depth: 400, book: BookState.RESYNCING as BookState, conn }));
    const a = {
      now: () => clock.ms,
      wallNow: () => clock.ms,
      random: () => 0.5,
      log: silentLogger,
      c: { gaps: 0 },
      books: { replaying: false, resync: (t: OkxTopic) => void ((t as { book: BookState }).book = BookState.RESYNCING) },
      configOf: () => ({ restUrl: "http://127.0.0.1:9", markets: [] }),
      instrumentOf: () => ({ priceExp: 1, qtyExp: 1 }),
      fetchFn: () => new Promise<Response>(() => {}), // no answer comes
      applyRestSnapshot: () => {},
      onBook: () => {},
      recheckInstrument: () => {},
    };
    const frame = `1:0:${"x".repeat(100)}`;
    const bridge = new RestBridge(a as unknown as OkxAdapter, BOOKS, undefined, undefined, undefined, BOOKS * (frame.length * 2 + BUFFERED_FRAME_OVERHEAD_BYTES));
    for (const t of topics) {
      clock.ms += REST_WINDOW_MS; // each request goes at once
      bridge.buffer(t as unknown as OkxTopic, frame);
    }
    expect(bridge.bufferedBytes).toBe(bridge.maxBytes);
    let x = 7;
    let newest = BOOKS - 1;
    for (let k = 0; k < 2000; k++) {
      while (bridge.buffered(newest) === 0) newest--;
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const i = k % 2 === 0 ? newest : x % BOOKS;
      if (bridge.buffered(i) === 0) continue;
      bridge.buffer(topics[i] as unknown as OkxTopic, frame);
    }
    expect(bridge.budgetDrops).toBeGreaterThan(800);
    expect(bridge.budgetVisits).toBeLessThanOrEqual(4 * 2000);
    bridge.stop();
  });
});

describe("okx REST bridge: a book refused again and again logs its first refusal, then rate-limited counts", () => {
  afterEach(() => vi.useRealTimers());
  // Before, every retry of every refused book logged a warning (one every 5–10 s per book: hundreds of books, a flood).
  // Now each bridge's first refusal is logged as it was, the next ones at most a line per 5 s for all books, counted.
  test("6 books refused for 2 simulated minutes (503s and unusable answers): 6 first lines, then ≤ 1 per 5 s, every refusal counted", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"], now: 1_800_000_000_000 });
    const BOOKS = 6;
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const log: Logger = { ...silentLogger, warn: (msg, fields) => void lines.push({ msg, fields: fields ?? {} }), child: () => log };
    const conn = { update: { tsRecvUs: 0 }, scanner: { seqId: 0, prevSeqId: 0 }, readAgain: () => 0 };
    const topics = Array.from({ length: BOOKS }, (_, i) => ({ index: i, topic: `books:Q${i}-USDT`, market: "spot", symbol: `Q${i}-USDT`, depth: 400, book: BookState.RESYNCING as BookState, conn }));
    const a = {
      now: () => Date.now(),
      wallNow: () => Date.now(),
      random: () => 0.5,
      log,
      c: { gaps: 0 },
      books: { replaying: false, resync: () => {} },
      configOf: () => ({ restUrl: "http://127.0.0.1:9", markets: [] }),
      instrumentOf: () => ({ priceExp: 1, qtyExp: 1 }),
      // Even books: HTTP 503 (the request's catch); odd ones: an answer with code ≠ 0 (onBody's catch).
      fetchFn: async (url: string) =>
        Number(/instId=Q(\d+)-USDT/.exec(url)![1]) % 2 === 0 ? new Response("busy", { status: 503 }) : new Response(JSON.stringify({ code: "50011", msg: "too many", data: [] })),
      applyRestSnapshot: () => {},
      onBook: () => {},
      recheckInstrument: () => {},
    };
    const bridge = new RestBridge(a as unknown as OkxAdapter, BOOKS, undefined, undefined, undefined);
    const startMs = Date.now();
    for (const t of topics) bridge.buffer(t as unknown as OkxTopic, "1001:1000:x");
    for (let i = 0; i < 1200; i++) await vi.advanceTimersByTimeAsync(100);
    const spanMs = Date.now() - startMs;
    bridge.stop();
    const first = lines.filter((l) => !l.msg.includes("refused again"));
    const again = lines.filter((l) => l.msg.includes("refused again"));
    expect(bridge.refused).toBeGreaterThan(BOOKS * 10); // each book retried many times (backoff up to 10 s)
    // Each book's first refusal, named, as before.
    expect(first.map((l) => l.fields.topic).sort()).toEqual(topics.map((t) => t.topic).sort());
    expect(first.every((l) => /REST book snapshot (failed|unusable); retrying/.test(l.msg))).toBe(true);
    // The rest: at most a line per 5 s, together counting every refusal after the first ones.
    expect(again.length).toBeGreaterThan(0);
    expect(again.length).toBeLessThanOrEqual(Math.floor(spanMs / 5000) + 1);
    const counted = again.reduce((n, l) => n + (l.fields.count as number), 0);
    expect(counted).toBe(again.at(-1)!.fields.total); // no refusal lost between lines
    expect(counted + BOOKS).toBeLessThanOrEqual(bridge.refused); // those after the last line wait for the next
    expect(counted + BOOKS).toBeGreaterThan(bridge.refused - BOOKS * 2);
  });
});
