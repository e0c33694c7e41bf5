/**
 * A raw export's `topic` names the book a frame is of, by its venue's way of naming it, spelt as the adapter names the
 * subscription: Bybit's `topic`, Binance's `stream`, OKX's `arg` (`channel:instId`), Deribit's `params.channel`,
 * Coinbase's `product_id`, Upbit's and Bithumb's `code` / `cd`; null (an empty cell in csv) for a frame naming none
 * (an ack, a pong, a heartbeat, a status). Before, it was read from a `"topic"` field only: null for every venue but
 * Bybit.
 */
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { fieldOf } from "../../src/venues/common/raw-topic.ts";
import { VENUES } from "../../src/venues/registry.ts";

/** [venue, frame as received, the topic its row names]. */
const FRAMES: [string, string, string | null][] = [
  ["bybit", '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":2,"seq":3}}', "orderbook.50.BTCUSDT"],
  ["bybit", '{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}', null],
  ["binance", '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}}', "btcusdt@depth@100ms"],
  ["binance", '{"result":null,"id":1}', null],
  ["okx", '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}', "books:BTC-USDT"],
  ["okx", '{"id":"s1","event":"subscribe","arg":{"channel":"books5","instId":"ETH-USDT"},"connId":"a"}', "books5:ETH-USDT"],
  ["okx", "pong", null],
  ["deribit", '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","change_id":2}}}', "book.BTC-PERPETUAL.100ms"],
  ["deribit", '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}', null],
  ["coinbase", '{"channel":"l2_data","timestamp":"2026-12-07T00:00:00Z","sequence_num":5,"events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}', "BTC-USD"],
  ["coinbase", '{"channel":"heartbeats","timestamp":"2026-12-07T00:00:00Z","sequence_num":6,"events":[{"current_time":"x","heartbeat_counter":1}]}', null],
  ["upbit", '{"type":"orderbook","code":"KRW-BTC","timestamp":1,"orderbook_units":[]}', "KRW-BTC"],
  ["upbit", '{"status":"UP"}', null],
  ["bithumb", '{"ty":"orderbook","cd":"KRW-ETH","tms":1,"obu":[]}', "KRW-ETH"],
];

test("each venue's raw rows name the frame's book as its adapter names the topic, null for frames naming none (jsonl and csv)", async () => {
  const w = new CaptureWriter({ dir: makeTempDir("export-topic-"), prefix: "mixed" });
  FRAMES.forEach(([venue, frame], i) => w.write(1_764_000_000_000_000 + i, venue, "spot", "spot-0", frame));
  w.close();
  const run = async (format: "jsonl" | "csv") => {
    let out = "";
    await exportCaptures(w.files, { write: (c) => void (out += c), flush: () => undefined }, { format, log: silentLogger });
    return out.trim().split("\n");
  };
  const jsonl = (await run("jsonl")).map((l) => JSON.parse(l) as { venue: string; topic: string | null });
  expect(jsonl.map((r) => [r.venue, r.topic])).toEqual(FRAMES.map(([venue, , topic]) => [venue, topic]));
  // csv (no frame here has a comma before its topic column's end): the topic column, empty for none.
  const [header, ...rows] = await run("csv");
  expect(header!.split(",")[4]).toBe("topic");
  expect(rows.map((r) => r.split(",")[4])).toEqual(FRAMES.map(([, , topic]) => topic ?? ""));
});

// A venue added to the registry without a row here had its rawTopic never checked.
test("FRAMES shows every venue of the registry naming its book on a frame (a non-null topic)", () => {
  const named = new Set(FRAMES.filter(([, , topic]) => topic !== null).map(([venue]) => venue));
  expect(Object.keys(VENUES).filter((v) => !named.has(v))).toEqual([]);
});

// A descriptor's rawTopic built from a /g expression read a frame from where the previous frame's match ended: the
// second of two frames naming their book was a null topic. Until s-rd15c fieldOf took one without a word.
test("fieldOf refuses a /g or /y expression (lastIndex would carry from one frame to the next)", () => {
  expect(() => fieldOf(/"topic":"([^"]+)"/g)).toThrow(/lastIndex/);
  expect(() => fieldOf(/"topic":"([^"]+)"/y)).toThrow(/lastIndex/);
  const topic = fieldOf(/"topic":"([^"]+)"/);
  expect(['{"topic":"a"}', '{"topic":"b"}'].map(topic)).toEqual(["a", "b"]);
});
