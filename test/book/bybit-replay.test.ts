/**
 * Replays the genuine Bybit recording (1 snapshot of 500 + 500 levels, 49 deltas) through the builder and the
 * reference model, comparing the whole book, the change set, state and counters after every message.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import {
  diffChanges,
  diffFull,
  diffTop,
  fillUpdate,
  ReferenceBook,
  type RefLevel,
  testInstrument,
} from "./reference-book.ts";

const FIXTURE = fileURLToPath(
  new URL("../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl", import.meta.url),
);

interface BybitBookMsg {
  type: "snapshot" | "delta";
  ts: number;
  cts: number;
  data: { s: string; b: RefLevel[]; a: RefLevel[]; u: number; seq: number };
}

const messages: BybitBookMsg[] = readFileSync(FIXTURE, "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line) as BybitBookMsg);

// XRPUSDT linear: tick 0.0001, lot 1.
const instr = testInstrument(4, 0, "XRPUSDT");

describe("Bybit XRPUSDT ob500 recording", () => {
  it("has the expected shape (1 snapshot + 49 consecutive deltas)", () => {
    expect(messages.length).toBe(50);
    expect(messages[0]!.type).toBe("snapshot");
    expect(messages[0]!.data.b.length).toBe(500);
    expect(messages.slice(1).every((m, i) => m.type === "delta" && m.data.u === messages[0]!.data.u + i + 1)).toBe(true);
  });

  it("gives the reference model's book after every message", () => {
    const builder = new BookBuilder(instr);
    const ref = new ReferenceBook(instr.priceExp, instr.qtyExp);
    const u = new BookUpdate();
    let changed = 0;
    for (const [i, m] of messages.entries()) {
      fillUpdate(u, instr, m.type === "snapshot", m.data.b, m.data.a, m.data.u);
      u.tsExchangeUs = m.ts * 1000;
      u.tsEventUs = m.cts * 1000;
      const result = m.type === "snapshot" ? builder.applySnapshot(u) : builder.applyDelta(u);
      const refResult = m.type === "snapshot" ? ref.applySnapshot(m.data.b, m.data.a) : ref.applyDelta(m.data.b, m.data.a);
      expect(result, `msg ${i}`).toBe(ApplyResult.APPLIED);
      expect(refResult).toBe("applied");
      expect(diffTop(builder, ref), `msg ${i}`).toBeNull();
      expect(diffFull(builder, ref), `msg ${i}`).toBeNull();
      expect(diffChanges(builder.changes, ref), `msg ${i}`).toBeNull();
      expect(builder.venueSeq).toBe(m.data.u);
      expect(builder.tsExchangeUs).toBe(m.ts * 1000);
      changed += builder.changes.count;
    }
    expect(builder.state).toBe(BookState.LIVE);
    expect(builder.reason).toBe(StatusReason.SNAPSHOT_APPLIED);
    expect(builder.instrSeq).toBe(50);
    expect(builder.counters.deltas).toBe(49);
    expect(builder.bidCount).toBe(500);
    expect(builder.askCount).toBe(500);
    expect(changed).toBeGreaterThan(49 * 8); // deltas carry 8–25 levels per side, nearly all real changes
    // The first snapshot line: best bid 1.9531 × 6203.
    expect(messages[0]!.data.b[0]).toEqual(["1.9531", "6203"]);
  });
});
