/**
 * `feeder bridge`'s HTTP (src/cli/commands/bridge-http.ts): /metrics, /readyz and /healthz on --http. Before, the
 * bridge had none: its counters were only in a log line once a minute. Both directions run in-process against a
 * real nats-server that is restarted under them: the connection gauge and /readyz follow it, the reconnect is
 * counted once, and no counter goes down (they live on the bridge, not on the NATS connection). Datagrams go to the
 * group on 127.0.0.1 (TTL 1).
 */
import dgram from "node:dgram";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import type { CommandContext } from "../../src/cli/command.ts";
import { bridgeCommand } from "../../src/cli/commands/bridge.ts";
import { fromNatsMetrics, startBridgeHttp, toNatsMetrics, toNatsReadiness } from "../../src/cli/commands/bridge-http.ts";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../../src/bridge/reverse-bridge.ts";
import { createLogger, silentLogger, type Logger } from "../../src/core/log.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { freePort } from "../support/free-port.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";
import { DECODE_ERROR_NAMES } from "../../src/wire/decoder.ts";

const missing = natsServerMissing();
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

/** Runs `feeder bridge <direction>` in-process until the returned stop(); resolves its exit code. */
function run(direction: string, values: CommandContext["values"], log: Logger = silentLogger): { code: Promise<number>; stop: () => Promise<number> } {
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const code = bridgeCommand.run({ values, positionals: [direction], log, out: () => {}, stopSignal } as unknown as CommandContext);
  return { code, stop: () => (stop("SIGTERM"), code) };
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  const { samples, types } = parsePrometheusText(await res.text());
  const out = new Map<string, number>();
  for (const s of samples) {
    const labels = Object.entries(s.labels).filter(([k]) => k !== "version");
    out.set(labels.length === 0 ? s.name : `${s.name}{${labels.map(([k, v]) => `${k}=${v}`).join(",")}}`, s.value);
    if (s.name.startsWith("feeder_bridge_")) expect(types.get(s.name), s.name).toBe(s.name.endsWith("_total") ? "counter" : "gauge");
  }
  return out;
}

