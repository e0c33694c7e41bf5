import { afterEach, describe, expect, test, vi } from "vitest";
import { createLogger, guardedWriter, RateLimitedLog } from "../../src/core/log.ts";

afterEach(() => vi.restoreAllMocks());

describe("logging", () => {
  test("JSON lines with level filtering and child fields", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
    log.debug("hidden");
    log.info("started", { books: 3 });
    log.child({ venue: "bybit" }).warn("gap", { topic: "orderbook.50.BTCUSDT" });
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(a).toMatchObject({ level: "info", msg: "started", books: 3 });
    expect(b).toMatchObject({ level: "warn", msg: "gap", venue: "bybit", topic: "orderbook.50.BTCUSDT" });
    expect(Number.isNaN(Date.parse(a.ts))).toBe(false);
  });

  test("pretty format for terminals", () => {
    const lines: string[] = [];
    createLogger({ format: "pretty", write: (l) => lines.push(l) }).error("send failed", { errno: "ENETUNREACH" });
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR send failed {2}errno=ENETUNREACH$/);
  });

  test("pretty format: control characters of a field or message from outside (a server's error text, a name) are shown as \\xNN, never sent to the terminal", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "pretty", write: (l) => lines.push(l) });
    // A server's error text, a name from the feed: an ESC sequence retitled the window, a line break forged a line.
    log.error("cannot read NATS \x1b[2J", { error: "keeps feed.\x1b]0;pwned\x07x\nINFO forged", reason: "\u009b2J \x7f", venue: "µ→ kept" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(lines[0]).toContain("cannot read NATS \\x1b[2J");
    expect(lines[0]).toContain("error=keeps feed.\\x1b]0;pwned\\x07x\\x0aINFO forged");
    expect(lines[0]).toContain("reason=\\x9b2J \\x7f");
    expect(lines[0]).toContain("venue=µ→ kept");
  });

  test("JSON format: DEL and C1 controls (JSON.stringify leaves them as they are) are \\u escapes; the line parses to the same text", () => {
    const lines: string[] = [];
    createLogger({ format: "json", write: (l) => lines.push(l) }).warn("m", { symbol: "A\u009b2J\x7fB\x1b" });
    expect(lines[0]).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ symbol: "A\u009b2J\x7fB\x1b" });
  });

  test("rate-limited log: one line per interval, counting every hit", () => {
    const lines: string[] = [];
    const r = new RateLimitedLog(createLogger({ format: "json", write: (l) => lines.push(l) }), "warn", "frames rejected", 60_000);
    for (let i = 0; i < 1000; i++) r.hit("bad");
    expect(r.total).toBe(1000);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "frames rejected", count: 1, total: 1 });
  });

  test("rate-limited log: the first line words its count as the first, a later one as the count since the last", () => {
    const lines: string[] = [];
    const r = new RateLimitedLog(createLogger({ format: "json", write: (l) => lines.push(l) }), "warn", "frames rejected", 0);
    r.hit("bad");
    r.hit("bad");
    expect(lines.map((l) => JSON.parse(l).counted)).toEqual(["the first such report", "1 more since the last such report"]); // before: no words, the first line's count read as since a last line
  });

  test("rate-limited log: a wall clock stepped back an hour does not hold the next line back for the hour", async () => {
    const lines: string[] = [];
    const back = { ms: 0 };
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() - back.ms);
    const r = new RateLimitedLog(createLogger({ format: "json", write: (l) => lines.push(l) }), "warn", "send failed", 50);
    r.hit("first");
    expect(lines).toHaveLength(1);
    back.ms = 3_600_000;
    const deadline = performance.now() + 5_000;
    while (lines.length < 2 && performance.now() < deadline) {
      r.hit("after the step");
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(lines).toHaveLength(2); // within 5 s of the step, not an hour
  });
});

