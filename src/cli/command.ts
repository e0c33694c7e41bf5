/**
 * The shape of one CLI command. Each command lives in cli/commands/<name>.ts and is listed in cli/main.ts.
 * @module
 */
import { constants as osConstants } from "node:os";
import type { ParseArgsConfig } from "node:util";
import { ConfigError, HostAddressError, SymbolsUnusableError } from "../core/errors.ts";
import { errorText } from "../core/error-text.ts";
import type { Logger } from "../core/log.ts";

/**
 * The signals that stop a command cleanly. SIGHUP (the terminal closed: an ssh session dropped) too: by default it
 * killed the process where it stood, so `feeder sim` or `listen` never stopped cleanly. Not for `run` and `record`
 * (`hangupChecksConfig`): for them SIGHUP re-checks the configuration file (config-reload.ts), as a daemon's does.
 */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export interface CommandContext {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
  readonly log: Logger;
  /** Standard output (tables, ndjson); logs go to stderr. */
  readonly out: (text: string) => void;
  /**
   * Bytes given to `out` that its reader has not taken yet: a pipe whose reader is slower than the command holds
   * them in the process, without bound unless the command stops writing (listen skips rows, counted). Absent: 0.
   */
  readonly outPendingBytes?: () => number;
  /**
   * Resolves when SIGINT, SIGTERM or SIGHUP arrives (SIGHUP not for a command with `hangupChecksConfig`); long-running
   * commands await it to stop cleanly.
   */
  readonly stopSignal: Promise<string>;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the program's --help. */
  readonly summary: string;
  /** Full help text of `feeder <name> --help` after the generated usage line: options and examples. */
  readonly help: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  readonly allowPositionals?: boolean;
  /** What the positional arguments are, for the usage line (`CAPTURE…`); with allowPositionals. */
  readonly positionalsUsage?: string;
  /**
   * SIGHUP is this command's own (`run`, `record`: the daemon's "reload your configuration", config-reload.ts), not a
   * stop signal: systemd's ExecReload and a dropped ssh session alike leave it running.
   */
  readonly hangupChecksConfig?: boolean;
  /**
   * A stop signal before the command's end exits 128 + its number (signalExitCode; `export`, `check-config`), not 0:
   * also one while a FIFO given on the command line is read ahead (main.ts readFifosAhead), before the command runs
   * (check-config's 0 says the file is valid: one stopped there has checked nothing).
   */
  readonly exitsBySignal?: boolean;
  /** Exit code: 0 ok, 1 runtime failure, 2 usage or configuration error (export, or check-config while its FIFO is read, stopped by a signal: 128 + its number). */
  run(ctx: CommandContext): Promise<number>;
}

/**
 * The shell's status for a process a signal ended (128 + its number: SIGINT 130, SIGTERM 143, SIGHUP 129), so a
 * script tells an interrupted export from a failed (1) or finished (0) one. A stop that was no signal: 1.
 */
export function signalExitCode(sig: string | undefined): number {
  const n = sig === undefined ? undefined : (osConstants.signals as Record<string, number | undefined>)[sig];
  return n === undefined ? 1 : 128 + n;
}

/** Thrown by a command for a usage error (bad flag value); main prints it and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * The exit code of a start that failed: 2 when the configuration has to change (restarting cannot help, and the
 * systemd unit does not restart on 2: a venue refused every configured symbol of it, or a configuration error found
 * only at start), else 1 (an HTTP port taken, an interface not up yet, another publisher: may clear, retried).
 */
export function startFailureExitCode(err: unknown): 1 | 2 {
  return err instanceof ConfigError || err instanceof SymbolsUnusableError ? 2 : 1;
}

/**
 * The log fields of a failed start: the error, and for exit 2 that it is not worth restarting and which file must
 * change (`configFile`, the command's --config, unless the error names its own): a key file rotated away after the
 * load, found as the publisher reads it, named the key but not the file that names it.
 */
export function startFailureFields(err: unknown, configFile?: string): Record<string, unknown> {
  const error = errorText(err); // never throws: a value with no string form (Feeder.start throws such a venue failure as it is)
  if (startFailureExitCode(err) === 1) return { error, exitCode: 1 };
  const config = (err instanceof ConfigError ? err.file : undefined) ?? configFile;
  return { error, exitCode: 2, ...(config !== undefined ? { config } : {}), fix: "the configuration must change: restarting cannot help" };
}

/**
 * `load(path)` for `run` and `record`, except that a file whose only problems are addresses this host does not have
 * (yet) is a failed start, exit 1, which the systemd unit retries: an address comes up later (a secondary address, a
 * VRRP address on failover), and before, exit 2 left the unit down for good. Undefined then, logged on `log`.
 */
export function loadForStart<T>(path: string, load: (path: string) => T, log: Logger): T | undefined {
  try {
    return load(path);
  } catch (err) {
    if (!(err instanceof HostAddressError)) throw err;
    logAddressesNotHere(path, err, log, "feeder");
    return undefined;
  }
}

/**
 * loadForStart's failed start, said (exit 1 follows), as `who`'s: also for a caller that checks its flags before it
 * gives up (`bridge to-nats -c`).
 */
export function logAddressesNotHere(path: string, err: HostAddressError, log: Logger, who: string): void {
  log.error(`${who} could not start: an address the configuration names is not this host's (yet); exit 1, retried`, { config: path, problems: err.problems, exitCode: 1 });
}
