/** A ForwardBridge whose NATS client is a recorder: what it published, and a connected flag a test can clear. */
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";

/** The NATS client's parts the bridge reads: what it published, and whether it is connected. */
export class RecordingClient {
  readonly published: Uint8Array[] = [];
  readonly protocol = { connected: true, outbound: { size: () => 0 } };
  publish(_subject: string, data: Uint8Array): void {
    this.published.push(data);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export class RecordedBridge extends ForwardBridge {
  readonly client = new RecordingClient();
  protected override async connect(): Promise<unknown> {
    return this.client;
  }
}
