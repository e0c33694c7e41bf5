/**
 * Connection caps of the HTTP listener (src/app/http-gate.ts). Bun.serve bounds neither the connections nor a
 * client's share of them: each is a file descriptor, a head trickled a byte at a time holds one for 10–13 s, and a
 * client opening them faster than that took descriptors without limit, until the feeder's own sockets (a venue
 * reconnecting) could not be opened. Now beyond http.max_connections_per_client connections from one address, or
 * http.max_connections in all, a new one is closed at once (counted), the others are served as before, and the
 * feed keeps publishing meanwhile: a real FeedPublisher's deltas are counted at a subscriber while slowloris clients
 * hold every place and hundreds more are refused. Real sockets on 127.0.0.x (node:net for the hostile clients).
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { startTickingPublisher } from "../cli/ticking-publisher.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";

const MAX = 20;
const PER_CLIENT = 8;
const source: StatusSource = {
  books: () => [],
  book: () => undefined,
  metricsText: () => "feeder_up 1\n",
  readiness: () => ({ books: [], unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};
const G = uniqueDestination(171);
const cleanups: (() => unknown)[] = [];
let http: HttpServerHandle;
let sub: FeedSubscriber;
const held: Socket[] = [];

/** A slowloris client from `from`: connected, an unfinished request head sent. Resolves once connected. */
function slowloris(from: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ port: http.port, host: "127.0.0.1", localAddress: from }, () => {
      s.write("GET /metrics HTTP/1.1\r\nHost: x\r\n");
      resolve(s);
    });
    s.on("error", () => {});
    held.push(s);
  });
}

/** Whether a connection from `from` is closed by the server at once (before any byte is sent on it). */
function closedAtOnce(from: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port: http.port, host: "127.0.0.1", localAddress: from });
    s.on("error", () => {});
    s.on("close", () => resolve(true));
    held.push(s);
  });
}

beforeAll(async () => {
  http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined, maxConnections: MAX, maxConnectionsPerClient: PER_CLIENT }, source, silentLogger);
  await startTickingPublisher(G.group, G.port, 1, cleanups);
  sub = new FeedSubscriber({ groups: [{ group: G.group, port: G.port, iface: "127.0.0.1" }] });
  await sub.start();
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await sub?.stop();
  for (const c of cleanups.reverse()) await c();
  await http?.stop();
});

const instrSeq = () => [...sub.books.values()].reduce((n, b) => Math.max(n, b.instrSeq), 0);

describe("HTTP connection caps", { timeout: 60_000 }, () => {
  test("beyond the per-client and the total cap a connection is closed at once; the feed keeps publishing", async () => {
    await waitFor(() => instrSeq() > 0, "the feed reaches the subscriber");
    // One client address takes its share; its next connection is closed at once, another address is still served.
    for (let i = 0; i < PER_CLIENT; i++) await slowloris("127.0.0.1");
    void closedAtOnce("127.0.0.1");
    await waitFor(() => http.gate.refusedClient === 1, "the 9th connection of 127.0.0.1 refused");
    await expect(fetch(`${http.url}/healthz`)).rejects.toThrow(); // 127.0.0.1 is full: closed at once
    // Two more addresses fill the total; beyond it every address is refused.
    for (let i = 0; i < PER_CLIENT; i++) await slowloris("127.0.0.2");
    for (let i = 0; i < MAX - 2 * PER_CLIENT; i++) await slowloris("127.0.0.3");
    expect(http.gate.accepted).toBe(MAX);
    // Hundreds of connection attempts against the full listener, while the publisher ticks: the feed goes on.
    const before = instrSeq();
    const attempts: Promise<boolean>[] = [];
    for (let i = 0; i < 300; i++) attempts.push(closedAtOnce(`127.0.${4 + (i % 50)}.1`));
    await Promise.all(attempts);
    expect(http.gate.refusedTotal).toBe(300);
    await waitFor(() => instrSeq() >= before + 20, "20 more deltas published and received while the listener was full");
    // The slowloris clients go away: the places are free again.
    for (const s of held.splice(0)) s.destroy();
    let status = 0;
    await waitFor(() => {
      void fetch(`${http.url}/healthz`).then((r) => (status = r.status), () => undefined);
      return status === 200;
    }, "/healthz answered once the clients have gone");
  });
});
