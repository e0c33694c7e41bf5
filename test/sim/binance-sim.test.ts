/** The Binance simulator speaks the protocol (raw WebSocket and fetch clients on 127.0.0.1). */
import { afterEach, describe, expect, test, vi } from "vitest";
import { parseFixed } from "../../src/core/fixed.ts";
import { startBinanceSimulator, type BinanceSim } from "../../src/sim/binance-sim.ts";
import { CONNECTION_LIFETIME_MS } from "../../src/venues/binance/protocol.ts";

const sims: BinanceSim[] = [];
afterEach(async () => {
  while (sims.length > 0) await sims.pop()!.stop();
});

async function sim(opts: Partial<Parameters<typeof startBinanceSimulator>[0]> = {}): Promise<BinanceSim> {
  const s = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }, { market: "linear", symbols: ["BTCUSDT"] }], seed: 3, ...opts });
  sims.push(s);
  return s;
}

/** A raw client: every message received, in order, and a way to wait for the n-th. */
async function client(url: string) {
  const ws = new WebSocket(url);
  const got: string[] = [];
  const waiters: (() => void)[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.onmessage = (ev) => {
    got.push(String(ev.data));
    waiters.splice(0).forEach((w) => w());
  };
  ws.onclose = (ev) => {
    closed = { code: ev.code, reason: ev.reason };
    waiters.splice(0).forEach((w) => w());
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("no connection"));
  });
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(got)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  /**
   * Asks the server a question on this connection and waits for its answer: what the server sent on it before is
   * then all here (one socket, in order). Returns the index just past the answer.
   */
  let syncs = 0;
  const sync = async (): Promise<number> => {
    const id = `sync${++syncs}`;
    ws.send(JSON.stringify({ method: "GET_PROPERTY", params: ["combined"], id }));
    await until(() => got.some((m) => m.includes(`"id":"${id}"`)));
    return got.findIndex((m) => m.includes(`"id":"${id}"`)) + 1;
  };
  return { ws, got, until, sync, closed: () => closed };
}

/**
 * A WebSocket client over a plain TCP socket that answers no ping: counts the server's ping frames (opcode 9) and
 * resolves `closed` on the server's close frame (opcode 8) or the socket's end.
 */
