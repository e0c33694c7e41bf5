/**
 * docs/wire-protocol.md §10's C declarations against src/wire/layout.ts byte for byte: every struct field's offset
 * (packed in order, each naturally aligned) is the named constant, every struct is its block's size, every field's
 * C type has its table row's signedness and width (int8_t for an i8), and every #define and enum value is the constant's. The layout tables are checked by wire-layout.test.ts; a C reader
 * copies these declarations, so they must not drift from the code either (cut_flags at 62 among them). §11's control
 * packet declaration is held to src/wire/retransmit.ts the same way.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect, test } from "vitest";
import * as L from "../../src/wire/layout.ts";
import * as Retx from "../../src/wire/retransmit.ts";

const DOC = readFileSync(resolve(import.meta.dirname, "../../docs/wire-protocol.md"), "utf8");
const CONSTANTS = L as unknown as Record<string, number>;
const C = /## 10\. C declarations[\s\S]*?```c\n([\s\S]*?)```/.exec(DOC)?.[1] ?? "";

const SIZES: Record<string, number> = { uint8_t: 1, int8_t: 1, uint16_t: 2, int16_t: 2, uint32_t: 4, int32_t: 4, uint64_t: 8, int64_t: 8 };
/** Struct → [constant prefix, its size constant]. */
const STRUCTS: Record<string, [string, string]> = {
  fd_packet_header: ["PKT_", "PACKET_HEADER_BYTES"],
  fd_msg_header: ["MSG_", "MESSAGE_HEADER_BYTES"],
  fd_book_common: ["BOOK_", "BOOK_COMMON_BLOCK_BYTES"],
  fd_book_delta: ["DELTA_", "BOOK_DELTA_BLOCK_BYTES"],
  fd_book_snapshot: ["SNAP_", "BOOK_SNAPSHOT_BLOCK_BYTES"],
  fd_level: ["LEVEL_", "LEVEL_BYTES"],
  fd_instrument_definition: ["DEF_", "INSTRUMENT_DEFINITION_BLOCK_BYTES"],
};
/** Fields whose constant is not prefix + NAME + _OFFSET (null: no constant of its own). */
const RENAMED: Record<string, string | null> = {
  "fd_level.price_mantissa": "LEVEL_PRICE_OFFSET",
  "fd_level.qty_mantissa": "LEVEL_QTY_OFFSET",
  "fd_instrument_definition.reserved0": "DEF_RESERVED_OFFSET",
  "fd_instrument_definition.reserved1": null,
};
/** #define / enum names whose constant is not FD_ stripped. */
const DEFINES: Record<string, string> = { FD_VERSION: "WIRE_VERSION", FD_VERSION_V2: "WIRE_VERSION_V2", FD_HEADER_BYTES: "PACKET_HEADER_BYTES" };

/** Walks the structs of `c`: each field at its constant's offset (packed, naturally aligned), each struct its size; returns the constants checked. */
function checkStructs(c: string, structs: Record<string, [string, string]>, constants: Record<string, number>, renamed: Record<string, string | null>) {
  const sizes: Record<string, number> = {};
  const checked: string[] = [];
  for (const m of c.matchAll(/typedef struct \{([^}]*)\} (\w+);/g)) {
    const [, body, name] = m as unknown as [string, string, string];
    const [prefix, sizeName] = structs[name] ?? ["?", "?"];
    let off = 0;
    for (const decl of body.split(";").map((d) => d.trim()).filter((d) => d !== "")) {
      const [type, ...rest] = decl.split(/\s+/);
      for (const raw of rest.join(" ").split(",").map((f) => f.trim())) {
        const arr = /^(\w+)\[(\d+)\]$/.exec(raw);
        const field = arr ? arr[1]! : raw;
        const elem = SIZES[type!] ?? sizes[type!]!;
        const size = elem * (arr ? Number(arr[2]) : 1);
        expect(size, `${name}.${field}: type ${type}`).toBeGreaterThan(0);
        if (type === "fd_book_common") {
          expect(off, `${name}.${field}`).toBe(0); // the common block first
        } else {
          expect(off % Math.min(elem, 8), `${name}.${field} at ${off} naturally aligned`).toBe(0);
          const upper = field.toUpperCase();
          const constName = `${name}.${field}` in renamed ? renamed[`${name}.${field}`] : (upper.startsWith(prefix) ? "" : prefix) + upper + "_OFFSET";
          if (constName !== null) {
            expect(constants[constName!], `${name}.${field} at ${off}: ${constName}`).toBe(off);
            checked.push(constName!);
          }
        }
        off += size;
      }
    }
    sizes[name] = off;
    expect(off, `sizeof(${name}) = ${sizeName}`).toBe(constants[sizeName]);
  }
  expect(Object.keys(sizes).sort()).toEqual(Object.keys(structs).sort());
  return checked;
}

