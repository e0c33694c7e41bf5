/**
 * docs/wire-protocol.md's layout tables against src/wire/layout.ts (and wire/retransmit.ts, core/types.ts) byte for
 * byte: every field row's offset is the named constant, the rows of a table tile their block without gap or overlap
 * (offset + size of its type = the next row's offset; the last ends at the block's size), every flag and template
 * row has its constant's value, and the enumerations list exactly the values the code has. The golden vectors
 * (test/wire/vectors.test.ts) check the encoder against hand-copied offsets; this checks the tables themselves, and
 * the trailer, key and heartbeat sizes §3.3 and §4.7 state, and each field's signedness and width against the decoder's
 * getters (the offsets check takes a type as its size only).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import * as L from "../../src/wire/layout.ts";
import * as R from "../../src/wire/retransmit.ts";
import * as N from "../../src/subscriber/nats-envelope.ts";
import { BookMessageReader, DECODE_ERROR_NAMES, DecodeErrorCode, DefinitionReader, PacketReader } from "../../src/wire/decoder.ts";
import { packBookStatus } from "../../src/wire/encoder.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { makeInstrument, resealCrc, TestBook } from "../wire/helpers.ts";
import { BookState, MARKET_IDS, STATUS_REASON_NAMES, VENUE_IDS } from "../../src/core/types.ts";

const DOC = readFileSync(resolve(import.meta.dirname, "../../docs/wire-protocol.md"), "utf8");
const CONSTANTS: Record<string, unknown> = { ...L, ...R, ...N };

/** The text of the section whose heading starts with `heading` (up to the next heading of any level). */
function section(heading: string, doc = DOC): string {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.replace(/^#+ /, "").startsWith(heading));
  expect(start, `docs/wire-protocol.md has a section "${heading}"`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && /^#{2,4} /.test(l));
  return lines.slice(start + 1, end === -1 ? undefined : end).join("\n");
}

/** Rows of the markdown tables of a text whose header row starts with `firstHeader` (cells trimmed, ticks kept). */
function tableRows(text: string, firstHeader: string, nth = 0): string[][] {
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("|")) {
      current = undefined;
      continue;
    }
    const cells = line.slice(1, line.endsWith("|") ? -1 : undefined).split("|").map((c) => c.trim());
    if (current === undefined) {
      current = [];
      if (cells[0] === firstHeader) tables.push(current);
      continue; // the header row
    }
    if (/^:?-+:?$/.test(cells[0]!)) continue; // the separator row
    current.push(cells);
  }
  expect(tables.length, `a table with header "${firstHeader}"`).toBeGreaterThan(nth);
  return tables[nth]!;
}

