/**
 * The command line, adversarially: an option given twice (parseArgs silently kept the last, so
 * `feeder replay -c prod.toml -c test.toml …` ran with test.toml) and `feeder help <unknown>` (printed the program's
 * help and exited 0, as if the command existed) are usage errors naming what was wrong, exit 2.
 */
import { describe, expect, test, vi } from "vitest";
import { recordSettings } from "../../src/cli/commands/record.ts";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../support/destination.ts";

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

  test("--help COMMAND is that command's help; more words after --help, help or --version are refused (s-cli8; before: ignored, exit 0)", async () => {
    expect((await run("--help", "export")).out[0]).toMatch(/^Usage: feeder export /);
    expect(await run("--help", "repaly")).toMatchObject({ code: 2, out: [], err: [expect.stringMatching(/^feeder --help: unknown command "repaly" \(commands: run, /)] });
    expect(await run("help", "run", "listen")).toMatchObject({ code: 2, out: [], err: [expect.stringMatching(/^feeder help: one command at most, got "run" "listen" /)] });
    expect(await run("-V", "run")).toEqual({ code: 2, out: [], err: ['feeder -V: takes no arguments, got "run"'] });
  });

  test("a further -h / --help after help or --help asks the same help, exit 0 (was 'unknown command \"--help\"', exit 2)", async () => {
    const program = await run("--help");
    for (const argv of [["help", "--help"], ["--help", "--help"], ["-h", "-h"], ["help", "-h"]]) expect(await run(...argv), argv.join(" ")).toEqual(program);
    const replay = await run("help", "replay");
    for (const argv of [["help", "replay", "--help"], ["--help", "-h", "replay"], ["-h", "replay", "-h"]]) expect(await run(...argv), argv.join(" ")).toEqual(replay);
    expect(replay).toMatchObject({ code: 0, err: [] });
    // Still one command at most, and a known one.
    expect(await run("help", "--help", "run", "listen")).toMatchObject({ code: 2, out: [], err: [expect.stringMatching(/^feeder help: one command at most, got "run" "listen" /)] });
    expect(await run("--help", "-h", "repaly")).toMatchObject({ code: 2, out: [], err: [expect.stringMatching(/^feeder --help: unknown command "repaly" /)] });
  });

  test("help wins over version in any order at the top, as after a command (--version --help and -h --version exited 2)", async () => {
    const program = await run("--help");
    for (const argv of [["--version", "--help"], ["-h", "--version"], ["-V", "-h"], ["help", "-V"], ["--help", "-V", "--help"]]) expect(await run(...argv), argv.join(" ")).toEqual(program);
    const replay = await run("help", "replay");
    for (const argv of [["-V", "--help", "replay"], ["--help", "--version", "replay"], ["replay", "--version", "--help"]]) expect(await run(...argv), argv.join(" ")).toEqual(replay);
    const version = await run("--version");
    expect(version.code).toBe(0);
    for (const argv of [["-V", "--version"], ["--version", "-V"]]) expect(await run(...argv), argv.join(" ")).toEqual(version);
    // Still nothing but flags after version, and one known command after help.
    expect(await run("--version", "-V", "run")).toEqual({ code: 2, out: [], err: ['feeder --version: takes no arguments, got "run"'] });
    expect(await run("--version", "--help", "repaly")).toMatchObject({ code: 2, out: [], err: [expect.stringMatching(/^feeder --version: unknown command "repaly" /)] });
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

describe("feeder listen --iface that would do nothing (s-cli8)", () => {
  test("with unicast --bind alone it is refused (before: taken, nothing joined on it); with a group it is used", async () => {
    expect(await run("listen", "--bind", "127.0.0.1:5001", "--iface", "127.0.0.1", "--duration", "0.05")).toEqual({
      code: 2,
      out: [],
      err: ["feeder listen: --iface is the interface multicast groups are joined on, and there is none here (only --bind / unicast destinations) (see feeder listen --help)"],
    });
    expect(await run("listen", "--bind", "127.0.0.1:5001", "--group", "239.255.0.3:5003", "--iface", "127.0.0.1", "--duration", "0.05", "-f", "ndjson")).toMatchObject({ code: 0, err: [] });
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

describe("record --max-file-mb below 1 MiB", () => {
  test.each(["0.0001", "0.5"])("--max-file-mb %s is refused, exit 2, naming the flag, before anything starts: before, 0.0001 opened a file for every block", async (mb) => {
    const r = await run("record", "-c", "no-such.toml", "--out", makeTempDir("feeder-file-mb-"), "--max-file-mb", mb);
    expect(r).toEqual({ code: 2, out: [], err: [`feeder record: --max-file-mb must be at least 1 (a file smaller than a few blocks, written every 200 ms, is a file per block), got "${mb}" (see feeder record --help)`] });
  });

  test("1 and more are taken; FEEDER_TEST_MIN_FILE_MB (tests only) lowers the floor", () => {
    for (const mb of ["1", "1.5", "256"]) expect(recordSettings({ config: "a.toml", out: "d", "max-file-mb": mb }).maxMb).toBe(Number(mb));
    expect(recordSettings({ config: "a.toml", out: "d", "max-file-mb": "0.02" }, { FEEDER_TEST_MIN_FILE_MB: "0.01" }).maxMb).toBe(0.02);
    expect(() => recordSettings({ config: "a.toml", out: "d", "max-file-mb": "0.005" }, { FEEDER_TEST_MIN_FILE_MB: "0.01" })).toThrow("--max-file-mb must be at least 0.01");
  });

  test("s-rd3d: FEEDER_TEST_MIN_FILE_MB only lowers the floor (5 left it at 5: 2 refused), a bad value is named as the environment variable it is (not as a flag), and --help names it", async () => {
    expect(recordSettings({ config: "a.toml", out: "d", "max-file-mb": "2" }, { FEEDER_TEST_MIN_FILE_MB: "5" }).maxMb).toBe(2);
    expect(() => recordSettings({ config: "a.toml", out: "d" }, { FEEDER_TEST_MIN_FILE_MB: "x" })).toThrow('the environment variable FEEDER_TEST_MIN_FILE_MB (tests only) must be a positive number, got "x"');
    expect((await run("record", "--help")).out.join("\n")).toContain("FEEDER_TEST_MIN_FILE_MB");
  });
});

/** Runs argv and expects exit 2 with one line on stderr that contains `message`. */
async function refused(argv: string[], message: string): Promise<void> {
  const r = await run(...argv);
  expect(r.err.join("\n"), argv.join(" ")).toContain(message);
  expect(r.code, argv.join(" ")).toBe(2);
}

describe("bad flag values are refused naming the flag (s-cli8): numbers are unsigned decimals, ports in range, host names", () => {
  // Each was taken by Number(): "" and " " as 0, hex as its value, spaces around, 2^53 + 1 as 2^53, a size of 400
  // digits as Infinity. The flag after the bad one would have been refused otherwise: what is refused names the flag.
  const zeros = "1" + "0".repeat(400);
  const cases: [string[], string][] = [
    [["bridge", "from-nats", "--nats", "nats://127.0.0.1:1", "-g", "239.255.0.9:31009", "--http", "off", "--source-id", " "], '--source-id must be an integer in 0..65535, got " "'],
    [["bridge", "from-nats", "--nats", "nats://127.0.0.1:1", "-g", "239.255.0.9:31009", "--http", "off", "--channel", " "], '--channel must be an integer in 0..65535, got " "'],
    [["bridge", "from-nats", "--nats", "nats://127.0.0.1:1", "-g", "239.255.0.9:31009", "--http", "off", "--ttl", "0x10"], '--ttl must be an integer in 1..255, got "0x10"'],
    [["bridge", "to-nats", "--nats", "nats://127.0.0.1:1", "-g", "239.255.0.9:31009", "--http", "off", "--stream", "S", "--max-bytes", zeros], "--max-bytes must be at most 8191T"],
    [["sim", "--port", "0x50", "--replay-depth", "5"], '--port must be an integer in 0..65535, got "0x50"'],
    [["sim", "--seed", "0b11", "--replay-depth", "5"], '--seed must be an integer in 0..4294967295, got "0b11"'],
    [["sim", "--burstiness", "0x0", "--replay-depth", "5"], '--burstiness must be in 0..1, got "0x0"'],
    [["demo", "--http", "1 ", "--duration", "0"], '--http must be an integer in 0..65535, got "1 "'],
    [["listen", "--count", "0x10", "--duration", "0"], '--count must be a positive integer, got "0x10"'],
    [["listen", "--count", "9007199254740993", "--duration", "0"], '--count must be a positive integer, got "9007199254740993"'],
    [["listen", "-f", "ndjson", "--depth", " 5", "--duration", "0"], '--depth must be a positive integer, got " 5"'],
    [["listen", "--duration", "0x10", "--max-unread-kib", "0"], '--duration must be a positive number of seconds, got "0x10"'],
    [["listen", "--retransmit", "feed host:5", "--group", "10.0.0.1:5"], '--retransmit "feed host:5": give HOST:PORT'],
    [["listen", "--port", "70000"], '--port must be 1..65535, got "70000"'],
    [["listen", "--group", "239.255.0.1:0"], '--group "239.255.0.1:0": port 0 out of range (1..65535)'],
    [["replay", "-c", "a.toml", "--pace", "recorded", "--speed", " 2"], '--speed must be a positive number, got " 2"'],
    [["export", "--books", "-c", "a.toml", "--depth", "0x5"], '--depth must be a positive'],
    [["export", "--books", "-c", "a.toml", "--every-ms", "0o7"], '--every-ms must be a number ≥ 0, got "0o7"'],
  ];
  test.each(cases.map(([argv, message]) => [JSON.stringify(argv).slice(0, 100), argv, message] as const))("%s", async (_title, argv, message) => refused(argv, message));

  test("record: hex and a unitless iB are refused before the other checks", () => {
    expect(() => recordSettings({ config: "a.toml", out: "d", "max-file-mb": "0x10" })).toThrow('--max-file-mb must be a positive number, got "0x10"');
    expect(() => recordSettings({ config: "a.toml", out: "d", "keep-bytes": "1iB" })).toThrow('--keep-bytes must be a size such as 500M, 20G or a number of bytes, got "1iB"');
    expect(() => recordSettings({ config: "a.toml", out: "d", "keep-bytes": "8192T" })).toThrow('--keep-bytes must be at most 8191T, got "8192T"');
    // A size's number is every flag's number (README: 5, 0.5, 1e3); until s-rdcli8 `1e9` and `.5G` were refused here.
    expect(recordSettings({ config: "a.toml", out: "d", "keep-bytes": "1e9" }).keepBytes).toBe(1e9);
    expect(recordSettings({ config: "a.toml", out: "d", "keep-bytes": ".5T" }).keepBytes).toBe(1024 ** 4 / 2);
    for (const bad of ["0x10G", "+5G", "5 G", "G", "B", "1e", "5GG", "5iB"]) expect(() => recordSettings({ config: "a.toml", out: "d", "keep-bytes": bad }), bad).toThrow("--keep-bytes must be a size");
    expect(recordSettings({ config: "a.toml", out: "d", "keep-bytes": "1GiB", "max-file-mb": "1e2", "keep-hours": ".5" })).toMatchObject({ keepBytes: 1024 ** 3, maxMb: 100, keepHours: 0.5 });
  });

  test("decimal() against a reference grammar, random strings", async () => {
    const { decimal, decimalInteger } = await import("../../src/cli/commands/number-args.ts");
    // Reference: digits [. digits] or . digits, then optionally e/E [+-] digits; nothing else.
    const reference = (s: string): number => {
      let i = 0;
      const digits = () => {
        const from = i;
        while (i < s.length && s[i]! >= "0" && s[i]! <= "9") i++;
        return i - from;
      };
      let mantissa = digits();
      if (s[i] === ".") {
        i++;
        mantissa += digits();
      }
      if (mantissa === 0) return NaN;
      if (s[i] === "e" || s[i] === "E") {
        i++;
        if (s[i] === "+" || s[i] === "-") i++;
        if (digits() === 0) return NaN;
      }
      return i === s.length ? Number(s) : NaN;
    };
    const alphabet = ["0", "1", "5", "9", ".", "e", "E", "+", "-", "x", "b", "o", " ", "\t", "_", "I", "n"];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    let numbers = 0;
    for (let k = 0; k < 10_000; k++) {
      let s = "";
      for (let len = rand(7); len > 0; len--) s += alphabet[rand(alphabet.length)];
      const want = reference(s);
      expect(Object.is(decimal(s), want), JSON.stringify(s)).toBe(true);
      expect(Object.is(decimalInteger(s), Number.isSafeInteger(want) ? want : NaN), JSON.stringify(s)).toBe(true);
      if (!Number.isNaN(want)) numbers++;
    }
    expect(numbers).toBeGreaterThan(250);
    for (const s of ["", " 1", "1 ", "0x1", "+1", "-1", "Infinity", "NaN", "1_000", "9007199254740993"]) expect(decimalInteger(s), JSON.stringify(s)).toBeNaN();
  });
});

describe("an empty value is refused for every option, naming it (s-cli8)", () => {
  // Before: record -o "" failed its start-up check, exit 1 (restarted for ever by the unit); export -o "" wrote a
  // temporary file into the working directory and failed, exit 1; --source-id "" was source id 0.
  test.each([
    ["record", "-c", "a.toml", "-o", ""],
    ["export", "x.fcap", "--out="],
    ["bridge", "from-nats", "--nats", "nats://127.0.0.1:1", "-g", "239.255.0.9:31009", "--http", "off", "--source-id", ""],
    ["listen", "--group", "239.255.0.1:31001", "--group", ""],
    ["demo", "--http", ""],
  ])("%j", async (...argv) => {
    const flag = argv.includes("--out=") ? "out" : argv[argv.length - 2]!.replace(/^-o$/, "--out").replace(/^--/, "");
    expect(await run(...argv)).toEqual({ code: 2, out: [], err: [`feeder ${argv[0]}: --${flag} needs a value, got an empty one (see feeder ${argv[0]} --help)`] });
  });
});

describe("NATS flags that would do nothing, and NATS addresses the client cannot use (s-cli8)", () => {
  test.each([["--prefix", "site1"], ["--from", "all"]])("listen %s without --nats is refused (before: multicast read, the flag ignored)", async (flag, value) => {
    await refused(["listen", flag, value, "--group", "10.0.0.1:5"], `feeder listen: ${flag} needs --nats (it is the NATS feed's) (see feeder listen --help)`);
  });

  test.each([["--port", "5"], ["--retransmit", "127.0.0.1:5"], ["--iface", "127.0.0.1"]])("listen --nats with %s (multicast's) is refused (before: ignored, NATS read)", async (flag, value) => {
    await refused(["listen", "--nats", "nats://127.0.0.1:1", flag, value], `feeder listen: --nats reads NATS: leave out ${flag} (--group, --bind, --port, --retransmit and --iface are multicast's;`);
  });

  test("--from without a zone, or in the future, is refused (before: taken, NATS dialled); with a zone, or a date alone, taken", async () => {
    for (const [from, message] of [
      ["2026-12-04T10:00:00", '--from "2026-12-04T10:00:00" has no zone: give it, e.g. 2026-12-04T10:00:00Z (UTC) or 2026-12-04T10:00:00+01:00'],
      ["2099-01-01", '--from "2099-01-01" is in the future (2099-01-01T00:00:00.000Z): nothing would be read until then'],
    ]) {
      await refused(["listen", "--nats", "nats://127.0.0.1:1", "--stream", "S", "--from", from!], `feeder listen: ${message} (see feeder listen --help)`);
      await refused(["bridge", "from-nats", "--nats", "nats://127.0.0.1:1", "--stream", "S", "--from", from!, "-g", "239.255.0.9:31009", "--http", "off"], `feeder bridge: ${message}`);
    }
    const { fromOf } = await import("../../src/cli/commands/nats-args.ts");
    expect(fromOf("2026-12-04T10:00:00Z", "S")).toEqual(new Date(Date.UTC(2026, 11, 4, 10)));
    expect(fromOf("2026-12-04T10:00:00.5+0100", "S")).toEqual(new Date(Date.UTC(2026, 11, 4, 9, 0, 0, 500)));
    expect(fromOf("2026-12-04", "S")).toEqual(new Date(Date.UTC(2026, 11, 4)));
  });

  test("--from with a day past its month's end is refused (before s-cfgrd: rolled over, 2026-02-30 read as 2026-03-02)", async () => {
    const { fromOf } = await import("../../src/cli/commands/nats-args.ts");
    const nowMs = Date.UTC(2100, 0, 1);
    // Every month's last days, in leap and common years (1900 and 2100 not leap, 2000 leap), against the calendar
    // Date.UTC keeps: a day that stays itself there is taken as that day, at its UTC midnight or the time given.
    for (const year of [1900, 2000, 2024, 2026]) {
      for (let month = 1; month <= 12; month++) {
        for (const day of [28, 29, 30, 31]) {
          const date = `${year}-${String(month).padStart(2, "0")}-${day}`;
          const real = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
          for (const given of [date, `${date}T10:00:00+01:00`, `${date} 23:59Z`]) {
            if (real) expect(fromOf(given, "S", nowMs), given).toEqual(new Date(given.replace(" ", "T")));
            else expect(() => fromOf(given, "S", nowMs), given).toThrow(`--from ${JSON.stringify(given)} is no date: ${date.slice(0, 7)} has `);
          }
        }
      }
    }
    expect(() => fromOf("2026-02-29", "S", nowMs)).toThrow('--from "2026-02-29" is no date: 2026-02 has 28 days');
  });

  test("--from with a space for the T (RFC 3339; taken before s-cli8, refused by it) is the same time; its zone still needed", async () => {
    const { fromOf } = await import("../../src/cli/commands/nats-args.ts");
    expect(fromOf("2026-12-04 10:00:00Z", "S")).toEqual(new Date(Date.UTC(2026, 11, 4, 10)));
    expect(fromOf("2026-12-04 10:00:00.5+01:00", "S")).toEqual(new Date(Date.UTC(2026, 11, 4, 9, 0, 0, 500)));
    expect(() => fromOf("2026-12-04 10:00:00", "S")).toThrow('--from "2026-12-04 10:00:00" has no zone');
    expect(() => fromOf("2026-12-04  10:00:00Z", "S")).toThrow("--from must be now, all or an ISO time");
    // The clocks of this host and the NATS server differ: a time a little ahead of this one is taken, not refused.
    const nowMs = Date.UTC(2026, 11, 4, 10);
    expect(fromOf(new Date(nowMs + 5_000).toISOString(), "S", nowMs)).toEqual(new Date(nowMs + 5_000));
    expect(() => fromOf(new Date(nowMs + 61_000).toISOString(), "S", nowMs)).toThrow("is in the future");
  });

  test.each(["nats://127.0.0.1:0", "nats://127.0.0.1:99999", "nats://a:b:4222", "nats://a%zz:4222", "127.0.0.1:65536"])(
    "--nats %s exits 2 naming it (before: exit 1 as the client connected, restarted for ever by the unit)",
    async (url) => {
      await refused(["bridge", "to-nats", "--nats", url, "-g", "239.255.0.9:31009", "--http", "off"], `--nats ${JSON.stringify(url)} is not nats://host:port (port 1..65535)`);
    },
  );
});

describe("demo with its --http port taken (s-cli8)", () => {
  test("exits 1 with the start failure logged, no stack trace on stderr (before: the error's stack)", async () => {
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    try {
      expect(await run("demo", "--http", String(taken.port), "--duration", "1")).toEqual({ code: 1, out: [], err: [] });
    } finally {
      taken.stop(true);
    }
  });

  test("a part whose stop throws: exit 1, said by the runtime's log line, no stack trace (before: StopFailed's stack on stderr)", async () => {
    const { Feeder } = await import("../../src/app/feeder.ts");
    const realStop = Feeder.prototype.stop;
    const stop = vi.spyOn(Feeder.prototype, "stop").mockImplementation(async function (this: InstanceType<typeof Feeder>) {
      await realStop.call(this);
      throw new Error("test: the pipeline's stop fails");
    });
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true); // the demo's own log (warn and up)
    try {
      const port = uniqueDestination(466).port; // below the ephemeral ports (test/support/destination.ts)
      const { code, err } = await run("demo", "--duration", "0.2", "--port", String(port), "--rate", "50");
      expect({ code, err }).toEqual({ code: 1, err: [] });
      expect(stop).toHaveBeenCalled();
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toContain("stop failed; the other parts are stopped all the same");
    } finally {
      stop.mockRestore();
      stderr.mockRestore();
    }
  });
});

describe("a capture named twice (s-cli8)", () => {
  test("export and replay refuse it, by any name (a hard link too), exit 2 (before: exported twice, every row repeated)", async () => {
    const { CaptureWriter } = await import("../../src/record/capture.ts");
    const { linkSync } = await import("node:fs");
    const dir = makeTempDir("feeder-capture-twice-");
    const w = new CaptureWriter({ dir, prefix: "feeder", compression: "none" });
    w.write(1_700_000_000_000_000, "bybit", "linear", "linear-0", '{"topic":"x"}');
    w.close();
    const cap = w.files[0]!;
    const link = `${dir}/link.fcap`;
    linkSync(cap, link);
    expect(await run("export", cap, cap)).toEqual({ code: 2, out: [], err: [`feeder export: capture file ${cap}: named more than once (see feeder export --help)`] });
    expect(await run("replay", "-c", "a.toml", cap, link)).toEqual({ code: 2, out: [], err: [`feeder replay: capture file ${link}: the same file as ${cap}, named before it (see feeder replay --help)`] });
    expect((await run("export", cap)).code).toBe(0);
  });
});

describe("bridge to-nats -c with a destination interface this host lacks (yet) (s-cfgrd)", () => {
  test("exit 1, retried by its unit as `run` is with the same file (before: exit 2, not restarted: left down after a failover); a bad flag beside it still exits 2", async () => {
    const dir = makeTempDir("feeder-cfgrd-bridge-");
    const path = `${dir}/feeder.toml`;
    const { writeFileSync } = await import("node:fs");
    writeFileSync(path, '[[publish.destinations]]\ngroup = "239.255.46.1"\nport = 30001\ninterface = "192.0.2.1"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
    const argv = ["bridge", "to-nats", "-c", path, "--nats", "nats://127.0.0.1:1", "--http", "off"];
    expect(await run(...argv)).toEqual({ code: 1, out: [], err: [] }); // said in its log line, as run's
    await refused([...argv, "--max-pending", "1"], "--max-pending must be at least 1M");
    // The credential and key flags too (files read at start, a bad one exit 2 as without the address): until s-rd26c,
    // exit 1 while the address was down, the unit retrying for as long as it stayed down, the flag never named.
    await refused([...argv, "--nats-user", "bridge", "--nats-password-file", `${dir}/no-such-password`], "--nats-password-file");
    await refused([...argv, "--auth-key-file", `${dir}/no-such-key`], "--auth-key-file");
    // An address no host can have is the file's to change: exit 2 naming it.
    writeFileSync(path, '[[publish.destinations]]\ngroup = "239.255.46.1"\nport = 30001\ninterface = "255.255.255.255"\n');
    await refused(argv, 'publish.destinations[0].interface: "255.255.255.255" is not the IPv4 address of a local interface');
  });

  test("--iface ADDR this host lacks (yet): exit 1 in both directions, once every other flag is checked; an address no host has, or a name, exits 2", async () => {
    const to = ["bridge", "to-nats", "-g", "239.255.46.1:30001", "--nats", "nats://127.0.0.1:1", "--http", "off"];
    const from = ["bridge", "from-nats", "-g", "239.255.46.1:30001", "--nats", "nats://127.0.0.1:1", "--http", "off"];
    for (const argv of [to, from]) {
      expect(await run(...argv, "--iface", "192.0.2.1"), argv[1]).toEqual({ code: 1, out: [], err: [] }); // said in its log line
      await refused([...argv, "--iface", "239.1.1.1"], '--iface "239.1.1.1" is not an address of this host (it has ');
      await refused([...argv, "--iface", "239.1.1.1"], "(239.1.1.1 is a multicast group address: no host has it)");
      await refused([...argv, "--iface", "lo"], '--iface "lo" is not an IPv4 address: lo is an interface name');
    }
    await refused([...to, "--iface", "192.0.2.1", "--max-pending", "1"], "--max-pending must be at least 1M");
    await refused([...from, "--iface", "192.0.2.1", "--channel", "x"], "--channel must be an integer in 0..65535");
  });
});

describe("invalid configuration names its file (s-cfgrd; before, only a read or TOML error did)", () => {
  test("check-config, run and bridge from-nats -c: 'invalid configuration in FILE', the problems naming keys; a TOML error (which starts with the path) not named twice", async () => {
    const dir = makeTempDir("feeder-cfgrd-file-");
    const { writeFileSync } = await import("node:fs");
    const bad = `${dir}/bad.toml`;
    writeFileSync(bad, '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\ndepth = 7\n');
    const depth = "  venues.bybit.linear.depth: 7 is not one of 1, 50, 200, 1000";
    expect(await run("check-config", "-c", bad)).toEqual({ code: 2, out: [], err: [`feeder check-config: invalid configuration in ${bad}:\n${depth}`] });
    expect(await run("run", "-c", bad)).toEqual({ code: 2, out: [], err: [`feeder run: invalid configuration in ${bad}:\n${depth}`] });
    // An interface this host lacks: check-config's exit 2 names the file too.
    const iface = `${dir}/iface.toml`;
    writeFileSync(iface, '[[publish.destinations]]\ngroup = "239.255.46.1"\nport = 30001\ninterface = "192.0.2.1"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
    expect(await run("check-config", "-c", iface)).toMatchObject({ code: 2, err: [expect.stringMatching(new RegExp(`^feeder check-config: invalid configuration in ${iface}:\\n  publish\\.destinations\\[0\\]\\.interface: "192\\.0\\.2\\.1" is not an address of this host`))] });
    // The readers' view of a file (its [nats] and publish.auth_key_file alone).
    const natz = `${dir}/natz.toml`;
    writeFileSync(natz, '[natz]\nuser = "bridge"\n');
    expect(await run("bridge", "from-nats", "-c", natz, "--nats", "nats://127.0.0.1:1", "-g", "239.255.46.1:30001", "--http", "off")).toMatchObject({ code: 2, err: [expect.stringMatching(new RegExp(`^feeder bridge: invalid configuration in ${natz}:\\n  natz: unknown key`))] });
    const syntax = `${dir}/syntax.toml`;
    writeFileSync(syntax, "[publish\n");
    expect(await run("check-config", "-c", syntax)).toMatchObject({ code: 2, err: [expect.stringMatching(new RegExp(`^feeder check-config: invalid configuration:\\n  ${syntax}: not valid TOML at line 1`))] });
    // Nor for run, nor a file that cannot be read (s-rd2a: named twice since run's --config was taken for a file-less error's).
    expect(await run("run", "-c", syntax)).toMatchObject({ code: 2, err: [expect.stringMatching(new RegExp(`^feeder run: invalid configuration:\\n  ${syntax}: not valid TOML at line 1`))] });
    expect(await run("run", "-c", `${dir}/gone.toml`)).toEqual({ code: 2, out: [], err: [`feeder run: invalid configuration:\n  ${dir}/gone.toml: cannot read the file (ENOENT)`] });
  });
});

describe("a --config file's feed key that cannot be read names the config file and the key file (s-smallleft)", () => {
  test("bridge from-nats -c and listen --nats -c: exit 2 naming both (to-nats -c, whose loader reads the key: 'invalid configuration in FILE')", async () => {
    // Before, the error said "the --config file's feed key" and named the key file alone: which file named it, not said.
    const dir = makeTempDir("feeder-feedkey-");
    const { writeFileSync } = await import("node:fs");
    const config = `${dir}/feeder.toml`;
    const key = `${dir}/no-such-key`;
    writeFileSync(config, `[publish]\nauth_key_file = "${key}"\n[[publish.destinations]]\ngroup = "239.255.46.1"\nport = 30001\ninterface = "127.0.0.1"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n`);
    const nats = ["--nats", "nats://127.0.0.1:1"];
    for (const argv of [["bridge", "from-nats", "-c", config, ...nats, "-g", "239.255.46.1:30001", "--http", "off"], ["listen", "-c", config, ...nats]]) {
      await refused(argv, `publish.auth_key_file: cannot read key file ${JSON.stringify(key)}`);
      await refused(argv, `named by publish.auth_key_file in --config ${config}`);
    }
    await refused(["bridge", "to-nats", "-c", config, ...nats, "--http", "off"], `invalid configuration in ${config}:\n  publish.auth_key_file: cannot read key file ${JSON.stringify(key)}`);
  });
});
