/**
 * The HTTP listener's connection cap (docs/operations.md § HTTP). Bun.serve has no bound on connections and no hook
 * per connection: each is a file descriptor, and a client opening them faster than its timeouts close them (a head
 * trickled a byte at a time is cut only after 10–13 s) took descriptors without limit, until the feeder's own
 * sockets (a venue reconnecting, a worker) could not be opened. So the public address is this gate: a TCP listener
 * that takes at most `maxConnections` connections, `maxPerClient` of them from one client address, and closes any
 * other at once (counted, a rate-limited warn line); each one taken is relayed byte for byte to the Bun.serve behind
 * it on a unix socket of a private directory, with backpressure both ways (a side that cannot take more pauses
 * reading from the other), so Bun's timeouts and bounds apply as before and a client that stops reading holds no
 * more than the socket buffers here. Cold path: the relay copies each chunk once; it allocates per chunk only when
 * a side is full.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RateLimitedLog, type Logger } from "../core/log.ts";

export interface HttpGateCounters {
  /** Connections relayed to the server. */
  accepted: number;
  /** Connections closed at once: http.max_connections open already. */
  refusedTotal: number;
  /** Connections closed at once: http.max_connections_per_client open already from that address. */
  refusedClient: number;
}

/** One direction of a relayed connection: what `to` did not take yet, `from` paused meanwhile. */
interface Side {
  peer: Bun.Socket<Link> | undefined;
  pending: Uint8Array[];
  /** The other side ended: end this one once `pending` is written. */
  ending: boolean;
}

/** Per relayed connection: the client's socket and the server's, each with what waits to be written to it. */
interface Link {
  address: string;
  client: Bun.Socket<Link> | undefined;
  server: Bun.Socket<Link> | undefined;
  toClient: Side;
  toServer: Side;
  closed: boolean;
  /** The server closed its side: nothing more is read from the client (a body it is still sending stays unread). */
  serverGone: boolean;
}

