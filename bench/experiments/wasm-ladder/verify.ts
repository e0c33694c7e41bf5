/**
 * Experiment check (docs/performance.md §10, "The ladder in WebAssembly: an upper bound"): the prototype writes the
 * datagrams today's path writes. `bun bench/experiments/wasm-ladder/verify.ts` — for both recordings (177 spot, 764
 * USD-M diffs), three passes each from the 4 REST snapshots: every datagram byte for byte (same send time, so the
 * CRC too), then each book's levels in the window against the BookBuilder's, the best prices, the absent-delete count
 * against BookBuilder.counters and the sequence verdicts against the adapter's rule computed here from JSON.parse.
 * Pass 3 first feeds each frame damaged (cut inside its levels, or one price moved out of the window) and expects a
 * decline that leaves the book as it was (the undo log), then the real frame. Exits 1 on the first difference.
 * @module
 */
import { type Rec, OursPath, load } from "./current-path.ts";
import { WasmLadderPath, windowBook } from "./prototype.ts";

function fail(msg: string): never {
  console.error(`verify: ${msg}`);
  process.exit(1);
}

function damaged(frame: string, k: number): string {
  // Alternately: cut inside the levels (no `}}` end), or the last price made 9 digits longer (outside any window).
  const b = frame.indexOf('"b":[');
  if (k % 2 === 0) return frame.slice(0, b + 5 + Math.floor((frame.length - b - 8) * ((k % 7) + 1) / 8));
  const i = frame.lastIndexOf('["');
  return i < b ? frame.slice(0, -3) : frame.slice(0, i + 2) + "999999999" + frame.slice(i + 2);
}

function check(rec: Rec, label: string): void {
  const ref = new OursPath(rec);
  const proto = new WasmLadderPath(rec);
  const capture = new Uint8Array(1400);
  ref.capture = capture;
  const bodies = [...rec.symbols.values()].map((e) => e.body);
  const syms = [...rec.symbols.keys()];
  let frames = 0;
  let damagedDeclined = 0;
  let expectBreaks = 0;
  let expectDups = 0;
  for (let pass = 1; pass <= 3; pass++) {
    bodies.forEach((b, i) => {
      ref.onSnapshot(i, b);
      proto.onSnapshot(i, b);
    });
    const last = new Map<string, number>();
    for (const [sym, e] of rec.symbols) last.set(sym, (JSON.parse(e.body) as { lastUpdateId: number }).lastUpdateId);
    for (let k = 0; k < rec.diffs.length; k++) {
      const f = rec.diffs[k]!;
      if (pass === 3) {
        const before = proto.declined;
        proto.onDiff(damaged(f, k));
        if (proto.declined !== before + 1) fail(`${label} frame ${k}: a damaged copy was not declined`);
        damagedDeclined++;
      }
      ref.onDiff(f);
      proto.onDiff(f);
      if (proto.lastLength === 0) fail(`${label} pass ${pass} frame ${k}: declined`);
      const got = proto.datagram();
      if (got.length !== ref.lastLength) fail(`${label} pass ${pass} frame ${k}: length ${got.length}, today's path ${ref.lastLength}`);
      for (let i = 0; i < got.length; i++) if (got[i] !== capture[i]) fail(`${label} pass ${pass} frame ${k}: byte ${i} is ${got[i]}, today's path ${capture[i]}`);
      frames++;
      const d = (JSON.parse(f) as { data: { s: string; U: number; u: number; pu?: number } }).data;
      const l = last.get(d.s)!;
      if (d.u <= l) expectDups++;
      else if (rec.market === "spot" ? d.U !== l + 1 : d.pu !== l) expectBreaks++;
      last.set(d.s, d.u);
    }
    // The books: every builder level inside the window, and nothing else there; the best prices.
    syms.forEach((_, i) => {
      const b = ref.builders[i]!;
      const w = proto.windows[i]!;
      for (const bids of [true, false]) {
        const wb = windowBook(proto, i, bids);
        const n = bids ? b.bidCount : b.askCount;
        const px = new Float64Array(n);
        const qty = new Float64Array(n);
        if (bids) b.copyBids(0, n, px, qty, 0);
        else b.copyAsks(0, n, px, qty, 0);
        const lo = bids ? w.bidLo : w.askLo;
        const size = bids ? w.bidSize : w.askSize;
        const inside: [number, number][] = [];
        for (let j = 0; j < n; j++) if (px[j]! >= lo && px[j]! < lo + size) inside.push([px[j]!, qty[j]!]);
        if (JSON.stringify(inside) !== JSON.stringify(wb.levels)) fail(`${label} pass ${pass} ${syms[i]} ${bids ? "bids" : "asks"}: the window differs from the builder's book`);
        const best = n > 0 ? px[0]! : NaN;
        if (!(Object.is(best, wb.best) || best === wb.best)) fail(`${label} pass ${pass} ${syms[i]}: best ${wb.best}, builder ${best}`);
      }
    });
  }
  let absent = 0;
  let breaks = 0;
  let dups = 0;
  let crossed = 0;
  syms.forEach((_, i) => {
    const c = proto.counters(i);
    absent += c.absent;
    breaks += c.breaks;
    dups += c.dups;
    crossed += c.crossed;
    if (c.absent !== ref.builders[i]!.counters.deletesOfAbsent) fail(`${label} ${syms[i]}: ${c.absent} absent deletes, builder ${ref.builders[i]!.counters.deletesOfAbsent}`);
  });
  if (breaks !== expectBreaks || dups !== expectDups) fail(`${label}: sequence verdicts ${breaks} breaks / ${dups} duplicates, expected ${expectBreaks} / ${expectDups}`);
  console.log(
    `${label}: ${frames} datagrams byte-equal to today's path (3 passes from the snapshots), books equal in the windows; ` +
      `${damagedDeclined} damaged frames declined and undone; absent deletes ${absent}, sequence breaks ${breaks}, duplicates ${dups}, crossed ${crossed}; ` +
      `windows ${proto.windows.map((w) => `${w.bidSize}+${w.askSize}`).join(", ")} ticks`,
  );
}

check(load("BINANCE", "spot"), "spot");
check(load("BINANCE_FUTURES", "linear"), "USD-M");
