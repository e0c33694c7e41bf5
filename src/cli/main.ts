#!/usr/bin/env bun
/**
 * `feeder <command> [options]`: parses the command line with node:util parseArgs and dispatches.
 * Exit codes: 0 ok, 1 runtime failure (also standard output failing, but for its reader going away), 2 usage or
 * configuration error, 3 `replay --strict` when not every record of the captures was replayed, 128 + the signal's
 * number `export` stopped by a signal (and `check-config` stopped while its -c FIFO is read).
 * @module
 */
import { fstatSync, writeSync } from "node:fs";
import { isatty } from "node:tty";
import { parseArgs } from "node:util";
import pkg from "../../package.json" with { type: "json" };
import { errorText } from "../core/error-text.ts";
import { ConfigError } from "../core/errors.ts";
import { createLogger, writeStderr } from "../core/log.ts";
import { WriteBacklog } from "../core/write-backlog.ts";
import type { LogLevel } from "../config/types.ts";
import { readFifoAhead } from "../core/regular-file.ts";
import { escapeControls } from "../core/terminal-text.ts";
import { signalExitCode, STOP_SIGNALS, UsageError, type CommandContext, type CommandSpec } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";

export const VERSION: string = pkg.version;

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export function programHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `feeder ${VERSION}: crypto exchange order books → sequenced binary UDP multicast L2 feed`,
    "",
    "Usage: feeder <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Options:",
    "  -h, --help     show help (also: feeder <command> --help, feeder --help <command>, feeder help <command>)",
    "  -V, --version  print the version (also after a command); beside -h / --help, help is shown",
    "",
    "Environment: FEEDER_LOG_LEVEL=debug|info|warn|error (default info) sets the level of the log on stderr",
    "(JSON lines unless stderr is a terminal) of every command but run, record and replay, which take the",
    "configuration's [log] section (demo: its own lines; the feeder inside it logs at warn whatever it says).",
    "",
    "Numbers: a flag's number is an unsigned decimal (5, 0.5, 1e3); empty, spaces, a sign or hex exit 2. Sizes",
    "are such a number, with K, M, G or T after it (binary: 10G = 10GB = 10GiB; 1e9, .5T).",
    "",
    "Exit codes: 0 ok (also when the reader of standard output goes away: | head), 1 runtime failure (also",
    "standard output failing otherwise, e.g. a full disk), 2 usage or configuration error, 3 `replay --strict`:",
    "not every record of the captures was replayed, 130 / 143 / 129 (128 + the signal's number) `export` stopped",
    "by SIGINT / SIGTERM / SIGHUP before its end, or `check-config` while its -c FIFO is read (nothing checked).",
    "Signals: SIGINT, SIGTERM and SIGHUP (the terminal closed) stop a command cleanly, as its help says; once",
    "stopped, its output into a pipe gets 2 s more to reach its reader (another signal ends that wait). For run",
    "and record SIGHUP is not a stop: it re-checks the configuration file and logs what a restart would change.",
  ].join("\n");
}

export function commandHelp(c: CommandSpec): string {
  // The positionals by name (bridge's direction, export's captures): "[args]" said neither what nor that they are required.
  return [`Usage: feeder ${c.name}${c.allowPositionals ? ` ${c.positionalsUsage ?? "[args]"}` : ""} [options]`, "", c.summary, "", c.help.trimEnd(), "  -h, --help  show this help", "  -V, --version  print the version"].join("\n");
}

/**
 * A command's arguments as main reads them before the command runs (unknown, malformed, empty or repeated options
 * refused): the values and positionals, or what was wrong. Also the check of the repository's example command lines.
 */
