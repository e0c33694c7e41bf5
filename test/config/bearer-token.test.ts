/**
 * `http.bearer_token` must be a token a client can send: visible ASCII (0x21–0x7E). Before, any string was taken: one
 * with whitespace around it (a paste with its newline) was trimmed by every client, so every request was 401 with
 * nothing said at start; one with a control or non-ASCII character cannot be sent in an Authorization header at all.
 * The problem names the key and never prints the token.
 */
import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.ts";
import { configProblems } from "../support/config-problems.ts";
import { rng } from "../support/mulberry32.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

/** A TOML basic string holding `s`, every character that is not visible ASCII written as an escape. */
function tomlString(s: string): string {
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (code >= 0x21 && code <= 0x7e) out += ch;
    else out += code > 0xffff ? `\\U${code.toString(16).padStart(8, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return `"${out}"`;
}

const problemsOf = (token: string) => configProblems(`[http]\nbearer_token = ${tomlString(token)}\n${VENUE}`);

describe("http.bearer_token: only a token a client can send", () => {
  test("whitespace around it, or a character that is not visible ASCII, is a problem naming the key, not the token", () => {
    for (const token of ["s3cret-token\n", " s3cret-token", "s3cret-token\t", "\u00a0s3cret-token", "   "]) {
      const problems = problemsOf(token);
      expect(problems, JSON.stringify(token)).toHaveLength(1);
      expect(problems[0]).toMatch(/^http\.bearer_token: has whitespace at its start or end .*401/);
      expect(problems[0]).not.toContain("s3cret");
    }
    const inner: [string, RegExp][] = [
      ["s3cret token", /^http\.bearer_token: character 7 is a space /],
      ["s3cret\u0000token", /^http\.bearer_token: character 7 is a control character /],
      ["s3cret\u007ftoken", /^http\.bearer_token: character 7 is a control character /],
      ["s3crét-token", /^http\.bearer_token: character 5 is not ASCII /],
      ["s3cret-😀", /^http\.bearer_token: character 8 is not ASCII /],
    ];
    for (const [token, want] of inner) {
      const problems = problemsOf(token);
      expect(problems, JSON.stringify(token)).toHaveLength(1);
      expect(problems[0]).toMatch(want);
      expect(problems[0]).not.toContain("s3cr");
    }
    // Every visible ASCII character is taken, as it is; empty is no token.
    const visible = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)).join("");
    expect(parseConfigText(`[http]\nbearer_token = ${tomlString(visible)}\n${VENUE}`).http.bearerToken).toBe(visible);
    expect(parseConfigText(`[http]\nbearer_token = ""\n${VENUE}`).http.bearerToken).toBeUndefined();
  });

  test("randomized against the rule: refused exactly when a character is outside 0x21–0x7E, never printing the token", () => {
    const random = rng(0xbea7e4);
    const odd = [" ", "\t", "\n", "\r", "\u0000", "\u001f", "\u007f", "\u0080", "\u00a0", "é", "\u2028", "\u3000", "😀"];
    for (let i = 0; i < 300; i++) {
      let token = "";
      const length = 1 + Math.floor(random() * 12);
      for (let j = 0; j < length; j++) {
        token += random() < 0.9 ? String.fromCharCode(0x21 + Math.floor(random() * 94)) : odd[Math.floor(random() * odd.length)];
      }
      const sendable = /^[\x21-\x7e]+$/.test(token);
      const problems = problemsOf(token);
      expect(problems.length, JSON.stringify(token)).toBe(sendable ? 0 : 1);
      if (sendable) continue;
      expect(problems[0]!.startsWith("http.bearer_token: "), problems[0]).toBe(true);
      if (token.length >= 4) expect(problems[0], JSON.stringify(token)).not.toContain(token);
    }
  });
});
