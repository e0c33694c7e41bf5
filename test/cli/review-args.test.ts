/**
 * The command line, adversarially: an option given twice (parseArgs silently kept the last, so
 * `feeder replay -c prod.toml -c test.toml …` ran with test.toml) and `feeder help <unknown>` (printed the program's
 * help and exited 0, as if the command existed) are usage errors naming what was wrong, exit 2.
 */
import { describe, expect, test } from "vitest";
import { recordSettings } from "../../src/cli/commands/record.ts";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

describe("feeder's command line", () => {
  test.each([
    ["check-config", "--config", "a.toml", "-c", "b.toml"],
    ["replay", "-c", "a.toml", "--pace", "fast", "--pace", "recorded", "x.fcap"],
    ["record", "--config=a.toml", "--out", "d", "--compress", "gzip", "--compress", "none"],
    ["export", "--books", "--books", "x.fcap"],
  ])("an option given twice is refused, naming it: %s …", async (...argv) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(new RegExp(`^feeder ${argv[0]}: --(config|pace|compress|books) given more than once \\(see feeder ${argv[0]} --help\\)$`));
  });

  test("repeatable options stay repeatable", async () => {
    const r = await run("listen", "--group", "239.255.0.1:31001", "--group", "239.255.0.2:31002", "--duration", "0.05", "--format", "ndjson");
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
  });

  test("feeder help <unknown command> is an error naming it; help <command> still shows that command's help", async () => {
    const r = await run("help", "replya");
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err[0]).toMatch(/^feeder help: unknown command "replya" \(commands: run, /);
    const ok = await run("help", "replay");
    expect(ok.code).toBe(0);
    expect(ok.out[0]).toContain("Usage: feeder replay");
  });
});

describe("feeder listen --port that would do nothing", () => {
  test("beside --config or --bind (no --group without a port) it is refused; with a portless --group it is used", async () => {
    const dir = (await import("../support/temp-dirs.ts")).makeTempDir("feeder-review-port-");
    const config = `${dir}/c.toml`;
    (await import("node:fs")).writeFileSync(config, '[[publish.destinations]]\ngroup = "239.255.0.1"\nport = 31001\n');
    const message = "feeder listen: --port applies to --group entries without a port (or the default group), and there is none here (see feeder listen --help)";
    for (const argv of [
      ["listen", "--config", config, "--port", "5000", "--duration", "0.05"],
      ["listen", "--bind", "127.0.0.1:5001", "--port", "5000", "--duration", "0.05"],
      ["listen", "--group", "239.255.0.1:31001", "--port", "5000", "--duration", "0.05"],
    ]) {
      const r = await run(...argv);
      expect(r).toEqual({ code: 2, out: [], err: [message] });
    }
    const ok = await run("listen", "--config", config, "--group", "239.255.0.2", "--port", "5002", "--duration", "0.05", "--format", "ndjson");
    expect(ok).toMatchObject({ code: 0, err: [] });
  });
});

describe("--duration beyond what a timer holds", () => {
  test("listen --duration 3000000 (35 days) is refused, exit 2: before, the timer fired at once and listen exited 0 as it started", async () => {
    const r = await run("listen", "--duration", "3000000", "-f", "ndjson");
    expect(r).toEqual({ code: 2, out: [], err: ['feeder listen: --duration must be at most 2147483 s (24.8 days), got "3000000": leave it out to run until stopped (see feeder listen --help)'] });
    expect((await run("listen", "--duration", "Infinity")).code).toBe(2);
    expect((await run("demo", "--duration", "1e9")).err[0]).toContain("feeder demo: --duration must be at most 2147483 s");
  });
});

describe("record --progress-seconds beyond what a timer holds", () => {
  test("--progress-seconds 3000000 is refused, exit 2, before anything starts: before, the interval fired every 1 ms (a progress line per millisecond)", async () => {
    const r = await run("record", "-c", "no-such.toml", "--out", makeTempDir("feeder-progress-"), "--progress-seconds", "3000000");
    expect(r).toEqual({ code: 2, out: [], err: ['feeder record: --progress-seconds must be at most 2147483 (24.8 days; 0 = off), got "3000000" (see feeder record --help)'] });
  });
});

describe("record --max-file-minutes below a minute", () => {
  test.each(["0.5", "0.001"])("--max-file-minutes %s is refused, exit 2, naming the flag, before anything starts: before, below ~0.2 s every block opened a file", async (minutes) => {
    const r = await run("record", "-c", "no-such.toml", "--out", makeTempDir("feeder-file-minutes-"), "--max-file-minutes", minutes);
    expect(r).toEqual({ code: 2, out: [], err: [`feeder record: --max-file-minutes must be at least 1 (files are cut on UTC multiples of it; blocks are written every 200 ms), got "${minutes}" (see feeder record --help)`] });
  });

  test("1 and more are taken", () => {
    for (const minutes of ["1", "1.5", "15"]) expect(recordSettings({ config: "a.toml", out: "d", "max-file-minutes": minutes }).maxMinutes).toBe(Number(minutes));
  });
});
