/**
 * The Coinbase scanner against JSON.parse and an independent exact decimal conversion (BigInt on the strings):
 * documented frame shapes, generated multi-product frames, other key orders (the JSON path), integer literals, and
 * fuzzed frames (cuts, edits): whatever the scanner accepts JSON.parse accepts with the same books, never a wrong one.
 */
import { describe, expect, test } from "vitest";
import { CB_HEARTBEAT, CB_L2, CB_NOT_FAST, CoinbaseScanner, EventPool, rfc3339Us, TS_PAST_RANGE } from "../../../src/venues/coinbase/scanner.ts";
import { ProductTable } from "../../../src/venues/coinbase/product-table.ts";
import { CB_CONTROL, misfitCode, parseSlowFrame, type SlowFrame } from "../../../src/venues/coinbase/parse-json.ts";
import { Rng } from "../../../src/sim/rng.ts";

/** The nautilus-shaped documented example (docs/venues/coinbase.md, "Frames"). */
const DOC_UPDATE =
  '{"channel":"l2_data","client_id":"","timestamp":"2026-04-07T14:30:01.456789Z","sequence_num":1,"events":[{"type":"update","product_id":"BTC-USD","updates":[' +
  '{"side":"bid","event_time":"2026-04-07T14:30:01.456789Z","price_level":"68900.00","new_quantity":"2.00000000"},' +
  '{"side":"offer","event_time":"2026-04-07T14:30:01.456789Z","price_level":"68901.00","new_quantity":"0.00000000"}]}]}';

function table(): ProductTable {
  const t = new ProductTable();
  t.add("BTC-USD", 0, 2, 8);
  t.add("ETH-USD", 1, 2, 8);
  t.add("DOGE-USD", 2, 5, 1);
  return t;
}

/** Exact mantissa of a decimal string at exp, independent of core/fixed.ts; null when it does not fit. */
function refMantissa(s: unknown, exp: number): number | null {
  if (typeof s !== "string" || !/^[0-9]+(\.[0-9]+)?$/.test(s)) return null;
  const [i, f = ""] = s.split(".");
  if (/[1-9]/.test(f.slice(exp))) return null;
  const m = BigInt(i! + f.slice(0, exp).padEnd(exp, "0"));
  return m > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(m);
}

/**
 * An event read, or (`bad`) one of a known product that cannot be read: its book alone resyncs, and (`misfit`) its
 * market's products are asked for again when what failed first was a price or size that is a decimal string not
 * fitting the exponents (not one of another JSON type or no decimal).
 */
type Book = { product: string; snapshot: boolean; bids: [number, number][]; asks: [number, number][] } | { product: string; bad: true; misfit: boolean };

const isDecimal = (s: unknown) => typeof s === "string" && /^[0-9]+(\.[0-9]+)?$/.test(s);

/**
 * The reference reading: JSON.parse + refMantissa; null when the frame is not an l2_data frame of the table's products
 * with an integer sequence_num (its sequence or an event's book unknown). An event of a known product that cannot be
 * read (type, updates, a level) is `bad`, the others read.
 */
function reference(text: string, t: ProductTable): { seq: number; events: Book[] } | null {
  let m: any;
  try {
    m = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof m !== "object" || m === null || m.channel !== "l2_data" || !Number.isSafeInteger(m.sequence_num) || m.sequence_num < 0 || !Array.isArray(m.events)) return null;
  const events: Book[] = [];
  for (const e of m.events) {
    if (typeof e !== "object" || e === null || Array.isArray(e) || typeof e.product_id !== "string") return null;
    const entry = t.entryOf(e.product_id);
    if (entry < 0) return null;
    let misfit = false;
    if ((e.type !== "snapshot" && e.type !== "update") || !Array.isArray(e.updates)) {
      events.push({ product: e.product_id, bad: true, misfit });
      continue;
    }
    const b: Book = { product: e.product_id, snapshot: e.type === "snapshot", bids: [], asks: [] };
    for (const l of e.updates) {
      const sideOk = l?.side === "bid" || l?.side === "offer";
      const px = sideOk ? refMantissa(l.price_level, t.priceExp[entry]!) : null;
      const q = px === null || Array.isArray(l) ? null : refMantissa(l.new_quantity, t.qtyExp[entry]!);
      if (px === null || q === null) {
        misfit = sideOk && !Array.isArray(l) && isDecimal(px === null ? l.price_level : l.new_quantity);
        break;
      }
      (l.side === "bid" ? b.bids : b.asks).push([px, q]);
    }
    events.push(b.bids.length + b.asks.length === e.updates.length ? b : { product: e.product_id, bad: true, misfit });
  }
  return { seq: m.sequence_num, events };
}

