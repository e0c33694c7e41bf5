/**
 * An answer names our request by its id; only an answer without one (null or absent: Binance could not read the
 * request's) is taken for the oldest pending request (subscription-control.ts). Our wire ids are 10 and up (the
 * kind's digit, then the number: protocol.ts wireId). An id we never send (a number under 10, negative, fractional,
 * too large to be exact, an empty string) names a request that is not ours: it must answer none. Before, reqIdOf
 * read such ids as "no id", so `{"result":null,"id":5}` confirmed our oldest pending subscribe, which Binance had not
 * answered, and `{"error":{…},"id":5}` refused it (a single stream rejected).
 */
import { expect, test } from "vitest";
import { classifyControl, reqIdOf } from "../../../src/venues/binance/protocol.ts";

test("an id we never send answers no request (not the oldest pending one); only a null or absent id does", () => {
  for (const id of [0, 5, 9, -1, -112, 1.5, 2 ** 60, ""]) {
    expect(reqIdOf(id)).not.toBe(undefined); // old: undefined, i.e. "the oldest pending request"
    const ack = classifyControl({ result: null, id });
    expect(ack.kind === "ack" && ack.reqId !== undefined).toBe(true);
    const err = classifyControl({ error: { code: 2, msg: "Invalid request: invalid stream" }, id });
    expect(err.kind === "ack" && !err.success && err.reqId !== undefined).toBe(true);
  }
  expect(reqIdOf(null)).toBe(undefined);
  expect(reqIdOf(undefined)).toBe(undefined);
  const idless = classifyControl({ error: { code: 3, msg: "Invalid JSON" } });
  expect(idless.kind === "ack" && idless.reqId === undefined).toBe(true);
  expect(reqIdOf(112)).toBe("s12");
});
