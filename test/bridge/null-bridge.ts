/**
 * Forward bridges whose NATS client is a stand-in that keeps nothing, for the allocation tests (a recording client's
 * growing array would be counted as the bridge's). No sockets.
 * @module
 */
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";

/** A NATS client that keeps nothing: it counts the envelopes and remembers the last subject. */
export class NullClient {
  envelopes = 0;
  /** Set by a test that keeps them (not while metering). */
  kept: Uint8Array[] | undefined;
  lastSubject = "";
  readonly protocol = { connected: true, outbound: { size: () => 0 } };
  publish(subject: string, data: Uint8Array): void {
    this.envelopes++;
    this.lastSubject = subject;
    this.kept?.push(data);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The same with nats-core's protocol handler's command queue (the bridge then writes its own PUB frames). */
export class NullFrameClient extends NullClient {
  commands = 0;
  override readonly protocol = { connected: true, outbound: { size: () => 0 }, info: { max_payload: 1 << 20 }, sendCommand: (_cmd: Uint8Array) => void this.commands++ };
}

export class NullBridge extends ForwardBridge {
  readonly client = new NullClient();
  protected override async connect(): Promise<unknown> {
    return this.client;
  }
}

export class NullFrameBridge extends ForwardBridge {
  readonly client = new NullFrameClient();
  protected override async connect(): Promise<unknown> {
    return this.client;
  }
}
