/**
 * A RETRANSMIT datagram on a group is no answer: a request server answers only the requester's request socket, from
 * its own (docs/wire-protocol.md §11.3–11.4), never a group. A subscriber drops one since 2026-12-07; the bridge
 * forwarded it to NATS as live data (the envelope carries the messages, not the flag), so every NATS reader applied a
 * forged "answer" sent at the group. Now dropped, counted (`rejected.retransmit`) and logged naming the sender.
 * Real parts: nats-server, the ForwardBridge on a loopback multicast group (interface 127.0.0.1, TTL 1), the reader
 * (attachNats) feeding an unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { markRetransmit } from "../../src/wire/retransmit.ts";
import { waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";
import { uniqueDestination } from "../support/destination.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { natsServerMissing } from "./nats-server.ts";
import { ReaderRig } from "./reader-rig.ts";

const missing = natsServerMissing();
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const G = uniqueDestination(1147);
const captured = captureLog();
const rig = new ReaderRig({ prefix: "retxgroup", groups: [G], makeBridge: (o) => new ForwardBridge({ ...o, log: captured.log }) });

beforeAll(async () => {
  if (missing) return;
  await rig.start();
}, 30_000);

afterAll(() => rig.stop());

/** The stream's definition and snapshot of `book` (the same bytes and seqNums from either packer). */
function refresh(p: ChannelPacker, book: TestBook): void {
  packInstrumentDefinition(p, new EncodedDefinition(X), false);
  packBookSnapshot(p, book, 0, false);
}

describe.skipIf(missing !== undefined)(`bridge and a RETRANSMIT datagram on its group${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("is dropped, counted and logged with its sender; the real delta at its seqNum reaches the reader", async () => {
    const spec = { channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 60_000 };
    const real = packer(spec);
    const forger = packer(spec); // the same stream, as anyone on the segment can make it (no key)
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    refresh(real, x);
    await rig.send(real, G, 1000);
    await waitFor(() => rig.sub.book(X.instrumentId)?.usable === true, "X usable through NATS");

    const fake = new TestBook(X);
    fake.load([[943500, 10]], [[943501, 20]], 1, T0);
    refresh(forger, fake);
    take(forger); // its seqNums now at the real stream's next
    const forgedCs = new ChangeSet();
    forgedCs.addBid(943490, 777);
    fake.apply(forgedCs, 2, T0);
    packBookDelta(forger, fake, forgedCs);
    const forged = take(forger, (rig.sendUs += 1000)).map((d) => (markRetransmit(d, d.length, undefined), d));

    const bridge = rig.bridges[0]!;
    const c = bridge.counters;
    const readBefore = c.datagrams;
    await rig.sendAll(forged, G);
    const cs = new ChangeSet();
    cs.addBid(943499, 7);
    x.apply(cs, 2, T0);
    packBookDelta(real, x, cs);
    await rig.send(real, G, 1000);
    // Both read by the bridge (before: the forged one forwarded, the real one then a duplicate of its seqNum).
    await waitFor(() => c.datagrams + (c.rejected.retransmit ?? 0) === readBefore + 2, "the bridge read both");
    await waitFor(() => rig.sub.book(X.instrumentId)?.instrSeq === x.instrSeq, "the delta's instrSeq through NATS");
    expect(levelsOf(rig.sub.book(X.instrumentId)!)).toEqual(levelsOf(x)); // before: the forged 943490@777, not 943499@7
    expect(c.rejected.retransmit).toBe(1);
    const sender = rig.sender.address();
    const lines = captured.lines.filter((l) => /RETRANSMIT/.test(l.msg));
    expect(lines).toEqual([expect.objectContaining({ level: "warn", fields: expect.objectContaining({ from: `127.0.0.1:${sender.port}`, group: `${G.group}:${G.port}`, count: 1, counted: "the first such report", total: 1 }) })]);
    expect(lines[0]!.msg).not.toMatch(/since the last such line/); // before: said of the first line too, with no last one
  });
});
