/**
 * `feeder <command> --help` and the README's CLI reference against the options each command really parses
 * (CommandSpec.options, what node:util parseArgs accepts): an option added without help, or help (or README) naming a
 * flag the command no longer takes, fails here. --help/-h and --version/-V are every command's (cli/main.ts). Each
 * README `sim --venue V` row names exactly the options V's simulator reads (sim.ts refuses the others, exit 2), and
 * each `bridge to-nats` / `from-nats` synopsis the flags that direction takes (the other's refused, exit 2). The
 * commands the README's and --help's exit codes give 130 / 143 / 129 are exactly those whose spec exits so.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.ts";
import { commandHelp } from "../../src/cli/main.ts";
import type { CommandSpec } from "../../src/cli/command.ts";
import { COMMON_OPTIONS, VENUE_OPTIONS } from "../../src/cli/commands/sim.ts";
import { FROM_NATS_ONLY, TO_NATS_ONLY } from "../../src/cli/commands/bridge.ts";
import { REASON_SHORT, STATE_SHORT } from "../../src/cli/commands/listen-table.ts";

const README = readFileSync(resolve(import.meta.dirname, "../../README.md"), "utf8");

/** Flags a text names (`--name`), leaving out examples of other commands (`feeder sim --venue okx`). */
function flagsNamed(text: string, command: string): Set<string> {
  const own = text.replace(/`feeder ([a-z-]+)[^`]*`/g, (span, cmd: string) => (cmd === command ? span : ""));
  return new Set([...own.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!).filter((f) => f !== "help" && f !== "version"));
}

/** The README's CLI reference rows of a command (the table's first cell starts with its name). */
function readmeRows(c: CommandSpec): string {
  const start = README.indexOf("## CLI reference");
  const table = README.slice(start, README.indexOf("\n## ", start + 5));
  return table
    .split("\n")
    .filter((l) => l.startsWith(`| \`${c.name} `) || l.startsWith(`| \`${c.name}\``))
    .join("\n");
}

