/**
 * A Deribit snapshot lists `new` levels only: one with a `change` or `delete` entry is refused as malformed
 * (`snapshot_action`, naming the entry's side, action and price), that book alone resynced; the scanner hands such a
 * frame to the JSON path whatever its key order (`type` may follow the levels). Until 2026-12-08 a snapshot's delete
 * was taken as no level and a change as a level, and the book went LIVE at that reading. Changes keep all three actions.
 * A snapshot repeating a price reaches the builder, which refuses it (test/app/repeated-price-snapshot.test.ts).
 */
import { describe, expect, test } from "vitest";
import type { Logger } from "../../../src/core/log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { ChannelTable } from "../../../src/venues/deribit/channel-table.ts";
import { parseBookObject, parseJsonRaw } from "../../../src/venues/deribit/parse-json.ts";
import { DeribitScanner, SCAN_ERR_SNAPSHOT_ACTION } from "../../../src/venues/deribit/scanner.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { captureLog } from "../../support/capture-log.ts";
import { recordedFrames, recordedInstruments } from "./recording.ts";

const SYM = "ETH-23JUL21-2300-C";
const frame = (data: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.${SYM}.raw","data":{${data}}}}`;
const SNAP_TYPE_FIRST = (asks: string) => frame(`"type":"snapshot","timestamp":1626993723632,"instrument_name":"${SYM}","change_id":13168946419,"bids":[],"asks":[${asks}]`);
const SNAP_TYPE_LAST = (asks: string) => frame(`"timestamp":1626993723632,"instrument_name":"${SYM}","change_id":13168946419,"bids":[],"asks":[${asks}],"type":"snapshot"`);

function table(): ChannelTable {
  const t = new ChannelTable();
  t.add(`book.${SYM}.raw`, 0, 4, 1, false);
  return t;
}

describe("Deribit snapshot entries other than new", () => {
  test("the scanner hands them over in any key order; the JSON path refuses them naming the action and price", () => {
    const t = table();
    const sc = new DeribitScanner();
    for (const make of [SNAP_TYPE_FIRST, SNAP_TYPE_LAST]) {
      expect(sc.scan(make('["new",0.001,274.0],["new",0.002,10.0]'), t, new BookUpdate())).toBe(0); // new only: taken
      for (const [entry, what] of [
        ['["delete",0.002,0.0]', 'ask entry "delete" at price 0.002'],
        ['["change",0.002,7.0]', 'ask entry "change" at price 0.002'],
      ] as const) {
        const f = make(`["new",0.001,274.0],${entry}`);
        expect(sc.scan(f, t, new BookUpdate()), f).toBeLessThan(0);
        const info = { entry: -1, prev: -1, detail: "" };
        expect(parseBookObject(parseJsonRaw(f), t, new BookUpdate(), info), f).toBe(SCAN_ERR_SNAPSHOT_ACTION);
        expect(info.detail).toContain(what);
      }
    }
    // A change keeps its three actions.
    const change = frame(`"type":"change","timestamp":1626993723632,"instrument_name":"${SYM}","change_id":13168946420,"prev_change_id":13168946419,"bids":[],"asks":[["delete",0.002,0.0],["change",0.001,3.0],["new",0.003,1.0]]`);
    expect(sc.scan(change, t, new BookUpdate())).toBe(0);
  });

  test("through the adapter: that book resyncs, named in the log; another book of the connection keeps its updates", async () => {
    const names = recordedInstruments();
    const { log, lines } = captureLog();
    const adapter = new DeribitAdapter(
      { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "option", depth: 0, symbols: names }], overrides: new Map(names.map((n) => [`option:${n}`, { tickSize: "0.0005", lotSize: "0.1" }])) },
      names.map((symbol) => ({ market: "option" as MarketName, symbol, depth: 0 })),
      { log: log as Logger },
    );
    await adapter.loadInstruments();
    const updates: number[] = [];
    const invalid: number[] = [];
    const sink: BookSink = { onBookUpdate: (i) => void updates.push(i), onBookInvalid: (i) => void invalid.push(i), onInstrumentChanged: () => undefined };
    adapter.startReplay(sink);
    const other = recordedFrames().find((f) => f.frame.includes('"type":"snapshot"') && f.frame.includes("ETH-30JUL21-2800-C"))!;
    const at = other.tsRecvUs;
    adapter.ingestFrame("option", "conn0.option", other.frame, at);
    const otherIndex = names.indexOf("ETH-30JUL21-2800-C");
    expect(updates).toEqual([otherIndex]);
    adapter.ingestFrame("option", "conn0.option", SNAP_TYPE_LAST('["new",0.001,274.0],["delete",0.002,0.0]'), at);
    expect(updates).toEqual([otherIndex]); // not handed on
    expect(invalid).toEqual([names.indexOf(SYM)]);
    expect(lines.map((l) => l.msg + " " + JSON.stringify(l.fields)).join("\n")).toContain('snapshot_action (a snapshot\'s ask entry \\"delete\\" at price 0.002');
    await adapter.stop();
  });
});