function read(pool: EventPool, t: ProductTable): Book[] {
  const out: Book[] = [];
  for (let i = 0; i < pool.count; i++) {
    if (pool.badEvents > 0 && pool.bad[i] !== 0) {
      out.push({ product: t.names[pool.entries[i]!]!, bad: true, misfit: misfitCode(pool.bad[i]!) });
      continue;
    }
    const u = pool.updates[i]!;
    const bids: [number, number][] = [];
    const asks: [number, number][] = [];
    for (let k = 0; k < u.bidCount; k++) bids.push([u.bidPx[k]!, u.bidQty[k]!]);
    for (let k = 0; k < u.askCount; k++) asks.push([u.askPx[k]!, u.askQty[k]!]);
    out.push({ product: t.names[pool.entries[i]!]!, snapshot: u.isSnapshot, bids, asks });
  }
  return out;
}

function genFrame(rng: Rng, seq: number): string {
  const products = ["BTC-USD", "ETH-USD", "DOGE-USD"];
  const events: string[] = [];
  const n = rng.int(1, 3);
  for (let e = 0; e < n; e++) {
    const p = products[rng.int(0, 2)]!;
    const doge = p === "DOGE-USD";
    const levels: string[] = [];
    for (let k = rng.int(0, 6); k > 0; k--) {
      const px = doge ? `0.${String(rng.int(10000, 99999))}` : `${rng.int(1, 99999)}.${String(rng.int(0, 99)).padStart(2, "0")}`;
      const q = doge ? `${rng.int(0, 9999)}.${rng.int(0, 9)}` : `${rng.int(0, 99)}.${String(rng.int(0, 99999999)).padStart(8, "0")}`;
      levels.push(`{"side":"${rng.next() < 0.5 ? "bid" : "offer"}","event_time":"2026-04-07T14:30:01.456789Z","price_level":"${px}","new_quantity":"${q}"}`);
    }
    events.push(`{"type":"${rng.next() < 0.2 ? "snapshot" : "update"}","product_id":"${p}","updates":[${levels.join(",")}]}`);
  }
  return `{"channel":"l2_data","client_id":"","timestamp":"2026-04-07T14:30:01.456789123Z","sequence_num":${seq},"events":[${events.join(",")}]}`;
}

