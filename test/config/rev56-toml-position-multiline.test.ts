/**
 * s-rev56 guard: locateTomlError bisects lines on the claim that a prefix through the bad line fails like the whole
 * text and a shorter one does not. Multi-line strings and arrays are where that could break: a prefix cut inside one
 * fails at its end (an open string or array), and text inside a string that would be an error outside it is none.
 * Each case's line is checked against the old search (every prefix in turn, first that fails alike). Passes on the
 * merged code (a 3000-text random mutation of the example config agreed too): coverage, not a fix.
 */
import { expect, test } from "vitest";
import { locateTomlError } from "../../src/config/toml-position.ts";

/** The line the linear search found: the first whose prefix (through its break) fails with the whole text's message. */
function linearLine(text: string): number {
  const msg = (t: string): string | null => {
    try {
      Bun.TOML.parse(t);
      return null;
    } catch (err) {
      return (err as Error).message.replace(/'[^']*'|"[^"]*"|\(0x[0-9A-Fa-f]+\)/g, "…");
    }
  };
  const want = msg(text);
  const lines = text.split("\n");
  let end = 0;
  for (let l = 1; l <= lines.length; l++) {
    end += lines[l - 1]!.length + (l < lines.length ? 1 : 0);
    if (msg(text.slice(0, end)) === want) return l;
  }
  return lines.length;
}

const CASES: Record<string, [text: string, line: number]> = {
  "an error after a multi-line string holding what would be errors": ['a = """\nx = = 1\n[t\n"""\nb = 1\nc = ]\nd = 2\n', 6],
  "an error after a multi-line literal string": ["a = '''\ny = [\n'''\nb = tru\nc = 1\n", 4],
  "an error inside a multi-line array": ["a = 1\nb = [\n 1,\n 2\n 3,\n]\nc = 1\n", 5],
  "an error after a closed multi-line array": ["a = [\n 1,\n 2,\n]\nb = 1\nc = = 2\nd = 3\n", 6],
  "an array left open, the next key read as its value": ["a = 1\nb = [1,\nc = 2\nd = 3\n", 3],
  "a basic string left open at its line's end": ['a = 1\nb = "abc\nc = 2\nd = 3\n', 2],
  "a key defined twice after a multi-line string": ['a = """\n1\n"""\nb = 2\na = 3\nc = 4\n', 5],
};

for (const [name, [text, line]] of Object.entries(CASES)) {
  test(name, () => {
    expect(linearLine(text)).toBe(line);
    expect(locateTomlError(text)?.line).toBe(line);
  });
}
