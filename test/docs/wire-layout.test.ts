/**
 * docs/wire-protocol.md's layout tables against src/wire/layout.ts (and wire/retransmit.ts, core/types.ts) byte for
 * byte: every field row's offset is the named constant, the rows of a table tile their block without gap or overlap
 * (offset + size of its type = the next row's offset; the last ends at the block's size), every flag and template
 * row has its constant's value, and the enumerations list exactly the values the code has. The golden vectors
 * (test/wire/vectors.test.ts) check the encoder against hand-copied offsets; this checks the tables themselves, and
 * the trailer, key and heartbeat sizes §3.3 and §4.7 state.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import * as L from "../../src/wire/layout.ts";
import * as R from "../../src/wire/retransmit.ts";
import * as N from "../../src/subscriber/nats-envelope.ts";
import { DECODE_ERROR_NAMES } from "../../src/wire/decoder.ts";
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
