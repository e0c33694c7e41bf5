/**
 * Review of the planned-reconnect fallback, Upbit and Bithumb (no acks: a topic's first book is its only ack). During
 * a planned reconnect's overlap the old socket still delivers every book; a book from the old socket is not the
 * replacement's first book. A replacement that delivers nothing has failed at the ack deadline and the old socket
 * stays the connection's (before, the old socket's next book marked the topic carried, the old socket was closed,
 * and the books were left to a replacement that sends nothing). A code the replacement refuses while the old socket
 * serves it fails the replacement instead of halting the book; an error frame on the old socket during the overlap
 * starts no bisection on the replacement.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import type { UpbitAdapter } from "../../src/venues/upbit/adapter.ts";
import { TEST_TIMINGS, until } from "./planned-fallback-harness.ts";
import { startProxiedUpbit } from "./upbit/proxied.ts";
import type { WsProxy } from "./ws-proxy.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});


/**
 * The simulator is still (proxied.ts): `moving` waits with the books moving (one book of each code every 5th poll, on
 * every socket: the old one delivering during the overlap), an equality wait with them at rest. Before, it ran at 200
 * books/s in real time and under CPU load 'books equal' timed out, the books moving while polled.
 */
async function start(venue: "upbit" | "bithumb", prepare: (p: WsProxy) => void, opts: Record<string, unknown> = {}, clock?: { ms: number }) {
  const run = await startProxiedUpbit(venue, { seed: 5 }, prepare, { log: silentLogger, ...TEST_TIMINGS, maxConnectionAgeMs: 1_000, ...opts }, cleanups);
  if (clock) clock.ms += 1_000; // the adapter's clock (`now`): the connection's age reached when the test says
  await until(() => run.proxy.links.length >= 2 && run.proxy.links[1]!.fromClient.length > 0, "the replacement subscribing", 20_000);
  let polls = 0;
  const moving = (cond: () => boolean, what: string) => until(cond, what, 20_000, () => void (polls++ % 5 === 0 && run.sim.step(1)));
  return { ...run, moving };
}

describe.each(["upbit", "bithumb"] as const)("%s: a planned reconnect whose replacement delivers nothing", { timeout: 30_000 }, (venue) => {
  test("fails at the ack deadline; the old socket keeps every book LIVE and equal; a later one completes", async () => {
    // Every deadline on the test's clock, moved only once what precedes it has happened: before, on the wall clock, a
    // CPU hog once let one pass early (reconnects 1). random 0.5: the planned retry 225 ms after a first failure.
    const clock = { ms: 1_000_000 };
    const opts = { now: () => clock.ms, random: () => 0.5, housekeepingMs: 10 };
    const { proxy, adapter, sink, equal, moving } = await start(venue, (p) => p.byIndex.set(1, { holdDown: true }), opts, clock); // nothing the venue sends the first replacement arrives
    const old = proxy.links[0]!;
    clock.ms += TEST_TIMINGS.ackTimeoutMs; // the replacement's subscribe unanswered for its ack deadline
    await moving(() => adapter.stats().plannedReconnectFailures! > 0 || old.closed, "the replacement failed, or the old socket closed");
    expect([old.closed, proxy.links.length, adapter.stats().plannedReconnectFailures]).toEqual([false, 2, 1]);
    await until(() => equal(0) && equal(1), "books equal on the old socket");
    clock.ms += TEST_TIMINGS.reconnectBaseMs; // past the planned retry
    await moving(() => old.closed && proxy.links.length >= 3, "a later planned reconnect done");
    await until(() => equal(0) && equal(1), "books equal on the new socket");
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().reconnects).toBe(0);
  });
});

/**
 * The replacement's link (index 1) refuses KRW-XRP as Upbit would: one error frame (naming no code) for each request
 * that asks for it, instead of its first book; no KRW-XRP book on that link.
 */
function refuseXrp(p: WsProxy) {
  let answered = 0;
  p.byIndex.set(1, {
    rewriteDown: (f) => {
      if (!f.includes('"KRW-XRP"')) return f;
      const sent = p.links[1]!.fromClient;
      if (answered === sent.length || !sent.at(-1)!.includes("KRW-XRP")) return null;
      answered = sent.length;
      return JSON.stringify({ error: { name: "INVALID_PARAM", message: "refused here" } });
    },
  });
}