const SIZES: Record<string, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8, "6 B": 6, "u8 + u16": 3 };
const untick = (s: string) => s.replace(/`/g, "");
/** `channelId` → CHANNEL_ID. */
const upperSnake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/**
 * Checks one offsets table: each field row (a numeric offset) names the constant `<prefix><FIELD>_OFFSET` (or the one
 * `aliases` gives) with that value, and rows tile [start, blockBytes).
 */
function checkOffsets(rows: string[][], prefix: string, blockBytes: number, aliases: Record<string, string> = {}, start = 0): number {
  let expectedOff = start;
  let checked = 0;
  for (const [offCell, type, fieldCell] of rows) {
    if (!/^\d+$/.test(offCell!)) continue; // `blockLength` | | the levels that follow the block
    const off = Number(offCell);
    if (off === blockBytes && type === "") continue; // what follows the block (the NATS envelope's message)
    const field = /`([^`]+)`/.exec(fieldCell!)?.[1] ?? fieldCell!; // `qtyMantissa` (delta: …)
    expect(off, `${prefix}: ${field} starts where the row before it ended`).toBe(expectedOff);
    if (field.startsWith("common book block")) {
      expectedOff = off + L.BOOK_COMMON_BLOCK_BYTES;
      continue;
    }
    const name = aliases[field] ?? (field === "reserved" ? `${prefix}RESERVED_OFFSET` : `${prefix}${upperSnake(field)}_OFFSET`);
    expect(CONSTANTS[name], `${field} at ${off}: the constant ${name}`).toBe(off);
    const size = SIZES[type!];
    expect(size, `${prefix}${field}: a known type, got ${type}`).toBeDefined();
    expectedOff = off + size!;
    checked++;
  }
  expect(expectedOff, `${prefix}: the rows end at the block's size`).toBe(blockBytes);
  return checked;
}

describe("docs/wire-protocol.md tables = src/wire/layout.ts", () => {
  test("§3 packet header: offsets, size, flags", () => {
    const s = section("3. Packet header");
    expect(DOC).toContain(`## 3. Packet header (${L.PACKET_HEADER_BYTES} bytes)`);
    const n = checkOffsets(tableRows(s, "off"), "PKT_", L.PACKET_HEADER_BYTES, { pktLength: "PKT_LENGTH_OFFSET" });
    expect(n).toBe(14);
    const flags = tableRows(s, "bit");
    const named = flags.filter((r) => r[2] !== "");
    for (const [bit, value, name] of named) {
      const constant = CONSTANTS[`PKT_FLAG_${untick(name!)}`];
      expect(constant, `packet flag ${name}`).toBe(Number(value));
      expect(1 << Number(bit)).toBe(constant);
    }
    expect(named.reduce((a, r) => a | Number(r[1]), 0)).toBe(L.PKT_FLAGS_KNOWN);
    expect(s).toContain(`**0x${L.MAGIC.toString(16)}**`);
    expect(s).toContain(`wire version, **${L.WIRE_VERSION}**`);
    expect(s).toContain(`**${L.SCHEMA_ID}** = the feeder L2 book schema`);
  });

  test("§4.1 message header, templates and message flags", () => {
    const s = section("4.1 Message header");
    expect(checkOffsets(tableRows(s, "off"), "MSG_", L.MESSAGE_HEADER_BYTES, { msgLength: "MSG_LENGTH_OFFSET", msgFlags: "MSG_FLAGS_OFFSET" })).toBe(5);
    const templates: Record<string, [number, number, number]> = {
      BookDelta: [L.TEMPLATE_BOOK_DELTA, L.BOOK_DELTA_BLOCK_BYTES, L.BOOK_DELTA_VERSION],
      BookSnapshot: [L.TEMPLATE_BOOK_SNAPSHOT, L.BOOK_SNAPSHOT_BLOCK_BYTES, L.BOOK_SNAPSHOT_VERSION],
      BookStatus: [L.TEMPLATE_BOOK_STATUS, L.BOOK_STATUS_BLOCK_BYTES, L.BOOK_STATUS_VERSION],
      InstrumentDefinition: [L.TEMPLATE_INSTRUMENT_DEFINITION, L.INSTRUMENT_DEFINITION_BLOCK_BYTES, L.INSTRUMENT_DEFINITION_VERSION],
    };
    const rows = tableRows(s, "templateId");
    expect(rows.map((r) => r[1]).sort()).toEqual(Object.keys(templates).sort());
    for (const [id, message, block, version] of rows) {
      const [tid, bytes, ver] = templates[message!]!;
      expect([Number(id), Number(block), Number(/\d+/.exec(version!)![0])], message).toEqual([tid, bytes, ver]);
      // Each template's own section heading repeats the numbers.
      expect(DOC).toMatch(new RegExp(`### 4\\.\\d ${message} \\(templateId ${tid}, version ${ver}, root block ${bytes}\\)`));
    }
    const flags = tableRows(s, "bit").filter((r) => r[2] !== "");
    expect(flags.length).toBe(4);
    for (const [bit, value, name] of flags) {
      expect(CONSTANTS[`MSG_FLAG_${untick(name!)}`], `message flag ${name}`).toBe(Number(value));
      expect(1 << Number(bit)).toBe(Number(value));
    }
  });

  test("§4.2–4.6 root blocks and the level entry", () => {
    expect(checkOffsets(tableRows(section("4.2 Common book block"), "off"), "BOOK_", L.BOOK_COMMON_BLOCK_BYTES)).toBe(10);
    const delta = section("4.3 BookDelta");
    expect(checkOffsets(tableRows(delta, "off"), "DELTA_", L.BOOK_DELTA_BLOCK_BYTES)).toBe(6);
    expect(checkOffsets(tableRows(delta, "off", 1), "LEVEL_", L.LEVEL_BYTES, { priceMantissa: "LEVEL_PRICE_OFFSET", qtyMantissa: "LEVEL_QTY_OFFSET" })).toBe(2);
    expect(delta).toContain(`**${L.deltaLevelsPerDatagram(1400)} levels**`);
    expect(delta).toContain(`**${L.deltaLevelsPerDatagram(1400, true)}** when authenticated`);
    expect(checkOffsets(tableRows(section("4.4 BookSnapshot"), "off"), "SNAP_", L.BOOK_SNAPSHOT_BLOCK_BYTES, { levelLength: "SNAP_LEVEL_LENGTH_OFFSET" })).toBe(8);
    expect(section("4.4 BookSnapshot")).toContain(`C = ${L.snapshotLevelsPerDatagram(1400)} for 1400-byte datagrams, ${L.snapshotLevelsPerDatagram(1400, true)} authenticated`);
    const cutBits = tableRows(section("4.4 BookSnapshot"), "bit").filter((r) => r[2] !== "");
    expect(cutBits.map((r) => untick(r[2]!))).toEqual(["MARKED", "BIDS", "ASKS"]);
    for (const [bit, value, name] of cutBits) {
      expect(CONSTANTS[`SNAP_CUT_${untick(name!)}`], `cutFlags bit ${name}`).toBe(Number(value));
      expect(1 << Number(bit)).toBe(Number(value));
    }
    expect(checkOffsets(tableRows(section("4.6 InstrumentDefinition"), "off"), "DEF_", L.INSTRUMENT_DEFINITION_BLOCK_BYTES)).toBe(9);
  });

  test("§4.8 enumerations list exactly the code's values", () => {
    const s = section("4.8 Enumerations");
    const states = tableRows(s, "value").map((r) => [Number(r[0]), untick(r[1]!)]);
    expect(states).toEqual(Object.entries(BookState).map(([k, v]) => [v, k]));
    const list = (label: string) =>
      new RegExp(`\`${label}\` \\([^)]*\\)[^:]*: ([^.]*)\\.`)
        .exec(s.replace(/\n/g, " "))![1]!
        .split(", ")
        .map((e) => e.split(" ") as [string, string]);
    expect(list("reason")).toEqual(STATUS_REASON_NAMES.map((n, i) => [String(i), n]));
    expect(list("venueId")).toEqual(Object.entries(VENUE_IDS).map(([k, v]) => [String(v), k]));
    expect(list("marketId")).toEqual(Object.entries(MARKET_IDS).map(([k, v]) => [String(v), k]));
  });

  test("§11.2 retransmission control packet", () => {
    const s = section("11.2 Control packets");
    expect(checkOffsets(tableRows(s, "off"), "RETX_", R.RETX_PACKET_BYTES, { pktLength: "RETX_LENGTH_OFFSET" })).toBe(13);
    expect(s).toContain(`**0x${R.RETX_MAGIC.toString(16)}**`);
    expect(s).toContain(`control version, **${R.RETX_VERSION}**`);
    expect(s).toContain(`**${R.RETX_KIND_REQUEST}** REQUEST, **${R.RETX_KIND_OUT_OF_RANGE}** OUT_OF_RANGE`);
    expect(s).toContain(`**${R.RETX_KIND_THROTTLED}** THROTTLED`);
  });

  test("docs/nats.md envelope = src/subscriber/nats-envelope.ts", () => {
    const s = section("Subjects and message format", readFileSync(resolve(import.meta.dirname, "../../docs/nats.md"), "utf8"));
    expect(checkOffsets(tableRows(s, "offset"), "ENV_", N.ENVELOPE_BYTES)).toBe(12);
    expect(s).toContain(`\`0x${N.ENV_MAGIC.toString(16).toUpperCase()}\``);
    expect(s).toContain(`${N.ENVELOPE_BYTES}-byte envelope`);
    expect(s).toContain(`<prefix>.${N.HEARTBEAT_TOKEN}`);
  });

  test("§3.3 trailer and key sizes, §4.7 heartbeat lengths", () => {
    const auth = section("3.3 Authentication").replace(/\n/g, " ");
    expect(auth).toContain(`**at least ${L.MIN_AUTH_KEY_BYTES} bytes**`);
    expect(auth).toContain(`ends with a ${L.AUTH_TRAILER_BYTES}-byte trailer: the first ${L.AUTH_TRAILER_BYTES} bytes of **HMAC-SHA256(key, bytes [0, pktLength − ${L.AUTH_TRAILER_BYTES}))**`);
    const hb = section("4.7 Heartbeat").replace(/\n/g, " ");
    expect(hb).toContain(`\`pktLength = ${L.PACKET_HEADER_BYTES}\` (${L.PACKET_HEADER_BYTES + L.AUTH_TRAILER_BYTES} when authenticated: header + trailer)`);
  });

  test("§7.2 rejection codes = the decoder's DECODE_ERROR_NAMES", () => {
    const rows = tableRows(section("7.2 Validation order"), "code").map((r) => [Number(r[0]), untick(r[1]!)]);
    expect(rows).toEqual(DECODE_ERROR_NAMES.map((n, i) => [i, n]).slice(1)); // 0 is ok
  });
});

/**
 * The types' signedness and width, which checkOffsets takes only as sizes (i8 and u8 alike): each field of the tables
 * set alone to all-ones bytes reads through the reference decoder's getter as its type says, −1 signed and
 * 2^(8 × size) − 1 unsigned (priceExp read unsigned, a drift to u8 in the table, or a u16 read as i16, fails here).
 * The ns timestamps are i64 whose negatives are refused (§7.2) and then read as µs: their sign bit alone, in a
 * datagram that passes otherwise, is refused as "<field> negative". Fields without a getter are listed.
 */
describe("docs/wire-protocol.md field types = the decoder's reads", () => {
  const ONES: Record<string, number> = { u8: 255, i8: -1, u16: 65535, i16: -1, u32: 4294967295, i32: -1, u64: 2 ** 64, i64: -1 };

  /** The field rows of a table: [offset, type, field name] (rows without a type, such as the common block's, skipped). */
  const fields = (rows: string[][]) =>
    rows.filter(([off, type]) => /^\d+$/.test(off!) && type !== "" && type !== "6 B" && type !== "u8 + u16").map(([off, type, f]) => [Number(off), type!, /`([^`]+)`/.exec(f!)![1]!] as const);

  /** Sets the field at `at` alone to all ones in a zeroed 256-byte buffer with a book message header at 0; returns the readers over it. */
  function readersWith(at: number, size: number, templateId: number) {
    const dv = new DataView(new ArrayBuffer(256));
    dv.setUint16(L.MSG_TEMPLATE_ID_OFFSET, templateId, true);
    dv.setUint16(L.MSG_BLOCK_LENGTH_OFFSET, 64, true);
    dv.setUint16(L.MESSAGE_HEADER_BYTES + L.DELTA_LEVEL_LENGTH_OFFSET, L.LEVEL_BYTES, true); // = SNAP_LEVEL_LENGTH_OFFSET
    for (let i = 0; i < size; i++) dv.setUint8(at + i, 0xff);
    const packet = new PacketReader();
    packet.dv = dv;
    packet.msgOffset = 0;
    const book = new BookMessageReader().wrap(packet);
    const def = new DefinitionReader().wrap(packet);
    return { packet, book, def };
  }

  /** Checks every field row of `rows` at `base` + offset through reader(field); returns the fields without a getter. */
  function check(where: string, rows: string[][], base: number, templateId: number, reader: (r: ReturnType<typeof readersWith>) => object, rename: Record<string, string> = {}): string[] {
    const unread: string[] = [];
    for (const [off, type, field] of fields(rows)) {
      if (field.endsWith("Ns")) continue; // below
      const r = reader(readersWith(base + off, SIZES[type]!, templateId)) as Record<string, unknown>;
      const name = rename[field] ?? field;
      if (!(name in r)) {
        unread.push(field);
        continue;
      }
      expect(r[name], `${where} ${field} (${type}) all ones`).toBe(ONES[type]);
    }
    return unread;
  }

  test("§3, §4.1–4.6: every field with a getter reads its type's all-ones value", () => {
    expect(check("§3", tableRows(section("3. Packet header"), "off"), 0, 0, (r) => r.packet)).toEqual(["magic"]);
    expect(check("§4.1", tableRows(section("4.1 Message header"), "off"), 0, 0, (r) => r.packet, { version: "msgVersion" })).toEqual([]);
    const body = L.MESSAGE_HEADER_BYTES;
    expect(check("§4.2", tableRows(section("4.2 Common book block"), "off"), body, L.TEMPLATE_BOOK_STATUS, (r) => r.book)).toEqual([]);
    const delta = section("4.3 BookDelta");
    expect(check("§4.3", tableRows(delta, "off"), body, L.TEMPLATE_BOOK_DELTA, (r) => r.book)).toEqual([]);
    const levels = { priceMantissa: "price", qtyMantissa: "qty" };
    const level = (r: ReturnType<typeof readersWith>) => ({ price: r.book.priceAt(0), qty: r.book.qtyAt(0) });
    expect(check("§4.3 level", tableRows(delta, "off", 1), body + 64, L.TEMPLATE_BOOK_DELTA, level, levels)).toEqual([]);
    expect(check("§4.4", tableRows(section("4.4 BookSnapshot"), "off"), body, L.TEMPLATE_BOOK_SNAPSHOT, (r) => r.book)).toEqual([]);
    const def = check("§4.6", tableRows(section("4.6 InstrumentDefinition"), "off"), body, L.TEMPLATE_INSTRUMENT_DEFINITION, (r) => r.def);
    expect(def).toEqual(["symbolLength", "tickSizeLength", "lotSizeLength"]); // read as the strings' lengths
  });

  test("§3, §4.2: the ns timestamps are i64 and a negative one is refused", () => {
    const view = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT"));
    const ns = [
      ...fields(tableRows(section("3. Packet header"), "off")).filter(([, , f]) => f.endsWith("Ns")),
      ...fields(tableRows(section("4.2 Common book block"), "off"))
        .filter(([, , f]) => f.endsWith("Ns"))
        .map(([off, type, f]) => [L.PACKET_HEADER_BYTES + L.MESSAGE_HEADER_BYTES + off, type, f] as const),
    ];
    expect(ns.map(([, , f]) => f)).toEqual(["sendTimeNs", "sessionStartNs", "tsExchangeNs", "tsEventNs", "tsRecvNs"]);
    for (const [at, type, field] of ns) {
      expect(type, field).toBe("i64");
      const p = new ChannelPacker(1400, 1, 0, 5, { sessionStartUs: 1 });
      packBookStatus(p, view);
      p.seal(2);
      const bytes = p.bytes[0]!.slice(0, p.lengths[0]);
      const dv = new DataView(bytes.buffer);
      const reader = new PacketReader();
      expect(reader.wrap(dv, bytes.length, 1400), field).toBe(DecodeErrorCode.OK);
      bytes[at + 7] = 0x80; // the sign bit alone
      resealCrc(bytes);
      expect(reader.wrap(dv, bytes.length, 1400), field).toBe(DecodeErrorCode.UNSAFE_INTEGER);
      expect(reader.errorField).toBe(`${field} negative`);
    }
  });
});
