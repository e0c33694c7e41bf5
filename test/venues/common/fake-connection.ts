/** A VenueConnection on a fake socket, for the common request machinery's tests. */
import type { MarketName } from "../../../src/core/types.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { parseRecordedRequest } from "../../../src/venues/common/recorded-request.ts";
import type { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";

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

/**
 * Replay of a recorded request (`ws:req`'s JSON) as the lifecycle takes it (replaySocketEvent): read by
 * parseRecordedRequest, then given to `control`'s replayRecorded. False when it is no request (the lifecycle counts
 * that malformed) or replayRecorded does not take it.
 */
export function replayRecordedJson(control: SubscriptionControl, conn: VenueConnection, json: string): boolean {
  const req = parseRecordedRequest(json);
  return typeof req !== "string" && control.replayRecorded(conn, req);
}
