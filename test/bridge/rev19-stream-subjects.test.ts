/**
 * `to-nats --stream NAME` on a stream that already exists (rev19). The bridge updated it with its own subjects,
 * which replaces the stream's: a second bridge with another prefix (another site's feed) given the same stream name
 * silently ended the first one's history (its messages no longer kept). Now the bridge refuses to start, naming the
 * stream and what it keeps; the same prefix still updates the retention. A reader is held to the same rule, at start
 * and when an operator edits the subjects of the stream it reads. Real nats-server with JetStream.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { waitFor } from "../e2e/harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
let nats: NatsServer;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
}, 30_000);

afterAll(async () => {
  await nats?.stop();
});

/** Stores `data` on `subject` through JetStream (resolves once the stream has it): its stream sequence. */
async function store(subject: string, data: string): Promise<number> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstream } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: nats.url });
  try {
    return (await jetstream(nc).publish(subject, new TextEncoder().encode(data))).seq;
  } finally {
    await nc.close();
  }
}

function streamConfig(name: string): Promise<{ subjects: string[]; max_age: number }> {
  return nats.withJsm(async (jsm) => (await jsm.streams.info(name)).config as unknown as { subjects: string[]; max_age: number });
}

function bridge(prefix: string, maxAgeMs: number): ForwardBridge {
  return new ForwardBridge({ groups: [], servers: nats.url, prefix, jetstream: { stream: "SHARED", maxAgeMs, maxBytes: 1 << 20 }, log: silentLogger });
}

