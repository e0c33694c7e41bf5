/**
 * A ws_url / rest_url may carry credentials (`wss://user:pw@relay/…`: Bun sends them as Basic authentication). They
 * were shown wherever the URL was: configuration errors, check-config's output, the connection's log lines, /status
 * and /readyz, and capture files (the ws:open record's body, a REST snapshot's URL). Each place shows `***` now; the
 * connection itself still uses the URL as configured. s-cfg8.
 */
import { describe, expect, test } from "vitest";
import { changedKeys } from "../../src/cli/config-reload.ts";
import { formatConfigToml } from "../../src/config/format.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { createLogger } from "../../src/core/log.ts";
import { redactUrl, redactUrlsIn } from "../../src/core/redact-url.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { CONNECTION_OPENED_URL } from "../../src/venues/venue.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { configProblems } from "../support/config-problems.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { reconnectConfig } from "./replay-reconnect-run.ts";
import { runWithSecretUrls } from "./secret-url-run.ts";

const SECRET = "s3cret";
const withCredentials = (url: string) => url.replace("://", `://feeder:${SECRET}@`);

describe("a URL's credentials are never shown", () => {
  test("redactUrl: user information as ***, whatever it holds; nothing else changed", () => {
    expect(redactUrl("wss://u:pw@relay.example:9443/v5/public")).toBe("wss://***@relay.example:9443/v5/public");
    expect(redactUrl("https://token@api.example")).toBe("https://***@api.example");
    expect(redactUrl("wss://u:p@ss@relay/x?a=b@c")).toBe("wss://***@relay/x?a=b@c"); // the last @ of the authority
    expect(redactUrl("wss://u:pa/ss@relay:99999")).toBe("wss://***@relay:99999"); // unparsable: up to the last @
    expect(redactUrl("wss://relay/path@x")).toBe("wss://relay/path@x");
    expect(redactUrl("wss://stream.bybit.com/v5/public")).toBe("wss://stream.bybit.com/v5/public");
    expect(redactUrlsIn('{"msg":"not listed by https://a:b@h/v5/x","url":"ws://u:p@h:1/ws"}')).toBe('{"msg":"not listed by https://***@h/v5/x","url":"ws://***@h:1/ws"}');
  });

  test("a refused URL is named without its credentials", () => {
    const problems = configProblems(`[venues.bybit]\nws_url = "wss://feeder:${SECRET}@relay:99999/v5"\nrest_url = "https://feeder:${SECRET}@relay:70000"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nrest_url = "ftp://feeder:${SECRET}@relay"\n`);
    expect(problems).toEqual([
      'venues.bybit.ws_url: "wss://***@relay:99999/v5" is not a ws:// or wss:// URL with a host (and a port, if given, up to 65535) and no #fragment',
      'venues.bybit.rest_url: "https://***@relay:70000" is not an http:// or https:// base URL with a host (and a port, if given, up to 65535), without ?query or #fragment (paths are appended to it)',
      'venues.bybit.linear.rest_url: "ftp://***@relay" is not an http:// or https:// base URL with a host (and a port, if given, up to 65535), without ?query or #fragment (paths are appended to it)',
    ]);
  });

  test("check-config shows such a URL as a comment without them; a reload still sees the URL change", () => {
    const text = (pw: string) => `[venues.bybit]\nws_url = "wss://feeder:${pw}@relay/v5/public"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nrest_url = "https://feeder:${pw}@relay"\n`;
    const config = parseConfigText(text(SECRET), "t.toml", { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    const out = formatConfigToml(config);
    expect(out).not.toContain(SECRET);
    expect(out).toContain('# ws_url is set (not shown in full: it holds credentials): "wss://***@relay/v5/public"');
    expect(out).toContain('# rest_url is set (not shown in full: it holds credentials): "https://***@relay"');
    expect(config.venues[0]!.wsUrl).toBe(`wss://feeder:${SECRET}@relay/v5/public`); // used as configured
    // The printed TOML shows the same "***" for both passwords: the reload compares the URLs themselves.
    const other = parseConfigText(text("other"), "t.toml", { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    expect(changedKeys(config, other).sort()).toEqual(["venues.bybit.linear.rest_url", "venues.bybit.ws_url"]);
  });

  test("a log line never holds them, in a field or in the message", () => {
    for (const format of ["json", "pretty"] as const) {
      const lines: string[] = [];
      const log = createLogger({ level: "debug", format, write: (l) => void lines.push(l) });
      log.warn(`REST https://feeder:${SECRET}@relay/x failed`, { url: `wss://feeder:${SECRET}@relay/ws`, error: new Error(`open ws://feeder:${SECRET}@relay failed`) });
      expect(lines.join("\n")).not.toContain(SECRET);
      expect(lines.join("\n")).toContain("https://***@relay/x");
    }
  });

  test("a run with credentials in both URLs: logs, the connection's state, /readyz and the capture show ***", { timeout: 30_000 }, async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }], seed: 5 });
    const dir = makeTempDir("cfg8-url-");
    const { lines, recorded } = await runWithSecretUrls({
      config: reconnectConfig("binance", { spot: { depth: 1000, symbols: ["BTCUSDT"] } })(uniqueDestination(391), withCredentials(sim.wsUrl), withCredentials(sim.restUrl), `${dir}/instruments.json`),
      sim,
      secret: SECRET,
      shown: (url) => url.includes("://***@127.0.0.1:"),
      step: () => sim.step(1),
    });
    expect(recorded.filter((u) => u.includes("/depth?")).length).toBeGreaterThan(0); // a REST snapshot was captured
    expect(recorded.some((u) => u.includes("://***@127.0.0.1:"))).toBe(true); // the ws:open body
    expect(recorded.join("\n")).not.toContain(SECRET);
    expect(lines.some((l) => l.includes("://***@127.0.0.1:"))).toBe(true); // "connected", with its url
    expect(lines.join("\n")).not.toContain(SECRET);
  });
});

