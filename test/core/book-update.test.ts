import { describe, expect, it } from "vitest";
import { BookUpdate } from "../../src/core/book-update.ts";

describe("BookUpdate", () => {
  it("reserve grows one side past several doublings and keeps the levels already there", () => {
    for (const bids of [true, false]) {
      const u = new BookUpdate();
      const initial = u.bidPx.length;
      const push = (p: number, q: number) => (bids ? u.pushBid(p, q) : u.pushAsk(p, q));
      for (let i = 0; i < 5; i++) push(100 - i, i + 1);
      const other = bids ? u.askPx : u.bidPx;
      u.reserve(bids, 5 * initial + 3);
      const px = bids ? u.bidPx : u.askPx;
      const qty = bids ? u.bidQty : u.askQty;
      expect(px.length).toBeGreaterThanOrEqual(5 * initial + 3);
      expect(qty.length).toBe(px.length);
      expect(Array.from(px.subarray(0, 5))).toEqual([100, 99, 98, 97, 96]);
      expect(Array.from(qty.subarray(0, 5))).toEqual([1, 2, 3, 4, 5]);
      expect(bids ? u.bidCount : u.askCount).toBe(5);
      expect(bids ? u.askPx : u.bidPx).toBe(other); // the other side is untouched
      const same = px;
      u.reserve(bids, 10); // already room: nothing changes
      expect(bids ? u.bidPx : u.askPx).toBe(same);
    }
  });
});
