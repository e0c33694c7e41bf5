/**
 * A recording with a gap (a delta whose u does not follow, as `feeder record` captures after a lost frame): a
 * subscriber joining after the gap is not given the replay book, which misses the lost delta's changes (here a
 * taken ask that later bids cross), but the recording's next snapshot.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { RawClient } from "./raw-client.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const T = "orderbook.50.XRPUSDT";
const line = (type: string, u: number, b: string, a: string) => `{"topic":"${T}","type":"${type}","ts":${u},"data":{"s":"XRPUSDT","b":${b},"a":${a},"u":${u},"seq":${u}},"cts":${u}}`;
const LINES = [
  line("snapshot", 1, `[["1.0000","5"]]`, `[["1.0001","5"]]`),
  line("delta", 2, `[["1.0000","6"]]`, `[]`),
  // u 3 was lost: it took the ask at 1.0001 and quoted 1.0002. u 4 bids at 1.0001: the replay book is crossed.
  line("delta", 4, `[["1.0001","2"]]`, `[]`),
  line("delta", 5, `[["1.0001","3"]]`, `[]`),
  line("snapshot", 9, `[["1.0001","3"],["1.0000","6"]]`, `[["1.0002","4"]]`),
  line("delta", 10, `[["1.0001","1"]]`, `[]`),
];

test("a subscriber joining after a gap in the recording gets the recording's next snapshot, and so does everyone", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sim-replay-gap-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "rec.jsonl");
  writeFileSync(file, LINES.join("\n") + "\n");
  const s = await startBybitSimulator({ seed: 1, markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: file });
  cleanups.push(() => s.stop());
  const first = await RawClient.open(`${s.wsUrl}/linear`);
  cleanups.push(() => first.close());
  expect((await first.subscribe(T)).data.u).toBe(1);
  s.step(2);
  expect(await first.next()).toBe(LINES[1]);
  expect(await first.next()).toBe(LINES[2]);
  const late = await RawClient.open(`${s.wsUrl}/linear`);
  cleanups.push(() => late.close());
  const snap = await late.subscribe(T);
  expect(snap).toEqual(JSON.parse(LINES[4]!)); // not a crossed book made of lines 0–2
  expect(await first.next()).toBe(LINES[4]); // line 3 was skipped: the first subscriber sees u jump to a snapshot
  s.step(1);
  expect(await late.next()).toBe(LINES[5]);
  expect(s.book("linear", "XRPUSDT")).toEqual({ bids: new Map([["1.0001", "1"], ["1.0000", "6"]]), asks: new Map([["1.0002", "4"]]), u: 10 });
});
