/** A VenueConnection on a fake socket, for the common request machinery's tests. */
import type { MarketName } from "../../../src/core/types.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";

/** Open on a socket that only records what is sent (`sent`), so requests go at once; named `fake-<id>`. */
export class SendRecordingConnection extends VenueConnection {
  readonly sent: string[] = [];
  constructor(id = 0, market: MarketName = "spot") {
    super(id, market, "ws://127.0.0.1:1/", `fake-${id}`);
    this.ws = { send: (t: string) => void this.sent.push(t) } as unknown as WebSocket;
    this.open = true;
  }
  bindMessages(): void {}

  /** Topics named `book.<symbol>` of this connection's market at `depth`, the i-th as book index i, added to it. */
  addTopics(names: string[], depth: number): TopicState<this>[] {
    const topics = names.map((name, i) => new TopicState(i, this.market, name.slice(5), depth, name, this));
    for (const t of topics) {
      this.topics.push(t);
      this.byTopic.set(t.topic, t);
    }
    return topics;
  }
}
