/**
 * A full book listing one price twice on a side reaches the book builder as sent, through the adapter's frame path
 * (replay's ingestFrame: the connection code live runs), scanner and JSON path alike, and the builder refuses it
 * (RepeatedPriceError naming venue, symbol, side and price; the app contains it: test/app/repeated-price-snapshot.test.ts).
 * Until 2026-12-08 the last entry was kept and the book went LIVE at that guess.
 */
import { expect, it } from "vitest";
import { BookBuilder, RepeatedPriceError } from "../../../src/book/book-builder.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState } from "../../../src/core/types.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { UPBIT_RECORDING_CODES, UPBIT_RECORDING_SPECS, upbitFrames } from "./recording.ts";

const book = upbitFrames().find((f) => f.text.startsWith('{"ty":"orderbook"'))!.text;
const T = Number(/"tms":(\d+)/.exec(book)![1]);
const CODE = /"cd":"([^"]+)"/.exec(book)![1]!;
const INDEX = UPBIT_RECORDING_CODES.indexOf(CODE);
const FIRST_BID = /"bp":([0-9.]+)/.exec(book)![1]!;
/** The recorded book stamped `tms`, its second unit's bid at the first unit's bid price. */
const repeating = (tms: number) => book.replace(/"tms":\d+/, `"tms":${tms}`).replace(/("bp":[0-9.]+.*?"bp":)[0-9.]+/, `$1${FIRST_BID}`);

for (const path of ["scanner", "JSON path (a string with an escape)"]) {
  it(`upbit ${path}: a book repeating a bid price is handed on as sent and refused by the builder`, async () => {
    const via = (f: string) => (path === "scanner" ? f : f.replace('"ty":"orderbook"', '"ty":"orderbook","x":"\\u0041"'));
    const subs: Subscription[] = UPBIT_RECORDING_CODES.map((symbol) => ({ market: "spot", symbol, depth: 15 }));
    const config = {
      venue: UPBIT_VENUE.venue,
      wsUrl: "ws://127.0.0.1:9/none",
      restUrl: "http://127.0.0.1:9",
      instrumentCachePath: "",
      markets: [{ market: "spot" as const, depth: 15, symbols: UPBIT_RECORDING_CODES }],
      overrides: new Map(UPBIT_RECORDING_CODES.map((c) => [`spot:${c}`, UPBIT_RECORDING_SPECS[c]!])),
    };
    const adapter = UPBIT_VENUE.create(config, subs, { log: silentLogger, fetch: (() => Promise.reject(new Error("no REST"))) as unknown as typeof fetch }) as UpbitAdapter;
    const instruments = await adapter.loadInstruments();
    const b = new BookBuilder(instruments[INDEX]!);
    const errors: unknown[] = [];
    adapter.startReplay({
      onBookUpdate: (i, u) => {
        if (i !== INDEX) return;
        try {
          b.applyReplace(u);
        } catch (err) {
          errors.push(err);
        }
      },
      onBookInvalid: () => undefined,
      onInstrumentChanged: () => undefined,
    });
    expect(adapter.ingestFrame("spot", "conn0.spot", via(book), 0)).toBe(true);
    expect([b.state, errors]).toEqual([BookState.LIVE, []]);
    expect(adapter.ingestFrame("spot", "conn0.spot", via(repeating(T + 10)), 0)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RepeatedPriceError);
    expect(String(errors[0])).toContain(`upbit spot ${CODE}: bid price ${Number(FIRST_BID)} is listed twice`);
    await adapter.stop();
  });
}
