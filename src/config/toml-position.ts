/**
 * Where a TOML syntax error is. Bun.TOML.parse throws a message without a position, so the position is found by
 * parsing prefixes of the text: the error is at the first line, then the first column of that line, at which a
 * prefix already fails with the same message. Runs only on a file that did not parse: a bisection of its lines,
 * then of one line's columns, some tens of parses.
 * @module
 */

export interface TomlErrorPosition {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, in characters. */
  readonly column: number;
  /** The parser's message without its "TOML Parse error: " prefix. */
  readonly message: string;
}

/** Messages of errors the parser only finds at the end of the text. */
const AT_END_OF_FILE = /found end of file|^Unterminated (array|inline table)|^Unterminated string$/;

type Parse = (text: string) => unknown;

/** Columns of a line scanned one by one (a longer line: this many before the point its bisection finds). */
const SCANNED_COLUMNS = 32;

/** The parser's message, or null when `text` parses. */
function errorOf(parse: Parse, text: string): string | null {
  try {
    parse(text);
    return null;
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(/^TOML Parse error:\s*/, "");
  }
}

/**
 * Messages quote the text at fault (`'x'`, `"tru"`); a prefix cut inside that text quotes less of it. Comparing
 * without the quoted parts finds where the bad token starts.
 */
function shape(message: string): string {
  return message.replace(/'[^']*'|"[^"]*"|\(0x[0-9A-Fa-f]+\)/g, "…");
}

/** The position of the syntax error in `text`, or null when it parses. */
export function locateTomlError(text: string, parse: Parse = (t) => Bun.TOML.parse(t)): TomlErrorPosition | null {
  const full = errorOf(parse, text);
  if (full === null) return null;
  const want = shape(full);
  const message = full.replace(/\(0x0A\)/g, "the end of the line");
  // Line starts; each prefix keeps its line break so errors about the break itself show up on that line.
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  if (AT_END_OF_FILE.test(full)) {
    // Something left open (an array, a string, a table header): the parser noticed at the end of the text.
    return { line: starts.length, column: text.length - starts[starts.length - 1]! + 1, message };
  }
  // The first line whose prefix (through that line) fails like the whole text. The parser stops at the first error,
  // so every longer prefix fails alike and a shorter one parses or fails otherwise (at its end): bisect. Parsing
  // every prefix in turn was quadratic: a SIGHUP with a half-written 190 KB file held the main thread ~23 s.
  const failsAlike = (l: number): boolean => {
    const e = errorOf(parse, text.slice(0, l < starts.length ? starts[l]! : text.length));
    return e !== null && shape(e) === want;
  };
  let line = 1;
  let last = starts.length; // the whole text fails alike
  while (line < last) {
    const mid = (line + last) >>> 1;
    if (failsAlike(mid)) last = mid;
    else line = mid + 1;
  }
  const lineStart = starts[line - 1]!;
  const lineEnd = line < starts.length ? starts[line]! : text.length;
  // The first column whose prefix fails alike. Within a token a prefix may parse where a shorter one failed alike
  // ("level = inf" is a float, "level = in" and "level = info" are not quoted), so a line is scanned column by
  // column; a long one is bisected first and its last columns before that point scanned: scanning every column of a
  // one-line array of 1000 symbols (12 KB) cost a parse per column, ~5 s; of an 80 KB line, minutes.
  const columnFailsAlike = (c: number): boolean => {
    const e = errorOf(parse, text.slice(0, lineStart + c));
    return e !== null && shape(e) === want;
  };
  const width = lineEnd - lineStart;
  let from = 1;
  if (width > SCANNED_COLUMNS) {
    let lastColumn = width; // the whole line fails alike
    while (from < lastColumn) {
      const mid = (from + lastColumn) >>> 1;
      if (columnFailsAlike(mid)) lastColumn = mid;
      else from = mid + 1;
    }
    from = Math.max(1, from - SCANNED_COLUMNS);
  }
  let column = width;
  for (let c = from; c <= width; c++) {
    if (columnFailsAlike(c)) {
      column = c;
      break;
    }
  }
  return { line, column: Math.max(1, column), message };
}
