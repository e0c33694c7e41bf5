// HOT PATH: no allocation (find; the rest is cold)
/**
 * Product id → entry for one connection, built at subscribe time and read by the scanner on every event without
 * creating a substring: the scanner hashes the product id's char codes in place (fnvStep) and find compares them.
 * @module
 */

/** FNV-1a step over one UTF-16 code unit; the table and the scanner must agree on it. */
export function fnvStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193);
}
export const FNV_OFFSET = 0x811c9dc5 | 0;

export class ProductTable {
  readonly products: string[] = [];
  /** Subscription index of each entry. */
  readonly indexes: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  private readonly hashes: number[] = [];
  private slots = new Int32Array(16).fill(-1);
  private mask = 15;

  get size(): number {
    return this.products.length;
  }

  /** Adds (or updates) a product; returns its entry. Cold. */
  add(product: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    const existing = this.entryOf(product);
    if (existing >= 0) {
      this.indexes[existing] = subscriptionIndex;
      this.setExponents(existing, priceExp, qtyExp);
      return existing;
    }
    const entry = this.products.length;
    this.products.push(product);
    this.indexes.push(subscriptionIndex);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.hashes.push(hashOf(product));
    if (this.products.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(entry);
    return entry;
  }

  setExponents(entry: number, priceExp: number, qtyExp: number): void {
    this.priceExp[entry] = priceExp;
    this.qtyExp[entry] = qtyExp;
  }

  /** Cold lookup by string; -1 when absent. */
  entryOf(product: string): number {
    return this.find(product, 0, product.length, hashOf(product));
  }

  /** Hot lookup of s[start, end) with its precomputed hash; -1 when absent. */
  find(s: string, start: number, end: number, hash: number): number {
    const len = end - start;
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash) {
        const t = this.products[entry]!;
        if (t.length === len) {
          let i = 0;
          while (i < len && t.charCodeAt(i) === s.charCodeAt(start + i)) i++;
          if (i === len) return entry;
        }
      }
      slot = (slot + 1) & this.mask;
    }
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let e = 0; e < this.products.length; e++) this.place(e);
  }

  private place(entry: number): void {
    let slot = this.hashes[entry]! & this.mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry;
  }
}

function hashOf(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return h;
}
