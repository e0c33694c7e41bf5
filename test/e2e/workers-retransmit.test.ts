/**
 * `feeder run` with workers = 2 and [publish.retransmit]: config → supervisor → two workers, each publishing as its
 * own source (publish.source_id + worker + 1) with its own request server on listen port + worker + 1. Between the
 * feeder and the subscriber sits a lossy relay (joined to the group, forwarding to the subscriber's unicast port),
 * which drops one data datagram of each source on demand. The refresh is off, so a book that is valid and equal to
 * the exchange's again after the loss was repaired by retransmission from that source's worker; /metrics shows each
 * worker's server answering. Multicast on 127.0.0.1 only, TTL 1; ports 65200–65519 (above the kernel's ephemeral
 * range and test/support/chaos.ts's workers ports) for the request servers and HTTP.
 */
import dgram from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { PKT_MSG_COUNT_OFFSET, PKT_SOURCE_ID_OFFSET } from "../../src/wire/layout.ts";
import { allBooksEqual, rawConfig, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const ROOT = join(import.meta.dirname, "../..");
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"] }];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, id: instrumentIdOf("bybit", m.market, symbol) })));
// Above chaos.ts's workers ports (61000..~65110, its servers and proxies) and the ephemeral range (to 60999).
const BASE = 65_200 + Math.floor(Math.random() * 80) * 4;
const RETX_PORT = BASE; // worker i listens on BASE + i + 1
const HTTP_PORT = BASE + 3;

let sim: BybitSim;
let subscriber: FeedSubscriber;
let relay: dgram.Socket;
let feeder: ReturnType<typeof Bun.spawn> | undefined;
let stderr = "";
/** Source ids whose next data datagram the relay drops; each drop removes its id. */
const dropNext = new Set<number>();
const dropped: number[] = [];

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 61, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(61);
  const subPort = port + 1;
  subscriber = new FeedSubscriber({
    groups: [{ bind: "127.0.0.1", port: subPort }],
    retransmit: { host: "127.0.0.1", port: RETX_PORT, sourceIdBase: 0, timeoutMs: 2000 },
  });
  await subscriber.start();
  relay = dgram.createSocket({ type: "udp4", reuseAddr: true });
  relay.on("message", (msg) => {
    const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const source = view.getUint16(PKT_SOURCE_ID_OFFSET, true);
    if (view.getUint16(PKT_MSG_COUNT_OFFSET, true) > 0 && dropNext.delete(source)) {
      dropped.push(source);
      return;
    }
    relay.send(msg, subPort, "127.0.0.1");
  });
  await new Promise<void>((resolve) => relay.bind(port, () => resolve()));
  relay.addMembership(group, "127.0.0.1");

  const raw = rawConfig({ sim, markets: MARKETS, group, port, workers: 2, http: true, snapshotIntervalMs: 0, heartbeatIntervalMs: 100 });
  (raw.http as Record<string, unknown>).listen = `127.0.0.1:${HTTP_PORT}`;
  (raw.publish as Record<string, unknown>).retransmit = { listen: `127.0.0.1:${RETX_PORT}` };
  const path = join(tempDir("feeder-workers-retx-"), "feeder.toml");
  writeFileSync(path, toToml(raw));
  feeder = Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), "run", "--config", path], { stdout: "ignore", stderr: "pipe" });
  void new Response(feeder.stderr as ReadableStream).text().then((t) => (stderr = t));
}, 30_000);

afterAll(async () => {
  feeder?.kill("SIGTERM");
  await feeder?.exited;
  relay?.close();
  await subscriber?.stop();
  await sim?.stop();
});

async function metrics() {
  return parsePrometheusText(await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text()).samples;
}

describe("feeder run, workers = 2, retransmission on", { timeout: 60_000 }, () => {
  test("a datagram lost from each worker's stream is served by that worker's request server", async () => {
    // Both workers have a share of these symbols, so both publish.
    const shares = new Set(TOPICS.map((t) => (inWorkerShare("bybit", { market: t.market, symbol: t.symbol, depth: 50 }, 0, 2) ? 0 : 1)));
    expect(shares).toEqual(new Set([0, 1]));
    const equal = () => allBooksEqual(subscriber, sim, TOPICS);
    await waitFor(equal, () => `books from both workers (feeder stderr: ${stderr})`, 30_000);
    expect(new Set(subscriber.streamInfo().map((s) => s.sourceId))).toEqual(new Set([1, 2]));

    for (let round = 0; round < 3; round++) {
      dropNext.add(1).add(2);
      await waitFor(() => dropNext.size === 0, `round ${round}: a data datagram of each source dropped`, 10_000, () => sim.step(1));
      // No refresh: only retransmission can make the books valid and equal again.
      await waitFor(() => equal() && subscriber.retransmitsPending === 0, `round ${round}: books repaired`, 15_000);
      sim.step(1);
      await waitFor(equal, `round ${round}: books after one more step`);
    }
    expect(dropped.filter((s) => s === 1)).toHaveLength(3);
    expect(dropped.filter((s) => s === 2)).toHaveLength(3);
    const c = subscriber.counters;
    expect(c.retransmitRequests).toBeGreaterThanOrEqual(6);
    expect(c.retransmitRecovered).toBeGreaterThanOrEqual(6);
    // Every loss was filled by retransmission: none is left as a gap, no message was lost for good.
    expect(c.gaps).toBe(0);
    expect(c.lostMessages).toBe(0);
    expect(c.retransmitFallbacks).toBe(0);
    expect(c.retransmitRefused).toBe(0);

    // Each worker's own server answered (labelled by worker), and only with datagrams.
    const samples = await metrics();
    const answered = samples.filter((s) => s.name === "feeder_retransmit_requests_total" && s.labels.result === "answered");
    expect(answered.map((s) => s.labels.worker).sort()).toEqual(["0", "1"]);
    for (const s of answered) expect(s.value, `worker ${s.labels.worker}`).toBeGreaterThanOrEqual(3);
    const notAnswered = samples.filter((s) => s.name === "feeder_retransmit_requests_total" && s.labels.result !== "answered");
    expect(notAnswered.reduce((n, s) => n + s.value, 0)).toBe(0);
    const datagrams = samples.filter((s) => s.name === "feeder_retransmit_datagrams_total");
    expect(datagrams.map((s) => s.labels.worker).sort()).toEqual(["0", "1"]);
    for (const s of datagrams) expect(s.value).toBeGreaterThanOrEqual(3);
  });
});
