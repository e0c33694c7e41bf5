/**
 * How a secret file's setting is named when it may be the secret itself (core/secret-path.ts): the reason given says
 * which forms are shown and nothing of the value's content (it named a space in "my secret" until 2026-12-07).
 */
import { describe, expect, test } from "vitest";
import { looksLikePath, shownPath } from "../../src/core/secret-path.ts";
import { rng } from "../support/mulberry32.ts";

describe("shownPath", () => {
  test("the reason a value is hidden says nothing of its content (only which form is shown)", () => {
    // Until 2026-12-07 the reason named the rule the value failed: "my secret" was said to hold a space, a secret
    // starting "/" to be absolute. One wording for every hidden value, true of each (`/nonexistent` too, and
    // `/etc/feeder/my key`: until s-rd17c the words were "not a /dir/name or ./name path", false of it).
    const hidden = "(its value not shown: only a path like /dir/name, ./name, ../name or ~/name without spaces or control characters is shown, it may be the secret itself)";
    for (const v of ["/nonexistent", "/etc/", "/etc/my secret", "/etc/feeder/my key", "./my\tkey", "./a\nb", "my secret", "hunter2", "dir/name", ""]) expect(shownPath(v), JSON.stringify(v)).toBe(hidden);
    expect(shownPath("/etc/feeder/key")).toBe('"/etc/feeder/key"');
  });

  test("random values: shown whole or not at all, a hidden one always with the same reason", () => {
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
      expect(shown).toBe("(its value not shown: only a path like /dir/name, ./name, ../name or ~/name without spaces or control characters is shown, it may be the secret itself)");
    }
  });
});
