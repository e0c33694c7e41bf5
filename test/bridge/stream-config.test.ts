/**
 * `to-nats --stream NAME` on a stream that already exists, as the server takes the bridge's configuration (real
 * nats-server with JetStream). The update kept the stream's duplicate window (2 min when made with a longer
 * `--max-age`), which the server requires to be within `max_age`: a bridge restarted with a retention under it was
 * refused ("duplicates window can not be larger then max age"), `bridge to-nats` exiting 1. And a stream made with
 * interest or work-queue retention (it removes a message once its consumers have it: no history) was taken and
 * reported as storing: the history was silently empty. So was a sealed stream's (every message refused), and the
 * update kept a stream's limit on its message count, per subject or on a message's size (a few messages, one per
 * instrument, or none of the envelopes, stored; the count until 2026-12-07), and one refusing new messages over its limit per subject failed the start (the server
 * refuses that beside discard old); one the server cannot update (a memory stream) exited 1 with the server's words
 * alone, the stream unnamed. And a reader's replay from a time before the stream's oldest
 * message (aged out by its max age or size) started at that message without a word.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { NatsFeedReader, type NatsReaderEvent } from "../../src/subscriber/nats-source.ts";
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

function bridge(stream: string, prefix: string, maxAgeMs: number): ForwardBridge {
  return new ForwardBridge({ groups: [], servers: nats.url, prefix, jetstream: { stream, maxAgeMs, maxBytes: 1 << 20 }, log: silentLogger });
}

/** Starts and stops a bridge on `stream`: the start's rejection, if any. */
async function startStop(stream: string, prefix: string, maxAgeMs: number): Promise<unknown> {
  const b = bridge(stream, prefix, maxAgeMs);
  let err: unknown;
  await b.start().catch((e: unknown) => (err = e));
  await b.stop();
  return err;
}

describe.skipIf(missing !== undefined)(`to-nats's JetStream stream configuration${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("a restart with a shorter --max-age than the stream's duplicate window updates the retention", async () => {
    expect(await startStop("AGE", "age", 86_400_000)).toBeUndefined(); // the server gave it a 2 min duplicate window
    expect(await startStop("AGE", "age", 60_000)).toBeUndefined();
    expect(await startStop("AGE", "age", 30_000)).toBeUndefined();
    const config = await nats.withJsm(async (jsm) => (await jsm.streams.info("AGE")).config);
    expect(config.max_age).toBe(30_000 * 1e6);
    expect(config.duplicate_window).toBeLessThanOrEqual(config.max_age);
  });

  test.each(["interest", "workqueue"])("a stream with %s retention (no history) is refused naming it", async (retention) => {
    const name = `R_${retention}`;
    const prefix = `r${retention}`;
    await nats.withJsm((jsm) => jsm.streams.add({ name, subjects: [`${prefix}.>`], retention: retention as never, storage: "file" as never }));
    const err = await startStop(name, prefix, 86_400_000);
    expect(String(err)).toContain(`JetStream stream ${name} has ${retention} retention, not limits`);
    expect((await nats.withJsm((jsm) => jsm.streams.info(name))).config.retention).toBe(retention); // left alone
  });

  test("a sealed stream (it stores nothing more, and cannot be unsealed) is refused naming it", async () => {
    await nats.withJsm(async (jsm) => {
      await jsm.streams.add({ name: "SEALED", subjects: ["sealed.>"], storage: "file" as never });
      await jsm.streams.update("SEALED", { sealed: true } as never);
    });
    const err = await startStop("SEALED", "sealed", 86_400_000);
    expect(String(err)).toContain("JetStream stream SEALED is sealed");
  });

  test("a stream the server cannot update to the bridge's configuration (memory storage) is refused naming it", async () => {
    await nats.withJsm((jsm) => jsm.streams.add({ name: "MEMORY", subjects: ["memory.>"], storage: "memory" as never }));
    const err = String(await startStop("MEMORY", "memory", 86_400_000));
    expect(err).toContain("JetStream stream MEMORY cannot take the bridge's configuration");
    expect(err).toContain("can not change storage type"); // the server's words
  });

  test.each([
    ["one message per subject", { max_msgs_per_subject: 1 }],
    ["a message size under the envelopes'", { max_msg_size: 50 }],
    ["a limit on its message count (the oldest discarded past it)", { max_msgs: 1 }],
    ["a limit per subject refusing new messages over it", { max_msgs_per_subject: 1, discard: "new" as never, discard_new_per_subject: true }],
  ])("a stream kept with %s is updated to keep every message the bridge publishes", async (_what, limit) => {
    const name = `LIMIT_${Object.keys(limit).at(-1)}`;
    const prefix = name.toLowerCase().replaceAll("_", "-");
    await nats.withJsm((jsm) => jsm.streams.add({ name, subjects: [`${prefix}.>`], storage: "file" as never, ...limit }));
    expect(await startStop(name, prefix, 86_400_000)).toBeUndefined();
    const { connect } = await import("@nats-io/transport-node");
    const { jetstream } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: nats.url });
    try {
      // Two envelope-sized messages on one instrument's subject, as the bridge publishes them: both are history.
      for (let i = 0; i < 2; i++) await jetstream(nc).publish(`${prefix}.binance.spot.BTCUSDT`, new Uint8Array(200)).catch(() => undefined);
    } finally {
      await nc.close();
    }
    expect((await nats.withJsm((jsm) => jsm.streams.info(name))).state.messages).toBe(2);
  });
});

describe.skipIf(missing !== undefined)(`a reader's replay from a time${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  /** The events of a reader of REPLAY from `from`, once it has read the stream's one message. */
  async function eventsFrom(from: Date): Promise<NatsReaderEvent[]> {
    const events: NatsReaderEvent[] = [];
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "replay", stream: "REPLAY", from, onNatsEvent: (e) => events.push(e) }, () => {});
    try {
      await reader.start();
      await waitFor(() => reader.counters.envelopes >= 1, "the reader read the stream's message");
    } finally {
      await reader.stop();
    }
    return events;
  }

  test("from before the stream's oldest message is told when it starts (what came before is gone); from after it, nothing", async () => {
    await nats.withJsm((jsm) => jsm.streams.add({ name: "REPLAY", subjects: ["replay.>"], storage: "file" as never }));
    const { connect } = await import("@nats-io/transport-node");
    const { jetstream } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: nats.url });
    // Refused by the reader (no envelopes), but read. The second stored at least 2 ms after the first.
    await jetstream(nc).publish("replay.x", new Uint8Array([1, 2, 3]));
    const afterFirstMs = Date.now() + 2;
    await waitFor(() => Date.now() > afterFirstMs, "the clock moved on");
    await jetstream(nc).publish("replay.x", new Uint8Array([4, 5, 6]));
    await nc.close();
    const firstStoredAt = (await nats.withJsm((jsm) => jsm.streams.info("REPLAY"))).state.first_ts;
    const firstMs = Date.parse(firstStoredAt);
    const early = await eventsFrom(new Date(firstMs - 3_600_000));
    expect(early.filter((e) => e.kind === "replay_starts_later")).toEqual([{ kind: "replay_starts_later", firstStoredAt }]);
    expect((await eventsFrom(new Date(firstMs + 1))).some((e) => e.kind === "replay_starts_later")).toBe(false); // reads the second
  });
});
