/** Typed errors shared by all layers. Each names what was wrong. @module */
import { escapeControls } from "./terminal-text.ts";

/** A decimal string could not be converted to an exact fixed-point integer. */
export class FixedPointError extends Error {
  override readonly name = "FixedPointError";
  constructor(
    readonly input: string,
    readonly reason: "malformed" | "too_many_decimals" | "out_of_range" | "bad_exponent",
    detail: string,
  ) {
    super(`${JSON.stringify(input)}: ${detail}`);
  }
}

/**
 * Configuration that cannot be used; `problems` lists every bad key. A problem quotes the file's text (a refused
 * symbol, an unknown key, the TOML parser's words), printed to a terminal as it is: each control, line separator or
 * format character in it is shown as \xNN or \u{N} (a bidi override in a refused symbol reversed the rest of the
 * line until 2026-12-06, an ESC in a key name reached the terminal).
 */
export class ConfigError extends Error {
  override readonly name: string = "ConfigError";
  readonly problems: readonly string[];
  /**
   * `file`: the configuration file whose keys the problems name, when they do not name it themselves (the loader's
   * checks of its values; a read or TOML error starts with the path).
   */
  constructor(
    problems: readonly string[],
    readonly file?: string,
  ) {
    const shown = problems.map(escapeControls);
    super(shown.join("\n"));
    this.problems = shown;
  }
}

/**
 * A configuration whose only problems are addresses this host does not have (now): a destination's `interface`, the
 * retransmission server's address. `check-config` reports it (exit 2); `run` and `record` exit 1 on it, retried by
 * the systemd unit, since an address comes up later (a secondary address, a VRRP/keepalived address on failover).
 */
export class HostAddressError extends ConfigError {
  override readonly name = "HostAddressError";
}

/**
 * A venue answered that none of its configured symbols can be used (every one not listed, or with a tick/lot feeder
 * cannot use): the configuration has to change, so restarting cannot help. `feeder run` and `feeder record` exit 2
 * on it (not restarted by the systemd unit's RestartPreventExitStatus=2); a venue whose REST could not be answered is
 * an outage instead (the venue starts empty and retries), never this.
 */
export class SymbolsUnusableError extends Error {
  override readonly name = "SymbolsUnusableError";
}
