/**
 * The addresses a retransmit request was asked at are kept in a small ring (docs/wire-protocol.md §11.4): at its bound
 * the set was cleared entirely, so a name resolving anew to several addresses (DNS round robin) dropped the reply of a
 * request still open at an older one, and that gap fell back. Now only the oldest is dropped.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { decodeRetxControl, markRetransmit, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { levelsOf, makeInstrument, waitFor } from "../wire/helpers.ts";
import { snapshotAndDeltas, T0 } from "./feed-harness.ts";

/** "rotating.test" resolves to the next of these at each lookup (a round-robin name); anything else as usual. */
const rotation = { next: [] as string[] };
vi.mock("node:dns", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:dns")>();
  const lookup = (host: string, options: object, done: (err: Error | null, address: string, family: number) => void): void => {
    if (host !== "rotating.test") return void real.lookup(host, options as { family: 4 }, done);
    const address = rotation.next.shift() ?? "127.0.0.2";
    queueMicrotask(() => done(null, address, 4));
  };
  return { ...real, default: { ...real, lookup }, lookup };
});

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("the addresses asked at", () => {
  it("a name resolving anew past the bound still hears the open request's reply from its older address", async () => {
    const server = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((resolve) => server.bind(0, "127.0.0.2", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "rotating.test", port: (server.address() as { port: number }).port, timeoutMs: 10_000 } });
    await sub.start();
    cleanups.push(() => sub.stop());

    const { b, ds } = snapshotAndDeltas(inst, 10);
    const lost = ds[3]!;

    // The request goes to 127.0.0.2; before it is answered the name is resolved six more times, each anew (as the
    // socket's lookup does for other sends): with 127.0.0.1 (noted beside loopback ones) that passes the old bound.
    const lookupOf = (sub as unknown as { requestLookup: (h: string, o: object, d: () => void) => void }).requestLookup;
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg);
      if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST) return;
      rotation.next.push("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8");
      let resolved = 0;
      for (let i = 0; i < 6; i++) {
        lookupOf("rotating.test", { family: 4 }, () => {
          if (++resolved === 6) {
            const copy = lost.slice();
            markRetransmit(copy, copy.length, undefined);
            server.send(copy, rinfo.port, rinfo.address);
          }
        });
      }
    });
    ds.forEach((d) => d !== lost && sub.ingest(d, T0));
    await waitFor(() => sub.retransmitsPending === 0 || sub.counters.retransmitRejected > 0, 5000, "the answer read");
    expect([sub.counters.retransmitRecovered, sub.counters.retransmitRejected, sub.counters.gaps]).toEqual([1, 0, 0]);
    expect(levelsOf(sub.book(inst.instrumentId)!)).toEqual(levelsOf(b));
  });
});
