/**
 * A keyed subscriber's verify under Bun runs on a reused Bun.CryptoHasher (wire/auth.ts runtimeSha256, found on
 * globalThis so Node keeps createHmac): ingest() of a signed delta datagram allocates nothing (bench/alloc-meter.ts
 * counts new heap cells; its control must see a 32 B object a step, and the same rig with `authSha256: null`,
 * createHmac, must see its cells). Before: 6 cells a datagram (createHmac: Uint8Array 4, Object, Hmac). No sockets.
 */
import { describe, expect, it } from "vitest";
import { allocationControl, measureAllocation } from "../../bench/alloc-meter.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { DatagramAuth, type ReusableSha256 } from "../../src/wire/auth.ts";
import { datagramCrc32 } from "../../src/wire/crc32.ts";
import { INSTRUMENT, KEY, signedStream } from "../support/signed-stream.ts";

const WARM = 2_000;
const METERED = 10_000;
const datagrams = signedStream(WARM + METERED, false);

/** Ingests the snapshot and WARM deltas, then meters the next METERED. */
function meterIngest(authSha256: ReusableSha256 | null | undefined) {
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, authKey: KEY, authSha256 });
  for (let i = 0; i <= WARM; i++) sub.ingest(datagrams[i]!, 1);
  const perDatagram = measureAllocation(WARM + 1, WARM + 1 + METERED, (i) => sub.ingest(datagrams[i]!, 1));
  return { sub, perDatagram };
}

describe("a keyed subscriber's verify", () => {
  it("a signed delta datagram allocates nothing under Bun (a reused CryptoHasher); createHmac's cells are seen by the same rig", () => {
    expect(allocationControl(6_000).cellsPerStep).toBeGreaterThan(0.9);
    const hasher = meterIngest(undefined);
    expect(hasher.sub.counters.rejected.bad_auth).toBe(0);
    expect(hasher.sub.counters.gaps).toBe(0);
    expect(hasher.sub.book(INSTRUMENT.instrumentId)!.usable).toBe(true);
    expect(hasher.perDatagram.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
    // Before: 6 cells a datagram (Uint8Array 4, Object, Hmac), as the createHmac run below.
    expect(hasher.perDatagram.cellsPerStep, hasher.perDatagram.types).toBeLessThan(0.05);

    // Control: the same stream through createHmac (authSha256 null), so a blind meter or an unused key fails here.
    const plain = meterIngest(null);
    expect(plain.sub.counters.rejected.bad_auth).toBe(0);
    expect(plain.perDatagram.gcDuring).toBe(false);
    expect(plain.perDatagram.cellsPerStep, plain.perDatagram.types).toBeGreaterThan(2);
  });

  it("with the hasher a datagram signed with another key or changed in a byte is refused (bad_auth), the genuine ones taken", () => {
    let updates = 0;
    const inner = new Bun.CryptoHasher("sha256");
    const counting: ReusableSha256 = {
      update(data: Uint8Array) {
        updates++;
        return inner.update(data);
      },
      digest: (into: Uint8Array) => inner.digest(into),
    };
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, authKey: KEY, authSha256: counting });
    const otherKey = new DatagramAuth(new Uint8Array(32).fill(1));
    for (let i = 0; i < 50; i++) {
      const d = datagrams[i]!.slice();
      const kind = i % 10;
      if (kind === 3 || kind === 7) {
        const dv = new DataView(d.buffer);
        dv.setUint32(44, 0, true);
        if (kind === 3) d[48 + (i % 16)]! ^= 0x20; // a message byte changed
        else otherKey.sign(d, d.length); // signed with another key
        dv.setUint32(44, datagramCrc32(d), true); // the CRC made good: only the trailer can tell
      }
      sub.ingest(d, 1);
    }
    expect(sub.counters.rejected.bad_checksum).toBe(0);
    expect(sub.counters.rejected.bad_auth).toBe(10);
    expect(sub.counters.datagrams).toBe(50);
    expect(updates).toBeGreaterThan(0); // the hasher given is the one verifying
  });
});
