/**
 * The NATS connection of the bridge and the reader (connectNats) after a wall clock stepped back (an NTP step, a
 * resumed VM). The client paced its reconnects by Date.now (a server is dialled again once its last dial plus
 * the wait is past): after a step back of an hour, every dial lay an hour ahead, so a NATS server restarted
 * meanwhile was not dialled again for the hour (the bridge dropping what it reads, the reader silent). Dials are
 * paced on the monotonic clock now (reconnectPacer). Real parts: nats-server on 127.0.0.1, restarted on its port;
 * Date.now is stubbed and stepped back after the connection is made. The pacer's waits, on the test's clock.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { connectNats, reconnectPacer, RECONNECT_WAIT_MS } from "../../src/subscriber/nats-source.ts";
import { waitFor } from "../e2e/harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  vi.restoreAllMocks();
});

describe("NATS reconnects on a stepped wall clock", () => {
  test.skipIf(missing !== undefined)("stepped back an hour: a restarted server is dialled again at once", { timeout: 60_000 }, async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.stop());
    // The client's status() and isClosed() (not in nats-source.ts's narrow NatsConnection type).
    const nc = (await connectNats(nats.url, "mono2-test")) as Awaited<ReturnType<typeof connectNats>> & { status(): AsyncIterable<{ type: string }>; isClosed(): boolean };
    cleanups.push(() => nc.close());
    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) if (s.type === "reconnect") reconnects++;
    })();
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() - 3_600_000);
    await nats.stop();
    await nats.restart();
    await waitFor(() => reconnects > 0, "the client reconnected to the restarted server", 15_000); // before: an hour
    expect(nc.isClosed()).toBe(false);
  });

  test("the pacer: a server dialled again only the wait after its last dial, on its own clock", () => {
    let nowMs = 1000;
    const pace = reconnectPacer(() => nowMs, () => 0);
    const a = { listen: "127.0.0.1:4222" };
    const b = { listen: "127.0.0.1:4223" };
    expect(pace([a])!.delay).toBe(0); // first dial: at once
    expect(pace([b])!.delay).toBe(0); // another server: its own wait
    nowMs += 100;
    expect(pace([a])!.delay).toBe(RECONNECT_WAIT_MS - 100);
    nowMs += RECONNECT_WAIT_MS - 100; // the dial just asked for
    expect(pace([a])!.delay).toBe(RECONNECT_WAIT_MS);
    nowMs += 10 * RECONNECT_WAIT_MS;
    expect(pace([a])!.delay).toBe(0);
    expect(pace([])).toBeNull();
  });
});
