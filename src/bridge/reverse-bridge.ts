/**
 * NATS → multicast (docs/nats.md): reads the bridge's subjects (live) or its JetStream stream (from now, from the
 * start, or from a time) and publishes the messages as fresh datagrams of its own stream (its own channel,
 * source_id and session) on a local group, so the remote site's subscribers need no change. It heartbeats only
 * while upstream is alive: a dead publisher, bridge or NATS link makes the local books stale, as a dead local
 * publisher would.
 * @module
 */
import { openMulticastSender } from "../net/multicast.ts";
import { prefixCheck } from "../subscriber/nats-envelope.ts";
import { NatsFeedReader, type NatsReadOptions, type NatsReaderCounters } from "../subscriber/nats-source.ts";

export interface ReverseBridgeOptions extends NatsReadOptions {
  group: string;
  port: number;
  iface: string;
  ttl: number;
}

export class ReverseBridge {
  private readonly opts: ReverseBridgeOptions;
  private socket: Bun.udp.Socket<"uint8array"> | undefined;
  reader: NatsFeedReader | undefined;
  sendErrors = 0;
  /**
   * Datagrams sent to the local group (those the kernel took) and their bytes. Counted at the send: the reader's
   * `datagrams` also counts what it hands over after stop() (dropped here, never sent).
   */
  sentDatagrams = 0;
  sentBytes = 0;
  /**
   * The counters of the readers of earlier runs (a start after stop() makes a new reader, whose counters start at
   * 0): `counters` adds them, so no count goes down within the process (before, the metrics read the new reader's).
   */
  private earlier: NatsReaderCounters | undefined;
  /** stop() was called: a start still under way goes no further (the reader's own start looks at its stop). */
  private stopped = false;
  /** start() was called and stop() not since. */
  private running = false;
  /** Starts so far: a start whose socket failed to open resets `running` only if no stop() and start() came since. */
  private starts = 0;

  constructor(opts: ReverseBridgeOptions) {
    prefixCheck(opts.prefix); // here, not only at start(): its reader is made there
    this.opts = opts;
  }

  /** The reader's counters over every run of this bridge (cold: a scrape, a log line). */
  get counters(): NatsReaderCounters | undefined {
    const now = this.reader?.counters;
    return now === undefined || this.earlier === undefined ? now : sumCounters(this.earlier, now);
  }

  /** Once per stop(): a second start would leave the first socket and NATS reader running, sending every datagram twice. */
  async start(): Promise<void> {
    if (this.running) throw new Error("bridge: start() called twice (stop() first)");
    this.running = true;
    const run = ++this.starts;
    const o = this.opts;
    this.stopped = false;
    let socket: Bun.udp.Socket<"uint8array">;
    try {
      socket = await openMulticastSender({ iface: o.iface, ttl: o.ttl });
    } catch (err) {
      if (this.starts === run) this.running = false; // nothing opened: the caller may start again
      throw err;
    }
    // stop() while the socket opened (a signal during start-up) had nothing to close: before, the start went on,
    // connected to NATS and sent after the stop. Also after stop() and start() again (before, only `stopped` was
    // looked at, cleared by that start: two sockets and readers, every datagram sent twice).
    if (this.stopped || this.starts !== run) return socket.close();
    this.socket = socket;
    const previous = this.reader?.counters;
    if (previous !== undefined) this.earlier = this.earlier === undefined ? previous : sumCounters(this.earlier, previous);
    this.reader = new NatsFeedReader(o, (d) => {
      // After stop() the reader may still drain what it had buffered: drop it, never send on a closed socket.
      const socket = this.socket;
      if (socket === undefined) return;
      try {
        if (socket.send(d, o.port, o.group)) {
          this.sentDatagrams++;
          this.sentBytes += d.byteLength;
        } else this.sendErrors++;
      } catch {
        this.sendErrors++; // a send the kernel refuses is counted, like the publisher's (never thrown into NATS)
      }
    });
    try {
      await this.reader.start();
    } catch (err) {
      // The reader closed what it opened; the socket is this bridge's. Before, it stayed open and the bridge
      // `running` until stop(): a caller that handled the rejection kept the socket, its start again refused.
      if (this.socket === socket) {
        this.socket = undefined;
        socket.close();
        this.running = false; // else stop() came meanwhile (and maybe a start since): not this start's to say
      }
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    const socket = this.socket;
    this.socket = undefined; // first: anything the reader still drains is dropped
    await this.reader?.stop();
    socket?.close();
  }
}

/** a + b, field by field (the refusals by reason too). */
function sumCounters(a: NatsReaderCounters, b: NatsReaderCounters): NatsReaderCounters {
  const out = { ...b, refused: { ...b.refused } } as NatsReaderCounters;
  for (const k of Object.keys(out) as (keyof NatsReaderCounters)[]) if (typeof out[k] === "number") (out as unknown as Record<string, number>)[k] = (a[k] as number) + (b[k] as number);
  for (const r of Object.keys(out.refused) as (keyof NatsReaderCounters["refused"])[]) out.refused[r] = a.refused[r] + b.refused[r];
  return out;
}