async function until(what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(missing !== undefined)("feeder bridge: /metrics and /readyz", { timeout: 60_000 }, () => {
  test("both directions: counters, the connection and readiness across a NATS restart, never counted twice", async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const G = uniqueDestination(71);
    const [toPort, fromPort] = [await freePort(), await freePort()];
    const to = run("to-nats", { nats: nats.url, prefix: "met", group: [`${G.group}:${G.port}`], iface: "127.0.0.1", http: `127.0.0.1:${toPort}` });
    stops.push(to.stop);
    const B = uniqueDestination(72);
    const from = run("from-nats", { nats: nats.url, prefix: "met", group: [`${B.group}:${B.port}`], iface: "127.0.0.1", http: `127.0.0.1:${fromPort}` });
    stops.push(from.stop);
    const sock = dgram.createSocket("udp4");
    stops.push(() => new Promise<void>((r) => sock.close(() => r())));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    sock.setMulticastInterface("127.0.0.1");
    sock.setMulticastTTL(1);
    const p = packer({ channelId: 7, sourceId: 3, sessionId: 70, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    const sizes = new Set<number>();
    let sendUs = T0; // each its own send time: one sent in the µs of the last is a copy the bridge drops
    const beat = () => {
      p.appendHeartbeat(0);
      for (const d of take(p, (sendUs += 1000))) {
        sizes.add(d.byteLength);
        sock.send(d, G.port, G.group);
      }
    };
    const m = { to: new Map<string, number>(), from: new Map<string, number>() };
    await until("heartbeats through both bridges", async () => {
      beat();
      m.to = await scrape(toPort);
      m.from = await scrape(fromPort);
      return (m.to.get("feeder_bridge_nats_published_messages_total{kind=heartbeat}") ?? 0) >= 3 && (m.from.get("feeder_bridge_nats_received_envelopes_total") ?? 0) >= 3;
    });
    sock.send(new Uint8Array(20), G.port, G.group); // not a datagram (no magic): rejected, its bytes counted as rejected
    await until("the garbage datagram rejected", async () => (m.to = await scrape(toPort)).get("feeder_bridge_multicast_rejected_datagrams_total{reason=bad_magic}") === 1);
    expect(m.to.get("feeder_bridge_nats_connected")).toBe(1);
    expect(m.from.get("feeder_bridge_nats_connected")).toBe(1);
    expect(m.to.get("feeder_bridge_multicast_received_datagrams_total")).toBe(m.to.get("feeder_bridge_nats_published_messages_total{kind=heartbeat}"));
    expect(m.to.get("feeder_bridge_multicast_rejected_datagrams_total{reason=bad_magic}")).toBe(1);
    // The pairs read alike: received bytes are the received datagrams' (every heartbeat is one size), the rejected
    // ones' apart. Before, received_bytes took the garbage too while received_datagrams did not.
    expect(sizes.size).toBe(1);
    expect(m.to.get("feeder_bridge_multicast_received_bytes_total")).toBe(m.to.get("feeder_bridge_multicast_received_datagrams_total")! * [...sizes][0]!);
    expect(m.to.get("feeder_bridge_multicast_rejected_bytes_total")).toBe(20);
    expect(m.to.get("feeder_bridge_nats_published_bytes_total")).toBeGreaterThan(0);
    expect(m.to.get("feeder_bridge_info{direction=to-nats,prefix=met,stream=}")).toBe(1);
    expect(m.from.get("feeder_bridge_nats_received_bytes_total")).toBeGreaterThan(0);
    expect(m.to.get("feeder_bridge_nats_reconnects_total")).toBe(0);
    expect(m.to.has("process_cpu_seconds_total")).toBe(true);
    for (const port of [toPort, fromPort]) {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe("ok\n");
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    }

    await nats.stop();
    await until("both bridges see NATS down", async () => {
      beat();
      return (await scrape(toPort)).get("feeder_bridge_nats_connected") === 0 && (await scrape(fromPort)).get("feeder_bridge_nats_connected") === 0;
    });
    const down = await fetch(`http://127.0.0.1:${toPort}/readyz`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { reasons: string[] }).reasons.join("; ")).toMatch(/not connected to NATS/);
    expect((await fetch(`http://127.0.0.1:${fromPort}/readyz`)).status).toBe(503);
    const before = { to: await scrape(toPort), from: await scrape(fromPort) };

    await nats.restart();
    // Readiness says whether the bridge can forward now, not whether traffic flowed since: with nothing sent after
    // the restart (a silent feed, the venue down) it is ready once connected. Before, the drops while NATS was down
    // kept it 503 until the next datagram was published.
    await until("to-nats connected again, nothing sent since", async () => (await scrape(toPort)).get("feeder_bridge_nats_connected") === 1);
    const silent = await fetch(`http://127.0.0.1:${toPort}/readyz`);
    expect(await silent.json()).toEqual({ ready: true, reasons: [] });
    expect(silent.status).toBe(200);
    await until("heartbeats again after the restart", async () => {
      beat();
      m.to = await scrape(toPort);
      m.from = await scrape(fromPort);
      return m.to.get("feeder_bridge_nats_connected") === 1 && (m.to.get("feeder_bridge_nats_published_messages_total{kind=heartbeat}") ?? 0) > before.to.get("feeder_bridge_nats_published_messages_total{kind=heartbeat}")! && m.from.get("feeder_bridge_nats_received_envelopes_total")! > before.from.get("feeder_bridge_nats_received_envelopes_total")!;
    });
    expect(m.to.get("feeder_bridge_nats_reconnects_total")).toBe(1);
    expect(m.from.get("feeder_bridge_nats_reconnects_total")).toBe(1);
    expect(m.to.get("feeder_bridge_dropped_messages_total{reason=disconnected}")).toBe(0); // heartbeats carry no message
    for (const [side, now] of [["to", m.to], ["from", m.from]] as const) {
      for (const [k, v] of before[side]) if (k.endsWith("_total") && !k.startsWith("process_")) expect(now.get(k), `${side} ${k}`).toBeGreaterThanOrEqual(v);
    }
    expect((await fetch(`http://127.0.0.1:${toPort}/readyz`)).status).toBe(200);
    expect(m.to.get("feeder_bridge_multicast_received_bytes_total")).toBe(m.to.get("feeder_bridge_multicast_received_datagrams_total")! * [...sizes][0]!);
    expect(await to.stop()).toBe(0);
    expect(await from.stop()).toBe(0);
  });

  test("from-nats counts the datagrams its socket took: not those its reader hands over after stop()", async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const B = uniqueDestination(73);
    const got: number[] = [];
    const rx = dgram.createSocket({ type: "udp4", reuseAddr: true });
    stops.push(() => new Promise<void>((r) => rx.close(() => r())));
    await new Promise<void>((r) => rx.bind(B.port, B.group, () => r()));
    rx.addMembership(B.group, "127.0.0.1");
    rx.on("message", (m) => got.push(m.byteLength));
    const bridge = new ReverseBridge({ servers: [nats.url], prefix: "met2", group: B.group, port: B.port, iface: "127.0.0.1", ttl: 1 });
    stops.push(() => bridge.stop());
    await bridge.start();
    const reader = bridge.reader!;
    const sendOne = () => {
      reader.repacker.packer.appendHeartbeat(0);
      reader.flush();
    };
    sendOne();
    await until("the datagram received", async () => got.length === 1);
    await bridge.stop();
    // What a flush already scheduled when stop() came does (an envelope read just before): handed over, not sent.
    sendOne();
    const m = parsePrometheusText(fromNatsMetrics(bridge, "met2", undefined)).samples;
    const value = (name: string) => m.find((s) => s.name === name)?.value;
    expect(value("feeder_bridge_multicast_send_errors_total")).toBe(0);
    expect(value("feeder_bridge_multicast_sent_datagrams_total")).toBe(1);
    expect(value("feeder_bridge_multicast_sent_bytes_total")).toBe(got[0]);
  });

  test("from-nats started again after stop(): its counters go on, never down (a new reader's start at 0)", async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const B = uniqueDestination(75);
    const bridge = new ReverseBridge({ servers: [nats.url], prefix: "met4", group: B.group, port: B.port, iface: "127.0.0.1", ttl: 1 });
    stops.push(() => bridge.stop());
    const { connect } = await import("@nats-io/transport-node");
    const nc = await connect({ servers: nats.url });
    stops.push(() => nc.close());
    const metrics = () => new Map(parsePrometheusText(fromNatsMetrics(bridge, "met4", undefined)).samples.map((s) => [`${s.name}${s.labels.reason === undefined ? "" : `{${s.labels.reason}}`}`, s.value]));
    const envelopes = () => metrics().get("feeder_bridge_nats_received_envelopes_total") ?? 0;
    const garbage = async (n: number) => {
      // Envelopes too short to be one: read and refused (counted by the reader).
      const before = envelopes();
      for (let i = 0; i < n; i++) nc.publish("met4.x", new Uint8Array(3));
      await until(`${n} envelopes read`, async () => {
        nc.publish("met4.probe", new Uint8Array(3));
        await nc.flush();
        return envelopes() >= before + n;
      });
    };
    await bridge.start();
    await garbage(2);
    const first = metrics();
    expect(first.get("feeder_bridge_nats_refused_envelopes_total{short}")).toBe(first.get("feeder_bridge_nats_received_envelopes_total"));
    await bridge.stop();
    await bridge.start();
    const again = metrics();
    for (const [k, v] of first) if (k.endsWith("_total") && !k.startsWith("process_")) expect(again.get(k), k).toBeGreaterThanOrEqual(v);
    await garbage(1);
    expect(metrics().get("feeder_bridge_nats_received_envelopes_total")).toBeGreaterThan(first.get("feeder_bridge_nats_received_envelopes_total")!);
  });

  test("to-nats --stream: feeder_bridge_stream_storing is absent until the bridge has read its stream, never 1 unknown", async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: "met5", log: silentLogger, jetstream: { stream: "MET5", maxAgeMs: 0, maxBytes: 1 << 20, checkIntervalMs: 3_600_000 } });
    stops.push(() => bridge.stop());
    const storing = () => parsePrometheusText(toNatsMetrics(bridge, "met5", "MET5")).samples.find((s) => s.name === "feeder_bridge_stream_storing")?.value;
    // What a scrape during start-up reads (HTTP is bound before NATS is dialled). Before: 1.
    expect(storing()).toBeUndefined();
    expect(toNatsReadiness(bridge, "MET5").reasons.join("; ")).toMatch(/not connected to NATS/);
    await bridge.start(); // the stream made and read (its baseline): known from here, before any periodic check
    expect(storing()).toBe(1);
    expect(toNatsReadiness(bridge, "MET5")).toEqual({ ready: true, reasons: [] });
  });

  test("from-nats --stream: not ready while its JetStream stream is gone, ready again once it is back", async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: nats.url });
    stops.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "MET3", subjects: ["met3.>"] });
    const port = await freePort();
    const B = uniqueDestination(74);
    const from = run("from-nats", { nats: nats.url, prefix: "met3", stream: "MET3", group: [`${B.group}:${B.port}`], iface: "127.0.0.1", http: `127.0.0.1:${port}` });
    stops.push(from.stop);
    const readyz = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return r === undefined ? { status: 0, reasons: [] as string[] } : { status: r.status, reasons: ((await r.json()) as { reasons: string[] }).reasons };
    };
    await until("from-nats ready", async () => (await readyz()).status === 200);
    // Deleted (by an operator, or retention by a bridge's misconfiguration): the reader reads nothing. Before, /readyz
    // stayed 200 throughout: connected, subscription taken.
    await jsm.streams.delete("MET3");
    await until("not ready: the stream is gone", async () => {
      const r = await readyz();
      return r.status === 503 && r.reasons.some((why) => /JetStream stream MET3/.test(why));
    });
    await jsm.streams.add({ name: "MET3", subjects: ["met3.>"] });
    await until("ready again: the stream is back", async () => (await readyz()).status === 200);
    expect(await from.stop()).toBe(0);
  });

  test("an --http port another process holds exits 1 before NATS is dialled; beyond loopback is refused", async () => {
    const held = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("other") });
    stops.push(async () => held.stop(true));
    const lines: string[] = [];
    const r = run("to-nats", { nats: "nats://127.0.0.1:9", group: ["239.255.71.1:31971"], http: `127.0.0.1:${held.port}` }, createLogger({ format: "json", write: (l) => lines.push(l) }));
    expect(await r.code).toBe(1);
    // The error says what to do: a second bridge of one direction on a host needs its own --http.
    const error = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).find((l) => l.level === "error")!;
    expect(error.msg).toContain(`--http 127.0.0.1:${held.port}`);
    expect(error.msg).toMatch(/another process holds it .*give this bridge its own --http ADDR:PORT, or --http off/);
    await expect(run("to-nats", { nats: "nats://127.0.0.1:9", group: ["239.255.71.1:31971"], http: "0.0.0.0:9465" }).code).rejects.toThrow(/--http "0.0.0.0:9465" is beyond loopback/);
  });
});

