/**
 * A keyed forward bridge verifies each datagram and signs each envelope with a reused Bun.CryptoHasher under Bun
 * (wire/auth.ts runtimeSha256, as the subscriber), not createHmac: it built `new DatagramAuth(authKey)`, ~6 cells a
 * MAC (Hmac, its digest, views). Each datagram (node:dgram) and each envelope was a new buffer, so each MAC still made
 * its view (~3 cells); since s-bralloc the bridge verifies in its reused receive buffer and signs in a reused scratch,
 * so the keyed path makes no cell more than the unkeyed one (test/bridge/bridge-alloc.test.ts): the meter (bench/alloc-meter.ts, its control asserted) counts the keyed path's cells above the
 * unkeyed bridge's on the same datagrams, and the same rig with `authSha256: null` (createHmac) must count more. The
 * envelopes are the same bytes either way. No sockets: the NATS client is a stand-in.
 */
import { describe, expect, it } from "vitest";
import { allocationControl, measureAllocation } from "../../bench/alloc-meter.ts";
import { silentLogger } from "../../src/core/log.ts";
import { DatagramAuth, type ReusableSha256 } from "../../src/wire/auth.ts";
import { KEY, signedStream } from "../support/signed-stream.ts";
import { NullBridge } from "./null-bridge.ts";

const WARM = 1_000;
const METERED = 2_000;
const datagrams = signedStream(WARM + METERED, true);

/** Forwards the definition, snapshot and WARM deltas, then meters the next METERED (one envelope each). */
async function meterForward(keyed: boolean, authSha256?: ReusableSha256 | null) {
  const bridge = new NullBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "alloc", log: silentLogger, ...(keyed ? { authKey: KEY, authSha256 } : {}) });
  await bridge.start();
  try {
    for (let i = 0; i <= WARM; i++) bridge.onDatagram(datagrams[i]!);
    const perDatagram = measureAllocation(WARM + 1, WARM + 1 + METERED, (i) => bridge.onDatagram(datagrams[i]!));
    return { counters: { ...bridge.counters }, envelopes: bridge.client.envelopes, perDatagram };
  } finally {
    await bridge.stop();
  }
}

describe("a keyed forward bridge's HMAC", () => {
  it("under Bun it verifies and signs with the reused hasher: its cells above the unkeyed path are the views, createHmac's more", async () => {
    expect(allocationControl(6_000).cellsPerStep).toBeGreaterThan(0.9);
    const unkeyed = await meterForward(false);
    const hasher = await meterForward(true);
    const plain = await meterForward(true, null); // the control: createHmac, as before
    for (const run of [unkeyed, hasher, plain]) {
      expect(run.counters.rejected).toEqual({});
      expect(run.envelopes).toBe(2 + WARM + METERED); // definition, snapshot, one per delta
      expect(run.perDatagram.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
    }
    const extraHasher = hasher.perDatagram.cellsPerStep - unkeyed.perDatagram.cellsPerStep;
    const extraPlain = plain.perDatagram.cellsPerStep - unkeyed.perDatagram.cellsPerStep;
    const seen = `unkeyed: ${unkeyed.perDatagram.types}; hasher: ${hasher.perDatagram.types}; createHmac: ${plain.perDatagram.types}`;
    // Measured (Bun 1.4.5): 5 cells a datagram over the unkeyed path before s-bralloc (per MAC, verify and sign, the new
    // buffer's views: an ExactViews, its array, the message view), 0 since; createHmac's ~10 (an Hmac and its digest's
    // views per MAC), as before.
    expect(extraHasher, seen).toBeLessThan(0.5);
    expect(extraPlain - extraHasher, seen).toBeGreaterThan(4);
  });

  it("the envelopes are the bytes createHmac signs: each one's trailer recomputed by createHmac is unchanged", async () => {
    const bridge = new NullBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "alloc", log: silentLogger, authKey: KEY });
    await bridge.start();
    const hmac = new DatagramAuth(KEY); // node:crypto createHmac
    const kept: Uint8Array[] = (bridge.client.kept = []);
    try {
      for (let i = 0; i < 50; i++) bridge.onDatagram(datagrams[i]!);
      expect(kept.length).toBe(51); // definition, snapshot, one per delta
      for (const env of kept) {
        const again = env.slice();
        again.fill(0, again.length - 16); // the trailer, recomputed over the same bytes before it
        hmac.sign(again, again.length);
        expect(again).toEqual(env);
      }
    } finally {
      await bridge.stop();
    }
  });
});