test("every struct field of §10 sits at its layout.ts offset, every struct is its block's size", () => {
  expect(C.length).toBeGreaterThan(0);
  const checked = checkStructs(C, STRUCTS, CONSTANTS, RENAMED);
  expect(checked).toContain("SNAP_CUT_FLAGS_OFFSET");
  expect(checked.length).toBeGreaterThan(40);
});

test("every #define and enum value of §10 is its layout.ts constant", () => {
  const pairs: [string, number][] = [];
  for (const m of C.matchAll(/^#define (FD_\w+) (0x[0-9A-Fa-f]+|\d+)u?\b/gm)) pairs.push([m[1]!, Number(m[2])]);
  for (const m of C.matchAll(/enum \{([^}]*)\}/g)) {
    for (const e of m[1]!.split(",")) {
      const [k, v] = e.split("=").map((x) => x.trim());
      pairs.push([k!, Number(v)]);
    }
  }
  const unmatched: string[] = [];
  for (const [name, value] of pairs) {
    if (name.startsWith("FD_CRC32")) continue; // polynomials: test/wire/integrity.test.ts checks the checksums
    const bare = name.slice(3);
    const candidates = [DEFINES[name], bare, `TEMPLATE_${bare}`, bare.replace(/^PKT_/, "PKT_FLAG_"), bare.replace(/^MSG_/, "MSG_FLAG_")];
    const found = candidates.find((c) => c !== undefined && c in CONSTANTS);
    if (found === undefined) unmatched.push(name);
    else expect(value, `${name} = ${found}`).toBe(CONSTANTS[found]);
  }
  expect(unmatched).toEqual([]);
  expect(pairs.map((p) => p[0])).toContain("FD_SNAP_CUT_MARKED");
});

test("§11's control packet declaration = src/wire/retransmit.ts", () => {
  const c = /C declaration of a control packet:\s*```c\n([\s\S]*?)```/.exec(DOC)?.[1] ?? "";
  const R = Retx as unknown as Record<string, number>;
  const checked = checkStructs(c, { fd_retx_control: ["RETX_", "RETX_PACKET_BYTES"] }, R, { "fd_retx_control.pkt_length": "RETX_LENGTH_OFFSET" });
  expect(checked.length).toBe(13);
  expect(c).toContain(`_Static_assert(sizeof(fd_retx_control) == ${Retx.RETX_PACKET_BYTES}`);
  expect(c).toContain(`/* ${Retx.RETX_PACKET_BYTES}, + ${L.AUTH_TRAILER_BYTES} trailer */`);
  expect(c).toContain(`#define FD_RETX_MAGIC 0x${Retx.RETX_MAGIC.toString(16)}u`);
  expect(c).toContain(`enum { FD_RETX_REQUEST = ${Retx.RETX_KIND_REQUEST}, FD_RETX_OUT_OF_RANGE = ${Retx.RETX_KIND_OUT_OF_RANGE}, FD_RETX_THROTTLED = ${Retx.RETX_KIND_THROTTLED} };`);
});

test("every struct field of §10 has the signedness and width of its row in §3–4.6's tables", () => {
  // The tables' field rows (`| off | type | \`field\` |`) up to §5; a name in two tables (version, priceExp) has one type.
  const tables = DOC.slice(0, DOC.indexOf("\n## 5. "));
  const tableType = new Map<string, string>();
  for (const m of tables.matchAll(/^\| \d+ \| ([ui](?:8|16|32|64)) \| `(\w+)`[^|]*\|/gm)) {
    const [, type, field] = m as unknown as [string, string, string];
    expect(tableType.get(field) ?? type, `${field}: one type in every table`).toBe(type);
    tableType.set(field, type);
  }
  const cTypeOf = (t: string) => /^(u?)int(\d+)_t$/.exec(t);
  const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  let checked = 0;
  for (const m of C.matchAll(/typedef struct \{([^}]*)\} (\w+);/g)) {
    for (const decl of m[1]!.split(";").map((d) => d.trim()).filter((d) => d !== "")) {
      const [type, ...rest] = decl.split(/\s+/);
      const c = cTypeOf(type!);
      if (c === null) continue; // fd_book_common c
      for (const raw of rest.join(" ").split(",").map((f) => f.trim())) {
        if (raw.startsWith("reserved")) continue;
        const field = camel(raw);
        expect(tableType.has(field), `${m[2]}.${raw}: a row \`${field}\` in the tables`).toBe(true);
        expect(`${c[1] === "u" ? "u" : "i"}${c[2]}`, `${m[2]}.${raw} (${type}) against the table`).toBe(tableType.get(field));
        checked++;
      }
    }
  }
  expect(checked).toBeGreaterThan(40);
});
