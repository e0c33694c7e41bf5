/**
 * Attributing a frame to the one topic it names (VenueConnection.topicOfFrame: parse errors, frames whose handling
 * threw). The answer is the simple rule's (the topic whose name appears quoted in the frame; none or several:
 * undefined), found without walking the connection's topics: until 2026-12-06 the frame was searched once per topic,
 * ~0.1 ms a frame on a Binance connection of 1,024 streams, paid by every frame while a bug made each throw. And
 * namesOneOf (replay: a frame naming a topic a recorded request named), the same scan.
 */
import { describe, expect, test } from "vitest";
import { rng } from "../../wire/helpers.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

/** The rule, as the reference: each topic's quoted name searched in the frame. */
function namedIn<T extends { topic: string }>(topics: readonly T[], frame: string): T | undefined {
  let found: T | undefined;
  for (const t of topics) {
    if (!frame.includes(`"${t.topic}"`)) continue;
    if (found !== undefined) return undefined;
    found = t;
  }
  return found;
}

/**
 * 300 connections of random topic names, 20 random frames each: tokens of topic names, their prefixes and suffixes,
 * other strings, numbers and JSON punctuation, quoted or not.
 */
function eachRandomFrame(seed: number, check: (conn: SendRecordingConnection, frame: string) => void): void {
  const r = rng(seed);
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)]!;
  const bases = ["BTCUSDT", "ETHUSDT", "BTC-USD", "BTC-USDT", "KRW-BTC", "book.BTC-PERPETUAL.100ms", "btcusdt@depth@100ms", "a", "ab", ""];
  for (let round = 0; round < 300; round++) {
    const conn = new SendRecordingConnection();
    const names = [...new Set(Array.from({ length: 1 + Math.floor(r() * 6) }, () => `book.${pick(bases)}${r() < 0.3 ? pick(["", ".50", "X"]) : ""}`))];
    conn.addTopics(names, 50);
    const token = (): string => {
      const name = pick(names);
      const s = pick([name, name.slice(1), name.slice(0, -1), `${name}x`, pick(bases), "topic", "data"]);
      return pick([`"${s}"`, `"${s}"`, s, "1.5", ",", ":", "{", "}", "[", "]", '"', `"\\"${s}"`]);
    };
    for (let f = 0; f < 20; f++) check(conn, Array.from({ length: Math.floor(r() * 12) }, token).join(pick(["", ",", ":"])));
  }
}

describe("topicOfFrame", () => {
  test("randomized: the topic whose name is quoted in the frame, as the reference finds it", () => {
    eachRandomFrame(17, (conn, frame) => expect(conn.topicOfFrame(frame), frame).toBe(namedIn(conn.topics, frame)));
  });

  test("the connection's topics are looked up by name, not searched for one by one", () => {
    const conn = new SendRecordingConnection();
    const topics = conn.addTopics(Array.from({ length: 1024 }, (_, i) => `book.sym${i}usdt@depth@100ms`), 1000);
    let reads = 0;
    for (const t of topics) {
      const name = t.topic;
      Object.defineProperty(t, "topic", { get: () => (reads++, name) });
    }
    const frame = '{"stream":"book.sym777usdt@depth@100ms","data":{"e":"depthUpdate","s":"SYM777USDT","b":[["100.00","1.000"]],"a":[]}}';
    expect(conn.topicOfFrame(frame)).toBe(topics[777]);
    // Before: every topic's name was read and searched for in the frame (1,024 searches for one frame).
    expect(reads).toBe(0);
  });
});

describe("namesOneOf", () => {
  // The same scan as topicOfFrame's (frame-topic.ts quotedIn), but any one name is enough: two are not "none".
  test("randomized: true when one of the names is quoted in the frame, as the reference finds it", () => {
    eachRandomFrame(18, (conn, frame) => {
      const names = new Set(conn.topics.filter((_, i) => i % 2 === 0).map((t) => t.topic));
      expect(conn.namesOneOf(names, frame), frame).toBe([...names].some((n) => frame.includes(`"${n}"`)));
    });
  });
});
