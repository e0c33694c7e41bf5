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

  test("rate-limited log: one line per interval, counting every hit", () => {
    const lines: string[] = [];
    const r = new RateLimitedLog(createLogger({ format: "json", write: (l) => lines.push(l) }), "warn", "frames rejected", 60_000);
    for (let i = 0; i < 1000; i++) r.hit("bad");
    expect(r.total).toBe(1000);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "frames rejected", count: 1, total: 1 });
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
