/**
 * Review of the receiving side (s-rev8): the publisher's stream watcher (src/net/stream-watcher.ts) with real
 * sockets on loopback (interface 127.0.0.1, TTL 1, a 239.255.x.x group). It used to take any datagram with our
 * magic, a known version, our channel and source id but another session as a second publisher, without the
 * checks a subscriber makes: a damaged datagram made /readyz say "another publisher", and every distinct forged
 * session was kept (a flood of them grew the publisher's memory for as long as they kept coming).
 */
import { afterEach, describe, expect, test } from "vitest";
import { MAX_FOREIGN_SESSIONS, OWN_SESSIONS_PER_SOURCE, StreamWatcher, TRACKED_CHECK_EVERY_MS } from "../../src/net/stream-watcher.ts";
import { PKT_CHECKSUM_OFFSET, PKT_SESSION_ID_OFFSET, PKT_VERSION_OFFSET } from "../../src/wire/layout.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { datagramChecksum, makeInstrument, TestBook } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const GROUP = `239.255.83.${1 + (process.pid % 250)}`;
const PORT = uniqueDestination(460).port; // + up to 5; below the ephemeral ports (test/support/destination.ts)
const CHANNEL = 3;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function sender() {
  const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  tx.setMulticastInterface("127.0.0.1");
  tx.setMulticastTTL(1);
  cleanups.push(() => tx.close());
  return tx;
}

/** A watcher of our stream on `port` (own session 111 of source 0), on the clock `now` with `budget` checks a second if given. */
async function watcher(port: number, authKey?: Uint8Array, now?: () => number, budget?: number): Promise<StreamWatcher> {
  const w = new StreamWatcher([{ group: GROUP, port, iface: "127.0.0.1", channelId: CHANNEL, key: "publish.destinations[0]" }], [0], now, authKey, budget);
  w.addOwnSession(0, 111);
  await w.start();
  cleanups.push(() => w.stop());
  return w;
}

/** A real datagram of session `sessionId` on our channel and source (packer + encoder, sealed with its CRC). */
function datagram(sessionId: number, auth?: DatagramAuth): Uint8Array {
  const p = packer({ channelId: CHANNEL, sourceId: 0, sessionId, sessionStartUs: T0, auth });
  const b = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  b.load([[943503, 1500]], [[943504, 250]], 1, T0);
  packBookSnapshot(p, b, 0, false);
  return take(p)[0]!;
}

describe("review: the stream watcher", () => {
  test("a damaged datagram (our own, a bit flipped in its session id) is not another publisher", async () => {
    const w = await watcher(PORT);
    const tx = await sender();
    const d = datagram(111);
    d[PKT_SESSION_ID_OFFSET] ^= 0x04; // session 111 → 107, the CRC no longer matches
    tx.send(d, PORT, GROUP);
    const forged = datagram(222);
    tx.send(forged, PORT, GROUP); // a real other session: counted
    await waitFor(() => w.datagrams === 2, "both datagrams received");
    expect(w.sessions().map((f) => f.sessionId)).toEqual([222]);
    expect(w.damaged).toBe(1);
  });

  test("a flood of distinct forged sessions is tracked up to the cap and counted beyond it", async () => {
    const w = await watcher(PORT + 1);
    const tx = await sender();
    const base = datagram(1000);
    const n = 512; // 8 × the cap
    for (let i = 0; i < n; i++) {
      const d = base.slice();
      new DataView(d.buffer).setUint32(PKT_SESSION_ID_OFFSET, 1000 + i, true);
      new DataView(d.buffer).setUint32(PKT_CHECKSUM_OFFSET, 0, true);
      new DataView(d.buffer).setUint32(PKT_CHECKSUM_OFFSET, datagramChecksum(d, d.length), true);
      tx.send(d, PORT + 1, GROUP);
      if (i % 64 === 63) await waitFor(() => w.datagrams === i + 1, "the batch received"); // never overrun the socket buffer
    }
    await waitFor(() => w.datagrams === n, "every forged datagram received");
    expect(w.sessions().length).toBe(MAX_FOREIGN_SESSIONS);
    expect(w.untracked).toBe(n - MAX_FOREIGN_SESSIONS);
  });

  test("with a key, only another session signed with it is another publisher: unsigned, wrongly signed or v1 are forged", async () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const w = await watcher(PORT + 2, key);
    const tx = await sender();
    const v1 = datagram(555, new DatagramAuth(key));
    v1[PKT_VERSION_OFFSET] = 1; // wire v1: no checksum, nothing verifiable
    const sent = [
      datagram(222), // unsigned, its CRC right: what anyone on the segment can send
      datagram(333, new DatagramAuth(Uint8Array.from(key, (b) => b ^ 0xff))), // signed with another key
      v1,
      datagram(444, new DatagramAuth(key)), // signed with ours: another publisher of our feed
      datagram(111, new DatagramAuth(key)), // our own session
    ];
    for (const d of sent) tx.send(d, PORT + 2, GROUP);
    await waitFor(() => w.datagrams === sent.length, "every datagram received");
    expect(w.sessions().map((f) => f.sessionId)).toEqual([444]);
    expect(w.forged).toBe(3);
    expect(w.damaged).toBe(0);
  });
});

