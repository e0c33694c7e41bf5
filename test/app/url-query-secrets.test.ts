/**
 * A relay's ws_url often carries its credential in the query (`wss://relay/ws?token=abc`). redactUrl covered only
 * user information (`user:pw@`), so the token was shown in full wherever the URL was: check-config's output, the
 * connection's log lines, /status and /readyz, and the capture's ws:open record (and so `export`). Now the value of
 * each query key that names a secret (token, key, secret, password, signature, auth, …, any case) is `***` there
 * too; the connection still uses the URL as configured.
 */
import { describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { formatConfigToml } from "../../src/config/format.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { createLogger } from "../../src/core/log.ts";
import { redactUrl, redactUrlsIn } from "../../src/core/redact-url.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { CONNECTION_OPENED_URL } from "../../src/venues/venue.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { reconnectConfig } from "./replay-reconnect-run.ts";

const SECRET = "s3cretTok";

describe("secrets in a URL's query are never shown", () => {
  test.each([
    ["wss://relay/ws?token=s3cretTok", "wss://relay/ws?token=***"],
    ["wss://relay/ws?depth=5&Access_Token=s3cretTok&x=1#f", "wss://relay/ws?depth=5&Access_Token=***&x=1#f"],
    ["wss://u:pw@relay/ws?api_key=s3cretTok&sig=s3cretTok;mode=1", "wss://***@relay/ws?api_key=***&sig=***;mode=1"],
    ["wss://relay/ws?SECRET=s3cretTok&password=s3cretTok&Signature=s3cretTok&auth=s3cretTok", "wss://relay/ws?SECRET=***&password=***&Signature=***&auth=***"],
    ["wss://relay/ws?%74oken=s3cretTok", "wss://relay/ws?%74oken=***"], // percent-encoded "token"
    ["wss://relay/ws?symbol=BTCUSDT&limit=5&token=", "wss://relay/ws?symbol=BTCUSDT&limit=5&token="], // nothing to hide
    ["https://h/api/v3/depth?symbol=%E5%B8%81USDT&limit=1000", "https://h/api/v3/depth?symbol=%E5%B8%81USDT&limit=1000"],
    ["ws:open", "ws:open"],
  ])("redactUrl(%s)", (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  test("in a free text (a log message, an error), up to whitespace", () => {
    expect(redactUrlsIn("open wss://relay/ws?x=1&token=s3cretTok failed: 401 (wss://relay/b?key=s3cretTok)")).toBe("open wss://relay/ws?x=1&token=*** failed: 401 (wss://relay/b?key=***");
    expect(redactUrlsIn("is it? token=s3cretTok")).toBe("is it? token=s3cretTok"); // no URL: left as it is
  });

  test("check-config shows such a ws_url as a comment without the token", () => {
    const config = parseConfigText(`[venues.upbit]\nws_url = "wss://relay/websocket/v1?token=${SECRET}"\n[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\n`, "t.toml", { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    const out = formatConfigToml(config);
    expect(out).not.toContain(SECRET);
    expect(out).toContain('# ws_url is set (not shown in full: it holds credentials): "wss://relay/websocket/v1?token=***"');
    expect(config.venues[0]!.wsUrl).toBe(`wss://relay/websocket/v1?token=${SECRET}`);
  });

  test("a run with a token in ws_url: logs, the connection's state, /readyz and the capture's ws:open record show ***", { timeout: 30_000 }, async () => {
    const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], seed: 43 });
    const lines: string[] = [];
    const recorded: string[] = [];
    const dir = makeTempDir("url-query-");
    const live = new Feeder({
      config: reconnectConfig("upbit", { spot: { depth: 30, symbols: ["KRW-BTC"] } })(uniqueDestination(392), `${sim.wsUrl}?token=${SECRET}`, sim.restUrl, `${dir}/instruments.json`),
      log: createLogger({ level: "debug", format: "json", write: (l) => void lines.push(l) }),
      onRawFrame: () => undefined,
      onRawRest: (_v, _m, _c, url, body) => void recorded.push(url, url === CONNECTION_OPENED_URL ? body : ""),
    });
    try {
      await live.start();
      await waitFor(() => live.books().length > 0 && live.books().every((b) => b.state === 1), "live book", 15_000);
      const up = live.readinessInput().connections;
      expect(up.length).toBeGreaterThan(0);
      expect(up.every((c) => c.url.endsWith("?token=***"))).toBe(true);
      await sim.stop();
      await waitFor(() => live.readinessInput().connections.some((c) => !c.up), "connection down", 15_000);
      const down = JSON.stringify(evaluateReadiness(live.readinessInput()));
      expect(down).toContain("venue_down");
      expect(down).not.toContain(SECRET);
    } finally {
      await live.stop();
      await sim.stop();
    }
    expect(recorded.some((u) => u.endsWith("?token=***"))).toBe(true); // the ws:open body
    expect(recorded.join("\n")).not.toContain(SECRET);
    expect(lines.some((l) => l.includes("?token=***"))).toBe(true);
    expect(lines.join("\n")).not.toContain(SECRET);
  });
});
