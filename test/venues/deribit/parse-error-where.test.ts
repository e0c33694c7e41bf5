/**
 * Deribit's scanner decides no refusal (it hands a frame to the JSON path, or names a channel not ours), so a refused
 * frame's log shows no scanner offset. Until s-small2 it showed the scanner's `errorPos`, which only a handover sets:
 * left over from an earlier frame (one the JSON path took), nothing to do with the frame refused.
 */
import { expect, test } from "vitest";
import type { MarketName } from "../../../src/core/types.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { captureLog } from "../../support/capture-log.ts";
import { recordedFrames, recordedInstruments } from "./recording.ts";

test("a frame refused after one the scanner handed over is logged without that frame's offset", async () => {
  const names = recordedInstruments();
  const { log, lines } = captureLog();
  const adapter = new DeribitAdapter(
    { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "option", depth: 0, symbols: names }], overrides: new Map(names.map((n) => [`option:${n}`, { tickSize: "0.0005", lotSize: "0.1" }])) },
    names.map((symbol) => ({ market: "option" as MarketName, symbol, depth: 0 })),
    { log },
  );
  await adapter.loadInstruments();
  const updates: number[] = [];
  const sink: BookSink = { onBookUpdate: (i) => void updates.push(i), onBookInvalid: () => undefined, onInstrumentChanged: () => undefined };
  adapter.startReplay(sink);
  const first = recordedFrames().find((f) => f.frame.includes('"type":"snapshot"'))!;
  // An escape in its channel's name: the scanner hands it over there (its errorPos, 67), the JSON path applies it.
  const at = first.frame.indexOf('"channel":"book.') + 16;
  const escaped = `${first.frame.slice(0, at)}\\u00${first.frame.charCodeAt(at).toString(16)}${first.frame.slice(at + 1)}`;
  adapter.ingestFrame("option", "conn0.option", escaped, first.tsRecvUs);
  expect(updates.length).toBe(1);
  adapter.ingestFrame("option", "conn0.option", '{"jsonrpc":"2.0","method":', first.tsRecvUs); // not JSON
  const detail = lines.map((l) => String(l.fields.detail ?? "")).find((d) => d.startsWith("syntax"));
  // Before: "syntax (…) at 67 (option): …", the escaped frame's offset.
  expect(detail).toMatch(/^syntax \([^)]+\) \(option\): \{"jsonrpc"/);
  await adapter.stop();
});
