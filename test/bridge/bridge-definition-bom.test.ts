/**
 * A definition string is its UTF-8 bytes, a leading U+FEFF included (docs/wire-protocol.md §1): the forward bridge read
 * the symbol with TextDecoder's default, which drops it as a byte order mark, so "\uFEFFSOLUSDT" was published to
 * SOLUSDT's subject, two instruments' messages on one subject. Kept, it becomes `_` as any format character does
 * (subjectOf). In-process: the bridge's NATS client a recorder.
 */
import { expect, test } from "vitest";
import { silentLogger } from "../../src/core/log.ts";
import { EncodedDefinition, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { packer, take } from "../subscriber/feed-harness.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { RecordedBridge, RecordingClient } from "./recorded-bridge.ts";

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

test("forward bridge: a symbol starting with U+FEFF gets a subject of its own, not the symbol without it", async () => {
  const bridge = new SubjectsBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "bom", log: silentLogger });
  await bridge.start();
  const plain = makeInstrument("bybit", "linear", "SOLUSDT", 2, 1);
  const marked = { ...makeInstrument("bybit", "linear", "SOLUSDTX", 2, 1), symbol: "\uFEFFSOLUSDT" };
  const p = packer({ channelId: 5, sourceId: 3, sessionId: 900 });
  packInstrumentDefinition(p, new EncodedDefinition(plain), false);
  packInstrumentDefinition(p, new EncodedDefinition(marked), false);
  for (const d of take(p)) bridge.onDatagram(d);
  expect(bridge.counters.rejected).toEqual({});
  expect(bridge.client.subjects).toEqual(["bom.bybit.linear.SOLUSDT", "bom.bybit.linear._SOLUSDT"]);
  await bridge.stop();
});