test("upbit: a replacement that refuses a code the old socket serves (error frames, bisected to it) fails the planned reconnect; the book is not HALTED", { timeout: 30_000 }, async () => {
  // The bisection (errorWaitMs 50) ends long before the ack deadline (3 s): the refusal itself must fail the replacement.
  const { proxy, adapter, sink, equal, moving } = await start("upbit", refuseXrp, { errorWaitMs: 50, ackTimeoutMs: 3_000 });
  const old = proxy.links[0]!;
  await moving(() => adapter.stats().plannedReconnectFailures! > 0 || sink.invalid.length > 0, "the replacement failed, or a book invalidated");
  expect(sink.invalid).toEqual([]);
  expect(old.closed).toBe(false);
  await until(() => equal(0) && equal(1), "books equal on the old socket");
});

test("upbit: an error frame on the old socket during the overlap answers no request of the replacement: nothing is bisected there and the planned reconnect completes", { timeout: 30_000 }, async () => {
  let armed = false;
  const { proxy, adapter, sink, equal, moving } = await start("upbit", (p) => {
    p.byIndex.set(1, { holdDown: true }); // the overlap lasts until the test releases the replacement's frames
    p.byIndex.set(0, {
      rewriteDown: (f) => {
        if (!armed || !f.includes('"KRW-BTC"')) return f;
        armed = false;
        return JSON.stringify({ error: { name: "INVALID_PARAM", message: "answers the old socket's request" } });
      },
    });
  });
  const [old, replacement] = [proxy.links[0]!, proxy.links[1]!];
  armed = true;
  await moving(() => adapter.stats().errorFrames === 1, "the error frame on the old socket handled");
  proxy.releaseDown(replacement);
  await until(() => old.closed, "the planned reconnect done");
  expect(adapter.stats().bisectProbes).toBe(0);
  expect(replacement.fromClient).toHaveLength(1); // its subscription only
  await until(() => equal(0) && equal(1), "books equal on the new socket");
  expect(sink.invalid).toEqual([]);
});

test("upbit: the old socket gone while a bisect probe is out on the replacement: a code the probe leaves out, which only the old socket fed, is not LIVE", { timeout: 30_000 }, async () => {
  // The replacement's link answers its first request with an error frame in place of KRW-XRP's book (and drops
  // KRW-XRP's books until the old socket is gone): the bisection probes KRW-BTC alone on the replacement, sparing
  // KRW-XRP, which the old socket still feeds. Then the old socket closes: the probe is the replacement's whole
  // subscription, so nothing feeds KRW-XRP any more. Old: KRW-XRP stayed LIVE, frozen, until the probes were over.
  let errorSent = false;
  let oldGone = false;
  const infos: string[] = [];
  const log = { ...silentLogger, info: (msg: string) => void infos.push(msg) };
  const { proxy, adapter, sink, equal, moving } = await start(
    "upbit",
    (p) =>
      p.byIndex.set(1, {
        rewriteDown: (f) => {
          if (oldGone || !f.includes('"KRW-XRP"')) return f;
          if (errorSent) return null;
          errorSent = true;
          return JSON.stringify({ error: { name: "INVALID_PARAM", message: "no code's doing" } });
        },
      }),
    { errorWaitMs: 2_000, ackTimeoutMs: 10_000, log },
  );
  const upbit = adapter as UpbitAdapter;
  await moving(() => adapter.stats().bisectProbes === 1, "the probe of KRW-BTC out on the replacement");
  expect(upbit.topicInfo(1).state).toBe("live"); // fed by the old socket meanwhile
  oldGone = true;
  proxy.closeClient(proxy.links[0]!);
  await until(() => infos.some((m) => m.includes("old socket closed during the planned reconnect")), "the old socket's close handled");
  expect(upbit.topicInfo(1).state).not.toBe("live");
  // Its only feed gone (the replacement never brought its book), it leaves LIVE: as on a disconnect (the old socket's
  // going, since 2026-12-07) or for the probe leaving it out (SUBSCRIBE_REJECTED), whichever the run handles first.
  const left = sink.invalid.filter((s) => s.index === 1);
  expect(left.length).toBeGreaterThan(0);
  expect(left[0]!.state).toBe(BookState.RESYNCING);
  expect([StatusReason.DISCONNECTED, StatusReason.SUBSCRIBE_REJECTED]).toContain(left[0]!.reason);
  // The probes go on (KRW-XRP alone next), then the whole list: every book back, none refused.
  await until(() => equal(0) && equal(1) && upbit.topicInfo(1).state === "live", "books equal again", 20_000);
  expect(adapter.stats().subscribeRejected).toBe(0);
});