describe("second read (s-rd3d): a flood of forged datagrams on the publishing thread", () => {
  test("at most the budget of other-session datagrams is checked per second of the clock; the rest only counted, and checks resume in the next second", async () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    let nowMs = 1_000_000;
    const budget = 3;
    const w = await watcher(PORT + 3, key, () => nowMs, budget);
    const tx = await sender();
    const unsigned = datagram(222); // what anyone on the segment can send: each one an HMAC before
    const own = datagram(111, new DatagramAuth(key));
    for (let i = 0; i < 8; i++) tx.send(unsigned, PORT + 3, GROUP);
    tx.send(own, PORT + 3, GROUP); // our own: never checked, never counted against the budget
    await waitFor(() => w.datagrams === 9, "the first second's datagrams received");
    expect(w.forged).toBe(budget);
    expect(w.unchecked).toBe(8 - budget);
    // The next second: a genuine other publisher (signed with our key) is seen again.
    nowMs += 1000;
    tx.send(datagram(444, new DatagramAuth(key)), PORT + 3, GROUP);
    await waitFor(() => w.datagrams === 10, "the next second's datagram received");
    expect(w.sessions().map((f) => f.sessionId)).toEqual([444]);
    expect(w.unchecked).toBe(8 - budget);
  });
});

describe("third read (s-rd2c): the checks' budget against a sender that times its bursts", () => {
  test("a sender bursting the budget once a second cannot keep a real other publisher from ever being examined", async () => {
    // The window began at the first foreign datagram after the last one ended: a burst of `budget` forged datagrams each
    // second opened it and spent it at once, and a real other publisher sending between the bursts was never examined
    // (unchecked, every one). The checks now refill continuously: half a second after the burst, half the budget.
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    let nowMs = 2_000_000;
    const budget = 4;
    const w = await watcher(PORT + 4, key, () => nowMs, budget);
    const tx = await sender();
    const forged = datagram(222);
    const real = datagram(555, new DatagramAuth(key));
    let sent = 0;
    for (let second = 0; second < 3; second++) {
      for (let i = 0; i < budget; i++) tx.send(forged, PORT + 4, GROUP);
      sent += budget;
      await waitFor(() => w.datagrams === sent, "the burst received");
      nowMs += 500;
      tx.send(real, PORT + 4, GROUP);
      sent++;
      await waitFor(() => w.datagrams === sent, "the real publisher's datagram received");
      nowMs += 500;
    }
    expect(w.sessions().map((f) => [f.sessionId, f.datagrams])).toEqual([[555, 3]]);
    // The later bursts find budget − 1 checks (the refill less the real one's): one forged datagram each unchecked.
    expect(w.forged).toBe(3 * budget - 2);
    expect(w.unchecked).toBe(2);
  });
});

