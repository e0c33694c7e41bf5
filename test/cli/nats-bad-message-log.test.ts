/**
 * `listen --nats` and `bridge from-nats` name a message the NATS reader refuses as the decoder would (a negative
 * quantity, …): since 2026-12-07 the reader refuses it alone, and until then said nothing of it (counted in
 * `refused.bad_message` only), where the subscriber, refusing the whole repacked datagram before, had named it.
 */
import { describe, expect, test } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { natsReadOptions } from "../../src/cli/commands/nats-args.ts";
import type { Logger } from "../../src/core/log.ts";
import { ENVELOPE_BYTES } from "../../src/subscriber/nats-envelope.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { BOOK_SNAPSHOT_BLOCK_BYTES, LEVEL_BYTES, LEVEL_QTY_OFFSET, MESSAGE_HEADER_BYTES } from "../../src/wire/layout.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { envelopesOf, packer, T0, take } from "../subscriber/feed-harness.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

describe("a NATS reader given a message the decoder would refuse", () => {
  test("warns naming what was wrong: the message, the level, the field", () => {
    const warnings: { msg: string; fields: unknown }[] = [];
    const log: Logger = { debug() {}, info() {}, warn: (msg, fields) => void warnings.push({ msg, fields }), error() {}, child: () => log };
    const ctx = { values: { nats: "nats://127.0.0.1:4222" }, positionals: [], log, out: () => {}, stopSignal: new Promise<string>(() => {}) } as unknown as CommandContext;
    const reader = new NatsFeedReader(natsReadOptions(ctx), () => {});

    const p = packer({ channelId: 1, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    const b = new TestBook(X);
    b.load([[943500, 10]], [[943501, 20], [943502, 30]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, b, 0, false);
    const [definition, snapshot] = envelopesOf(take(p), 1, 7);
    // The second ask's quantity negative (levels: the bid, then the asks).
    new DataView(snapshot!.buffer).setInt32(ENVELOPE_BYTES + MESSAGE_HEADER_BYTES + BOOK_SNAPSHOT_BLOCK_BYTES + 2 * LEVEL_BYTES + LEVEL_QTY_OFFSET + 4, -1, true);
    expect(reader.repacker.add(definition!, 1000)).toBe("ok");
    expect(reader.repacker.add(snapshot!, 1000)).toBe("bad_message");
    // Before: no line (refused.bad_message counted only).
    expect(warnings.map((w) => w.msg)).toEqual([expect.stringMatching(/^NATS message refused: the decoder would refuse it/)]);
    expect(warnings[0]!.fields).toMatchObject({ count: 1, detail: "BookSnapshot, ask entry 2 of 2: qtyMantissa negative" });
  });
});