export class HttpGate {
  readonly counters: HttpGateCounters = { accepted: 0, refusedTotal: 0, refusedClient: 0 };
  /** The unix socket Bun.serve listens on (in a directory only this process's user can enter). */
  readonly unixPath: string;
  private readonly dir: string;
  private listener: Bun.TCPSocketListener<Link> | undefined;
  private open = 0;
  private readonly perClient = new Map<string, number>();
  private readonly links = new Set<Link>();
  private readonly refusedLog: RateLimitedLog;

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerClient: number,
    /** How long a client may take nothing of an answer the server has finished (http.idle_timeout_s). */
    private readonly idleTimeoutS: number,
    log: Logger,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "feeder-http-"));
    this.unixPath = join(this.dir, "http.sock");
    this.refusedLog = new RateLimitedLog(log, "warn", "HTTP connections refused: http.max_connections or http.max_connections_per_client open");
  }

  /** Binds host:port (0: any free port); throws as Bun.serve would (address in use). */
  listen(host: string, port: number): number {
    this.listener = Bun.listen<Link>({
      hostname: host,
      port,
      allowHalfOpen: true, // a client that ends its writing after the request is still answered
      socket: {
        open: (s) => this.accept(s),
        data: (s, chunk) => this.relay(s.data, s.data.toServer, chunk, s),
        drain: (s) => this.flush(s.data, s.data.toClient),
        end: (s) => this.ended(s.data, s.data.toServer),
        close: (s) => this.close(s.data),
        error: (s) => this.close(s.data),
        timeout: (s) => this.close(s.data),
      },
    });
    return this.listener.port;
  }

  async stop(): Promise<void> {
    this.listener?.stop(true);
    this.listener = undefined;
    for (const l of this.links) this.close(l);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private accept(s: Bun.Socket<Link>): void {
    const address = s.remoteAddress;
    const fromClient = this.perClient.get(address) ?? 0;
    if (this.open >= this.maxConnections || fromClient >= this.maxPerClient) {
      // Closed at once: the descriptor is released now, not when a timeout comes.
      if (this.open >= this.maxConnections) this.counters.refusedTotal++;
      else this.counters.refusedClient++;
      this.refusedLog.hit(`${this.open} open (max ${this.maxConnections}), ${fromClient} from ${address} (max ${this.maxPerClient})`, address);
      s.data = undefined as unknown as Link;
      s.terminate();
      return;
    }
    this.open++;
    this.perClient.set(address, fromClient + 1);
    this.counters.accepted++;
    const link: Link = { address, client: s, server: undefined, toClient: { peer: s, pending: [], ending: false }, toServer: { peer: undefined, pending: [], ending: false }, closed: false, serverGone: false };
    s.data = link;
    this.links.add(link);
    Bun.connect<Link>({
      unix: this.unixPath,
      allowHalfOpen: true,
      data: link,
      socket: {
        open: (up) => {
          if (link.closed) return up.terminate();
          link.server = up;
          link.toServer.peer = up;
          this.flush(link, link.toServer);
        },
        data: (up, chunk) => this.relay(link, link.toClient, chunk, up),
        drain: () => this.flush(link, link.toServer),
        end: () => this.ended(link, link.toClient),
        close: () => this.serverGone(link),
        error: () => this.serverGone(link),
        connectError: () => this.close(link),
      },
    }).catch(() => this.close(link));
  }

  /** A chunk from one side for the other (`dir`); `from` is paused while the other cannot take it all. */
  private relay(link: Link | undefined, dir: Side, chunk: Uint8Array, from: Bun.Socket<Link>): void {
    if (link === undefined || link.closed) return;
    if (dir === link.toServer && link.serverGone) return void from.pause();
    if (dir.peer === undefined || dir.pending.length > 0) {
      dir.pending.push(chunk.slice()); // Bun reuses the chunk's memory after the callback
      from.pause();
      return;
    }
    const n = dir.peer.write(chunk);
    if (n < 0) return this.writeFailed(link, dir);
    if (n < chunk.length) {
      dir.pending.push(chunk.slice(n));
      from.pause();
    }
  }

  /** The side `dir` writes to can take more: what waits goes, and the other side reads again once it is all gone. */
  private flush(link: Link | undefined, dir: Side): void {
    if (link === undefined || link.closed || dir.peer === undefined) return;
    while (dir.pending.length > 0) {
      const chunk = dir.pending[0]!;
      const n = dir.peer.write(chunk);
      if (n < 0) return this.writeFailed(link, dir);
      if (n < chunk.length) {
        dir.pending[0] = chunk.subarray(n);
        return;
      }
      dir.pending.shift();
    }
    if (dir.ending) return this.endSide(link, dir);
    const from = dir === link.toServer ? link.client : link.server;
    if (!(from === link.client && link.serverGone)) from?.resume();
  }

  /** One side ended its writing (half-close): the other is ended once what waits for it is written. */
  private ended(link: Link | undefined, dir: Side): void {
    if (link === undefined || link.closed) return;
    dir.ending = true;
    if (dir.peer !== undefined && dir.pending.length === 0) this.endSide(link, dir);
  }

  /**
   * Passes an end on: to the server as a half-close (shutdown of the writing side: Bun.serve then answers a request
   * a probe sent before it ended, as over TCP, or drops one whose client has gone; end() would close the unix socket
   * both ways, the answer lost), to the client as the end of the connection.
   */
  private endSide(link: Link, dir: Side): void {
    if (dir === link.toServer) link.server?.shutdown();
    else link.client?.end();
  }

  /**
   * A side that cannot be written to is closing: the server (a 413 answered, and closed on a body) still has its
   * answer to hand over, read before its close is; a client that has gone ends the relay.
   */
  private writeFailed(link: Link, dir: Side): void {
    if (dir !== link.toServer) return this.close(link);
    // Its close comes next (serverGone): until then, what it sends still goes to the client.
    link.serverGone = true;
    link.toServer.pending = [];
    link.client?.pause();
  }

  /**
   * The server closed its side (an answer with `Connection: close`, its idle timeout, a 413): what it sent still
   * goes to the client, which then is ended; a client that takes none of it for idleTimeoutS is cut.
   */
  private serverGone(link: Link): void {
    if (link.closed || link.server === undefined) return;
    link.serverGone = true;
    // Not read on: a client still sending a body (a 413) is not read on this thread; closing at once instead would
    // answer its next bytes with a reset, which discards the answer still unread on its side.
    link.client?.pause();
    link.client?.timeout(this.idleTimeoutS);
    link.server = undefined;
    link.toServer.peer = undefined;
    link.toServer.pending = [];
    link.toClient.ending = true;
    if (link.toClient.pending.length === 0) link.client?.end();
  }

  private close(link: Link | undefined): void {
    if (link === undefined || link.closed) return;
    link.closed = true;
    this.links.delete(link);
    this.open--;
    const n = (this.perClient.get(link.address) ?? 1) - 1;
    if (n > 0) this.perClient.set(link.address, n);
    else this.perClient.delete(link.address);
    link.client?.terminate();
    link.server?.terminate();
  }
}
