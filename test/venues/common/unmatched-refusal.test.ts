/**
 * A refusal that names no request, op or topic (Bybit option's COMMAND_RESP `{"success":false,"ret_msg":…,
 * "type":"COMMAND_RESP"}` with no lists) answers the one request written when there is one; with several out, whose it
 * is cannot be told, so each is taken as answered the safe way (subscribe topics restarted: unsubscribe, then
 * subscribe; unsubscribe topics taken as unsubscribed) and none waits for an answer that no longer comes
 * (SubscriptionControl.unmatchedRefusal). Bybit's own protocol on a fake socket.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BYBIT_REQUESTS } from "../../../src/venues/bybit/protocol.ts";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING } from "../../../src/venues/common/connection.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

const REFUSAL = { success: false, ret_msg: "error:more than 2000 args per connection (simulator)", conn_id: "c1", type: "COMMAND_RESP" };
const accepted = (topics: string[]) => ({ success: true, conn_id: "c1", data: { failTopics: [], successTopics: topics }, type: "COMMAND_RESP" });
const sentOps = (conn: SendRecordingConnection) => conn.sent.map((s) => JSON.parse(s) as { req_id: string; op: string; args: string[] }).map((r) => `${r.req_id} ${r.op} ${r.args.join(",")}`);

function rig() {
  const control = new SubscriptionControl(BYBIT_REQUESTS, silentLogger, () => 0, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "option");
  const [a, b] = conn.addTopics(["book.A", "book.B"], 25);
  return { control, conn, a: a!, b: b! };
}

describe("a refusal naming no request, op or topic", () => {
  test("several requests out: each answered the safe way, none left pending (before: the oldest took it, the refused one waited)", () => {
    const { control, conn, a, b } = rig();
    a.sub = SUB_ACTIVE;
    control.sendRequest(conn, "unsubscribe", [a]); // u1
    control.sendRequest(conn, "subscribe", [b]); // s2
    expect(sentOps(conn)).toEqual(["u1 unsubscribe book.A", "s2 subscribe book.B"]);
    control.onControl(conn, REFUSAL);
    // Before: u1 took it (A taken as unsubscribed) and s2 stayed pending until its ack deadline; u1's real answer,
    // per topic and without op, could then confirm a later subscribe of A.
    expect([...conn.pending.values()].map((p) => p.reqId)).not.toContain("s2");
    expect(a.sub).toBe(SUB_IDLE); // taken as unsubscribed, as a refused unsubscribe is
    // B may be subscribed on the venue or not: restarted, unsubscribe then subscribe (never a duplicate subscribe).
    expect(sentOps(conn).slice(2)).toEqual(["u3 unsubscribe book.B"]);
    control.onControl(conn, accepted(["book.B"])); // u3's answer
    expect(sentOps(conn).slice(3)).toEqual(["s4 subscribe book.B"]);
    expect(b.sub).toBe(SUB_PENDING);
    control.onControl(conn, accepted(["book.B"])); // s4's
    expect([b.sub, conn.pending.size]).toEqual([SUB_ACTIVE, 0]);
    control.stop();
  });

  test("several requests out on a planned reconnect's replacement, of books the old socket serves: the replacement failed (go back), never taken as subscribed", () => {
    // Taken as subscribed, a LIVE book was left as it was: nothing pending, the old socket was closed as replaced and the
    // book stayed LIVE fed by nothing if the refusal was its subscribe's (until the stale rule).
    const { control, conn, a, b } = rig();
    conn.retiringWs = { send: () => undefined } as unknown as WebSocket;
    conn.retiringGeneration = 1;
    conn.generation = 2;
    for (const t of [a, b]) {
      t.book = BookState.LIVE;
      t.onRetiring = true;
    }
    const refused: string[] = [];
    control.onReplacementRefused = (_conn, why) => refused.push(why) > 0;
    control.sendRequest(conn, "subscribe", [a]);
    control.sendRequest(conn, "subscribe", [b]);
    control.onControl(conn, REFUSAL);
    expect(refused).toEqual([expect.stringContaining(REFUSAL.ret_msg)]);
    // Left for the go-back, which forgets the replacement's requests: nothing taken as answered meanwhile.
    expect([a.sub, b.sub, conn.pending.size]).toEqual([SUB_PENDING, SUB_PENDING, 2]);
    control.stop();
  });

  test("the same when the old socket cannot be gone back to (closing): the LIVE books it fed leave LIVE and restart", () => {
    // Taken as subscribed, they stayed LIVE, and the old socket's close then took them for carried by the replacement.
    const invalid: [string, BookState][] = [];
    const control = new SubscriptionControl(BYBIT_REQUESTS, silentLogger, () => 0, undefined, (t, state) => {
      invalid.push([t.topic, state]);
      t.book = state;
    });
    const conn = new SendRecordingConnection(0, "option");
    const [a, b] = conn.addTopics(["book.A", "book.B"], 25);
    conn.retiringWs = { send: () => undefined } as unknown as WebSocket;
    conn.retiringGeneration = 1;
    for (const t of [a!, b!]) {
      t.book = BookState.LIVE;
      t.onRetiring = true;
    }
    control.onReplacementRefused = () => false;
    control.sendRequest(conn, "subscribe", [a!]);
    control.sendRequest(conn, "subscribe", [b!]);
    control.onControl(conn, REFUSAL);
    expect(invalid).toEqual([["book.A", BookState.RESYNCING], ["book.B", BookState.RESYNCING]]);
    expect(sentOps(conn).slice(2)).toEqual(["u3 unsubscribe book.A", "u4 unsubscribe book.B"]);
    control.stop();
  });

  test("one request out: it is that one's, as before (a single topic's subscribe sent again after its backoff)", () => {
    const { control, conn, b } = rig();
    control.sendRequest(conn, "subscribe", [b]);
    control.onControl(conn, REFUSAL);
    expect([conn.pending.size, control.subscribeErrors, sentOps(conn)]).toEqual([0, 1, ["s1 subscribe book.B"]]);
    control.stop();
  });
});
