/**
 * The forward bridge reads the NATS client's connection state and backlog from its internals (@nats-io/nats-core
 * 3.x: no public API gives them). The installed client must have them (a version bump that renames them fails here,
 * not silently in production), and a client without them must degrade safely and say so: the bridge still forwards,
 * and warns at start that --max-pending is not enforced. Before (rev24), a client without them was taken silently:
 * the operator believed the backlog bounded and the losses numbered while neither was.
 * Real parts: nats-server, the bridge's own connection (hidden behind a Proxy for the other client), attachNats.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import type { Logger } from "../../src/core/log.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

/** Warnings logged, by message. */
function recordingLogger(warnings: string[]): Logger {
  const log: Logger = { ...silentLogger, warn: (m) => void warnings.push(m), child: () => log };
  return log;
}

/** The same real connection, as a client whose internals are named otherwise (another version) would look. */
class OtherClientBridge extends ForwardBridge {
  protected override async connect(): Promise<unknown> {
    const nc = (await super.connect()) as object;
    return new Proxy(nc, {
      get(t, k) {
        if (k === "protocol") return undefined;
        const v = Reflect.get(t, k, t) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }
}

let nats: NatsServer;
beforeAll(async () => {
  if (!missing) nats = await NatsServer.start();
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`the NATS client's internals read by the forward bridge${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("the installed client has them: the backlog is checked, nothing said", async () => {
    const warnings: string[] = [];
    const b = new ForwardBridge({ groups: [], servers: nats.url, prefix: "rev24a", log: recordingLogger(warnings) });
    try {
      await b.start();
      expect(b.backlogChecked).toBe(true);
      expect(warnings).toEqual([]);
    } finally {
      await b.stop();
    }
  });

  test("a client without them: a warning at start, and the feed still goes through", async () => {
    const warnings: string[] = [];
    const b = new OtherClientBridge({ groups: [], servers: nats.url, prefix: "rev24b", log: recordingLogger(warnings) });
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    let reader: NatsFeedReader | undefined;
    try {
      await b.start();
      expect(warnings.some((w) => w.includes("--max-pending is not enforced"))).toBe(true);
      expect(b.backlogChecked).toBe(false);
      await sub.start();
      reader = await attachNats(sub, { servers: nats.url, prefix: "rev24b" });
      const p = packer({ channelId: 3, sourceId: 7, sessionId: 900, sessionStartUs: T0, heartbeatIntervalMs: 100 });
      const x = new TestBook(X);
      x.load([[943500, 10]], [[943501, 20]], 1, T0);
      let sendUs = T0;
      // Refreshes until the reader (subscribed after the bridge connected) has the book.
      await waitFor(() => sub.book(X.instrumentId)?.usable === true, "X usable through a bridge on the other client", 20_000, () => {
        packInstrumentDefinition(p, new EncodedDefinition(X), false);
        packBookSnapshot(p, x, 0, false);
        for (const d of take(p, (sendUs += 1000))) b.onDatagram(d);
      });
      expect(b.counters.droppedDisconnected + b.counters.droppedBacklog).toBe(0);
    } finally {
      await reader?.stop();
      await sub.stop();
      await b.stop();
    }
  });
});