export function parseCommandLine(command: CommandSpec, args: readonly string[]): { values: CommandContext["values"]; positionals: string[] } | string {
  let parsed: { values: CommandContext["values"]; positionals: string[]; tokens: { kind: string; name?: string; rawName?: string; value?: string; inlineValue?: boolean }[] };
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...command.options, help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "V" } },
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
      tokens: true,
    }) as typeof parsed;
  } catch (err) {
    return dashValueProblem(command, args, (err as Error).message) ?? (err as Error).message;
  }
  // parseArgs keeps the last of an option given twice: `-c prod.toml -c test.toml` would run test.toml unsaid.
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== "option" || t.name === undefined) continue;
    // No option takes an empty value: `record -o ""` failed its start-up check (exit 1, restarted for ever by the
    // unit), `export -o ""` wrote a temporary file into the working directory and failed (exit 1), a number was 0.
    if (t.value === "") return `--${t.name} needs a value, got an empty one`;
    // parseArgs takes all after a short option's letter as its value, "=" too: `export -o=-` wrote a file named "=-".
    if (t.inlineValue === true && t.value?.startsWith("=") && /^-[^-]$/.test(t.rawName ?? "")) {
      const given = escapeControls(t.value.slice(1));
      const v = given || "VALUE"; // `-c=`: the spellings shown with a placeholder, not "(-c )"
      // A value beginning with "=" joined would be this very spelling, refused: not offered.
      const joined = v.startsWith("=") ? "" : ` or joined (${t.rawName}${v})`;
      return `${t.rawName}=${given}: a short option takes its value after a space (${t.rawName} ${v})${joined}; or --${t.name}=${v}`;
    }
    if ((command.options[t.name] as { multiple?: boolean } | undefined)?.multiple) continue;
    if (seen.has(t.name)) return `--${t.name} given more than once`;
    seen.add(t.name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/**
 * parseArgs' refusal of a value beginning with "-" (`--port -1`, or a value forgotten: `-c --duration 5`) in one line
 * naming the option and what followed it: its own was three lines ending in "use '--port=-XYZ'", the value unsaid.
 */
function dashValueProblem(command: CommandSpec, args: readonly string[], message: string): string | undefined {
  const raw = /^Option '([^']+)' argument is ambiguous/.exec(message)?.[1];
  const at = raw === undefined ? -1 : args.findIndex((a, i) => a === raw && args[i + 1]?.startsWith("-"));
  if (at < 0) return undefined;
  const name = raw!.startsWith("--") ? raw!.slice(2) : Object.entries(command.options).find(([, o]) => `-${(o as { short?: string }).short}` === raw)?.[0];
  if (name === undefined) return undefined;
  const value = args[at + 1]!;
  return `--${name} needs a value, got ${JSON.stringify(value)}, which begins with "-": if it is the value, give --${name}=${escapeControls(value)}`;
}

export interface MainIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /**
   * Resolves when standard output can take no more (its reader went away: `feeder listen | head -2`); long-running
   * commands then stop as on a signal. Absent: output never closes (tests collecting lines).
   */
  outClosed?: Promise<string>;
  /** Why standard output failed, if it did otherwise than by its reader going away (ENOSPC): the command then exits 1. */
  outFailure?: () => string | undefined;
  /**
   * Resolves once what was written to standard output has been handed to the kernel (or the output failed): a
   * process exiting sooner drops what its pipe had no room for (`check-config | slow-reader` got the first 64 KiB).
   */
  drained?: () => Promise<void>;
  /** Bytes handed to standard output that its reader has not taken yet (0 for a file or device: written at once). */
  outPendingBytes?: () => number;
}

let processIoMemo: MainIo | undefined;

/**
 * The process's stdout and stderr. A closed stdout (EPIPE, reported as an 'error' event or thrown by write) is not a
 * failure of the command: further output is dropped and `outClosed` resolves, so the command stops and exits 0 like
 * other Unix filters. The listener is installed once, on first use, not at import.
 */
