/**
 * Templates evolve append-only (docs/wire-protocol.md §7): a later InstrumentDefinition may have a longer root block,
 * its strings after `blockLength` bytes, as every subscriber reads them. The forward bridge read the symbol at the
 * fixed offset of today's block: with a longer block it took the new fields' bytes for the symbol, and published
 * that instrument's messages to a made-up subject (a reader of `<prefix>.bybit.linear.*` got none of them). It reads
 * the strings after `blockLength` now. In-process: the bridge's NATS client a recorder.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../src/core/log.ts";
import { EncodedDefinition } from "../../src/wire/encoder.ts";
import {
  DEF_INSTRUMENT_ID_OFFSET,
  DEF_LOT_SIZE_LENGTH_OFFSET,
  DEF_MARKET_ID_OFFSET,
  DEF_SYMBOL_LENGTH_OFFSET,
  DEF_TICK_SIZE_LENGTH_OFFSET,
  DEF_VENUE_ID_OFFSET,
  INSTRUMENT_DEFINITION_BLOCK_BYTES,
  MESSAGE_HEADER_BYTES,
  MSG_FLAG_LAST,
  TEMPLATE_INSTRUMENT_DEFINITION,
} from "../../src/wire/layout.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { RecordedBridge, RecordingClient } from "./recorded-bridge.ts";

const P = makeInstrument("bybit", "linear", "SOLUSDT", 2, 1);
const EXTRA = 8; // a field a later template version appended to the root block

class SubjectsClient extends RecordingClient {
  readonly subjects: string[] = [];
  override publish(subject: string, data: Uint8Array): void {
    this.subjects.push(subject);
    super.publish(subject, data);
  }
}
class SubjectsBridge extends RecordedBridge {
  override readonly client = new SubjectsClient();
}

describe("forward bridge: a definition with a longer root block", () => {
  test("is published to its instrument's subject", async () => {
    const bridge = new SubjectsBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "blk", log: silentLogger });
    await bridge.start();
    const def = new EncodedDefinition(P);
    const block = INSTRUMENT_DEFINITION_BLOCK_BYTES + EXTRA;
    const strings = def.symbolBytes.length + def.tickSizeBytes.length + def.lotSizeBytes.length;
    const msgBytes = Math.ceil((MESSAGE_HEADER_BYTES + block + strings) / 8) * 8;
    const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
    const off = p.beginMessage(msgBytes, TEMPLATE_INSTRUMENT_DEFINITION, block, 2, MSG_FLAG_LAST);
    const dv = p.currentView;
    dv.setUint32(off + DEF_INSTRUMENT_ID_OFFSET, P.instrumentId, true);
    dv.setUint16(off + DEF_VENUE_ID_OFFSET, def.venueId, true);
    dv.setUint16(off + DEF_MARKET_ID_OFFSET, def.marketId, true);
    dv.setUint8(off + DEF_SYMBOL_LENGTH_OFFSET, def.symbolBytes.length);
    dv.setUint8(off + DEF_TICK_SIZE_LENGTH_OFFSET, def.tickSizeBytes.length);
    dv.setUint8(off + DEF_LOT_SIZE_LENGTH_OFFSET, def.lotSizeBytes.length);
    const bytes = p.bytes[p.count - 1]!;
    bytes.fill(0x41, off + INSTRUMENT_DEFINITION_BLOCK_BYTES, off + block); // the new field's value
    bytes.set(def.symbolBytes, off + block);
    bytes.set(def.tickSizeBytes, off + block + def.symbolBytes.length);
    bytes.set(def.lotSizeBytes, off + block + def.symbolBytes.length + def.tickSizeBytes.length);
    bytes.fill(0, off + block + strings, off - MESSAGE_HEADER_BYTES + msgBytes);
    for (const d of take(p)) bridge.onDatagram(d);
    expect(bridge.counters.rejected).toEqual({});
    expect(bridge.client.subjects).toEqual(["blk.bybit.linear.SOLUSDT"]);
    await bridge.stop();
  });
});