async function silentClient(hostPort: string, path: string, unsolicitedPongEveryMs = 0) {
  const [host, port] = hostPort.split(":") as [string, string];
  let buf = Buffer.alloc(0);
  let upgraded = false;
  let pings = 0;
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  const sock = await Bun.connect({
    hostname: host,
    port: Number(port),
    socket: {
      data(_s, chunk) {
        buf = Buffer.concat([buf, chunk]);
        if (!upgraded) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          if (!buf.subarray(0, end).toString().startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${buf.toString()}`);
          upgraded = true;
          buf = buf.subarray(end + 4);
        }
        // Server frames are unmasked; the ones here are short (length < 126).
        while (buf.length >= 2 && buf.length >= 2 + (buf[1]! & 0x7f)) {
          const opcode = buf[0]! & 0x0f;
          buf = buf.subarray(2 + (buf[1]! & 0x7f));
          if (opcode === 9) pings++;
          if (opcode === 8) done();
        }
      },
      close: () => done(),
    },
  });
  sock.write(`GET ${path} HTTP/1.1\r\nHost: ${hostPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  // An empty pong, masked as a client's frames must be.
  const pongs = unsolicitedPongEveryMs > 0 ? setInterval(() => sock.write(new Uint8Array([0x8a, 0x80, 1, 2, 3, 4])), unsolicitedPongEveryMs) : null;
  let isClosed = false;
  const deadline = setTimeout(() => done(), 5000);
  const end = closed.finally(() => {
    isClosed = true;
    clearTimeout(deadline);
    if (pongs) clearInterval(pongs);
    sock.end();
  });
  return { closed: end, isClosed: () => isClosed, pings: () => pings, end: () => done() };
}

/** Waits until the diffs that follow a subscription (a few ms later) have gone out. */
async function waitNoDiffsDue(s: BinanceSim): Promise<void> {
  const deadline = Date.now() + 5000;
  while (s.diffsDue > 0) {
    if (Date.now() > deadline) throw new Error("diffs still due");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Binance simulator protocol", () => {
  test("SUBSCRIBE is acked with its id; unknown symbols are accepted and silent; errors are {error:{code,msg},id}", async () => {
    const s = await sim();
    const c = await client(`${s.wsUrl}/stream`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms", "nosuchusdt@depth@100ms"], id: "s1" }));
    await c.until(() => c.got.some((m) => m.includes('"id":"s1"')));
    expect(JSON.parse(c.got.find((m) => m.includes('"id":"s1"'))!)).toEqual({ result: null, id: "s1" });
    c.ws.send("not json");
    c.ws.send(JSON.stringify({ method: "FROB", id: 7 }));
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["BTCUSDT@depth"], id: 8 }));
    await c.until(() => c.got.filter((m) => m.includes('"code"')).length === 3);
    const errors = c.got.filter((m) => m.includes('"code"')).map((m) => JSON.parse(m) as { error: { code: number; msg: string }; id?: unknown });
    expect(errors.map((e) => e.error.code)).toEqual([3, 2, 2]);
    expect(errors[1]!.id).toBe(7);
    expect("id" in errors[0]!).toBe(false); // not JSON: no id to echo
    s.step(3);
    await c.until(() => c.got.filter((m) => m.includes("depthUpdate")).length >= 3);
    expect(c.got.filter((m) => m.includes("nosuchusdt"))).toEqual([]);
    // Spot diffs chain by U = previous u + 1.
    const diffs = c.got.filter((m) => m.includes("depthUpdate")).map((m) => (JSON.parse(m) as { data: { U: number; u: number; pu?: number } }).data);
    for (let i = 1; i < diffs.length; i++) expect(diffs[i]!.U).toBe(diffs[i - 1]!.u + 1);
    expect(diffs[0]!.pu).toBeUndefined();
  });

  test("USD-M takes unsigned integer ids only: a string id is refused without an id, an integer one acked", async () => {
    const s = await sim();
    const c = await client(`${s.wsUrl}/public/stream`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: "s1" }));
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 112 }));
    await c.until(() => c.got.some((m) => m.includes('"id":112')));
    expect(JSON.parse(c.got[0]!)).toEqual({ error: { code: 2, msg: "Invalid request: request ID must be an unsigned integer" } });
    expect(JSON.parse(c.got.find((m) => m.includes('"id":112'))!)).toEqual({ result: null, id: 112 });
  });

  test("USD-M diffs carry pu = previous u and U not following it; REST depth and exchangeInfo", async () => {
    const s = await sim();
    const c = await client(`${s.wsUrl}/public/stream`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 1 }));
    await c.until(() => c.got.length >= 1);
    s.step(5);
    await c.until(() => c.got.filter((m) => m.includes("depthUpdate")).length >= 5);
    const diffs = c.got.filter((m) => m.includes("depthUpdate")).map((m) => (JSON.parse(m) as { data: { U: number; u: number; pu: number } }).data);
    for (let i = 1; i < diffs.length; i++) expect(diffs[i]!.pu).toBe(diffs[i - 1]!.u);
    expect(diffs.some((d, i) => i > 0 && d.U !== diffs[i - 1]!.u + 1)).toBe(true);
    const depth = await fetch(`${s.restUrl}/fapi/v1/depth?symbol=BTCUSDT&limit=1000`);
    expect(depth.headers.get("x-mbx-used-weight-1m")).toBe("20");
    const body = (await depth.json()) as { lastUpdateId: number; bids: unknown[] };
    expect(body.lastUpdateId).toBeGreaterThanOrEqual(diffs.at(-1)!.u);
    expect((await fetch(`${s.restUrl}/fapi/v1/depth?symbol=BTCUSDT&limit=7`)).status).toBe(400);
    expect(((await (await fetch(`${s.restUrl}/api/v3/depth?symbol=NOPE&limit=5`)).json()) as { code: number }).code).toBe(-1121);
    const info = (await (await fetch(`${s.restUrl}/api/v3/exchangeInfo`)).json()) as { rateLimits: { limit: number }[]; symbols: { symbol: string; status: string; filters: { filterType: string; tickSize?: string }[] }[] };
    expect(info.rateLimits[0]!.limit).toBe(6000);
    expect(info.symbols[0]!.status).toBe("TRADING");
    expect(info.symbols[0]!.filters.find((f) => f.filterType === "PRICE_FILTER")!.tickSize).toBe("0.10000000");
  });

  test("USD-M depth snapshots are stamped on a diff's u or inside the next diff's [U, u], as Binance's are", async () => {
    // The recording (BINANCE_FUTURES.http.0.0): SUSHIUSDT's snapshot id is its bridging event's U, so that event's
    // pu is not the snapshot's id; AKROUSDT's is an event's u. Before, every generated snapshot was stamped with
    // the last u, so a client bridging by pu == lastUpdateId passed here and failed on Binance.
    const s = await sim();
    const c = await client(`${s.wsUrl}/public/stream`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 1 }));
    const diffs = () => c.got.filter((m) => m.includes("depthUpdate")).map((m) => (JSON.parse(m) as { data: { U: number; u: number; pu: number } }).data);
    await c.until(() => diffs().length >= 1); // the diff that follows a subscription
    let inside = 0;
    for (let round = 0; round < 16; round++) {
      const seen = diffs().length;
      const { lastUpdateId } = (await (await fetch(`${s.restUrl}/fapi/v1/depth?symbol=BTCUSDT&limit=5`)).json()) as { lastUpdateId: number };
      await c.until(() => diffs().length > seen); // a depth answer is followed by a diff a few ms later
      const all = diffs();
      // Exactly one event bridges it (U ≤ id ≤ u), and the chain by pu stays whole.
      expect(all.filter((d) => d.U <= lastUpdateId && lastUpdateId <= d.u).length).toBe(1);
      for (let i = 1; i < all.length; i++) expect(all[i]!.pu).toBe(all[i - 1]!.u);
      const bridging = all.find((d) => d.U <= lastUpdateId && lastUpdateId <= d.u)!;
      if (all.indexOf(bridging) < seen) continue; // stamped on the last u sent
      // A diff sent after the snapshot: its pu is below the snapshot's id, its changes after it (id < u).
      expect(bridging.pu).toBeLessThan(lastUpdateId);
      expect(lastUpdateId).toBeLessThan(bridging.u);
      inside++;
    }
    expect(inside).toBeGreaterThan(0);
  });

  test("spot depth snapshots are stamped on a diff's u or inside the next diff's [U, u], as Binance documents", async () => {
    // Binance's spot procedure: "the first buffered event should now have lastUpdateId within its [U;u] range".
    // Before, every spot snapshot was stamped with the last u, so only U = lastUpdateId + 1 ever bridged one.
    const s = await sim({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }] });
    const c = await client(`${s.wsUrl}/stream`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 1 }));
    const diffs = () => c.got.filter((m) => m.includes("depthUpdate")).map((m) => (JSON.parse(m) as { data: { U: number; u: number } }).data);
    await c.until(() => diffs().length >= 1); // the diff that follows a subscription
    let inside = 0;
    for (let round = 0; round < 16; round++) {
      const seen = diffs().length;
      const { lastUpdateId } = (await (await fetch(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=5`)).json()) as { lastUpdateId: number };
      await c.until(() => diffs().length > seen); // a depth answer is followed by a diff a few ms later
      const all = diffs();
      for (let i = 1; i < all.length; i++) expect(all[i]!.U).toBe(all[i - 1]!.u + 1); // spot's ids have no holes
      const bridging = all.find((d) => d.U <= lastUpdateId + 1 && lastUpdateId + 1 <= d.u)!;
      expect(bridging).toBeDefined();
      if (bridging.U === lastUpdateId + 1) continue; // stamped on the last u sent
      expect(all.indexOf(bridging)).toBeGreaterThanOrEqual(seen); // a diff sent after the snapshot, its changes after the id
      inside++;
    }
    expect(inside).toBeGreaterThan(0);
  });

  test("disconnect and stall aimed at a symbol hit its stream alone (no target: every connection, the whole server)", async () => {
    // Before, both ignored the target: every connection was closed, the whole server stalled.
    const s = await sim({ markets: [{ market: "spot", symbols: ["BTCUSDT", "ETHUSDT"] }] });
    const btc = await client(`${s.wsUrl}/stream`);
    const both = await client(`${s.wsUrl}/stream`);
    btc.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 1 }));
    both.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms", "ethusdt@depth@100ms"], id: 2 }));
    await btc.until(() => btc.got.length >= 1);
    await both.until(() => both.got.length >= 1);
    await waitNoDiffsDue(s);
    const of = (c: { got: string[] }, stream: string, from = 0) => c.got.slice(from).filter((m) => m.includes(`"stream":"${stream}"`));
    // ETHUSDT's stream stalls: a step sends BTCUSDT's diffs only, on the one connection, in order.
    expect(s.inject("stall", { market: "spot", symbol: "ETHUSDT" }, { stallMs: 60_000 })).toBe(1);
    // The mark is after a request's answer, not at what has arrived so far: the diffs that follow the subscriptions
    // were sent (diffsDue 0), not necessarily received, and one arriving late was counted as sent in the stall.
    const mark = await both.sync();
    s.step(2);
    await both.until(() => of(both, "btcusdt@depth@100ms", mark).length === 2);
    expect(of(both, "ethusdt@depth@100ms", mark)).toEqual([]);
    // A disconnect aimed at ETHUSDT closes the connection carrying it, not the one with BTCUSDT alone.
    expect(s.inject("disconnect", { market: "spot", symbol: "ETHUSDT" })).toBe(1);
    await both.until(() => both.closed() !== null);
    const seen = await btc.sync(); // past the earlier steps' diffs: the one counted next is the step's after the close
    s.step(1);
    await btc.until(() => of(btc, "btcusdt@depth@100ms", seen).length === 1);
    await btc.until(() => s.stats.connections === 1); // the server saw the close of the other
    expect(btc.closed()).toBeNull();
  });

  test("a request held by a server stall is answered when the stall ends, also when a second stall outlasts the first", async () => {
    // Before: the first stall's timer answered what it held while the second stall was still on, and send() dropped
    // those answers (stalled): the SUBSCRIBE took effect, its ack never came.
    const s = await sim();
    const c = await client(`${s.wsUrl}/stream`);
    s.inject("stall", undefined, { stallMs: 500 });
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 7 }));
    // Held by the first stall (its queue, private: no counter says it), then a longer one begins.
    await c.until(() => (s as unknown as { stalled: unknown[] }).stalled.length === 1);
    s.inject("stall", undefined, { stallMs: 1_500 });
    await c.until(() => c.got.some((m) => m.includes('"id":7')));
    expect(JSON.parse(c.got.find((m) => m.includes('"id":7'))!)).toEqual({ result: null, id: 7 });
    // A stall longer than a timer can wait (2^31 ms) is refused: its timer fired at once, answering into the stall.
    const long = await fetch(`${s.restUrl}/sim/fault?type=stall&stallMs=${2 ** 31}`, { method: "POST" });
    expect([long.status, ((await long.json()) as { error: string }).error]).toEqual([400, `stallMs: an integer in 1..3600000, got ${2 ** 31}`]);
  });

  test("a request held by a server stall is answered when the stall ends, also when the wall clock steps back during it", async () => {
    // Before: the stall's one timer found Date.now() still before the deadline (the clock had stepped back an hour)
    // and returned; no later timer came, so the held request was never answered.
    const s = await sim();
    const c = await client(`${s.wsUrl}/stream`);
    s.inject("stall", undefined, { stallMs: 300 });
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 8 }));
    await c.until(() => (s as unknown as { stalled: unknown[] }).stalled.length === 1);
    const wallMs = Date.now.bind(Date);
    const stepped = vi.spyOn(Date, "now").mockImplementation(() => wallMs() - 3_600_000);
    try {
      await c.until(() => c.got.some((m) => m.includes('"id":8')));
    } finally {
      stepped.mockRestore();
    }
    expect(JSON.parse(c.got.find((m) => m.includes('"id":8'))!)).toEqual({ result: null, id: 8 });
  });

  test("a SUBSCRIBE or UNSUBSCRIBE whose params are no list of strings is refused (code 2), not acked", async () => {
    // Before: `"params":"btcusdt@depth"` was acked {"result":null}, subscribing nothing (a client bug hidden).
    const s = await sim();
    let id = 0;
    for (const path of ["/stream", "/public/stream"]) {
      for (const method of ["SUBSCRIBE", "UNSUBSCRIBE"]) {
        const c = await client(`${s.wsUrl}${path}`); // 4 requests: under spot's 5 a second
        for (const params of ["btcusdt@depth", null, undefined, [5]]) {
          c.ws.send(JSON.stringify({ method, params, id: ++id }));
          await c.until(() => c.got.some((m) => m.includes(`"id":${id}`)));
          const answer = JSON.parse(c.got.find((m) => m.includes(`"id":${id}`))!);
          expect(answer, `${path} ${method} ${JSON.stringify(params)}`).toEqual({ error: { code: 2, msg: "Invalid request: params must be a list of stream names (simulator)" }, id });
        }
      }
    }
  });

  test("more than 5 incoming messages in a second closes a spot connection", async () => {
    const s = await sim();
    const c = await client(`${s.wsUrl}/stream`);
    for (let i = 0; i < 6; i++) c.ws.send(JSON.stringify({ method: "GET_PROPERTY", params: ["combined"], id: i }));
    await c.until(() => c.closed() !== null);
    expect(c.closed()!.code).toBe(1008);
    expect(s.stats.closedForRate).toBe(1);
  });

  test("pings count against the incoming-message limit: 3 requests and 3 pings close a spot connection", async () => {
    const s = await sim();
    const c = await client(`${s.wsUrl}/stream`);
    for (let i = 0; i < 3; i++) c.ws.send(JSON.stringify({ method: "GET_PROPERTY", params: ["combined"], id: i }));
    for (let i = 0; i < 3; i++) (c.ws as unknown as { ping(): void }).ping();
    await c.until(() => c.closed() !== null);
    expect(c.closed()!.code).toBe(1008);
    expect(s.stats.closedForRate).toBe(1);
  });

  test("the server pings; a connection that never answers is closed after the pong time, one that answers stays", async () => {
    // A pong time three ping intervals long: an answer delayed by a busy host is not taken for none.
    const s = await sim({ keepalive: { pingIntervalMs: 300, pongTimeoutMs: 900 } });
    const answering = await client(`${s.wsUrl}/stream`); // Bun's WebSocket echoes every ping
    const silent = await silentClient(s.wsUrl.replace("ws://", ""), "/public/stream");
    await silent.closed;
    expect(silent.pings()).toBeGreaterThan(0);
    expect(s.stats.closedForNoPong).toBe(1);
    expect(answering.closed()).toBeNull();
    answering.ws.close();
  });

  test("unsolicited pongs keep a USD-M connection, not a spot one (Binance's docs for each)", async () => {
    // Unsolicited pongs every 300 ms (under spot's 5 incoming a second) against 1.2 s without one: a pong the busy
    // host sends late is not taken for none (with a 300 ms pong time, one 300 ms late closed the USD-M connection).
    const s = await sim({ keepalive: { pingIntervalMs: 300, pongTimeoutMs: 900 } });
    const host = s.wsUrl.replace("ws://", "");
    const usdm = await silentClient(host, "/public/stream", 300);
    const spot = await silentClient(host, "/stream", 300);
    await spot.closed;
    expect(s.stats.closedForNoPong).toBe(1);
    expect(s.stats.closedForRate).toBe(0);
    expect(usdm.isClosed()).toBe(false);
    usdm.end();
    await usdm.closed;
  });

  test("1024 streams per connection: a SUBSCRIBE past it is refused whole, an upgrade naming more is a 400", async () => {
    const s = await sim();
    const names = (from: number, n: number) => Array.from({ length: n }, (_, i) => `s${from + i}@depth`);
    const c = await client(`${s.wsUrl}/stream?streams=${names(0, 10).join("/")}`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: names(10, 1014), id: 1 }));
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: [...names(0, 10), ...names(1024, 1)], id: 2 }));
    c.ws.send(JSON.stringify({ method: "LIST_SUBSCRIPTIONS", id: 3 }));
    await c.until(() => c.got.length >= 3);
    expect(JSON.parse(c.got[0]!)).toEqual({ result: null, id: 1 });
    expect(JSON.parse(c.got[1]!)).toMatchObject({ error: { code: 2 }, id: 2 });
    expect(JSON.parse(c.got[1]!).error.msg).toMatch(/more than 1024 streams/);
    expect(JSON.parse(c.got[2]!).result).toHaveLength(1024);
    const refused = await fetch(`${s.restUrl}/stream?streams=${names(0, 1025).join("/")}`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(refused.status).toBe(400);
  });

  test("serverShutdown: the notice, then the close; the 24 h lifetime closes a connection", async () => {
    const s = await sim({ shutdownGraceMs: 50 });
    const c = await client(`${s.wsUrl}/stream`);
    s.inject("serverShutdown");
    await c.until(() => c.closed() !== null);
    expect(JSON.parse(c.got[0]!)).toMatchObject({ stream: "!serverShutdown", data: { e: "serverShutdown" } });
    const s2 = await sim({ maxConnectionAgeMs: 100 });
    const c2 = await client(`${s2.wsUrl}/public/stream`);
    await c2.until(() => c2.closed() !== null);
    expect(c2.closed()!.reason).toContain("24 h");
    // Binance documents no notice before the 24 h close ("expect to be disconnected at the 24 hour mark"; serverShutdown
    // is for a server about to shut down): none is sent.
    expect(c2.got.filter((m) => m.includes("serverShutdown"))).toEqual([]);
  });

  test("the 24 h lifetime is the library's default too, as feeder sim's (before: no age close unless given)", async () => {
    const s = await sim();
    // Only the age timer (set when the connection opens) runs on the fake clock; the sockets stay real.
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    let c: Awaited<ReturnType<typeof client>>;
    try {
      c = await client(`${s.wsUrl}/stream`);
      vi.advanceTimersByTime(CONNECTION_LIFETIME_MS - 1);
      expect(c.closed()).toBeNull();
      vi.advanceTimersByTime(1);
    } finally {
      vi.useRealTimers();
    }
    await c.until(() => c.closed() !== null);
    expect(c.closed()!.reason).toContain("24 h");
  });

  test("REST faults: 429 and 418 with Retry-After, a stale snapshot; control endpoints name a bad field", async () => {
    const s = await sim();
    const target = { market: "spot" as const, symbol: "BTCUSDT" };
    s.restFault("refuse", target);
    s.restFault("ban", target);
    const a = await fetch(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=100`);
    expect([a.status, a.headers.get("retry-after")]).toEqual([429, "0"]);
    const b = await fetch(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=100`);
    expect([b.status, b.headers.get("retry-after")]).toEqual([418, "1"]);
    const c = await client(`${s.wsUrl}/stream`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 1 }));
    await c.until(() => c.got.length >= 1);
    s.restFault("no_bridge", target);
    s.step(3);
    const stale = (await (await fetch(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=100`)).json()) as { lastUpdateId: number };
    expect(stale.lastUpdateId).toBeLessThan(s.book("spot", "BTCUSDT").u);
    const bad = await fetch(`${s.restUrl}/sim/fault?type=nope`, { method: "POST" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain("type:");
    expect((await fetch(`${s.restUrl}/sim/step?n=2`, { method: "POST" })).status).toBe(200);
  });
});

