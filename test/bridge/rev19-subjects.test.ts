/**
 * Subjects of symbols with characters NATS does not take in a token (rev19): `. * >` and spaces become `_`, and so
 * do control characters (nats-server took "X\x1bY" as it was: an ESC sequence in every tool printing the subject;
 * 2026-12-06), and format characters and what is drawn as nothing (a bidi override, U+3164, a zero-width joiner:
 * kept until 2026-12-06), while Binance's 币安人生USDT stays as it is (nats-server matches UTF-8 subjects byte for
 * byte); an empty symbol — which made the subject end in an empty token, a message nats-server drops without a word, so the
 * instrument never reached any reader (and each of its messages skipped a number there) — is `_`. Real parts:
 * nats-server, the ForwardBridge's own connection (its datagrams handed to onDatagram), the reader (attachNats)
 * feeding an unchanged FeedSubscriber, and a plain subscription on `<prefix>.>` for the subjects.
 * And the bridge's subjects are bounded: it kept one for every instrument id a definition named, so a flood of
 * definitions with made-up ids (a valid CRC is no authentication) grew its memory without bound.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { MAX_TRACKED_INSTRUMENTS } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const PREFIX = "rev19s";
const SYMBOLS = ["", "BTC.USD", "A B", "*", ">", "ETH-PERP", "币安人生USDT", "X\x00Y", "X\x1bY", "X\x7fY", "Z\u3000Z", "R\u202eS", "R\u3164\u200dS"];

let nats: NatsServer;
let bridge: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;
let plain: { close(): Promise<void> } | undefined;
const subjects = new Set<string>();

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: PREFIX, log: silentLogger });
  await bridge.start();
  sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
  await sub.start();
  reader = await attachNats(sub, { servers: nats.url, prefix: PREFIX });
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: nats.url });
  nc.subscribe(`${PREFIX}.>`, { callback: (_err, m) => void subjects.add(m.subject) });
  await nc.flush();
  plain = nc;
}, 30_000);

afterAll(async () => {
  await plain?.close();
  await reader?.stop();
  await sub?.stop();
  await bridge?.stop();
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`subjects of awkward symbols${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("every instrument reaches the reader, on a subject of four non-empty tokens", async () => {
    const p = packer({ channelId: 2, sourceId: 5, sessionId: 42, sessionStartUs: T0 });
    const instruments = SYMBOLS.map((s) => makeInstrument("bybit", "linear", s, 1, 3));
    for (const inst of instruments) {
      const b = new TestBook(inst);
      b.load([[1000, 1]], [[1001, 1]], 1, T0);
      packInstrumentDefinition(p, new EncodedDefinition(inst), false);
      packBookSnapshot(p, b, 0, false);
    }
    for (const d of take(p)) bridge.onDatagram(d);
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 1000)) bridge.onDatagram(d); // each its own send time: one sent in the µs of the last is a copy the bridge drops
    await waitFor(() => subjects.has(`${PREFIX}._hb`), "the heartbeat, published last, on the plain subscription");
    await waitFor(() => instruments.every((i) => sub.book(i.instrumentId)?.usable === true), "every instrument usable at the reader");
    expect([...subjects].sort()).toEqual(["_", "BTC_USD", "A_B", "_", "_", "ETH-PERP", "币安人生USDT", "X_Y", "X_Y", "X_Y", "Z_Z", "R_S", "R__S"].map((s) => `${PREFIX}.bybit.linear.${s}`).concat(`${PREFIX}._hb`).filter((s, i, a) => a.indexOf(s) === i).sort());
    expect(reader.counters.upstreamGaps).toBe(0);
  });
});

describe.skipIf(missing !== undefined)(`the bridge's subjects${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 60_000 }, () => {
  test("definitions of made-up instrument ids beyond MAX_TRACKED_INSTRUMENTS are counted, not kept", async () => {
    const b = new ForwardBridge({ groups: [], servers: nats.url, prefix: "rev19flood", log: silentLogger });
    await b.start();
    try {
      const p = packer({ channelId: 2, sourceId: 6, sessionId: 43, sessionStartUs: T0 });
      const n = MAX_TRACKED_INSTRUMENTS + 10;
      for (let i = 0; i < n; i++) {
        packInstrumentDefinition(p, new EncodedDefinition({ ...makeInstrument("bybit", "linear", `F${i}`, 1, 3), instrumentId: 0x4000_0000 + i }), false);
        if (p.count > 64) for (const d of take(p)) b.onDatagram(d);
      }
      for (const d of take(p)) b.onDatagram(d);
      expect((b as unknown as { subjects: Map<number, string> }).subjects.size).toBe(MAX_TRACKED_INSTRUMENTS);
      expect(b.counters.instrumentsOverCap).toBe(10);
    } finally {
      await b.stop();
    }
  });
});