describe("guardedWriter: a stream's errors", () => {
  /** A stream whose write fails with `code` (as an 'error' event) while `failing`, and keeps what it takes. */
  function stream(code: string) {
    const taken: string[] = [];
    const listeners: ((err: unknown) => void)[] = [];
    const s = {
      failing: false,
      taken,
      write(text: string) {
        if (s.failing) for (const l of listeners) l(Object.assign(new Error(code), { code }));
        else taken.push(text);
      },
      on(_event: "error", l: (err: unknown) => void) {
        listeners.push(l);
      },
    };
    return s;
  }

  test("a passing error (ENOSPC) costs only the lines it hit", () => {
    const s = stream("ENOSPC");
    const write = guardedWriter(s);
    write("a\n");
    s.failing = true;
    write("b\n");
    s.failing = false;
    write("c\n");
    expect(s.taken).toEqual(["a\n", "c\n"]);
  });

  test("the reader gone (EPIPE) or the stream closed: nothing is tried again", () => {
    for (const code of ["EPIPE", "ERR_STREAM_DESTROYED"]) {
      const s = stream(code);
      const write = guardedWriter(s);
      s.failing = true;
      write("b\n");
      s.failing = false;
      write("c\n");
      expect(s.taken).toEqual([]);
    }
  });

  test("a write that throws is caught, not passed on", () => {
    const write = guardedWriter({
      write() {
        throw Object.assign(new Error("EIO"), { code: "EIO" });
      },
      on() {},
    });
    expect(() => write("x\n")).not.toThrow();
  });

  test("done runs once per line in every path: written, failed, dropped over the bound, stream gone, write threw (s-rev56)", () => {
    // A worker's log credit (app/worker-log.ts) is given back by `done`: never run, the worker's lines stop for good;
    // run twice, its bound is overrun. The warning line is the writer's own (no done) and counts in the backlog.
    const dones = new Map<string, number>();
    const doneFor = (line: string) => () => void dones.set(line, (dones.get(line) ?? 0) + 1);
    const waiting: ((err?: unknown) => void)[] = [];
    const listeners: ((err: unknown) => void)[] = [];
    let mode: "take" | "throw" | "epipe" = "take";
    const taken: string[] = [];
    const write = guardedWriter(
      {
        write(text: string, cb?: (err?: unknown) => void) {
          if (mode === "throw") throw Object.assign(new Error("EIO"), { code: "EIO" });
          taken.push(text);
          if (mode === "epipe") {
            const err = Object.assign(new Error("EPIPE"), { code: "EPIPE" });
            cb?.(err);
            for (const l of listeners) l(err);
          } else waiting.push(cb!);
        },
        on(_e: "error", l: (err: unknown) => void) {
          listeners.push(l);
        },
      },
      29,
    );
    for (let i = 0; i < 6; i++) write(`line${i}\n`, doneFor(`line${i}`)); // 6 B each: past 29 B after 5, the 6th dropped
    expect(dones.get("line5")).toBe(1); // dropped: done at once
    expect(dones.get("line0")).toBeUndefined(); // written: done only once the reader takes it
    waiting.shift()!(Object.assign(new Error("ENOSPC"), { code: "ENOSPC" })); // failed: done all the same
    for (const cb of waiting.splice(0, 2)) cb(); // 12 B waiting: half taken
    write("line6\n", doneFor("line6")); // the warning first, counted in the backlog, then the line
    expect(taken.slice(5).map((t) => (t.startsWith("{") ? JSON.parse(t).dropped : t))).toEqual([1, "line6\n"]);
    for (const cb of waiting.splice(0)) cb(); // all taken (the warning's too: no done of its own)
    mode = "throw";
    write("line7\n", doneFor("line7"));
    expect(dones.get("line7")).toBe(1);
    mode = "epipe";
    write("line8\n", doneFor("line8"));
    write("line9\n", doneFor("line9")); // gone: not tried, done at once
    expect(taken.at(-1)).toBe("line8\n");
    expect([...dones.entries()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => [`line${i}`, 1]));
  });

  test("a reader behind by more than the bound: lines dropped until half is taken, then a warning with the count", () => {
    const taken: string[] = [];
    const waiting: (() => void)[] = []; // the done callbacks of writes the reader has not taken
    const write = guardedWriter({ write: (text: string, done?: () => void) => void (taken.push(text), waiting.push(done!)), on() {} }, 100);
    for (let i = 0; i < 20; i++) write(`line ${String(i).padStart(2, "0")}\n`); // 8 B each: 13 fit in 100 B
    expect(taken).toHaveLength(13);
    for (const done of waiting.splice(0, 6)) done(); // 56 B waiting: above half the bound, still dropping
    write("next\n");
    expect(taken).toHaveLength(13);
    waiting.shift()!(); // 48 B waiting: half taken
    write("after\n");
    expect(taken.slice(13).map((t) => (t.startsWith("{") ? JSON.parse(t) : t))).toEqual([
      expect.objectContaining({ level: "warn", msg: "log lines dropped: standard error's reader was behind", dropped: 8 }),
      "after\n",
    ]);
  });
});
