/**
 * `export --books --format csv` writes venue, market and symbol as RFC 4180 fields: one holding `,`, `"` or a line
 * break is quoted, its quotes doubled (the raw export's csvField). Until 2026-12-07 they were joined as they were, so
 * such a symbol shifted every later column or split the row. Config restricts symbols today, so the row is made
 * directly from a book whose instrument holds them; a small RFC 4180 reader is the reference.
 */
import { expect, test } from "vitest";
import { BookReconstructor } from "../../src/app/export-books.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { Instrument } from "../../src/core/types.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { rng } from "../support/mulberry32.ts";

/** RFC 4180 records: quoted fields may hold `,`, `""` and line breaks. */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (c === '"') (quoted = false), i++;
      else (field += c), i++;
    } else if (c === '"' && field === "") (quoted = true), i++;
    else if (c === ",") row.push(field), (field = ""), i++;
    else if (c === "\n") row.push(field), rows.push(row), (row = []), (field = ""), i++;
    else (field += c), i++;
  }
  row.push(field);
  rows.push(row);
  return rows;
}

test("a venue, market or symbol holding a comma, a quote or a line break is one csv field, read back as it is", () => {
  const depth = 2;
  const rec = new BookReconstructor({ venues: [] } as unknown as FeederConfig, depth, "csv", null, silentLogger);
  const row = (b: BookBuilder, tsUs: number): string => (rec as unknown as { row(b: BookBuilder, tsUs: number): string }).row(b, tsUs);
  const columns = rec.header().split(",").length;
  const rand = rng(13);
  const alphabet = ["A", "b", "-", "/", ",", '"', "\n", "\r", " "];
  const text = () => Array.from({ length: 1 + Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
  for (let n = 0; n < 300; n++) {
    const [venue, market, symbol] = [text(), text(), text()];
    const instrument = { instrumentId: 1, venue, market, symbol, priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" } as unknown as Instrument;
    const records = readCsv(row(new BookBuilder(instrument), 1_764_000_000_000_000 + n));
    expect(records, JSON.stringify(symbol)).toHaveLength(1);
    expect(records[0]).toHaveLength(columns);
    expect(records[0]!.slice(3, 6)).toEqual([venue, market, symbol]);
  }
});