describe("Binance simulator instrument changes", () => {
  type Diff = { U: number; u: number; b: [string, string][]; a: [string, string][] };
  /** A side as mantissas at (priceExp, qtyExp), price → size; throws when a number does not fit them. */
  const mantissas = (side: Iterable<[string, string]>, pe: number, qe: number) => new Map([...side].map(([p, q]) => [parseFixed(p, pe), parseFixed(q, qe)]));
  const applyDiff = (book: Map<number, number>, levels: [string, string][], pe: number, qe: number) => {
    for (const [p, q] of levels) {
      const m = parseFixed(q, qe);
      if (m === 0) book.delete(parseFixed(p, pe));
      else book.set(parseFixed(p, pe), m);
    }
  };

  for (const market of ["spot", "linear"] as const) {
    test(`${market}: a coarser tick and a finer step re-price the book; the move is one diff that turns the old book into the new one`, async () => {
      const s = await sim({ history: true });
      const c = await client(`${s.wsUrl}${market === "spot" ? "/stream" : "/public/stream"}`);
      c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 1 }));
      await c.until(() => c.got.some((m) => m.includes("depthUpdate"))); // the diff that follows a subscription
      const diffs = () => c.got.filter((m) => m.includes("depthUpdate")).map((m) => (JSON.parse(m) as { data: Diff }).data);
      const before = s.book(market, "BTCUSDT");
      // Tick 0.1 → 1 (exponent 1 → 0) and step 0.000001/0.001 → ten times finer: the old book read at the finest units.
      const step = market === "spot" ? "0.0000001" : "0.0001";
      const [pe, qe] = [1, market === "spot" ? 7 : 4];
      const bids = mantissas(before.bids, pe, qe);
      const asks = mantissas(before.asks, pe, qe);
      const seen = diffs().length;
      s.changeInstrument(market, "BTCUSDT", { tickSize: "1", stepSize: step });
      await c.until(() => diffs().length === seen + 1);
      const move = diffs().at(-1)!;
      applyDiff(bids, move.b, pe, qe);
      applyDiff(asks, move.a, pe, qe);
      const after = s.book(market, "BTCUSDT");
      expect(move.u).toBe(after.u);
      // Every price now fits the coarser tick; the diff took the old book to exactly the new one.
      for (const side of [after.bids, after.asks]) expect(() => mantissas(side, 0, qe)).not.toThrow();
      expect(mantissas(after.bids, pe, qe)).toEqual(bids);
      expect(mantissas(after.asks, pe, qe)).toEqual(asks);
      expect(s.bookAt(market, "BTCUSDT", before.u)).toMatchObject({ bids: before.bids, asks: before.asks });
      const info = (await (await fetch(`${s.restUrl}${market === "spot" ? "/api/v3" : "/fapi/v1"}/exchangeInfo`)).json()) as { symbols: { filters: { filterType: string; tickSize?: string; stepSize?: string }[] }[] };
      const filters = info.symbols[0]!.filters;
      expect(parseFixed(filters.find((f) => f.filterType === "PRICE_FILTER")!.tickSize!, 0)).toBe(1);
      expect(parseFixed(filters.find((f) => f.filterType === "LOT_SIZE")!.stepSize!, qe)).toBe(1);
      // A step the book cannot take changes nothing.
      expect(() => s.changeInstrument(market, "BTCUSDT", { tickSize: "1000000" })).toThrow(/tickSize/);
      expect(s.book(market, "BTCUSDT")).toEqual(after);
    });
  }

  test("setTrading(false): exchangeInfo says BREAK, the stream is silent, depth answers -1121; listed again, the ids go on", async () => {
    const s = await sim();
    const c = await client(`${s.wsUrl}/stream`);
    c.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@depth@100ms"], id: 1 }));
    await c.until(() => c.got.some((m) => m.includes("depthUpdate")));
    const u = s.book("spot", "BTCUSDT").u;
    s.setTrading("spot", "BTCUSDT", false);
    const count = () => c.got.filter((m) => m.includes("depthUpdate")).length;
    const n = count();
    s.step(3);
    const info = (await (await fetch(`${s.restUrl}/api/v3/exchangeInfo`)).json()) as { symbols: { status: string }[] };
    expect(info.symbols[0]!.status).toBe("BREAK");
    expect(((await (await fetch(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=100`)).json()) as { code: number }).code).toBe(-1121);
    await c.sync(); // a diff the steps sent would be here now (before, still on its way: not counted)
    expect([count(), s.book("spot", "BTCUSDT").u]).toEqual([n, u]);
    s.setTrading("spot", "BTCUSDT", true);
    s.step(1);
    await c.until(() => count() === n + 1);
    expect((JSON.parse(c.got.filter((m) => m.includes("depthUpdate")).at(-1)!) as { data: Diff }).data.U).toBe(u + 1);
  });
});
