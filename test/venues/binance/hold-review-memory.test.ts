/**
 * What a diff held during a Binance planned reconnect's overlap (src/venues/binance/overlap-hold.ts, at most HOLD_MAX
 * per stream) or buffered by a REST bridge (at most MAX_BUFFERED_DIFFS) keeps: copyUpdate sizes the copy to its
 * levels. A fresh BookUpdate has room for 1024 levels per side (32 KB): 100 held diffs of each of 200 streams were
 * 640 MB. Randomized against the source update; a copy still grows when levels are pushed onto it.
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { copyUpdate } from "../../../src/venues/common/rest-bridge.ts";

function randomUpdate(bids: number, asks: number, seed: number): BookUpdate {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31);
  const u = new BookUpdate();
  u.venueSeq = next();
  u.tsExchangeUs = next();
  u.tsEventUs = next();
  u.tsRecvUs = next();
  u.isSnapshot = bids > 100;
  for (let i = 0; i < bids; i++) u.pushBid(next(), next());
  for (let i = 0; i < asks; i++) u.pushAsk(next(), next());
  return u;
}

describe("copyUpdate: a copy that outlives its frame is sized to its levels", () => {
  test("same content, arrays no longer than the larger side (at least 1), for diffs and snapshots of random sizes", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const bids = seed % 7 === 0 ? 0 : (seed * 37) % (seed % 10 === 0 ? 5000 : 20);
      const asks = (seed * 53) % (seed % 10 === 0 ? 3000 : 20);
      const u = randomUpdate(bids, asks, seed);
      const c = copyUpdate(u);
      const cap = Math.max(1, bids, asks);
      expect([c.bidPx.length, c.bidQty.length, c.askPx.length, c.askQty.length]).toEqual([cap, cap, cap, cap]);
      expect([c.venueSeq, c.tsExchangeUs, c.tsEventUs, c.tsRecvUs, c.isSnapshot, c.replace]).toEqual([u.venueSeq, u.tsExchangeUs, u.tsEventUs, u.tsRecvUs, u.isSnapshot, u.replace]);
      expect([c.bidCount, c.askCount]).toEqual([bids, asks]);
      expect([...c.bidPx.subarray(0, bids), ...c.bidQty.subarray(0, bids)]).toEqual([...u.bidPx.subarray(0, bids), ...u.bidQty.subarray(0, bids)]);
      expect([...c.askPx.subarray(0, asks), ...c.askQty.subarray(0, asks)]).toEqual([...u.askPx.subarray(0, asks), ...u.askQty.subarray(0, asks)]);
    }
  });

  test("an empty copy still takes levels pushed onto it (its arrays grow)", () => {
    const c = copyUpdate(new BookUpdate());
    for (let i = 0; i < 40; i++) {
      c.pushBid(i, i + 1);
      c.pushAsk(100 + i, i + 2);
    }
    expect([c.bidCount, c.askCount, c.bidPx[39], c.bidQty[39], c.askPx[39], c.askQty[39]]).toEqual([40, 40, 39, 40, 139, 41]);
  });
});
