/**
 * publish.retransmit.listen at start (s-ops3): two instances on one host given the same retransmission port. The
 * second failed only when its publisher opened the request server, after every venue's REST lookups, and as exit 1
 * the unit restarted it to repeat them. Now the start-up checks bind and release each server's port before
 * anything talks to a venue, and a port another process holds fails the start naming the key, the address and
 * that another process holds it. A worker's start (and every restart of it) runs no start-up checks: its Feeder binds
 * the publisher's sockets before its venues' REST, so a restart failing on a port its replaced thread still holds
 * costs no REST either. The port is held by the test; everything on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import type { StatusSource } from "../../src/app/http-server.ts";
import { preflight } from "../../src/app/preflight.ts";
import { PublishGuard } from "../../src/app/publish-guard.ts";
import { startRuntime } from "../../src/app/runtime.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A UDP port this test holds (bound without SO_REUSEADDR, as another feeder's request server binds it). */
async function holdPort(port = 0): Promise<number> {
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port });
  cleanups.push(() => s.close());
  return s.port;
}

/** A free port, released again (the kernel hands out ports in sequence, so it stays free for the test's moments). */
async function freePort(): Promise<number> {
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const port = s.port;
  s.close();
  return port;
}

/**
 * A port free for TCP and UDP both, released again. A UDP-free port alone was once taken for TCP by another test's
 * connection (ephemeral ports are shared) and the HTTP bind below failed: ask TCP first, then check UDP.
 */
async function freeTcpAndUdpPort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const tcp = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = tcp.port;
    try {
      const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port });
      udp.close();
      return port;
    } catch (err) {
      if (attempt >= 20) throw err;
    } finally {
      tcp.stop(true);
    }
  }
}

function config(listen: string, o: { workers?: number; venues?: Record<string, unknown>; http?: string } = {}) {
  const { group, port } = uniqueDestination(47);
  return validateConfig(
    {
      workers: o.workers ?? 1,
      http: { enabled: o.http !== undefined, listen: o.http ?? "127.0.0.1:0" },
      publish: { heartbeat_interval_ms: 100, startup_listen_ms: 0, destinations: [{ group, port, interface: "127.0.0.1", ttl: 1, channel: 3 }], retransmit: { listen } },
      ...(o.venues ? { venues: o.venues } : {}),
    },
    { requireVenue: o.venues !== undefined },
  );
}

async function preflightOf(c: ReturnType<typeof config>) {
  const guard = new PublishGuard(c, silentLogger);
  cleanups.push(() => guard.stop());
  // No request reaches the HTTP server here: a source that answers nothing is enough to bind it.
  return preflight({ config: c, log: silentLogger, guard, status: {} as StatusSource });
}

describe("publish.retransmit.listen at start", () => {
  test("a port another process holds fails the start-up checks naming the key, the address and why", async () => {
    const port = await holdPort();
    await expect(preflightOf(config(`127.0.0.1:${port}`))).rejects.toThrow(
      `publish.retransmit.listen: cannot listen on 127.0.0.1:${port}: another process holds it (EADDRINUSE: another feeder given the same port, or an old one still closing)`,
    );
  });

  test("with workers, each worker's port (port + i + 1) is tried and the one held is named with its worker", async () => {
    const base = await freePort();
    await holdPort(base + 2);
    const venues = { bybit: { instrument_cache: `${tempDir("feeder-pf-retx-")}/i.json`, linear: { symbols: ["BTCUSDT", "ETHUSDT"] } } };
    await expect(preflightOf(config(`127.0.0.1:${base}`, { workers: 2, venues }))).rejects.toThrow(
      `publish.retransmit.listen: cannot listen on 127.0.0.1:${base + 2} (worker 1's server: port + 2): another process holds it (EADDRINUSE`,
    );
  });

  test("a free port passes and is left free; the HTTP port's number may be the same (TCP and UDP are apart); port 0 is not tried", async () => {
    const port = await freeTcpAndUdpPort();
    const c = config(`127.0.0.1:${port}`, { http: `127.0.0.1:${port}` });
    const http = await preflightOf(c);
    cleanups.push(() => http?.stop());
    expect(http?.port).toBe(port);
    await holdPort(port); // released by the check: the server can bind it
    await preflightOf(config("127.0.0.1:0"));
  });

  test("the clash ends the start before any venue is asked (startRuntime)", async () => {
    let restRequests = 0;
    const rest = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (restRequests++, new Response("down", { status: 503 })) });
    cleanups.push(() => rest.stop(true));
    const port = await holdPort();
    const venues = { bybit: { rest_url: `http://127.0.0.1:${rest.port}`, ws_url: "ws://127.0.0.1:9", instrument_cache: `${tempDir("feeder-pf-retx-")}/i.json`, linear: { symbols: ["BTCUSDT"] } } };
    const started = startRuntime(config(`127.0.0.1:${port}`, { venues }), silentLogger);
    const err = await started.then(
      async (rt) => (await rt.stop(), undefined),
      (e: Error) => e,
    );
    expect(restRequests).toBe(0); // the old code asked the venue's REST first (and the unit repeated it on each restart)
    expect(err?.message).toMatch(/^publish\.retransmit\.listen: cannot listen on 127\.0\.0\.1:\d+: another process holds it/);
  });

  test("a Feeder's own start (a worker's, restarted: no start-up checks) fails on the held port before any venue is asked", async () => {
    let restRequests = 0;
    const rest = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (restRequests++, new Response("down", { status: 503 })) });
    cleanups.push(() => rest.stop(true));
    const base = await freePort();
    await holdPort(base + 2); // worker 1's server: port + 2
    const venues = { bybit: { rest_url: `http://127.0.0.1:${rest.port}`, ws_url: "ws://127.0.0.1:9", instrument_cache: `${tempDir("feeder-pf-retx-")}/i.json`, linear: { symbols: ["BTCUSDT", "ETHUSDT"] } } };
    const feeder = new Feeder({ config: config(`127.0.0.1:${base}`, { workers: 2, venues }), log: silentLogger, sourceOffset: 2, partOfLargerConfig: true });
    cleanups.push(() => feeder.stop());
    const err = await feeder.start().then(
      () => undefined,
      (e: Error) => e,
    );
    // Before, the instruments were asked first (on every restart of the worker, every ≤ 10 s while the port was held).
    expect(restRequests).toBe(0);
    expect(err?.message).toBe(
      `publish.retransmit.listen 127.0.0.1:${base + 2} (worker 1's server: port + 2): the port is held (EADDRINUSE: another process given the same port, an old one still closing, or this worker's replaced thread not ended yet)`,
    );
  });
});