describe("export of a capture recorded with credentials (before they were left out)", () => {
  test("a REST record's URL and the ws:open record's body are exported with ***, in jsonl and csv", async () => {
    const { CaptureWriter } = await import("../../src/record/capture.ts");
    const { exportCaptures } = await import("../../src/app/export.ts");
    const { silentLogger } = await import("../../src/core/log.ts");
    const w = new CaptureWriter({ dir: makeTempDir("cfg8-export-"), prefix: "feeder", compression: "none" });
    w.writeRest(1_733_011_200_000_000, "binance", "spot", "conn0.spot", CONNECTION_OPENED_URL, `wss://feeder:${SECRET}@relay/stream`);
    w.writeRest(1_733_011_200_000_001, "binance", "spot", "conn0.spot", `https://feeder:${SECRET}@relay/api/v3/depth?symbol=BTCUSDT&limit=1000`, '{"lastUpdateId":1,"bids":[],"asks":[]}');
    w.close();
    for (const format of ["jsonl", "csv"] as const) {
      let out = "";
      await exportCaptures(w.files, { write: (c) => void (out += c), flush: () => undefined }, { format, log: silentLogger });
      expect(out).not.toContain(SECRET);
      expect(out).toContain("wss://***@relay/stream");
      expect(out).toContain("https://***@relay/api/v3/depth?symbol=BTCUSDT&limit=1000");
    }
  });
});

/**
 * s-rdcfg8. The free-text redaction (log lines, errors, /readyz) stopped at the first "@" and at a quote: a password
 * holding an "@" (taken by the parser, and by the loader) showed its part after it ("wss://***@ss@host"), one
 * holding a quote or "<" was shown whole, and in a JSON log line a quote escaped as \" ended the match too.
 */
describe("second read: any user information, in any text", () => {
  // Printable ASCII but whitespace and what ends an authority ("/", "\", "?", "#"): what a loaded URL's can hold.
  const USERINFO_CHARS = "abcXYZ019-._~!$&'()*+,;=:@%\"<>[]{}|^`";
  const HOSTS = ["relay.example", "127.0.0.1:9443", "[::1]:443", "h"];
  const TEXTS = ["", "not listed by", "ask bob@example.com:", "a@b c:d", "BTC_USDC-30JUN23-0d625-C", '"quoted"', "x=1,"];

  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  }

  /** A URL the loader takes with user information (the parser's username or password not empty). */
  function credentialUrl(next: () => number): string {
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
    for (;;) {
      const info = Array.from({ length: 1 + Math.floor(next() * 12) }, () => pick([...USERINFO_CHARS])).join("");
      const url = `${pick(["wss", "ws", "https", "http"])}://${info}@${pick(HOSTS)}${pick(["", "/", "/v5/public", "/api/v3/depth?symbol=BTCUSDT&x=a@b"])}`;
      if (!URL.canParse(url) || url.includes("#")) continue;
      const parsed = new URL(url);
      if (parsed.hostname !== "" && (parsed.username !== "" || parsed.password !== "")) return url;
    }
  }

  test("randomized: each URL in a text is shown as redactUrl shows it, the text around it unchanged", () => {
    const next = rng(8);
    for (let i = 0; i < 3000; i++) {
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
      const urls = [credentialUrl(next), credentialUrl(next)];
      // Whitespace (or a path's "/") after a URL: as in every message that names one.
      const parts = [pick(TEXTS), urls[0]!, pick([" ", ": "]) + pick(TEXTS), urls[1]!, pick(["", " ", " " + pick(TEXTS)])];
      const text = parts.join(" ");
      const expected = parts.map((p, j) => (j === 1 || j === 3 ? redactUrl(p) : p)).join(" ");
      expect(redactUrlsIn(text), text).toBe(expected);
    }
    // Text without a URL's user information is left as it is.
    for (const t of [...TEXTS, "wss://relay/x@y", "mail bob@example.com", "https://relay:443/path?u=a@b"]) expect(redactUrlsIn(t)).toBe(t);
  });

  test("a log line, JSON or pretty: the password never, whatever it holds", () => {
    for (const password of ["p@ss", 'p"w', "p'w<x>", "a@b@c", "p%40ss"]) {
      for (const format of ["json", "pretty"] as const) {
        const lines: string[] = [];
        const log = createLogger({ level: "debug", format, write: (l) => void lines.push(l) });
        const url = `wss://feeder:${password}@relay/ws`;
        log.warn(`bybit REST https://feeder:${password}@relay/v5/market/x: HTTP 503`, { url, error: new Error(`open ${url} failed`), nested: { urls: [url] } });
        const text = lines.join("\n");
        // Neither the password (as written, or JSON-escaped) nor its part after an "@" (what the first-"@" rule showed).
        for (const part of [password, JSON.stringify(password).slice(1, -1), password.slice(password.lastIndexOf("@"))]) {
          if (part.length > 1) expect(text, `${format} ${password}: ${part}`).not.toContain(part);
        }
        expect(lines.join("\n")).toContain("wss://***@relay/ws");
      }
    }
  });
});
