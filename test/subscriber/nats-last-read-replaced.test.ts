/**
 * NatsFeedReader's check that the last message read is still stored as read (lastReadReplaced), without a server: a
 * fake jsm answers the get. A read message whose stored time is not a number (NaN: no time to compare) tells nothing,
 * as truncatedFrom's check of it does; before, NaN !== any stored time made every such look a lost tail.
 */
import { expect, test } from "vitest";
import { NatsFeedReader, storedNanos } from "../../src/subscriber/nats-source.ts";

type Look = (jsm: unknown, info: unknown, m: unknown) => Promise<boolean>;

function look(readNs: number, storedTime: string): Promise<boolean> {
  const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", stream: "S" }, () => {});
  const jsm = { streams: { getMessage: async () => ({ seq: 5, timestamp: storedTime }) } };
  const info = { created: "2026-12-07T00:00:00Z", state: { first_seq: 1, last_seq: 9 } };
  const m = { info: { streamSequence: 5, timestampNanos: readNs } };
  return (reader as unknown as { lastReadReplaced: Look }).lastReadReplaced.call(reader, jsm, info, m);
}

test("a read message with no real stored time is not taken as replaced", async () => {
  expect(await look(Number.NaN, "2026-12-07T10:00:00.000000001Z")).toBe(false); // before: true (a lost tail told)
});

test("a read message stored at another time than the stream's is replaced; at the same, not", async () => {
  const ns = storedNanos("2026-12-07T10:00:00.001Z")!;
  expect(await look(ns, "2026-12-07T10:00:00.001Z")).toBe(false);
  expect(await look(ns, "2026-12-07T10:00:00.002Z")).toBe(true);
});
