/**
 * Binance's request side as the venue speaks it, not as our simulator once did: errors come wrapped,
 * `{"error":{"code","msg"},"id"}`, and the derivatives stream servers take unsigned integer ids only.
 */
import { describe, expect, test } from "vitest";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { BINANCE_KEEPALIVE, BINANCE_REQUESTS, classifyControl, reqIdOf, wireId } from "../../../src/venues/binance/protocol.ts";

const topic = (name: string) => ({ topic: name }) as unknown as TopicState;

describe("Binance request protocol", () => {
  test("a refusal as Binance sends it, {error:{code,msg},id}, fails its request (before: an unhandled frame, the request waited for its ack deadline and the connection was recycled)", () => {
    // Shapes from live logs: ctubio/Krypto-trading-bot#1121 (spot, "invalid stream"); USD-M refuses a string id.
    const c = classifyControl(JSON.parse('{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":112}'));
    expect(c).toMatchObject({ kind: "ack", success: false, reqId: "s12", retMsg: "code 2: Invalid request: invalid stream" });
    // Without an id (the request's id could not be read): it answers the oldest request out (reqId undefined).
    expect(classifyControl({ error: { code: 2, msg: "Invalid request: request ID must be an unsigned integer" } })).toMatchObject({ kind: "ack", success: false, reqId: undefined });
    expect(classifyControl({ error: { code: 2, msg: "Invalid request" }, id: null })).toMatchObject({ kind: "ack", success: false, reqId: undefined });
    // The doc table's bare form is still read.
    expect(classifyControl({ code: 3, msg: "Invalid JSON", id: 23 })).toMatchObject({ kind: "ack", success: false, reqId: "u3" });
  });

  test("request ids go out as unsigned integers (USD-M: 'The id ... is an unsigned INT'; before: \"s12\", which the derivatives servers refuse)", () => {
    for (const op of ["subscribe", "unsubscribe"] as const) {
      const sent = JSON.parse(BINANCE_REQUESTS.encodeRequest(op, [topic("btcusdt@depth@100ms")], op === "subscribe" ? "s12" : "u13")) as { id: unknown };
      expect(Number.isSafeInteger(sent.id) && (sent.id as number) >= 0).toBe(true);
      // The ack echoes it: it answers our request.
      expect(classifyControl(JSON.parse(`{"result":null,"id":${JSON.stringify(sent.id)}}`))).toMatchObject({ kind: "ack", success: true, reqId: op === "subscribe" ? "s12" : "u13" });
    }
    const ping = JSON.parse(BINANCE_KEEPALIVE.kind === "client_ping" ? BINANCE_KEEPALIVE.encodePing(7) : "{}") as { id: unknown };
    expect(Number.isSafeInteger(ping.id) && (ping.id as number) >= 0).toBe(true);
    expect(classifyControl(JSON.parse(`{"result":true,"id":${JSON.stringify(ping.id)}}`))).toEqual({ kind: "pong" });
  });

  test("wire ids are one to one, and a capture's string ids still read", () => {
    const seen = new Set<number>();
    for (const k of ["s", "u", "p"]) {
      for (const n of [0, 1, 9, 10, 12, 99, 100, 123456, 99_999_999_999_999]) {
        const id = wireId(`${k}${n}`);
        expect(seen.has(id)).toBe(false);
        seen.add(id);
        expect(reqIdOf(id)).toBe(`${k}${n}`);
      }
    }
    expect(reqIdOf("s4")).toBe("s4");
    expect(classifyControl({ result: true, id: "p2" })).toEqual({ kind: "pong" });
    expect(() => wireId("x1")).toThrow(/no wire form/);
  });
});