describe("coinbase scanner", () => {
  test("the documented update: both sides, exact mantissas, the envelope's sequence_num and time", () => {
    const t = table();
    const pool = new EventPool();
    const s = new CoinbaseScanner();
    expect(s.scan(DOC_UPDATE, t, pool)).toBe(CB_L2);
    expect(s.seq).toBe(1);
    expect(s.tsUs).toBe(Date.parse("2026-04-07T14:30:01.456Z") * 1000 + 789);
    expect(read(pool, t)).toEqual([{ product: "BTC-USD", snapshot: false, bids: [[6890000, 200000000]], asks: [[6890100, 0]] }]);
    expect(pool.updates[0]!.venueSeq).toBe(1);
  });

  test("without client_id (the production envelope, per Coinbase's AsyncAPI) the scanner takes the frame, the same as with it", () => {
    // Before, the scanner required client_id: every production frame went to the JSON path (JSON.parse per frame).
    const t = table();
    const pool = new EventPool();
    const s = new CoinbaseScanner();
    const bare = DOC_UPDATE.replace(',"client_id":""', "");
    expect(s.scan(bare, t, pool)).toBe(CB_L2);
    expect([s.seq, s.tsUs]).toEqual([1, Date.parse("2026-04-07T14:30:01.456Z") * 1000 + 789]);
    expect(read(pool, t)).toEqual([{ product: "BTC-USD", snapshot: false, bids: [[6890000, 200000000]], asks: [[6890100, 0]] }]);
    const hb = '{"channel":"heartbeats","timestamp":"2026-04-07T14:30:01.1Z","sequence_num":7,"events":[{"current_time":"2026-04-07 14:30:01.1 +0000 UTC m=+1.0","heartbeat_counter":3049}]}';
    expect(s.scan(hb, t, pool)).toBe(CB_HEARTBEAT);
    expect([s.seq, s.heartbeatCounter]).toEqual([7, 3049]);
  });

  test("a frame of several products yields one update per event, in order", () => {
    const t = table();
    const pool = new EventPool();
    const text = DOC_UPDATE.replace("]}]}", ']},{"type":"snapshot","product_id":"ETH-USD","updates":[]},{"type":"update","product_id":"BTC-USD","updates":[]}]}');
    expect(new CoinbaseScanner().scan(text, t, pool)).toBe(CB_L2);
    expect(read(pool, t).map((b) => [b.product, "bad" in b ? "bad" : b.snapshot])).toEqual([["BTC-USD", false], ["ETH-USD", true], ["BTC-USD", false]]);
  });

  test("heartbeats: sequence_num and heartbeat_counter; a string counter goes to the JSON path with the same result", () => {
    const t = table();
    const pool = new EventPool();
    const s = new CoinbaseScanner();
    const hb = '{"channel":"heartbeats","client_id":"","timestamp":"2026-04-07T14:30:01.1Z","sequence_num":7,"events":[{"current_time":"2026-04-07 14:30:01.1 +0000 UTC m=+1.0","heartbeat_counter":3049}]}';
    expect(s.scan(hb, t, pool)).toBe(CB_HEARTBEAT);
    expect([s.seq, s.heartbeatCounter]).toEqual([7, 3049]);
    const quoted = hb.replace(":3049}", ':"3049"}');
    expect(s.scan(quoted, t, pool)).toBe(CB_NOT_FAST);
    const out: SlowFrame = { seq: -1, tsUs: 0, tsPastRange: false, tsUnreadable: false, heartbeatCounter: 0, msg: null };
    expect(parseSlowFrame(quoted, t, pool, out)).toBe(CB_HEARTBEAT);
    expect([out.seq, out.heartbeatCounter]).toEqual([7, 3049]);
  });

  test("sequence_num must be an integer literal on both paths (JSON.parse would round 1.00000000000000001 to 1)", () => {
    const t = table();
    const pool = new EventPool();
    const out: SlowFrame = { seq: -1, tsUs: 0, tsPastRange: false, tsUnreadable: false, heartbeatCounter: 0, msg: null };
    for (const bad of ["1.00000000000000001", "1e0", "01", "-1", '"1"', "9007199254740993"]) {
      const text = DOC_UPDATE.replace('"sequence_num":1', `"sequence_num":${bad}`);
      expect(new CoinbaseScanner().scan(text, t, pool), bad).toBe(CB_NOT_FAST);
      expect(parseSlowFrame(text, t, pool, out), bad).toBeLessThan(0);
    }
  });

  test("control frames (subscriptions, errors) go to the JSON path; the subscriptions event's sequence_num is read", () => {
    const t = table();
    const pool = new EventPool();
    const out: SlowFrame = { seq: -1, tsUs: 0, tsPastRange: false, tsUnreadable: false, heartbeatCounter: 0, msg: null };
    const sub = '{"channel":"subscriptions","client_id":"","timestamp":"2026-04-07T14:30:01Z","sequence_num":1,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}';
    expect(new CoinbaseScanner().scan(sub, t, pool)).toBe(CB_NOT_FAST);
    expect(parseSlowFrame(sub, t, pool, out)).toBe(CB_CONTROL);
    expect(out.seq).toBe(1);
    expect(parseSlowFrame('{"type":"error","message":"x"}', t, pool, out)).toBe(CB_CONTROL);
    expect(out.seq).toBe(-1);
  });

  test("a price or size that cannot be read is named by its field and what it was; only a decimal that does not fit is a misfit", () => {
    const t = table();
    const pool = new EventPool();
    const out: SlowFrame = { seq: -1, tsUs: 0, tsPastRange: false, tsUnreadable: false, heartbeatCounter: 0, msg: null };
    const cases: [string, string, string, boolean][] = [
      ["price_level", "68900", "price_level is a number, not a string", false],
      ["price_level", "null", "price_level is null, not a string", false],
      ["new_quantity", '{"v":"2"}', "new_quantity is an object, not a string", false],
      ["new_quantity", '"-2"', 'new_quantity is "-2", not a decimal', false],
      ["price_level", '"68900.001"', "price_level 68900.001 does not fit exponent 2", true],
    ];
    for (const [key, value, text, misfit] of cases) {
      const frame = DOC_UPDATE.replace(new RegExp(`"${key}":"[^"]*"`), `"${key}":${value}`);
      expect(parseSlowFrame(frame, t, pool, out), value).toBe(CB_L2);
      expect(pool.badText[0]!.startsWith(text), pool.badText[0]).toBe(true);
      expect(misfitCode(pool.bad[0]!), value).toBe(misfit);
    }
  });

  test("generated frames, their key orders and whitespace: scanner or JSON path, always the reference books", () => {
    const t = table();
    const pool = new EventPool();
    const s = new CoinbaseScanner();
    const out: SlowFrame = { seq: -1, tsUs: 0, tsPastRange: false, tsUnreadable: false, heartbeatCounter: 0, msg: null };
    const rng = new Rng(5);
    let fast = 0;
    for (let i = 0; i < 2000; i++) {
      let text = genFrame(rng, i);
      if (i % 3 === 1) text = JSON.stringify(JSON.parse(text), null, 1); // whitespace
      if (i % 3 === 2) {
        // Keys in another order (the reader must not depend on it).
        const m = JSON.parse(text);
        text = JSON.stringify({ events: m.events.map((e: any) => ({ updates: e.updates.map((l: any) => ({ new_quantity: l.new_quantity, price_level: l.price_level, side: l.side })), product_id: e.product_id, type: e.type })), sequence_num: m.sequence_num, channel: m.channel });
      }
      const ref = reference(text, t);
      const r = s.scan(text, t, pool);
      if (r === CB_L2) {
        fast++;
        expect(ref).not.toBeNull();
        expect({ seq: s.seq, events: read(pool, t) }).toEqual(ref);
        continue;
      }
      expect(r).toBe(CB_NOT_FAST);
      const slow = parseSlowFrame(text, t, pool, out);
      if (ref === null) expect(slow).toBeLessThan(0);
      else expect({ seq: out.seq, events: read(pool, t) }).toEqual(ref);
    }
    expect(fast).toBeGreaterThan(500);
  });

  test("fuzzed frames (cuts, byte edits, swapped values): never a book the reference does not give", () => {
    const t = table();
    const pool = new EventPool();
    const s = new CoinbaseScanner();
    const out: SlowFrame = { seq: -1, tsUs: 0, tsPastRange: false, tsUnreadable: false, heartbeatCounter: 0, msg: null };
    const rng = new Rng(9);
    const alphabet = '0123456789.-e"{}[],:abdfoprstuxyzBSU \\';
    let accepted = 0;
    const misfits = [0, 0]; // bad events whose first fault was [another kind, a decimal that does not fit]
    for (let i = 0; i < 6000; i++) {
      let text = genFrame(rng, rng.int(0, 1000));
      const kind = rng.int(0, 3);
      if (kind === 0) text = text.slice(0, rng.int(0, text.length - 1));
      else if (kind === 1) {
        const k = rng.int(0, text.length - 1);
        text = text.slice(0, k) + alphabet[rng.int(0, alphabet.length - 1)] + text.slice(k + 1);
      } else if (kind === 2) {
        const k = rng.int(0, text.length - 1);
        text = text.slice(0, k) + text.slice(k + 1);
      } else {
        // A price or size of another JSON type, text that is no decimal, or a decimal that does not fit.
        const key = rng.next() < 0.5 ? "price_level" : "new_quantity";
        const values = ["1.5", '"1e3"', '"-1"', '"1.000000001"', "null", '{"v":"1"}', '["1"]', "true", '""', '"99999999999999999999"'];
        text = text.replace(new RegExp(`"${key}":"[^"]*"`), `"${key}":${values[rng.int(0, values.length - 1)]!}`);
      }
      const ref = reference(text, t);
      let r = s.scan(text, t, pool);
      let seq = s.seq;
      if (r !== CB_L2) {
        r = parseSlowFrame(text, t, pool, out);
        seq = out.seq;
      }
      if (r === CB_L2) {
        accepted++;
        expect(ref, text).not.toBeNull();
        expect({ seq, events: read(pool, t) }, text).toEqual(ref);
        for (const b of ref!.events) if ("bad" in b) misfits[b.misfit ? 1 : 0]++;
      } else if (ref !== null) {
        throw new Error(`a valid frame was rejected: ${text}`);
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(Math.min(...misfits)).toBeGreaterThan(50);
  });

  test("rfc3339Us agrees with Date.parse to the ms and keeps µs; anything else is -1", () => {
    const rng = new Rng(3);
    for (let i = 0; i < 500; i++) {
      const ms = rng.int(0, 4_102_444_800_000);
      const us = rng.int(0, 999);
      const iso = new Date(ms).toISOString().replace("Z", `${String(us).padStart(3, "0")}123Z`);
      expect(rfc3339Us(iso, 0, iso.length)).toBe(ms * 1000 + us);
    }
    expect(rfc3339Us("2026-04-07T14:30:01Z", 0, 20)).toBe(Date.parse("2026-04-07T14:30:01Z") * 1000);
    for (const bad of ["2026-04-07 14:30:01Z", "2026-04-07T14:30:01+01:00", "2026-13-07T14:30:01Z", "2026-04-07T14:30:01.Z", "x"]) expect(rfc3339Us(bad, 0, bad.length)).toBe(-1);
    // A day the month does not have is no time (unknown, not the next month's: before, 2026-02-31 read as March 3).
    for (const bad of ["2026-02-29T00:00:00Z", "2026-02-31T12:00:00.5Z", "2026-04-31T00:00:00Z", "2100-02-29T00:00:00Z", "2026-00-10T00:00:00Z"]) expect(rfc3339Us(bad, 0, bad.length), bad).toBe(-1);
    for (const good of ["2024-02-29T00:00:00Z", "2000-02-29T23:59:59.999999Z", "2026-12-31T00:00:00Z", "2026-04-30T00:00:00Z"]) expect(rfc3339Us(good, 0, good.length), good).toBe(Date.parse(good) * 1000 + (good.includes(".999999") ? 999 : 0));
    // Second 60 is no time: Coinbase's servers (Go: a heartbeat's current_time is Go's Time.String) never print a leap
    // second, and µs since the epoch has none. Before, any minute's :60 read as the next minute's :00 (14:30:60 as
    // 14:31:00), and a leap second's 23:59:60.5 as 00:00:00.5, after the frames of the second that follows it.
    // 2^53 µs is 2255-06-05T23:47:34.740992Z: from there TS_PAST_RANGE (read as unknown, counted), not µs the wire cannot carry.
    expect(rfc3339Us("2255-06-05T23:47:34.740991Z", 0, 27)).toBe(2 ** 53 - 1);
    for (const far of ["2255-06-05T23:47:34.740992Z", "2300-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"]) expect(rfc3339Us(far, 0, far.length), far).toBe(TS_PAST_RANGE);
    for (const bad of ["2026-04-07T14:30:60Z", "2016-12-31T23:59:60Z", "2016-12-31T23:59:60.5Z", "2026-04-07T14:30:61Z"]) expect(rfc3339Us(bad, 0, bad.length), bad).toBe(-1);
    // Before 1970 is no time either (unknown, -1): until s-sr18 it was negative µs, and 2 µs before the epoch was -2,
    // TS_PAST_RANGE, counted and logged as a time past the year 2255.
    for (const early of ["1969-12-31T23:59:59.999998Z", "1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999997Z", "0001-01-01T00:00:00Z"]) expect(rfc3339Us(early, 0, early.length), early).toBe(-1);
    expect(rfc3339Us("1970-01-01T00:00:00.000001Z", 0, 27)).toBe(1);
  });
});
