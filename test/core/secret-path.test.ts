/**
 * How a secret file's setting is named when it may be the secret itself (core/secret-path.ts): the reason given says
 * what is actually wrong. `/nonexistent` was said to be "not an absolute or ./ path", though absolute.
 */
import { describe, expect, test } from "vitest";
import { looksLikePath, shownPath } from "../../src/core/secret-path.ts";
import { rng } from "../support/mulberry32.ts";

describe("shownPath", () => {
  test("the reason a value is hidden names the rule it fails", () => {
    expect(shownPath("/nonexistent")).toBe("(its value not shown: absolute but not /dir/name, it may be the secret itself)");
    expect(shownPath("/etc/")).toBe("(its value not shown: absolute but not /dir/name, it may be the secret itself)");
    expect(shownPath("/etc/my secret")).toBe("(its value not shown: it holds a space or a control character, it may be the secret itself)");
    expect(shownPath("./a\nb")).toBe("(its value not shown: it holds a space or a control character, it may be the secret itself)");
    expect(shownPath("hunter2")).toBe("(its value not shown: not an absolute or ./ path, it may be the secret itself)");
    expect(shownPath("dir/name")).toBe("(its value not shown: not an absolute or ./ path, it may be the secret itself)");
    expect(shownPath("/etc/feeder/key")).toBe('"/etc/feeder/key"');
  });

  test("random values: shown whole or not at all, and a hidden one's reason is true of it", () => {
    const rand = rng(7);
    const alphabet = ["/", ".", "~", "a", "Z", "0", "+", "=", " ", "\t", "\n", "\x7f", "é"];
    for (let i = 0; i < 2000; i++) {
      let v = "";
      for (let n = Math.floor(rand() * 8); n > 0; n--) v += alphabet[Math.floor(rand() * alphabet.length)];
      const shown = shownPath(v);
      if (looksLikePath(v)) {
        expect(shown).toBe(JSON.stringify(v));
        continue;
      }
      expect(shown).toMatch(/^\(its value not shown: .*, it may be the secret itself\)$/);
      const spaced = /[\s\0-\x1f\x7f]/.test(v);
      expect(shown.includes("space or a control character"), JSON.stringify(v)).toBe(spaced);
      expect(shown.includes("not an absolute or ./ path"), JSON.stringify(v)).toBe(!spaced && !v.startsWith("/"));
      expect(shown.includes("absolute but not /dir/name"), JSON.stringify(v)).toBe(!spaced && v.startsWith("/"));
    }
  });
});