describe("feeder bridge to-nats /metrics: every reason a datagram is rejected for, from the start", () => {
  test("each reason (the decoder's, and retransmit) is a series at 0 before any datagram: the first forged one is seen by increase() and rate()", () => {
    // Not started (no NATS needed). Before, a reason appeared once seen: its series began at that count, which
    // increase() and rate() cannot see (no sample before it), so a first burst of bad_auth datagrams alerted nothing.
    const bridge = new ForwardBridge({ groups: [], servers: "127.0.0.1:1", prefix: "met7", log: silentLogger });
    const rejected = () => parsePrometheusText(toNatsMetrics(bridge, "met7", undefined)).samples.filter((s) => s.name === "feeder_bridge_multicast_rejected_datagrams_total");
    expect(rejected().map((s) => [s.labels.reason, s.value])).toEqual([...DECODE_ERROR_NAMES.slice(1), "retransmit"].map((reason) => [reason, 0]));
    bridge.counters.rejected.bad_auth = 2;
    bridge.counters.rejected.unknown = 1; // a code the names table lacks is still written
    const after = Object.fromEntries(rejected().map((s) => [s.labels.reason, s.value]));
    expect(after).toMatchObject({ bad_auth: 2, bad_magic: 0, unknown: 1 });
    expect(Object.keys(after)).toHaveLength(DECODE_ERROR_NAMES.length + 1);
  });
});

