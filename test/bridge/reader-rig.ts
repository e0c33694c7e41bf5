/**
 * The NATS reader's end-to-end rig shared by the bridge tests: nats-server, `bridges` ForwardBridges on loopback
 * multicast groups (interface 127.0.0.1), the reader (attachNats) feeding an unchanged FeedSubscriber, and a sender
 * socket (TTL 1) for the test's datagrams. Fields are set by start(); stop() ends whatever start() got to.
 */
import dgram from "node:dgram";
import { ForwardBridge, type ForwardBridgeOptions } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type BridgeEvent, type NatsFeedReader } from "../../src/subscriber/index.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { T0, take } from "../subscriber/feed-harness.ts";
import { NatsServer } from "./nats-server.ts";

export interface Destination {
  group: string;
  port: number;
}

export interface ReaderRigOptions<B extends ForwardBridge> {
  prefix: string;
  groups: Destination[];
  /** How many bridges forward the groups (default 1). */
  bridges?: number;
  makeBridge?: (opts: ForwardBridgeOptions) => B;
  onBridgeEvent?: (e: BridgeEvent) => void;
}

export class ReaderRig<B extends ForwardBridge = ForwardBridge> {
  nats!: NatsServer;
  readonly bridges: B[] = [];
  sub!: FeedSubscriber;
  reader!: NatsFeedReader;
  sender!: dgram.Socket;
  /** The upstream send time of the datagrams send() sealed last. */
  sendUs = T0;

  constructor(private readonly opts: ReaderRigOptions<B>) {}

  async start(): Promise<void> {
    const { prefix, groups, onBridgeEvent } = this.opts;
    const make = this.opts.makeBridge ?? ((o: ForwardBridgeOptions) => new ForwardBridge(o) as B);
    this.nats = await NatsServer.start();
    for (let i = 0; i < (this.opts.bridges ?? 1); i++) {
      const b = make({ groups: groups.map((g) => ({ ...g, iface: "127.0.0.1" })), servers: this.nats.url, prefix, log: silentLogger });
      await b.start();
      this.bridges.push(b);
    }
    this.sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    await this.sub.start();
    this.reader = await attachNats(this.sub, { servers: this.nats.url, prefix, ...(onBridgeEvent ? { onBridgeEvent } : {}) });
    const sender = dgram.createSocket({ type: "udp4" });
    this.sender = sender;
    await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", () => resolve()));
    sender.setMulticastInterface("127.0.0.1");
    sender.setMulticastTTL(1);
  }

  /** Sends the datagrams to `to` one after another (each once the previous one is handed to the kernel). */
  sendAll(datagrams: Uint8Array[], to: Destination): Promise<void> {
    return datagrams.reduce((prev, d) => prev.then(() => new Promise<void>((resolve, reject) => this.sender.send(d, to.port, to.group, (err) => (err ? reject(err) : resolve())))), Promise.resolve());
  }

  /** Seals the packer's datagrams `stepUs` after the last ones (their upstream send time) and sends them to `to` in order. */
  send(p: ChannelPacker, to: Destination, stepUs: number): Promise<void> {
    return this.sendAll(take(p, (this.sendUs += stepUs)), to);
  }

  async stop(): Promise<void> {
    this.sender?.close();
    await this.reader?.stop();
    await this.sub?.stop();
    for (const b of this.bridges) await b.stop();
    await this.nats?.stop();
  }
}
