/**
 * NATS → multicast (docs/nats.md): reads the bridge's subjects (live) or its JetStream stream (from now, from the
 * start, or from a time) and publishes the messages as fresh datagrams of its own stream (its own channel,
 * source_id and session) on a local group, so the remote site's subscribers need no change. It heartbeats only
 * while upstream is alive: a dead publisher, bridge or NATS link makes the local books stale, as a dead local
 * publisher would.
 * @module
 */
import { openMulticastSender } from "../net/multicast.ts";
import { NatsFeedReader, type NatsReadOptions } from "../subscriber/nats-source.ts";

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

  constructor(opts: ReverseBridgeOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    const o = this.opts;
    const socket = (this.socket = await openMulticastSender({ iface: o.iface, ttl: o.ttl }));
    this.reader = new NatsFeedReader(o, (d) => {
      if (!socket.send(d, o.port, o.group)) this.sendErrors++;
    });
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await this.reader?.stop();
    this.socket?.close();
    this.socket = undefined;
  }
}