describe("feeder bridge to-nats /metrics: the upstream line counters", () => {
  test("sendTimesAhead is feeder_bridge_upstream_send_times_ahead_total, beside the other upstream_* counters", () => {
    // Not started (no NATS needed). Named feeder_bridge_multicast_send_times_ahead_total until 2026-12-07 (unreleased).
    const bridge = new ForwardBridge({ groups: [], servers: "127.0.0.1:1", prefix: "met8", log: silentLogger });
    bridge.counters.seqLinesBack = 2;
    bridge.counters.sendTimesAhead = 3;
    const m = parsePrometheusText(toNatsMetrics(bridge, "met8", undefined));
    const value = (name: string) => m.samples.find((s) => s.name === name)?.value;
    expect(value("feeder_bridge_upstream_seq_lines_back_total")).toBe(2);
    expect(m.types.get("feeder_bridge_upstream_send_times_ahead_total")).toBe("counter");
    expect(value("feeder_bridge_upstream_send_times_ahead_total")).toBe(3);
    expect(m.samples.filter((s) => s.name.includes("send_times_ahead")).map((s) => s.name)).toEqual(["feeder_bridge_upstream_send_times_ahead_total"]);
  });
});

describe("feeder bridge from-nats /metrics: every reader counter exported", () => {
  test("the reader's listenerErrors (its callbacks that threw) is feeder_bridge_listener_errors_total", async () => {
    const { NatsFeedReader } = await import("../../src/subscriber/nats-source.ts");
    const bridge = new ReverseBridge({ servers: ["127.0.0.1:1"], prefix: "met6", group: "239.255.0.1", port: 1, iface: "127.0.0.1", ttl: 1 });
    // Not started (no NATS needed): a reader whose callbacks threw twice, as the bridge would scrape it.
    const reader = new NatsFeedReader({ servers: ["127.0.0.1:1"], prefix: "met6" }, () => {});
    reader.repacker.counters.listenerErrors = 2;
    bridge.reader = reader;
    const m = parsePrometheusText(fromNatsMetrics(bridge, "met6", undefined));
    expect(m.types.get("feeder_bridge_listener_errors_total")).toBe("counter");
    expect(m.samples.find((s) => s.name === "feeder_bridge_listener_errors_total")?.value).toBe(2); // before: absent
  });
});

