/**
 * A relay's ws_url often carries its credential in the query (`wss://relay/ws?token=abc`). redactUrl covered only
 * user information (`user:pw@`), so the token was shown in full wherever the URL was: check-config's output, the
 * connection's log lines, /status and /readyz, and the capture's ws:open record (and so `export`). Now the value of
 * each query key that names a secret (token, key, secret, password, signature, auth, …, any case) is `***` there
 * too; the connection still uses the URL as configured.
 */
import { describe, expect, test } from "vitest";
import { formatConfigToml } from "../../src/config/format.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { redactUrl, redactUrlsIn } from "../../src/core/redact-url.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { reconnectConfig } from "./replay-reconnect-run.ts";
import { runWithSecretUrls } from "./secret-url-run.ts";

const SECRET = "s3cretTok";

describe("secrets in a URL's query are never shown", () => {
  test.each([
    ["wss://relay/ws?token=s3cretTok", "wss://relay/ws?token=***"],
    ["wss://relay/ws?depth=5&Access_Token=s3cretTok&x=1#f", "wss://relay/ws?depth=5&Access_Token=***&x=1#f"],
    ["wss://u:pw@relay/ws?api_key=s3cretTok&sig=s3cretTok;mode=1", "wss://***@relay/ws?api_key=***&sig=***;mode=1"],
    ["wss://relay/ws?SECRET=s3cretTok&password=s3cretTok&Signature=s3cretTok&auth=s3cretTok", "wss://relay/ws?SECRET=***&password=***&Signature=***&auth=***"],
    ["wss://relay/ws?%74oken=s3cretTok", "wss://relay/ws?%74oken=***"], // percent-encoded "token"
    ["wss://relay/ws?symbol=BTCUSDT&limit=5&token=", "wss://relay/ws?symbol=BTCUSDT&limit=5&token="], // nothing to hide
    ["wss://h/ws?passphrase=s3cretTok&session=s3cretTok#access_token=s3cretTok", "wss://h/ws?passphrase=***&session=***#access_token=***"],
    ["wss://h/ws?tok%65n%zz=s3cretTok&tok%2565n=s3cretTok", "wss://h/ws?tok%65n%zz=***&tok%2565n=***"],
    ["https://h/cb?redirect=wss%3A%2F%2Fh%2F%3Ftoken%3Ds3cretTok&a=1", "https://h/cb?redirect=***&a=1"],
    ["https://h/api/v3/depth?symbol=%E5%B8%81USDT&limit=1000", "https://h/api/v3/depth?symbol=%E5%B8%81USDT&limit=1000"],
    ["ws:open", "ws:open"],
  ])("redactUrl(%s)", (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  test("in a free text (a log message, an error), up to whitespace", () => {
    expect(redactUrlsIn("open wss://relay/ws?x=1&token=s3cretTok failed: 401 (wss://relay/b?key=s3cretTok)")).toBe("open wss://relay/ws?x=1&token=*** failed: 401 (wss://relay/b?key=***");
    expect(redactUrlsIn("is it? token=s3cretTok")).toBe("is it? token=s3cretTok"); // no URL: left as it is
    expect(redactUrlsIn(String.raw`{"url":"wss:\/\/u:pw@h\/ws?x=1\u0026listenKey=s3cretTok"}`)).toBe(String.raw`{"url":"wss:\/\/***@h\/ws?x=1\u0026listenKey=***`);
  });

  // Until 2026-12-06: passphrase, pass, session and sign were not secret names, a fragment (#access_token=…) was shown,
  // a key with one malformed escape (tok%65n%zz) or encoded twice was not decoded, a URL with JSON-escaped slashes
  // (wss:\/\/…, a venue's JSON echoed in a log field) or "&" as \u0026 was not seen, and a URL percent-encoded in
  // another's query (?redirect=wss%3A…%3Ftoken%3D…) kept its token.
  test("random URLs: no secret value is shown, in any form a URL takes in a text", () => {
    const SECRET_KEYS = ["token", "access_token", "apiKey", "api_key", "X-Api-Key", "X-MBX-APIKEY", "listenKey", "passphrase", "password", "pass", "pwd", "pw", "secret", "client_secret", "signature", "sig", "sign", "auth", "Authorization", "credential", "jwt", "session", "sessionid", "JSESSIONID", "sid", "private_key", "bearer", "ticket", "code"];
    const PUBLIC = [["symbol", "BTCUSDT"], ["depth", "5"], ["limit", "1000"], ["streams", "btcusdt@depth"], ["category", "spot"], ["symbol", "%E5%B8%81USDT"]] as const;
    const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let seed = 0x1234567;
    const r = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const pct = (c: string) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")[r() < 0.5 ? "toUpperCase" : "toLowerCase"]();
    const disguised = (key: string) => {
      let out = "";
      for (const c of key) {
        const cased = r() < 0.5 ? c.toUpperCase() : c.toLowerCase();
        out += r() < 0.25 ? pct(cased) : cased;
      }
      if (r() < 0.1) out = out.replace(/%/g, "%25"); // encoded twice
      if (r() < 0.1) out += "%zz"; // a malformed escape
      return out;
    };
    const secretValue = () => "Z" + Array.from({ length: 12 }, () => pick([...ALNUM])).join("");
    const makeUrl = (host: string, secrets: string[], depth: number): string => {
      const params: string[] = PUBLIC.filter(() => r() < 0.4).map(([k, v]) => `${k}=${v}`);
      for (let i = 0, n = 1 + Math.floor(r() * 2); i < n; i++) {
        const v = secretValue();
        secrets.push(v);
        params.splice(Math.floor(r() * (params.length + 1)), 0, `${disguised(pick(SECRET_KEYS))}=${v}`);
      }
      const sep = r() < 0.8 ? "&" : ";";
      const split = r() < 0.3 ? Math.floor(r() * (params.length + 1)) : params.length; // the rest in the fragment
      const query = params.slice(0, split).join(sep);
      const fragment = params.slice(split).join(sep);
      let userinfo = "";
      if (r() < 0.2) {
        const v = secretValue();
        secrets.push(v);
        userinfo = `user:${v}@`;
      }
      let url = `wss://${userinfo}${host}/ws${query === "" ? "" : "?" + query}${fragment === "" ? "" : "#" + fragment}`;
      if (depth === 0 && r() < 0.15) url = `https://${host}/cb?state=1&redirect=${encodeURIComponent(makeUrl(`inner.${host}`, secrets, 1))}`;
      return url;
    };
    const FORMS: ReadonlyArray<[string, (u: string) => string]> = [
      ["redactUrl", (u) => redactUrl(u)],
      ["in a message", (u) => redactUrlsIn(`connect ${u} failed: 401`)],
      ["JSON, slashes escaped", (u) => redactUrlsIn(JSON.stringify({ url: u }).replace(/\//g, "\\/"))],
      ["JSON, & as \\u0026", (u) => redactUrlsIn(JSON.stringify({ url: u }).replace(/&/g, "\\u0026"))],
      ["JSON in JSON, slashes escaped", (u) => redactUrlsIn(JSON.stringify(JSON.stringify({ url: u }).replace(/\//g, "\\/")))],
    ];
    const shown: string[] = [];
    for (let t = 0; t < 3000; t++) {
      const host = `h${t}.example`;
      const secrets: string[] = [];
      const url = makeUrl(host, secrets, 0);
      const [form, redact] = pick(FORMS);
      const out = redact(url);
      if (secrets.some((s) => out.includes(s)) || !out.includes(host)) shown.push(`${form}: ${url} -> ${out}`);
    }
    expect(shown.slice(0, 5)).toEqual([]);
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
    const dir = makeTempDir("url-query-");
    const { lines, recorded } = await runWithSecretUrls({
      config: reconnectConfig("upbit", { spot: { depth: 30, symbols: ["KRW-BTC"] } })(uniqueDestination(392), `${sim.wsUrl}?token=${SECRET}`, sim.restUrl, `${dir}/instruments.json`),
      sim,
      secret: SECRET,
      shown: (url) => url.endsWith("?token=***"),
    });
    expect(recorded.some((u) => u.endsWith("?token=***"))).toBe(true); // the ws:open body
    expect(recorded.join("\n")).not.toContain(SECRET);
    expect(lines.some((l) => l.includes("?token=***"))).toBe(true);
    expect(lines.join("\n")).not.toContain(SECRET);
  });
});
