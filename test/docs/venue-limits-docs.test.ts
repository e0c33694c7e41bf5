/**
 * The limits, keepalive figures and batch sizes each docs/venues/<venue>.md states for the adapter are its
 * src/venues/<venue>/protocol.ts constants (the depths, URLs and stale defaults are held to the registry by
 * config-docs.test.ts). Each phrase below is built from the constant, so a constant changed without its doc fails
 * here, naming the doc and the phrase; whitespace (line breaks) in the docs is ignored.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import * as Bybit from "../../src/venues/bybit/protocol.ts";
import * as Okx from "../../src/venues/okx/protocol.ts";
import { MAX_BUFFERED as OKX_MAX_BUFFERED } from "../../src/venues/okx/rest-bridge.ts";
import * as Binance from "../../src/venues/binance/protocol.ts";
import * as Deribit from "../../src/venues/deribit/protocol.ts";
import * as Coinbase from "../../src/venues/coinbase/protocol.ts";
import * as Upbit from "../../src/venues/upbit/protocol.ts";
import { RESEND_MIN_MS } from "../../src/venues/upbit/requests.ts";

const doc = (venue: string) => readFileSync(resolve(import.meta.dirname, `../../docs/venues/${venue}.md`), "utf8").replace(/\s+/g, " ");
const s = (ms: number) => `${ms / 1000} s`;
const thousands = (n: number) => n.toLocaleString("en-US");
const upbitSpec = Upbit.requestProtocol("upbit").pacing!.perConnection!;
const upbitPacing = "perSecond" in upbitSpec ? upbitSpec : { capacity: NaN, perSecond: NaN }; // a window: the phrase below is missed

const PHRASES: Record<string, string[]> = {
  bybit: [
    `every **${s(Bybit.PING_INTERVAL_MS)}** (\`PING_INTERVAL_MS\``,
    `No pong within \`pongTimeoutMs\` (${s(Bybit.PONG_TIMEOUT_MS)}`,
    `would exceed **${thousands(Bybit.MAX_ARGS_CHARS_PER_CONNECTION)} characters**`,
    `**${Bybit.OPTION_MAX_ARGS_PER_CONNECTION} args per connection**`,
    `at most **${Bybit.SPOT_MAX_ARGS_PER_REQUEST} args on spot**`,
    `budget of ${Bybit.CONNECTS_PER_WINDOW} connects per ${Bybit.CONNECT_WINDOW_MS / 60_000} minutes`,
    // §4.1's push intervals as pushIntervalMs gives them (spot 200 is 200 ms, not linear's 100 ms: Bybit's orderbook page).
    `linear and inverse 1: ${Bybit.pushIntervalMs("linear", 1)} ms, 50: ${Bybit.pushIntervalMs("linear", 50)} ms, 200: ${Bybit.pushIntervalMs("linear", 200)} ms, 1000: ${Bybit.pushIntervalMs("linear", 1000)} ms`,
    `spot 1: ${Bybit.pushIntervalMs("spot", 1)} ms, 50: ${Bybit.pushIntervalMs("spot", 50)} ms, 200: ${Bybit.pushIntervalMs("spot", 200)} ms, 1000: ${Bybit.pushIntervalMs("spot", 1000)} ms`,
    `option 25: ${Bybit.pushIntervalMs("option", 25)} ms, 100: ${Bybit.pushIntervalMs("option", 100)} ms`,
  ],
  okx: [
    `at most ${Okx.MAX_TOPICS_PER_CONNECTION} per connection`,
    `connects are paced at ${Okx.CONNECTS_PER_WINDOW} per ${Okx.CONNECT_WINDOW_MS === 1000 ? "second" : s(Okx.CONNECT_WINDOW_MS)} per IP`,
    `up to ${Okx.MAX_ARGS_PER_REQUEST} args per`,
    `exceed ${Okx.REQUESTS_PER_HOUR} requests in the last hour`,
    `text \`ping\` after ${s(Okx.PING_INTERVAL_MS)} without a ping`,
    `text \`pong\` within ${s(Okx.PONG_TIMEOUT_MS)}`,
    `REST budget: ${Okx.REST_REQUESTS_PER_WINDOW} per ${s(Okx.REST_WINDOW_MS)}`,
    `before ${OKX_MAX_BUFFERED} updates were buffered`,
  ],
  binance: [
    `${Binance.MAX_STREAMS_PER_CONNECTION} streams per connection`,
    `\`PLANNED_STREAMS_PER_CONNECTION\` = ${Binance.PLANNED_STREAMS_PER_CONNECTION}`,
    `${Binance.STREAMS_PER_REQUEST} streams per \`SUBSCRIBE\``,
    `bucket of ${Binance.MESSAGE_BURST} refilled at ${Binance.MESSAGES_PER_SECOND}/s`,
    `we budget ${Binance.CONNECTS_PER_WINDOW}`,
    `defaults to ${Binance.CONNECTION_LIFETIME_MS / 3_600_000} h − ${(Binance.CONNECTION_LIFETIME_MS - Binance.MAX_CONNECTION_AGE_MS) / 60_000} min`,
    `spot ${Binance.SPOT_REST_WEIGHT_PER_MINUTE}, USD-M ${Binance.FUTURES_REST_WEIGHT_PER_MINUTE}`,
    `${Binance.REST_WEIGHT_MARGIN * 100} % of the limit`,
  ],
  deribit: [
    `\`public/set_heartbeat {"interval":${Deribit.HEARTBEAT_INTERVAL_S}}\``,
    `up to ${Deribit.MAX_CHANNELS_PER_REQUEST} channels per request`,
    `(at most ${Deribit.MAX_CHANNELS_PER_CONNECTION} channels each)`,
    `token bucket of ${Deribit.SUBSCRIBE_BURST}, refilled at ${Deribit.SUBSCRIBE_PER_SECOND}/s`,
    `(${Deribit.REST_REQUESTS_PER_SECOND} per second)`,
    `budget of ${Deribit.CONNECTS_PER_WINDOW} per ${Deribit.CONNECT_WINDOW_MS === 60_000 ? "minute" : s(Deribit.CONNECT_WINDOW_MS)}`,
  ],
  coinbase: [
    `(${Coinbase.CONNECTS_PER_SECOND} connects/s, ${Coinbase.MESSAGES_PER_SECOND} messages/s, ${s(Coinbase.SUBSCRIBE_DEADLINE_MS)} subscribe deadline)`,
    `(${Coinbase.PRODUCTS_PER_REQUEST} ids a request)`,
    `batches of up to ${Coinbase.MAX_PRODUCTS_PER_REQUEST} products`,
    `${Coinbase.REST_REQUESTS_PER_SECOND} per second per IP`,
  ],
  upbit: [
    `text \`PING\` every ${s(Upbit.PING_INTERVAL_MS)}`,
    `At most ${Upbit.MAX_CODES_PER_CONNECTION} codes per connection`,
    `paced ${upbitPacing.capacity} at once, ${upbitPacing.perSecond}/s per connection`,
    `connects ${Upbit.UPBIT_DIALECT.connectsPerWindow} per ${s(Upbit.UPBIT_DIALECT.connectWindowMs)} per IP`,
    `at most once per ${s(RESEND_MIN_MS)} per connection`,
    `defaults to ${s(Upbit.STALE_AFTER_MS)} (floor ${s(Upbit.STALE_MIN_MS)})`,
  ],
  bithumb: [
    `${Upbit.BITHUMB_DIALECT.connectsPerWindow} per ${Upbit.BITHUMB_DIALECT.connectWindowMs === 1000 ? "second" : s(Upbit.BITHUMB_DIALECT.connectWindowMs)}, split between workers`,
    `text \`PING\` every ${s(Upbit.PING_INTERVAL_MS)}`,
  ],
};

describe("docs/venues/<venue>.md states its protocol.ts limits", () => {
  test.each(Object.keys(PHRASES).map((v) => [v]))("%s", (venue) => {
    const text = doc(venue);
    expect(PHRASES[venue]!.filter((p) => !text.includes(p))).toEqual([]);
  });
});