describe.skipIf(missing !== undefined)(`to-nats on an existing JetStream stream${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("another prefix's stream is left alone and the bridge does not start; the same prefix updates the retention", async () => {
    const a = bridge("site1", 60_000);
    await a.start();
    await a.stop();
    const b = bridge("site2", 60_000);
    await expect(b.start()).rejects.toThrow(/JetStream stream SHARED keeps site1\.>, not site2\.>/);
    await b.stop();
    expect((await streamConfig("SHARED")).subjects).toEqual(["site1.>"]);
    const again = bridge("site1", 120_000);
    await again.start();
    await again.stop();
    expect(await streamConfig("SHARED")).toMatchObject({ subjects: ["site1.>"], max_age: 120_000 * 1e6 });
  });
});

describe.skipIf(missing !== undefined)(`a reader of a JetStream stream${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("of another prefix is refused naming what the stream keeps (it would show another feed as this one)", async () => {
    const { FeedSubscriber, attachNats } = await import("../../src/subscriber/index.ts");
    const a = new ForwardBridge({ groups: [], servers: nats.url, prefix: "siteA", jetstream: { stream: "ONLY_A", maxAgeMs: 60_000, maxBytes: 1 << 20 }, log: silentLogger });
    await a.start();
    await a.stop();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    await expect(attachNats(sub, { servers: nats.url, prefix: "siteB", stream: "ONLY_A", from: "all" })).rejects.toThrow(/JetStream stream ONLY_A keeps siteA\.>, not only siteB\.>/);
    const reader = await attachNats(sub, { servers: nats.url, prefix: "siteA", stream: "ONLY_A", from: "all" });
    await reader.stop();
  });

  // Before, the reader's idle look read only the stream's creation time, which an edit in place keeps: the reader
  // stayed ready, reading nothing of this feed.
  test("whose subjects an operator edits to another prefix's is told so and not ready; read again once edited back", async () => {
    const { FeedSubscriber, attachNats } = await import("../../src/subscriber/index.ts");
    const a = new ForwardBridge({ groups: [], servers: nats.url, prefix: "siteE", jetstream: { stream: "EDITED", maxAgeMs: 60_000, maxBytes: 1 << 20 }, log: silentLogger });
    await a.start();
    await a.stop();
    const told: string[] = [];
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    const reader = await attachNats(sub, { servers: nats.url, prefix: "siteE", stream: "EDITED", from: "all", reconnectAfterCloseMs: 50, onNatsEvent: (e) => told.push(e.kind) });
    try {
      await nats.withJsm((jsm) => jsm.streams.update("EDITED", { subjects: ["other.>"] }));
      await waitFor(() => told.length > 0, "the edit told");
      expect([told, reader.health.streamProblem]).toEqual([["stream_foreign"], "foreign_subjects"]);
      await nats.withJsm((jsm) => jsm.streams.update("EDITED", { subjects: ["siteE.>"] }));
      await waitFor(() => told.length > 1, "read again");
      expect([told, reader.health.streamProblem]).toEqual([["stream_foreign", "consumer_made"], undefined]);
    } finally {
      await reader.stop();
    }
    // The consumers it stopped (the one refused at the edit, the last one at stop()) are deleted, not left to expire
    // after 5 min (before 2026-12-07: 2 here).
    expect(await nats.withJsm(async (jsm) => (await jsm.streams.info("EDITED")).state.consumer_count)).toBe(0);
  });

  // The reader goes on after the last message it read once the subjects are its feed's again: before 2026-12-07 that
  // read the other feed's messages stored while the stream kept only its subjects, as this feed's envelopes.
  test("whose subjects were another prefix's for a while reads none of that prefix's messages once edited back", async () => {
    const { FeedSubscriber, attachNats } = await import("../../src/subscriber/index.ts");
    const a = new ForwardBridge({ groups: [], servers: nats.url, prefix: "siteF", jetstream: { stream: "EDITED2", maxAgeMs: 60_000, maxBytes: 1 << 20 }, log: silentLogger });
    await a.start();
    await a.stop();
    const told: string[] = [];
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    const reader = await attachNats(sub, { servers: nats.url, prefix: "siteF", stream: "EDITED2", from: "all", reconnectAfterCloseMs: 50, onNatsEvent: (e) => told.push(e.kind) });
    try {
      await nats.withJsm((jsm) => jsm.streams.update("EDITED2", { subjects: ["otherF.>"] }));
      await waitFor(() => told.length > 0, "the edit told");
      await store("otherF.x", "the other feed's");
      await nats.withJsm((jsm) => jsm.streams.update("EDITED2", { subjects: ["siteF.>"] }));
      await waitFor(() => told.length > 1, "read again");
      const seq = await store("siteF.x", "this feed's"); // after the other's in the stream: read after it, if at all
      const lastRead = () => (reader as unknown as { lastJsMsg?: { info?: { streamSequence?: number } } }).lastJsMsg?.info?.streamSequence;
      await waitFor(() => lastRead() === seq, "this feed's message read");
      expect([told, reader.counters.envelopes]).toEqual([["stream_foreign", "consumer_made"], 1]); // before: 2
    } finally {
      await reader.stop();
    }
  });

  // A consumer reading is not looked at (the idle look): a stream edited to keep another prefix's subjects beside
  // this feed's stays read. Before 2026-12-07 the other feed's messages stored from then on were read as this feed's.
  test("whose subjects an operator edits to keep another prefix's too reads only this feed's messages", async () => {
    const { FeedSubscriber, attachNats } = await import("../../src/subscriber/index.ts");
    const a = new ForwardBridge({ groups: [], servers: nats.url, prefix: "siteG", jetstream: { stream: "EDITED3", maxAgeMs: 60_000, maxBytes: 1 << 20 }, log: silentLogger });
    await a.start();
    await a.stop();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    // No idle look within the test (every 60 s): the edit stays unseen, as while this feed's messages keep coming.
    const reader = await attachNats(sub, { servers: nats.url, prefix: "siteG", stream: "EDITED3", from: "all", reconnectAfterCloseMs: 60_000 });
    try {
      await nats.withJsm((jsm) => jsm.streams.update("EDITED3", { subjects: ["siteG.>", "otherG.>"] }));
      await store("otherG.x", "the other feed's");
      const seq = await store("siteG.x", "this feed's");
      const lastRead = () => (reader as unknown as { lastJsMsg?: { info?: { streamSequence?: number } } }).lastJsMsg?.info?.streamSequence;
      await waitFor(() => lastRead() === seq, "this feed's message read");
      expect(reader.counters.envelopes).toBe(1); // before: 2
    } finally {
      await reader.stop();
    }
  });
});
