/**
 * `to-nats --stream NAME` on a stream that already exists, as the server takes the bridge's configuration (real
 * nats-server with JetStream). The update kept the stream's duplicate window (2 min when made with a longer
 * `--max-age`), which the server requires to be within `max_age`: a bridge restarted with a retention under it was
 * refused ("duplicates window can not be larger then max age"), `bridge to-nats` exiting 1. And a stream made with
 * interest or work-queue retention (it removes a message once its consumers have it: no history) was taken and
 * reported as storing: the history was silently empty.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
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

/** `fn` with a JetStream manager on a connection of its own (closed after). */
async function withJsm<T>(fn: (jsm: Awaited<ReturnType<typeof import("@nats-io/jetstream").jetstreamManager>>) => Promise<T>): Promise<T> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: nats.url });
  try {
    return await fn(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

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
    const config = await withJsm(async (jsm) => (await jsm.streams.info("AGE")).config);
    expect(config.max_age).toBe(30_000 * 1e6);
    expect(config.duplicate_window).toBeLessThanOrEqual(config.max_age);
  });

  test.each(["interest", "workqueue"])("a stream with %s retention (no history) is refused naming it", async (retention) => {
    const name = `R_${retention}`;
    const prefix = `r${retention}`;
    await withJsm((jsm) => jsm.streams.add({ name, subjects: [`${prefix}.>`], retention: retention as never, storage: "file" as never }));
    const err = await startStop(name, prefix, 86_400_000);
    expect(String(err)).toContain(`JetStream stream ${name} has ${retention} retention, not limits`);
    expect((await withJsm((jsm) => jsm.streams.info(name))).config.retention).toBe(retention); // left alone
  });
});