describe("second read of s-rd2c (s-rd4b): a tracked session's datagrams beyond the budget", () => {
  test("are checked, one per TRACKED_CHECK_EVERY_MS of that session: an unsigned copy of its header is forged, not its sign of life", async () => {
    // s-rd2c took them unchecked as the session's claim: a forger's unsigned datagrams copying a reported session's
    // header kept it reported for as long as they came. Checked, they are forged; bounded per session, they cost little.
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    let nowMs = 3_000_000;
    const budget = 2;
    const w = await watcher(PORT + 5, key, () => nowMs, budget);
    const tx = await sender();
    const real = datagram(555, new DatagramAuth(key));
    const copied = datagram(555); // its header, unsigned: what anyone reading the group can send
    let sent = 0;
    const send = async (d: Uint8Array, times = 1) => {
      for (let i = 0; i < times; i++) tx.send(d, PORT + 5, GROUP);
      sent += times;
      await waitFor(() => w.datagrams === sent, "the datagrams received");
    };
    await send(real);
    await send(datagram(222)); // the budget spent
    await send(copied, 5);
    expect([w.forged, w.unchecked]).toEqual([2, 4]); // one of the copies checked beyond the budget
    nowMs += TRACKED_CHECK_EVERY_MS - 1;
    await send(real);
    expect(w.unchecked).toBe(5); // the session's check not due yet
    nowMs += 1;
    await send(real);
    expect(w.sessions().map((f) => [f.sessionId, f.datagrams, f.lastSeenMs])).toEqual([[555, 2, nowMs]]);
    expect([w.forged, w.unchecked]).toEqual([2, 5]);
  });
});

/**
 * Our own sessions are remembered per source id, the last OWN_SESSIONS_PER_SOURCE only: every worker restart adds
 * one, and until 2026-12-07 none was ever dropped (a crash loop, a restart every 10 s: ~8,600 a day, for good).
 * Randomized against a model: per source, the last N distinct sessions declared (one declared again is the newest).
 */
test("own sessions: the last OWN_SESSIONS_PER_SOURCE of each source are ours, older ones forgotten", () => {
  const w = new StreamWatcher([{ group: GROUP, port: PORT, iface: "127.0.0.1", channelId: CHANNEL, key: "publish.destinations[0]" }], [0, 1, 2]);
  const model = new Map<number, number[]>();
  let seed = 20261207;
  const rand = (n: number) => {
    seed ^= seed << 13; // xorshift32
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  for (let i = 0; i < 5000; i++) {
    const sourceId = rand(3);
    const sessionId = rand(4) === 0 ? rand(12) : 100 + i; // some declared again
    w.addOwnSession(sourceId, sessionId);
    const list = model.get(sourceId) ?? [];
    const at = list.indexOf(sessionId);
    if (at >= 0) list.splice(at, 1);
    list.push(sessionId);
    if (list.length > OWN_SESSIONS_PER_SOURCE) list.shift();
    model.set(sourceId, list);
    if (i % 97 !== 0 && i < 4990) continue;
    for (let s = 0; s < 3; s++) {
      const own = model.get(s) ?? [];
      for (const id of own) expect(w.isOwn(s, id), `${i}: ${s}/${id}`).toBe(true);
      for (let id = 0; id < 12; id++) if (!own.includes(id)) expect(w.isOwn(s, id), `${i}: ${s}/${id}`).toBe(false);
      expect(w.isOwn(s, 100 + i - 5 * OWN_SESSIONS_PER_SOURCE * 3), `${i}: ${s} old`).toBe(own.includes(100 + i - 5 * OWN_SESSIONS_PER_SOURCE * 3));
    }
    expect(w.ownSessionsHeld).toBe([...model.values()].reduce((n, l) => n + l.length, 0));
  }
  expect(w.ownSessionsHeld).toBeLessThanOrEqual(3 * OWN_SESSIONS_PER_SOURCE);
});
