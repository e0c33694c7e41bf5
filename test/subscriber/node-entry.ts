/**
 * Entry bundled for Node by node-compat.test.ts (Bun.build, target node) and run by the real `node` binary: the
 * subscriber library on plain Node, over a real multicast socket (239.255.47.1, interface 127.0.0.1, TTL 1) and
 * through ingest(). Prints one JSON line.
 */
import dgram from "node:dgram";
import { ChangeSet } from "../../src/core/change-set.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { DatagramAuth, runtimeSha256 } from "../../src/wire/auth.ts";
import { datagramCrc32 } from "../../src/wire/crc32.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";

const GROUP = "239.255.47.1";
const port = Number(process.argv[2]);
const inst = { instrumentId: 42, venue: "bybit", market: "linear", symbol: "X", priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" } as const;
const bids = new Map<number, number>([[100, 5], [99, 7]]);
const asks = new Map<number, number>([[101, 6]]);
const sorted = (m: Map<number, number>, desc: boolean) => [...m.keys()].sort((a, b) => (desc ? b - a : a - b));
const view = {
  instrument: inst,
  state: 1,
  reason: 11,
  instrSeq: 1,
  venueSeq: 1,
  tsExchangeUs: 1,
  tsEventUs: 1,
  tsRecvUs: 1,
  get bidCount() { return bids.size; },
  get askCount() { return asks.size; },
  bidPriceAt: (i: number) => sorted(bids, true)[i]!,
  bidQtyAt: (i: number) => bids.get(sorted(bids, true)[i]!)!,
  askPriceAt: (i: number) => sorted(asks, false)[i]!,
  askQtyAt: (i: number) => asks.get(sorted(asks, false)[i]!)!,
};
const p = new ChannelPacker(1400, 1, 0, 9, { sessionStartUs: Date.now() * 1000, heartbeatIntervalMs: 100 });
function take(): Uint8Array[] {
  p.seal(Date.now() * 1000);
  const out: Uint8Array[] = [];
  for (let i = 0; i < p.count; i++) out.push(p.bytes[i]!.slice(0, p.lengths[i]));
  p.clear();
  return out;
}

const sub = new FeedSubscriber({ groups: [{ group: GROUP, port, iface: "127.0.0.1" }] });
await sub.start();
const tx = dgram.createSocket("udp4");
await new Promise<void>((r) => tx.bind(0, "127.0.0.1", r));
tx.setMulticastInterface("127.0.0.1");
tx.setMulticastTTL(1);
const firstUpdate = new Promise<boolean>((r) => sub.on("update", (e) => r(e.book.usable)));
packBookSnapshot(p, view as never, 0, false);
for (const d of take()) tx.send(d, port, GROUP);
const usableOverSocket = await firstUpdate;
tx.close();
await sub.stop();

// The rest through ingest(): a delta, a corrupted datagram, a refresh that repairs.
const cs = new ChangeSet();
cs.addBid(100, 9);
bids.set(100, 9);
view.instrSeq++;
packBookDelta(p, view as never, cs);
const [delta] = take();
const bad = delta!.slice();
bad[bad.length - 1]! ^= 1;
sub.ingest(bad);
sub.ingest(delta!); // the same datagram intact: in sequence after the corrupted copy was dropped
bids.set(99, 8); // the publisher's book changes without an event reaching this subscriber
packBookSnapshot(p, view as never, 0, true);
for (const d of take()) sub.ingest(d);
// A keyed subscriber (its HMAC by createHmac here: runtimeSha256 finds no Bun): a signed snapshot taken, a copy of it
// with a byte changed and its CRC made good refused as bad_auth.
const KEY = new Uint8Array(32).fill(0x5a);
const keyed = new FeedSubscriber({ groups: [], staleAfterMs: 0, authKey: KEY });
const signer = new ChannelPacker(1400, 1, 0, 10, { sessionStartUs: Date.now() * 1000, heartbeatIntervalMs: 100, auth: new DatagramAuth(KEY) });
packBookSnapshot(signer, view as never, 0, false);
signer.seal(Date.now() * 1000);
const signed = signer.bytes[0]!.slice(0, signer.lengths[0]);
const forged = signed.slice();
forged[60]! ^= 1;
new DataView(forged.buffer).setUint32(44, datagramCrc32(forged), true);
keyed.ingest(forged);
keyed.ingest(signed);
const b = sub.book(42)!;
const levels = [b.bidPriceAt(0), b.bidQtyAt(0), b.bidPriceAt(1), b.bidQtyAt(1), b.askPriceAt(0), b.askQtyAt(0)];
process.stdout.write(
  JSON.stringify({
    runtime: typeof (globalThis as { Bun?: unknown }).Bun === "undefined" ? "node" : "bun",
    usableOverSocket,
    usable: b.usable,
    levels,
    repairs: sub.counters.repairs,
    badChecksum: sub.counters.rejected.bad_checksum,
    runtimeHasher: runtimeSha256() !== undefined,
    keyedUsable: keyed.book(42)?.usable === true,
    keyedBadAuth: keyed.counters.rejected.bad_auth,
  }) + "\n",
);
