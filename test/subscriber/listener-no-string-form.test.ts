/**
 * A subscriber listener (or a bug in the receive path) that throws a value with no string form (Object.create(null))
 * is reported as an 'error' event describing it, and ingest() goes on: until 2026-12-07 the report did
 * `new Error(String(err))`, which throws for such a value, so the throw left the receive loop (a NATS repacker's:
 * swallowed by its guard, never reported). No sockets.
 */
import { expect, test } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { KEY, signedStream } from "../support/signed-stream.ts";

const NO_STRING_FORM = "a thrown [object Object] with no string form";

function subscriber(): { sub: FeedSubscriber; errors: [string, string][] } {
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, authKey: KEY });
  const errors: [string, string][] = [];
  sub.on("error", (e) => errors.push([e.error.message, e.from]));
  return { sub, errors };
}

test("an update listener that throws a value with no string form: reported, counted, the stream goes on", () => {
  const { sub, errors } = subscriber();
  sub.on("update", () => {
    throw Object.create(null);
  });
  const datagrams = signedStream(2, true);
  for (const d of datagrams) sub.ingest(d, 1);
  expect(errors.length).toBeGreaterThan(0);
  expect(new Set(errors.map((e) => e.join(" from ")))).toEqual(new Set([`${NO_STRING_FORM} from listener`]));
  expect(sub.counters.listenerErrors).toBe(errors.length);
  expect(sub.counters.gaps).toBe(0);
});

test("a receive-path throw with no string form: reported naming where it came from, ingest() does not throw", () => {
  const { sub, errors } = subscriber();
  (sub as unknown as { processPacket: () => void }).processPacket = () => {
    throw Object.create(null);
  };
  sub.ingest(signedStream(0, false)[0]!, 1, "10.0.0.1");
  expect(errors).toEqual([[NO_STRING_FORM, "10.0.0.1"]]);
});

test("a NATS repacker's callback that throws a value with no string form: counted and handed to onListenerError", () => {
  // Before: the hand-over's new Error(String(err)) threw, swallowed by its guard: counted, never reported.
  const reported: string[] = [];
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, onListenerError: (e) => void reported.push(e.message) });
  rep.tell(() => {
    throw Object.create(null);
  }, 1);
  expect([rep.counters.listenerErrors, reported]).toEqual([1, [NO_STRING_FORM]]);
});
