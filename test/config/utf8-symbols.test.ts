/**
 * Binance lists spot and USD-M symbols named in Chinese (币安人生USDT, 龙虾USDT, 我踏马来了USDT). The loader's upper-case
 * ASCII rule refused them, so no configuration could carry such a market. Now letters without case beyond ASCII are
 * taken where the venue lists them (Binance), in NFC and within 64 bytes of UTF-8; controls, spaces, format
 * characters, path separators, cased non-ASCII letters, look-alikes (invisible letters and marks, digits beyond ASCII,
 * Latin/Common-script letters, compatibility forms) and the other venues' shapes stay refused.
 */
import { describe, expect, test } from "vitest";
import { formatConfigToml } from "../../src/config/format.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";

const symbolsOf = (venue: string, market: string, symbols: string[]) => `[venues.${venue}.${market}]\nsymbols = ${JSON.stringify(symbols)}\n`;

describe("symbols beyond ASCII", () => {
  test.each([
    ["spot", ["币安人生USDT", "龙虾USDT", "BTCUSDT", "币安人生USDT@5000"]],
    ["linear", ["币安人生USDT", "我踏马来了USDT", "牛来USDT", "龙虾USDT_251226"]],
  ])("Binance %s takes %j", (market, symbols) => {
    expect(configProblems(symbolsOf("binance", market, symbols))).toEqual([]);
  });

  test("an override and the instrument of such a symbol load as written", () => {
    const cfg = parseConfigText(`${symbolsOf("binance", "spot", ["币安人生USDT"])}[venues.binance.overrides."spot:币安人生USDT"]\ntick_size = "0.0001"\nlot_size = "1"\n`, "t.toml", { localAddresses: LOOPBACK_ONLY });
    const venue = cfg.venues[0]!;
    expect(venue.markets[0]!.symbols).toEqual(["币安人生USDT"]);
    expect(venue.overrides.get("spot:币安人生USDT")).toEqual({ tickSize: "0.0001", lotSize: "1" });
  });

  test("check-config's output of such a configuration loads back the same", () => {
    const opts = { localAddresses: LOOPBACK_ONLY };
    const cfg = parseConfigText(`${symbolsOf("binance", "spot", ["币安人生USDT", "龙虾USDT@5000"])}[venues.binance.overrides."spot:币安人生USDT"]\ntick_size = "0.0001"\nlot_size = "1"\n`, "t.toml", opts);
    const out = formatConfigToml(cfg);
    expect(out).toContain('symbols = ["币安人生USDT", "龙虾USDT@5000"]');
    const back = parseConfigText(out, "back.toml", opts);
    expect(back.venues[0]!.markets).toEqual(cfg.venues[0]!.markets);
    expect([...back.venues[0]!.overrides]).toEqual([...cfg.venues[0]!.overrides]);
  });

  const GENERAL = "an upper-case venue symbol such as BTCUSDT, BTC-27MAR26-70000-P or XRP-30OCT26-0.4-P-USDT (letters without case too, as in 币安人生USDT), optionally with @depth for a further depth (BTCUSDT@1)";
  test.each([
    ["币安人生 USDT", GENERAL], // a space
    ["币安人生\u3000USDT", GENERAL], // an ideographic space
    ["币安\tUSDT", GENERAL],
    ["币安/USDT", GENERAL], // a path separator
    ["币安人生usdt", GENERAL], // lower case
    ["ÄUSDT", GENERAL], // a letter with case beyond ASCII: its stream name is unknown
    ["ＢＴＣUSDT", GENERAL], // fullwidth Latin
    ["币安人生USDT!", GENERAL],
    ["한국USDT".normalize("NFD"), `a symbol in Unicode NFC, as venues spell it ("한국USDT")`],
    // Look-alikes, taken until 2026-12-06: each reads as another symbol (or as one beside it in the same file).
    ["BTCUSDT\u3164", GENERAL], // the Hangul filler (a letter, drawn as nothing): reads as BTCUSDT
    ["BTC\u034fUSDT", GENERAL], // the combining grapheme joiner (a mark, drawn as nothing)
    ["币安\ufe0fUSDT", GENERAL], // a variation selector
    ["币安\u115fUSDT", GENERAL], // the Hangul choseong filler
    ["𝟏000PEPEUSDT", GENERAL], // a mathematical digit: reads as 1000PEPEUSDT
    ["BTC１USDT", GENERAL], // a fullwidth digit
    ["BTC١USDT", GENERAL], // an Arabic-Indic digit
    ["ǀUSDT", GENERAL], // U+01C0, a Latin letter without case: reads as IUSDT
    ["BTCːUSDT", GENERAL], // U+02D0 (Common script): reads as BTC:USDT
    ["币安\u0640USDT", GENERAL], // the Arabic tatweel (Common script)
    ["\u0301USDT", GENERAL], // a mark first: it sits on what precedes the symbol
    ["BTCU\u0338SDT", GENERAL], // a generic (Inherited) mark on a Latin letter
    ["币\u0301安USDT", GENERAL], // a generic mark on a Chinese letter
    ["ｱUSDT", `a symbol without compatibility forms such as halfwidth or fullwidth letters ("アUSDT")`], // halfwidth katakana
    ["币".repeat(22), "a symbol of at most 64 bytes of UTF-8 before any @depth (it has 66)"],
  ])("Binance refuses %j", (symbol, expected) => {
    expect(configProblems(symbolsOf("binance", "spot", [symbol]))).toEqual([`venues.binance.spot.symbols[0]: ${JSON.stringify(symbol)} is not ${expected}`]);
  });

  // Until 2026-12-06 a refused value was quoted as JSON.stringify writes it: a bidi override (U+202E) in it reversed the
  // rest of the problem line on the terminal, U+2028 broke it; an unknown key was quoted as it was, an ESC included.
  test.each([
    ["币安\u202eUSDT", "\"币安\\u202eUSDT\""], // a bidi override
    ["币安\u2028USDT", "\"币安\\u2028USDT\""], // a line separator
    ["币安\u0085USDT", "\"币安\\u0085USDT\""], // C1 NEL
    ["币安\u200dUSDT", "\"币安\\u200dUSDT\""], // a zero-width joiner: looks like 币安USDT
  ])("Binance refuses %j, quoted with the character escaped", (symbol, quoted) => {
    expect(configProblems(symbolsOf("binance", "spot", [symbol]))).toEqual([`venues.binance.spot.symbols[0]: ${quoted} is not ${GENERAL}`]);
  });

  test("an unknown key holding an ESC or a bidi override is named with them escaped", () => {
    const problems = configProblems(`${symbolsOf("binance", "spot", ["BTCUSDT"])}"x\\u001b]0;pwned\\u0007\\u202e" = 1\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^venues\.binance\.spot\."x\\u001b\]0;pwned\\u0007\\u202e": unknown key/);
    expect(problems.join("\n")).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/u);
  });

  test("Thai and Devanagari marks after their letters, 々 and ー, Hangul and a CJK letter beyond the BMP are taken", () => {
    expect(configProblems(symbolsOf("binance", "spot", ["ก\u0e31USDT", "कि\u093fUSDT", "々ーUSDT", "한국USDT", "𠀀USDT"]))).toEqual([]);
  });

  test("64 bytes of UTF-8 are taken (21 CJK letters and one ASCII)", () => {
    expect(configProblems(symbolsOf("binance", "spot", ["币".repeat(21) + "T"]))).toEqual([]);
  });

  test.each([
    ["okx", "spot", "龙虾-USDT"],
    ["bybit", "linear", "币安人生USDT"],
    ["upbit", "spot", "KRW-한국"],
    ["coinbase", "spot", "龙虾-USD"],
    ["deribit", "spot", "龙虾_USDC"],
  ])("%s (no such listing) refuses %s by its own shape", (venue, market, symbol) => {
    const problems = configProblems(symbolsOf(venue, market, [symbol]));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^venues\\.${venue}\\.${market}\\.symbols\\[0\\]: "${symbol}" is not `));
    expect(problems[0]).not.toContain("upper-case venue symbol");
  });
});