describe("--help and README describe every option each command parses", () => {
  test.each(COMMANDS.map((c) => [c.name, c] as const))("feeder %s", (_name, c) => {
    const help = commandHelp(c);
    const lines = help.split("\n");
    for (const [name, o] of Object.entries(c.options)) {
      // An option line of its own, in the options' columns: "  -s, --name" with its short form, else "      --name".
      // Any indent took a line of prose or a wrapped one beginning with the flag (listen's "--bind, --port, … exit 2"
      // beside --nats): a help whose option line for it was gone passed.
      const short = (o as { short?: string }).short;
      const line = new RegExp(`^${short ? ` {2}-${short}, ` : " {6}"}--${name}(?![\\w-])`);
      expect(lines.some((l) => line.test(l)), `feeder ${c.name} --help: a line "${short ? `-${short}, ` : ""}--${name} …"`).toBe(true);
    }
    for (const flag of flagsNamed(help, c.name)) expect(Object.keys(c.options), `feeder ${c.name} --help names --${flag}`).toContain(flag);

    const rows = readmeRows(c);
    expect(rows, `README.md § CLI reference has a row for ${c.name}`).not.toBe("");
    const named = flagsNamed(rows, c.name);
    for (const name of Object.keys(c.options)) expect([...named], `README.md § CLI reference, ${c.name}: --${name}`).toContain(name);
    for (const flag of named) expect(Object.keys(c.options), `README.md § CLI reference, ${c.name} names --${flag}`).toContain(flag);
  });

  test("each `sim --venue V …` row of the README names exactly the options V's simulator reads", () => {
    const rows = readmeRows(COMMANDS.find((c) => c.name === "sim")!).split("\n");
    for (const venue of Object.keys(VENUE_OPTIONS)) {
      const row = rows.find((r) => new RegExp(`^\\| \`sim --venue (?:[a-z]+\\\\\\|)*${venue}[ \\\\\`]`).test(r));
      expect(row, `README.md § CLI reference: a sim --venue ${venue} row`).toBeDefined();
      const synopsis = /^\| `([^`]*)`/.exec(row!)![1]!;
      const named = [...synopsis.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!).sort();
      expect(named, `sim --venue ${venue}`).toEqual([...COMMON_OPTIONS.filter((o) => o !== "help"), ...VENUE_OPTIONS[venue]!].sort());
    }
  });

  test("bridge: the README's to-nats / from-nats synopses name exactly the flags each direction takes; the other's are refused", async () => {
    const { main } = await import("../../src/cli/main.ts");
    const bridge = COMMANDS.find((c) => c.name === "bridge")!;
    const row = readmeRows(bridge);
    const part = (re: RegExp) => [...new Set([...re.exec(row)![1]!.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!))];
    const both = part(/; both: `([^`]*)`/);
    const all = Object.keys(bridge.options);
    const directions = [
      ["to-nats", part(/`bridge to-nats ([^`]*)`/), FROM_NATS_ONLY, "from-nats"],
      ["from-nats", part(/`bridge from-nats ([^`]*)`/), TO_NATS_ONLY, "to-nats"],
    ] as const;
    for (const [direction, named, others, other] of directions) {
      expect([...named, ...both].sort(), `README bridge ${direction}`).toEqual(all.filter((f) => !(others as readonly string[]).includes(f)).sort());
      // Each of the other direction's flags is refused before anything connects (nothing listens on port 1).
      for (const flag of others) {
        const err: string[] = [];
        const code = await main(["bridge", direction, "--nats", "nats://127.0.0.1:1", "-g", "239.255.0.9:31009", "--http", "off", `--${flag}`, "1"], { out: () => {}, err: (t) => err.push(t) });
        expect({ code, err }, `bridge ${direction} --${flag}`).toEqual({ code: 2, err: [`feeder bridge: --${flag} is for ${other} (see feeder bridge --help)`] });
      }
    }
  });

  test("a command that takes positional arguments names them in its usage line, as the README's row does", () => {
    for (const c of COMMANDS.filter((x) => x.allowPositionals)) {
      expect(c.positionalsUsage, `feeder ${c.name}: positionalsUsage`).toBeDefined();
      expect(commandHelp(c).split("\n")[0]).toBe(`Usage: feeder ${c.name} ${c.positionalsUsage} [options]`);
      for (const word of c.positionalsUsage!.split("|")) expect(readmeRows(c), `README.md § CLI reference, ${c.name}: ${word}`).toContain(word);
    }
  });

  test("listen --help names every short state and reason its table shows", () => {
    const help = commandHelp(COMMANDS.find((c) => c.name === "listen")!).replace(/\s+/g, " ");
    const states = /state \(the publisher's: ([^;)]*);/.exec(help)![1]!;
    expect(states.split(", ").map((s) => s.split(" = ")[0])).toEqual(STATE_SHORT);
    const reasons = /REASON \(only while a book is not live: why, from the wire's status reason: (.*?); - for a live book/.exec(help)![1]!;
    expect(reasons.split(", ").map((r) => r.split(" = ")[0])).toEqual(REASON_SHORT.slice(1));
  });

  test("each command's --help says what SIGINT does in a sentence that gives the exit code", () => {
    // The program's help defers to each command's ("stop a command cleanly, as its help says"); sim's said nothing of
    // signals, and run's, record's and demo's named no exit code for a stop (operations.md § Lifecycle did).
    for (const c of COMMANDS) {
      const sentences = commandHelp(c).replace(/\s+/g, " ").split(/(?<=[.;])\s+(?=[A-Z])/);
      const said = sentences.filter((s) => s.includes("SIGINT"));
      expect(said, `feeder ${c.name} --help names SIGINT`).not.toEqual([]);
      expect(said.some((s) => /\bexits? \d+/.test(s)), `feeder ${c.name} --help: the exit code after SIGINT, in ${JSON.stringify(said)}`).toBe(true);
    }
  });

  test("export --help names every field and csv encoding a raw export writes (REST answers and connection events too)", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { CaptureWriter } = await import("../../src/record/capture.ts");
    const { main } = await import("../../src/cli/main.ts");
    const dir = mkdtempSync(join(tmpdir(), "export-raw-help-"));
    try {
      const w = new CaptureWriter({ dir, prefix: "feeder", compression: "none" });
      const t0 = 1_700_000_000_000_000;
      w.write(t0, "binance", "spot", "spot-0", '{"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[],"a":[]}}');
      w.write(t0 + 1, "upbit", "spot", "spot-0", new Uint8Array([0x7b, 0x7d, 0xff]));
      w.writeRest(t0 + 2, "binance", "spot", "spot-0", "ws:open", "wss://stream.binance.com:9443/stream");
      w.writeRest(t0 + 3, "binance", "spot", "spot-rest", "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000", '{"lastUpdateId":1,"bids":[],"asks":[]}');
      w.close();
      const keys = new Set<string>();
      const encodings = new Set<string>();
      for (const format of ["jsonl", "csv"]) {
        const out = join(dir, `raw.${format}`);
        expect(await main(["export", "--format", format, "-o", out, w.files[0]!], { out: () => {}, err: () => {} })).toBe(0);
        const rows = readFileSync(out, "utf8").trim().split("\n");
        if (format === "jsonl") for (const r of rows) for (const k of Object.keys(JSON.parse(r) as object)) keys.add(k);
        // ts_recv_us,venue,market,connection,topic,encoding,frame: the encoding after the (perhaps quoted) topic.
        else for (const r of rows.slice(1)) encodings.add(/^(?:[^,]*,){4}(?:"(?:[^"]|"")*"|[^,]*),([^,]*),/.exec(r)![1]!);
      }
      expect([...encodings].sort()).toEqual(["base64", "rest", "text"]);
      const help = commandHelp(COMMANDS.find((c) => c.name === "export")!).replace(/\s+/g, " ");
      const raw = help.slice(help.indexOf("Raw frames"), help.indexOf("Books:"));
      for (const k of keys) expect(raw, `export --help, raw rows: the jsonl field ${k}`).toMatch(new RegExp(`(?<![\\w-])${k}(?![\\w-])`));
      expect(/\(encoding ([a-z0-9|]+);/.exec(raw)?.[1]?.split("|").sort(), "export --help, raw rows: csv encodings").toEqual([...encodings].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the program's help lists every command with its summary", async () => {
    const { programHelp } = await import("../../src/cli/main.ts");
    const text = programHelp();
    for (const c of COMMANDS) expect(text).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
  });

  test("docs/architecture.md § Layers' cli line names every command", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/architecture.md"), "utf8");
    const line = /^ +cli +commands: (.*)$/m.exec(doc)![1]!;
    expect(line.split(",").map((c) => c.trim()).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  // `feeder help <command>` was answered but named nowhere until s-rddocs.
  test("every way main() answers with a command's help is named in feeder --help, and each gives that help", async () => {
    const { main, programHelp } = await import("../../src/cli/main.ts");
    const line = programHelp().split("\n").find((l) => l.startsWith("  -h, --help"))!;
    const forms = [...line.matchAll(/feeder ([^,)]+)/g)].map((m) => m[1]!.split(" "));
    expect(forms.map((f) => f.join(" ")).sort()).toEqual(["--help <command>", "<command> --help", "help <command>"]);
    const demo = COMMANDS.find((c) => c.name === "demo")!;
    for (const form of forms) {
      const out: string[] = [];
      expect(await main(form.map((w) => (w === "<command>" ? "demo" : w)), { out: (t) => out.push(t), err: () => {} }), form.join(" ")).toBe(0);
      expect(out.join(""), form.join(" ")).toContain(commandHelp(demo).split("\n")[0]!);
    }
  });

  // Only these commands end 128 + the signal's number (CommandSpec.exitsBySignal); every other one's stop is its 0.
  test("the commands README's exit codes and feeder --help give 130 / 143 / 129 are those that exit so", async () => {
    const { programHelp } = await import("../../src/cli/main.ts");
    const bySignal = COMMANDS.filter((c) => c.exitsBySignal === true).map((c) => c.name).sort();
    const named = (text: string) => [...new Set([...text.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).filter((n) => COMMANDS.some((c) => c.name === n)))].sort();
    const readme = /^- 130 \/ 143 \/ 129 [^\n]*(?:\n {2}[^\n]*)*/m.exec(README)![0];
    expect(named(readme), "README.md § CLI reference, exit 130 / 143 / 129").toEqual(bySignal);
    const help = programHelp().replace(/\s+/g, " ");
    const said = help.slice(help.indexOf("130 / 143 / 129"), help.indexOf("Signals:"));
    expect(named(said), "feeder --help, exit 130 / 143 / 129").toEqual(bySignal);
  });

  test("every `feeder <command> … --flag` in README.md, docs/ and deploy/ is a flag that command parses", () => {
    const root = resolve(import.meta.dirname, "../..");
    const files: string[] = ["README.md"];
    const walk = (dir: string) => {
      for (const name of readdirSync(join(root, dir))) {
        const path = join(dir, name);
        if (statSync(join(root, path)).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk("docs");
    walk("deploy");
    const wrong: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const line of readFileSync(join(root, file), "utf8").split("\n")) {
        for (const m of line.matchAll(/feeder\s+([a-z-]+)((?:\s+[^\s`|;&)]+)*)/g)) {
          const c = COMMANDS.find((x) => x.name === m[1]);
          if (c === undefined) continue;
          for (const f of m[2]!.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)) {
            checked++;
            if (f[1] !== "help" && f[1] !== "version" && !(f[1]! in c.options)) wrong.push(`${file}: feeder ${c.name} --${f[1]}`);
          }
          for (const f of m[2]!.matchAll(/(?<=\s)-([a-zA-Z])(?=\s|$)/g)) {
            checked++;
            if (f[1] !== "h" && f[1] !== "V" && !Object.values(c.options).some((o) => (o as { short?: string }).short === f[1])) wrong.push(`${file}: feeder ${c.name} -${f[1]}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  test("FEEDER_LOG_LEVEL, documented in --help and README, takes only the levels they name", async () => {
    const { main, programHelp } = await import("../../src/cli/main.ts");
    expect(programHelp()).toContain("FEEDER_LOG_LEVEL=debug|info|warn|error (default info)");
    expect(README).toContain("`FEEDER_LOG_LEVEL` (`debug`, `info`, `warn` or `error`; default `info`");
    const before = process.env.FEEDER_LOG_LEVEL;
    const err: string[] = [];
    try {
      process.env.FEEDER_LOG_LEVEL = "loud";
      // A command that would otherwise fail with its own usage error (exit 2 too): the message tells them apart.
      const code = await main(["sim", "--venue", "nowhere"], { out: () => {}, err: (t) => err.push(t) });
      expect(code).toBe(2);
      expect(err.join("\n")).toBe('feeder: FEEDER_LOG_LEVEL must be one of debug, info, warn, error, got "loud"');
    } finally {
      if (before === undefined) delete process.env.FEEDER_LOG_LEVEL;
      else process.env.FEEDER_LOG_LEVEL = before;
    }
  });
});

/**
 * Every command line written out in the repository outside the tests (README.md, docs/, deploy/ units, the Dockerfile's
 * CMD, config/ and bench/ comments, package.json scripts, each command's --help examples) read as the command reads it,
 * without running it: main's option parsing, then each number, size, time and NATS address by the reader its command
 * uses. A stricter parser must not refuse a command line users, scripts or units were given (s-cli8 refused
 * `--from "2026-12-04 10:00:00Z"`). Synopses (`[--port P]`, `…`) and mentions of a flag without its value are skipped.
 */
describe("the repository's example command lines parse", () => {
  const root = resolve(import.meta.dirname, "../..");

  /** Shell-like words: spaces separate, quotes group, `\<newline>` continues. */
  function words(text: string): string[] {
    return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  }

  function commandLines(): { where: string; argv: string[] }[] {
    const files = ["README.md", "package.json", "deploy/docker/Dockerfile"];
    const walk = (dir: string) => {
      for (const name of readdirSync(join(root, dir))) {
        const path = join(dir, name);
        if (statSync(join(root, path)).isDirectory()) walk(path);
        else if (/\.(md|service|toml|ts|yaml)$/.test(name)) files.push(path);
      }
    };
    for (const dir of ["docs", "deploy", "config", "bench"]) walk(dir);
    const found: { where: string; argv: string[] }[] = [];
    const names = COMMANDS.map((c) => c.name).join("|");
    const add = (where: string, span: string) => {
      if (/[[\]…<>{}─]|\.\.\.|\\\|| \/ /.test(span)) return; // a synopsis or a diagram, not a command line
      found.push({ where, argv: words(span) });
    };
    for (const file of files) {
      const text = readFileSync(join(root, file), "utf8").replace(/\\\n\s*/g, " ");
      // In markdown, code spans and code blocks; elsewhere (units, comments, scripts) the line.
      const pieces = file.endsWith(".md") ? [...text.matchAll(/```[a-z]*\n([\s\S]*?)```|`([^`\n]+)`/g)].map((m) => m[1] ?? m[2]!) : [text];
      for (const piece of pieces) {
        for (const line of piece.split("\n")) {
          // In TypeScript and JSON a string's quote ends the line; elsewhere quotes are the shell's.
          const end = /\.(ts|json)$/.test(file) ? '"' : "";
          for (const m of line.matchAll(new RegExp(`(?:^|[\\s/"\`])(?:feeder|main\\.ts)\\s+((?:${names})\\b[^\\n\`|;&)#${end}]*)`, "g"))) add(file, m[1]!.trim());
        }
      }
      const cmd = /^CMD \[(.*)\]$/m.exec(text); // the Dockerfile's: ENTRYPOINT is the executable
      if (cmd) found.push({ where: `${file} CMD`, argv: JSON.parse(`[${cmd[1]}]`) as string[] });
    }
    for (const c of COMMANDS) for (const m of commandHelp(c).replace(/\\\n\s*/g, " ").matchAll(/^ {2}feeder (\S.*)$/gm)) add(`feeder ${c.name} --help`, m[1]!.replace(/\s+#.*$/, ""));
    return found;
  }

  test("each parses, every number, size, --from time and --nats address read as its command reads it", async () => {
    const { parseCommandLine } = await import("../../src/cli/main.ts");
    const { byteSize, nonNegativeNumber, positiveNumber } = await import("../../src/cli/commands/capture-args.ts");
    const { decimalInteger } = await import("../../src/cli/commands/number-args.ts");
    const { durationSeconds } = await import("../../src/cli/commands/listen.ts");
    const { fromOf, serversOf } = await import("../../src/cli/commands/nats-args.ts");
    const { recordSettings } = await import("../../src/cli/commands/record.ts");
    const integer = (v: unknown, name: string) => {
      if (Number.isNaN(decimalInteger(v))) throw new Error(`--${name} ${JSON.stringify(v)} is not an integer`);
    };
    const readers: Record<string, (v: unknown, name: string) => unknown> = {
      ...Object.fromEntries(["port", "rate", "seed", "replay-depth", "max-connection-age-ms", "ttl", "source-id", "channel", "max-age", "depth", "count", "max-unread-kib"].map((f) => [f, integer])),
      ...Object.fromEntries(["speed", "max-file-mb", "max-file-minutes", "keep-hours", "burstiness"].map((f) => [f, (v: unknown, n: string) => positiveNumber(v, n, 1)])),
      ...Object.fromEntries(["progress-seconds", "every-ms"].map((f) => [f, (v: unknown, n: string) => nonNegativeNumber(v, n, 0)])),
      ...Object.fromEntries(["keep-bytes", "max-bytes", "max-pending"].map((f) => [f, byteSize])),
      duration: durationSeconds,
      from: (v) => fromOf(v, "S"),
      nats: serversOf,
    };
    const lines = commandLines();
    const wrong: string[] = [];
    const perCommand = new Map<string, number>();
    for (const { where, argv } of lines) {
      const [name, ...args] = argv;
      const c = COMMANDS.find((x) => x.name === name)!;
      // A flag named without its value is a mention in prose (`feeder listen --nats -c FILE`), not a command line.
      const takesValue = (w: string) => Object.entries(c.options).some(([n, o]) => (w === `--${n}` || w === `-${(o as { short?: string }).short}`) && (o as { type?: string }).type === "string");
      if (args.some((w, i) => takesValue(w) && (i + 1 === args.length || args[i + 1]!.startsWith("-")))) continue;
      const parsed = parseCommandLine(c, args);
      if (typeof parsed === "string") {
        wrong.push(`${where}: feeder ${argv.join(" ")}: ${parsed}`);
        continue;
      }
      perCommand.set(c.name, (perCommand.get(c.name) ?? 0) + 1);
      try {
        for (const [flag, value] of Object.entries(parsed.values)) {
          const read = readers[flag];
          // A placeholder (FILE, N, HOST:PORT) stands for a value the reader would take.
          if (read === undefined || typeof value !== "string" || /^[A-Z][A-Z_:]*$/.test(value)) continue;
          read(value, flag);
        }
        if (c.name === "record" && typeof parsed.values.config === "string" && typeof parsed.values.out === "string") recordSettings(parsed.values);
      } catch (err) {
        wrong.push(`${where}: feeder ${argv.join(" ")}: ${(err as Error).message}`);
      }
    }
    expect(wrong).toEqual([]);
    // The lines this reads: the units' and the docs' (a pattern that matched nothing would check nothing).
    expect(lines.some((l) => l.where === "deploy/systemd/feeder-record.service" && l.argv.includes("--keep-bytes"))).toBe(true);
    expect(lines.some((l) => l.where === "docs/nats.md" && l.argv.includes("--from"))).toBe(true);
    expect(lines.some((l) => l.where === "deploy/docker/Dockerfile CMD")).toBe(true);
    expect(lines.some((l) => l.where === "package.json" && l.argv[0] === "demo")).toBe(true);
    expect([...perCommand.keys()].sort()).toEqual(expect.arrayContaining(["bridge", "listen", "record", "run", "sim"]));
  });
});