function processIo(): MainIo {
  if (processIoMemo !== undefined) return processIoMemo;
  let closed = false;
  let failure: string | undefined;
  let close: (why: string) => void = () => {};
  const outClosed = new Promise<string>((resolve) => (close = resolve));
  const onOutError = (err: unknown): void => {
    if (!closed) {
      closed = true;
      const code = (err as NodeJS.ErrnoException).code;
      // Anything but EPIPE is worth a line on stderr; the command stops either way (its output has nowhere to go).
      if (code !== "EPIPE") {
        failure = code ?? String(err);
        writeStderr(`feeder: standard output failed (${failure}); stopping\n`);
      }
      close(code ?? "error");
    }
  };
  process.stdout.on("error", onOutError);
  // A file or a device (not a terminal, not a pipe) is written synchronously: Bun reports a failed write to it
  // (ENOSPC) only after the process decided its exit code, so `check-config > full-disk/x.toml` exited 0.
  const direct = stdoutIsFileOrDevice();
  let wrote = false;
  const backlog = new WriteBacklog(); // a pipe's writes its reader has not taken (listen bounds them)
  processIoMemo = {
    out: (t) => {
      if (closed) return;
      wrote = true;
      const line = t.endsWith("\n") ? t : t + "\n";
      try {
        if (direct) writeAllSync(1, line);
        else {
          backlog.add(Buffer.byteLength(line));
          process.stdout.write(line, backlog.written);
        }
      } catch (err) {
        onOutError(err);
      }
    },
    err: (t) => writeStderr(t.endsWith("\n") ? t : t + "\n"),
    outClosed,
    outFailure: () => failure,
    outPendingBytes: () => backlog.bytes,
    // end()'s callback runs once every write is out (an empty write's runs at once in Bun). Nothing written (run):
    // nothing to wait for, and nothing done to a standard output that may be closed.
    drained: () =>
      !wrote || direct || closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            void outClosed.then(() => resolve());
            process.stdout.end(() => resolve());
          }),
  };
  return processIoMemo;
}

function stdoutIsFileOrDevice(): boolean {
  try {
    const st = fstatSync(1);
    return st.isFile() || (st.isCharacterDevice() && !isatty(1));
  } catch {
    return false;
  }
}

/** The string written as it is (no Buffer per line: listen -f ndjson writes one per update); bytes only for a rest. */
function writeAllSync(fd: number, text: string): void {
  const written = writeSync(fd, text);
  if (written >= Buffer.byteLength(text)) return;
  const bytes = Buffer.from(text);
  for (let off = written; off < bytes.byteLength; ) off += writeSync(fd, bytes, off);
}

/** When a stop signal stopped the command (performance.now()): its output is then waited for only a while. */
let signalledAtMs: number | undefined;
/**
 * How long output written before a stop signal may take to reach its reader: `systemctl stop` of `feeder sim` or
 * `listen` whose standard output's reader took nothing waited for a second signal (systemd: SIGKILL at 90 s).
 */
export const SIGNALLED_DRAIN_MS = 2000;

/**
 * A command's uncaught failure for stderr: an Error's stack (a bug's), else the value in words. Never throws: until
 * 2026-12-07 `String(err)` here threw for a value with no string form and the failure's line was lost.
 */
export function failureText(err: unknown): string {
  try {
    if (err instanceof Error && typeof err.stack === "string") return err.stack;
  } catch {
    // a stack getter that throws: described as any other value
  }
  return errorText(err);
}

