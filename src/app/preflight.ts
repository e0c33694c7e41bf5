/**
 * Everything that can fail is checked before the first datagram (docs/operations.md, "Start-up checks"), in
 * this order: (config, loaded by the caller) → HTTP bind → every destination's socket bound to its interface (then a
 * warning for an interface whose MTU is too small for a full datagram) →
 * every retransmission server's port bound and released → instrument cache and capture directories writable →
 * listen on every own group for another publisher. Only then
 * does the caller resolve instruments, open venue connections and publish. A failure names the config key (or
 * option) and undoes what the checks opened.
 * @module
 */
import { mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "../core/log.ts";
import { isHostAddress, localIpv4Addresses } from "../config/host.ts";
import { retransmitServerPorts } from "../config/retransmit-ports.ts";
import type { FeederConfig, PublishConfig } from "../config/types.ts";
import { openMulticastSender, openUnicastSender } from "../net/multicast.ts";
import { type MtuProbe, warnSmallMtu } from "./mtu-check.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "./http-server.ts";
import type { PublishGuard } from "./publish-guard.ts";

export interface PreflightOptions {
  readonly config: FeederConfig;
  readonly log: Logger;
  readonly guard: PublishGuard;
  /** Bind the HTTP server (when http.enabled) serving this source; absent = no HTTP (replay). */
  readonly status?: StatusSource;
  /** Check that each venue's instrument cache directory is writable (not for replay, which only reads it). */
  readonly instrumentCaches?: boolean;
  /** Further directories the run writes to, with the option that names them (record: `--out`). */
  readonly writableDirs?: readonly { readonly key: string; readonly dir: string }[];
  /** Where the MTU warning looks (tests; default: this host's interfaces and /sys/class/net). */
  readonly mtuProbe?: MtuProbe;
}

/** Runs every check; returns the bound HTTP server, if any. On a failure everything opened here is closed. */
export async function preflight(o: PreflightOptions): Promise<HttpServerHandle | undefined> {
  const { config, log } = o;
  let http: HttpServerHandle | undefined;
  try {
    if (o.status && config.http.enabled) http = bindHttp(config, o.status, log);
    await checkDestinations(config.publish, undefined, { log, probe: o.mtuProbe });
    await checkRetransmitListen(config);
    const dirs = [...(o.instrumentCaches ? config.venues.map((v) => ({ key: `venues.${v.venue}.instrument_cache`, dir: dirname(v.instrumentCachePath) })) : []), ...(o.writableDirs ?? [])];
    for (const d of dirs) checkWritableDir(d.key, d.dir);
    await o.guard.listenBeforePublishing();
  } catch (err) {
    await http?.stop();
    throw err;
  }
  return http;
}

function bindHttp(config: FeederConfig, status: StatusSource, log: Logger): HttpServerHandle {
  try {
    return startHttpServer(config.http, status, log.child({ part: "http" }));
  } catch (err) {
    throw new Error(`http.listen: cannot listen on ${config.http.host}:${config.http.port}: ${(err as Error).message}`);
  }
}

/**
 * Each destination's interface must be an address of this host, and its sender socket must bind to it, connect
 * to the group and take the interface and TTL: the same calls the publisher makes, on a socket closed again.
 * With `mtu`, then a warning per interface too small for a full datagram unfragmented (app/mtu-check.ts).
 */
export async function checkDestinations(
  publish: PublishConfig,
  addresses: readonly string[] = localIpv4Addresses().map((l) => l.address),
  mtu?: { readonly log: Logger; readonly probe?: MtuProbe },
): Promise<void> {
  for (const [i, d] of publish.destinations.entries()) {
    const key = `publish.destinations[${i}]`;
    if (!isHostAddress(d.iface, addresses)) {
      throw new Error(`${key}.interface: "${d.iface}" is not an address of this host (its IPv4 addresses: ${addresses.join(", ") || "none"})`);
    }
    let socket: Awaited<ReturnType<typeof openMulticastSender>>;
    const to = d.group !== undefined ? `${d.group}:${d.port}` : `unicast to ${d.receivers!.length} receivers`;
    try {
      socket = d.group !== undefined ? await openMulticastSender({ iface: d.iface, ttl: d.ttl, connectTo: { group: d.group, port: d.port } }) : await openUnicastSender({ iface: d.iface });
    } catch (err) {
      throw new Error(`${key} (${to} via ${d.iface}): ${(err as Error).message}`);
    }
    socket.close();
  }
  if (mtu !== undefined) warnSmallMtu(publish, mtu.log, mtu.probe);
}

/**
 * publish.retransmit.listen: each request server's address:port (with workers, worker i's port + i + 1) is bound and
 * released, as its server will bind it. Before, a port another process held (a second instance given the same
 * port, an old one still closing) failed only when the publisher opened, after every venue's REST lookups, and the
 * restarted unit repeated them on each try. Released, not held: the servers bind in the publisher (in a worker
 * thread with workers > 1), so a process taking the port in between still fails the start there. Port 0: nothing
 * to check (each server takes a free port).
 */
export async function checkRetransmitListen(config: FeederConfig): Promise<void> {
  const rt = config.publish.retransmit;
  if (rt === undefined) return;
  for (const { port, worker } of retransmitServerPorts(rt, config.workers)) {
    const whose = worker === undefined ? "" : ` (worker ${worker}'s server: port + ${worker + 1})`;
    let socket: Bun.udp.Socket<"uint8array">;
    try {
      socket = await Bun.udpSocket({ hostname: rt.host, port, binaryType: "uint8array" });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === "EADDRINUSE" ? "another process holds it (EADDRINUSE: another feeder given the same port, or an old one still closing)" : e.message;
      throw new Error(`publish.retransmit.listen: cannot listen on ${rt.host}:${port}${whose}: ${why}`);
    }
    socket.close();
  }
}

/** Creates the directory if needed and writes and removes a probe file in it. */
export function checkWritableDir(key: string, dir: string): void {
  const probe = join(dir, `.feeder-write-check-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, "");
    unlinkSync(probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`${key}: directory ${JSON.stringify(dir)} is not writable (${e.code ?? e.message})`);
  }
}
