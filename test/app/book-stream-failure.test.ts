/**
 * A deep book body whose formatting fails part-way (book-stream.ts turnStream): the failure is reported once, to
 * onError (http-server.ts logs it naming the request), and the stream errors without a reason. Given the error as its
 * reason, Bun printed it to stderr in its own format as well (with a source excerpt) when it cut the connection, seen
 * in the suite's output beside test/app/http-turn-queue.test.ts. The value is impossible in a book (every venue's
 * reader refuses a mantissa above 2^53 − 1, core/fixed.ts): it is written into the copy here to make formatting throw.
 */
import { expect, test } from "vitest";
import { levelsOf } from "../../src/app/book-json.ts";
import { bookBodyStream, heldLevelBytesNow, LEVELS_PER_CHUNK } from "../../src/app/book-stream.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";

test("a body failing part-way tells onError and errors without handing the runtime the error", async () => {
  const b = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", "FAIL"), venue: "bybit", market: "linear", symbol: "FAIL", priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" });
  const u = new BookUpdate();
  u.isSnapshot = true;
  u.venueSeq = 1;
  for (let l = 0; l < LEVELS_PER_CHUNK; l++) {
    u.pushBid(100_000 - l, 1000);
    u.pushAsk(100_001 + l, 1000);
  }
  b.applySnapshot(u);
  const levels = levelsOf(b, true);
  levels.askPx[LEVELS_PER_CHUNK / 2] = 2 ** 60; // in the second chunk
  const errors: unknown[] = [];
  for (const msgpack of [false, true]) {
    const reader = bookBodyStream(levels, msgpack, undefined, (err) => errors.push(err)).getReader();
    const first = await reader.read();
    expect(first.done, "the first chunk").toBe(false);
    const reason = await reader.read().then(
      () => "no error",
      (err: unknown) => err,
    );
    expect(reason, msgpack ? "msgpack" : "json").toBeUndefined();
  }
  expect(errors.map(String)).toEqual(["RangeError: formatFixed: 1152921504606847000 is not a safe integer", "RangeError: formatFixed: 1152921504606847000 is not a safe integer"]);
  expect(heldLevelBytesNow()).toBe(0);
});