/** One HTTP/1.x request written as given (fetch cannot send a Host of its own choosing); the status and body. */
function raw(port: number, request: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (d) => (data += d));
    socket.on("error", reject);
    socket.on("close", () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (m) resolve({ status: Number(m[1]), text: data.slice(data.indexOf("\r\n\r\n") + 4) });
      else reject(new Error(`no HTTP response in ${JSON.stringify(data.slice(0, 200))}`));
    });
  });
}

describe("feeder bridge --http: the feeder's Host hygiene (no token, so loopback names only)", () => {
  test("a Host that is no loopback name is 403 but for /healthz (DNS rebinding); one that does not parse is 400 naming it; neither logs an error", async () => {
    const lines: { level: string; msg: string }[] = [];
    const log = createLogger({ format: "json", level: "debug", write: (l) => lines.push(JSON.parse(l) as { level: string; msg: string }) });
    const source = { metrics: () => "# secret metrics\n", readiness: () => ({ ready: true, reasons: [] }) };
    const h = startBridgeHttp({ host: "127.0.0.1", port: 0 }, source, log);
    stops.push(h.stop);
    const port = Number(new URL(h.url).port);
    const get = (path: string, host: string) => raw(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    // A page on evil.example whose name its owner's DNS turns into 127.0.0.1 after load is same-origin with this
    // server to the browser, which sends its own name as Host: before, /readyz and /metrics answered it 200.
    for (const host of ["evil.example", `evil.example:${port}`, "127.0.0.1.evil.example", "localhost.evil.example", "[::2]", "0.0.0.0"]) {
      for (const path of ["/metrics", "/readyz", "/nope"]) {
        const r = await get(path, host);
        expect(r.status, `${host} ${path}`).toBe(403);
        expect(JSON.parse(r.text).error, `${host} ${path}`).toMatch(/^Host ".*" is not a loopback name: .*DNS rebinding/);
      }
      expect((await get("/healthz", host)).status, host).toBe(200);
    }
    // Loopback names (any port, any case), an empty Host and none (HTTP/1.0) are served.
    for (const host of ["127.0.0.1", `127.0.0.1:${port}`, "127.1.2.3:80", "localhost", `LocalHost:${port}`, "localhost.", "[::1]", `[::1]:${port}`, ""]) {
      const r = await get("/metrics", host);
      expect(r.status, host).toBe(200);
      expect(r.text).toBe("# secret metrics\n");
      expect((await get("/readyz", host)).status, host).toBe(200);
    }
    expect((await raw(port, "GET /readyz HTTP/1.0\r\n\r\n")).status).toBe(200);
    // Before: new URL() threw on these, a 500 and an error line "bridge HTTP request failed".
    for (const host of ["[::1", "a:99999", "a%zz"]) {
      for (const path of ["/readyz", "/healthz"]) {
        const r = await get(path, host);
        expect(r.status, `${host} ${path}`).toBe(400);
        expect(JSON.parse(r.text).error, host).toBe(`Host header ${JSON.stringify(host)} is not a host[:port]`);
      }
    }
    // A target that is not a path (also a throw before) is 400 too.
    expect((await raw(port, "GET foo:bar HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")).status).toBe(400);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
  });
});

describe("feeder bridge --http: answers and failures as the feeder's (s-httpsmall)", () => {
  test("/metrics, /readyz, /healthz and refusals are no-store and nosniff; a throwing metrics() is a 500 and one error line per 5 s naming the request", async () => {
    const lines: { level: string; msg: string; count?: number; detail?: string }[] = [];
    const log = createLogger({ format: "json", level: "debug", write: (l) => lines.push(JSON.parse(l) as (typeof lines)[number]) });
    let broken = false;
    const source = {
      metrics: () => {
        if (broken) throw new Error("counters gone");
        return "feeder_bridge_up 1\n";
      },
      readiness: () => ({ ready: true, reasons: [] }),
    };
    const h = startBridgeHttp({ host: "127.0.0.1", port: 0 }, source, log);
    stops.push(h.stop);
    // Before: /metrics and /readyz had neither header (a proxy or browser could cache a scrape).
    for (const path of ["/metrics", "/readyz", "/healthz"]) {
      const r = await fetch(`${h.url}${path}`);
      expect([r.status, r.headers.get("cache-control"), r.headers.get("x-content-type-options")], path).toEqual([200, "no-store", "nosniff"]);
    }
    // Its refusals too, as the feeder's (until s-rd3j a 404 echoing the path, a 405 and a 403 had neither).
    const refusals: [string, RequestInit, number][] = [["/nope", {}, 404], ["/metrics", { method: "DELETE" }, 405], ["/metrics", { headers: { host: "evil.example" } }, 403]];
    for (const [path, init, status] of refusals) {
      const r = await fetch(`${h.url}${path}`, init);
      await r.arrayBuffer();
      expect([r.status, r.headers.get("cache-control"), r.headers.get("x-content-type-options")], `${init.method ?? "GET"} ${path}`).toEqual([status, "no-store", "nosniff"]);
    }
    broken = true;
    for (let i = 0; i < 5; i++) expect((await fetch(`${h.url}/metrics?i=${i}`)).status).toBe(500);
    // Before: Bun's error() wrote a line per scrape, without the request.
    const errors = lines.filter((l) => l.level === "error");
    expect(errors.map((l) => [l.msg, l.count, l.detail])[0]).toEqual(["bridge HTTP request failed", 1, "GET /metrics?i=0: counters gone"]);
    expect(errors.length, "error lines for 5 failed scrapes (one per 5 s)").toBeLessThan(5);
  });
});

test("feeder bridge --http: a metrics() that throws a value with no string form is a 500 and an error line describing it", async () => {
  // Before 2026-12-07: the catch's String(err) threw, so the request went to Bun's error(), its cause lost.
  const lines: { level: string; msg: string; detail?: string }[] = [];
  const log = createLogger({ format: "json", level: "debug", write: (l) => lines.push(JSON.parse(l) as (typeof lines)[number]) });
  const source = {
    metrics: (): string => {
      throw Object.create(null);
    },
    readiness: () => ({ ready: true, reasons: [] }),
  };
  const h = startBridgeHttp({ host: "127.0.0.1", port: 0 }, source, log);
  stops.push(h.stop);
  const r = await fetch(`${h.url}/metrics`);
  expect([r.status, await r.text()]).toEqual([500, "internal error\n"]);
  expect(lines.filter((l) => l.level === "error").map((l) => [l.msg, l.detail])).toEqual([["bridge HTTP request failed", "GET /metrics: a thrown [object Object] with no string form"]]);
});

describe("feeder bridge --http: the feeder's bounds on hostile clients (app/http-host.ts, shared)", () => {
  /** Resolves with the response head's status, then stops reading (a client that takes nothing more). */
  function headThenStall(port: number, path: string): Promise<{ socket: Socket; status: number }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
      let data = "";
      socket.setEncoding("latin1");
      socket.on("error", reject);
      const onData = (d: string) => {
        data += d;
        if (!data.includes("\r\n\r\n")) return;
        socket.off("data", onData);
        socket.pause();
        resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)![1]) });
      };
      socket.on("data", onData);
    });
  }

  test("a request with a body is 413 and its connection closed, nothing of the body read; a zero length is none", async () => {
    const source = { metrics: () => "feeder_bridge_up 1\n", readiness: () => ({ ready: true, reasons: [] }) };
    const h = startBridgeHttp({ host: "127.0.0.1", port: 0 }, source, silentLogger);
    stops.push(h.stop);
    const port = Number(new URL(h.url).port);
    // Before: answered 200, and Bun went on reading (and discarding) the promised 4 GB on the bridge's thread; the
    // connection stayed open, so raw() (which resolves on close) never resolved.
    for (const head of ["Content-Length: 4000000000", "Transfer-Encoding: chunked"]) {
      for (const path of ["/metrics", "/healthz", "/readyz"]) {
        const r = await raw(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}\r\n\r\n0123456789`);
        expect(r.status, `${head} ${path}`).toBe(413);
        expect(JSON.parse(r.text).error).toMatch(/^a request body is not accepted \((content-length 4000000000|transfer-encoding chunked)\)/);
      }
    }
    const zero = await raw(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 00\r\nConnection: close\r\n\r\n");
    expect(zero.status).toBe(200);
  });

  test("beyond the in-flight cap (clients that do not read a large answer) a request is 503 with retry-after; the probes are answered", async () => {
    const big = "x".repeat(48 * 2 ** 20); // more than loopback's socket buffers take in
    const source = { metrics: () => big, readiness: () => ({ ready: true, reasons: [] }) };
    const cap = 2;
    const h = startBridgeHttp({ host: "127.0.0.1", port: 0 }, source, silentLogger, { maxInFlight: cap, idleTimeoutS: 10 });
    stops.push(h.stop);
    const port = Number(new URL(h.url).port);
    const readers: Socket[] = [];
    try {
      for (let i = 0; i < cap; i++) {
        const r = await headThenStall(port, "/metrics");
        readers.push(r.socket);
        expect(r.status, `reader ${i}`).toBe(200);
      }
      // Before: a third answer of 48 MB held in memory, and a fourth, … until the idle timeout cut them.
      const refused = await raw(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.text).error).toMatch(/^2 requests are being answered \(/);
      for (const path of ["/healthz", "/readyz"]) expect((await raw(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).status, path).toBe(200);
    } finally {
      for (const s of readers) s.destroy();
    }
    // The readers gone, their slots are free again (seen once the server has read the closes).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await fetch(`${h.url}/metrics`);
      await r.arrayBuffer();
      if (r.status === 200) break;
      expect(Date.now(), "a slot free again").toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});