export async function main(argv: string[], io: MainIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  // `feeder --help run` is `feeder help run`; anything more (or an unknown command) is refused, not ignored. A further
  // -h / --help asks the same (`feeder help --help`, `feeder --help run --help`: before, "unknown command", exit 2).
  // Help wins over version in any order, as after a command (`feeder run --help --version` is run's help):
  // `feeder --version --help` and `feeder -h --version` exited 2 until 2026-12-07.
  const isHelp = (a: string) => a === "-h" || a === "--help";
  const isVersion = (a: string) => a === "-V" || a === "--version";
  if (first === undefined || isHelp(first) || first === "help" || (isVersion(first) && rest.some(isHelp))) {
    const names = rest.filter((a) => !isHelp(a) && !isVersion(a));
    const target = COMMANDS.find((c) => c.name === names[0]);
    if ((names[0] !== undefined && target === undefined) || names.length > 1) {
      const what = target === undefined ? `unknown command ${JSON.stringify(names[0])}` : `one command at most, got ${names.map((a) => JSON.stringify(a)).join(" ")}`;
      io.err(`feeder ${first}: ${what} (commands: ${COMMANDS.map((c) => c.name).join(", ")})`);
      return 2;
    }
    io.out(target ? commandHelp(target) : programHelp());
    return 0;
  }
  if (isVersion(first)) {
    // A further -V / --version asks the same; anything else is refused, not ignored.
    if (!rest.every(isVersion)) {
      io.err(`feeder ${first}: takes no arguments, got ${rest.filter((a) => !isVersion(a)).map((a) => JSON.stringify(a)).join(" ")}`);
      return 2;
    }
    io.out(VERSION);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.err(`feeder: unknown command ${JSON.stringify(first)} (commands: ${COMMANDS.map((c) => c.name).join(", ")}; see feeder --help)`);
    return 2;
  }
  const parsed = parseCommandLine(command, rest);
  if (typeof parsed === "string") {
    io.err(`feeder ${command.name}: ${parsed} (see feeder ${command.name} --help)`);
    return 2;
  }
  if (parsed.values.help) {
    io.out(commandHelp(command));
    return 0;
  }
  if (parsed.values.version) {
    io.out(VERSION);
    return 0;
  }
  // Commands that read no configuration log at FEEDER_LOG_LEVEL; an unknown value would silently log everything.
  const level = process.env.FEEDER_LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    io.err(`feeder: FEEDER_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
    return 2;
  }
  const log = createLogger({ level: level as LogLevel });
  // SIGHUP is the command's own (config-reload.ts), from when its file is loaded; listened for here from the start all
  // the same: with no listener while the file was read, its default action killed the process (a signal exit,
  // which systemd takes as clean: not restarted), while a SIGTERM then stopped it cleanly. One that comes meanwhile
  // is answered by the command's re-check once it listens (signals are handed to listeners from the event loop).
  const hangupIsCommands = command.hangupChecksConfig === true;
  if (hangupIsCommands) process.on("SIGHUP", hangupBeforeCommandListens);
  // Removed when the command ends (finally below): main() runs many commands in one process in tests, and a listener
  // left behind answered every later signal too (until 2026-12-08).
  const onStop: [NodeJS.Signals, () => void][] = [];
  const stopSignal = new Promise<string>((resolve) => {
    for (const sig of STOP_SIGNALS) {
      if (sig === "SIGHUP" && hangupIsCommands) continue;
      const listener = () => {
        signalledAtMs ??= performance.now();
        resolve(sig);
      };
      onStop.push([sig, listener]);
      process.once(sig, listener);
    }
    io.outClosed?.then(resolve);
  });
  try {
    const stoppedBy = await readFifosAhead(parsed.values, stopSignal, hangupIsCommands);
    if (stoppedBy !== undefined) {
      log.info("stopped while reading a FIFO given on the command line", { signal: stoppedBy });
      return command.exitsBySignal === true ? signalExitCode(stoppedBy) : 0;
    }
    const code = await command.run({ values: parsed.values, positionals: parsed.positionals, log, out: io.out, outPendingBytes: io.outPendingBytes, stopSignal });
    // A reader gone (EPIPE) ends a filter normally; any other failure of the output (a full disk) is the command's.
    return code === 0 && io.outFailure?.() !== undefined ? 1 : code;
  } catch (err) {
    if (err instanceof ConfigError) {
      // One found past the loader (the publisher's read of a key file rotated away since) names the key, not the
      // file that names it: that is the command's --config. A read or TOML error names it first itself: not twice.
      const config = typeof parsed.values.config === "string" ? parsed.values.config : undefined;
      const file = err.file ?? (config !== undefined && !err.problems.some((p) => p.startsWith(`${escapeControls(config)}: `)) ? config : undefined);
      const inFile = file === undefined ? "" : ` in ${escapeControls(file)}`;
      io.err(`feeder ${command.name}: invalid configuration${inFile}:\n${err.problems.map((p) => "  " + p).join("\n")}`);
      return 2;
    }
    if (err instanceof UsageError) {
      io.err(`feeder ${command.name}: ${err.message} (see feeder ${command.name} --help)`);
      return 2;
    }
    // A system error (errno: a port in use, EADDRINUSE) says all in its message; a stack is for a bug, ERR_* codes
    // included (until 2026-12-06: `feeder sim --port 80` with the port taken printed one).
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const systemError = typeof code === "string" && /^E[A-Z0-9]+$/.test(code);
    io.err(`feeder ${command.name}: ${systemError ? errorText(err) : failureText(err)}`);
    return 1;
  } finally {
    if (hangupIsCommands) process.off("SIGHUP", hangupBeforeCommandListens);
    for (const [sig, listener] of onStop) process.off(sig, listener);
  }
}

/**
 * The options whose file a command reads once at start with `fifo: true` (a FIFO allowed: `-c <(render-config)`,
 * `--auth-key-file <(pass show feed-key)`, a NATS credential or TLS file), and the most any of them reads (the
 * configuration's 16 MiB; the others' own caps are applied when the command takes the bytes). The TLS files were
 * left out until 2026-12-06: `--nats-key <(pass show …)` held the thread, deaf to SIGINT and SIGTERM.
 */
const READ_ONCE_OPTIONS = ["config", "auth-key-file", "nats-creds", "nats-password-file", "nats-token-file", "nats-nkey-file", "nats-ca", "nats-cert", "nats-key"] as const;
const READ_AHEAD_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Reads every FIFO named by a READ_ONCE_OPTIONS option ahead of the command (core/regular-file.ts readFifoAhead), so
 * the command's own synchronous read takes the bytes at once: the thread is not held while a FIFO waits for its
 * writer (up to 1 s) or a writer is slow (a passphrase typed), and SIGINT and SIGTERM are heard meanwhile (until
 * 2026-12-06 they were answered only once the read had ended). Returns the stop signal that came first, if one
 * did: the read is given up. SIGHUP for a `hangupChecksConfig` command is no stop: one during the read is sent again
 * once it is over, for the command to answer with its re-check once it listens (as when the read held the thread).
 */
async function readFifosAhead(values: CommandContext["values"], stopSignal: Promise<string>, hangupIsCommands: boolean): Promise<string | undefined> {
  const paths = READ_ONCE_OPTIONS.map((o) => values[o]).filter((p): p is string => typeof p === "string");
  if (paths.length === 0) return undefined;
  const abort = new AbortController();
  let hangups = 0;
  const onHangup = () => void hangups++;
  if (hangupIsCommands) process.on("SIGHUP", onHangup);
  try {
    const done = (async () => {
      for (const path of paths) await readFifoAhead(path, READ_AHEAD_MAX_BYTES, abort.signal);
    })();
    const first = await Promise.race([done.then(() => undefined), stopSignal]);
    if (first !== undefined) abort.abort();
    return first;
  } finally {
    if (hangupIsCommands) process.off("SIGHUP", onHangup);
    if (hangups > 0) process.kill(process.pid, "SIGHUP");
  }
}

/** Keeps SIGHUP's default action (the process killed) away until a `hangupChecksConfig` command listens itself. */
function hangupBeforeCommandListens(): void {}

if (import.meta.main) {
  const io = processIo();
  const code = await main(process.argv.slice(2), io);
  // A reader that never reads holds the exit; another Ctrl-C (or SIGTERM, SIGHUP) ends it with the output left behind, and
  // so does the signal that stopped the command once the output has had SIGNALLED_DRAIN_MS since.
  let bound: ReturnType<typeof setTimeout> | undefined;
  const signalled = new Promise<void>((resolve) => {
    STOP_SIGNALS.forEach((sig) => process.once(sig, () => resolve()));
    if (signalledAtMs !== undefined) bound = setTimeout(resolve, Math.max(0, signalledAtMs + SIGNALLED_DRAIN_MS - performance.now()));
  });
  const left = await Promise.race([io.drained?.().then(() => false), signalled.then(() => true)]);
  if (left) writeStderr("feeder: standard output's reader took nothing more; what it had not taken is left behind\n");
  // Standard error too: `check-config` of a config with 3000 bad symbols into `2>&1 | less` got its first 128 KiB of
  // problems, the rest dropped at exit (as a fatal start error's line after a log that filled the pipe).
  await Promise.race([new Promise<void>((resolve) => process.stderr.end(() => resolve())), signalled]);
  clearTimeout(bound);
  process.exit(code === 0 && io.outFailure?.() !== undefined ? 1 : code); // also --help and --version
}
