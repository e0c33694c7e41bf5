/**
 * SIGHUP for `feeder run` and `feeder record`, the usual "reload your configuration" signal. feeder applies its
 * configuration at start only (sockets, venue connections, books, the workers' split are built from it), so a
 * reload never changes the running process, not even in part: the signal re-reads and validates the file and logs
 * what a restart would change, or why the file could not be used (missing, half-written, invalid), and the process
 * runs on as started. Before, SIGHUP ended the process at once: no book was published halted, and systemd, which
 * takes SIGHUP as a clean exit, did not restart it.
 * @module
 */
import { createHash } from "node:crypto";
import { formatConfigToml } from "../config/format.ts";
import { loadConfigFile, type ValidateOptions } from "../config/load.ts";
import type { FeederConfig } from "../config/types.ts";
import { readAuthKeyFile } from "../core/auth-key.ts";
import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { venueSpec } from "../venues/registry.ts";

/**
 * The file's settings that differ from the running ones (the file's key names), or why it cannot be used. `ignored`:
 * keys that differ but that the command does not use, so no restart would apply them ([nats]; record: `workers`).
 */
export type ReloadCheck = { readonly changed: readonly string[]; readonly ignored?: readonly string[] } | { readonly problems: readonly string[] };

/**
 * `runningKey`: keyDigest of the key the process signs with, taken at start. The file names the key by path only,
 * so a key rotated in place is a change the configuration alone does not show. `load`: as the start loaded it
 * (record: checked for one process).
 */
export function checkReload(path: string, running: FeederConfig, runningKey?: string, load: ValidateOptions = {}): ReloadCheck {
  let next: FeederConfig;
  try {
    next = loadConfigFile(path, { ...load, reread: true });
  } catch (err) {
    return { problems: err instanceof ConfigError ? err.problems : [String(err)] };
  }
  const changed = changedKeys(running, next);
  // loadConfigFile has just read the key (a file it could not read is a problem above); only its digest is kept.
  if (runningKey !== undefined && !changed.includes("publish.auth_key_file") && keyDigest(next) !== runningKey) changed.push("publish.auth_key_file (the key it holds)");
  // Keys the command does not use, so a restart would not apply another value either (each was reported as "restart
  // to apply"): [nats], the bridge's (run and record, the commands that answer SIGHUP, never connect to NATS; the
  // section may share feeder.toml: docs/nats.md), and the file's `workers` for a command that runs a set number of
  // processes (record: one).
  const unused = (k: string) => k.startsWith("nats.") || (load.runWorkers !== undefined && k === "workers");
  const ignored = changed.filter(unused);
  return ignored.length === 0 ? { changed } : { changed: changed.filter((k) => !unused(k)), ignored };
}

/** SHA-256 of the configured HMAC key ("" without one): compared, never logged. */
export function keyDigest(config: FeederConfig): string {
  const file = config.publish.authKeyFile;
  if (file === undefined) return "";
  try {
    return createHash("sha256").update(readAuthKeyFile(file, "publish.auth_key_file")).digest("hex");
  } catch {
    return "unreadable";
  }
}

/** Keys whose resolved value differs, compared as check-config prints them (defaults filled in). */
export function changedKeys(a: FeederConfig, b: FeederConfig): string[] {
  const fa = flatten(Bun.TOML.parse(formatConfigToml(asRun(a))), "", new Map());
  const fb = flatten(Bun.TOML.parse(formatConfigToml(asRun(b))), "", new Map());
  const out = [...new Set([...fa.keys(), ...fb.keys()])].filter((k) => fa.get(k) !== fb.get(k));
  // check-config never prints the token, nor a URL's credentials (only that it holds some): compared as they are.
  if (a.http.bearerToken !== b.http.bearerToken) out.push("http.bearer_token");
  const urls = (c: FeederConfig) =>
    new Map(c.venues.flatMap((v) => [[`venues.${v.venue}.ws_url`, v.wsUrl], [`venues.${v.venue}.rest_url`, v.restUrl], ...v.markets.flatMap((m) => [[`venues.${v.venue}.${m.market}.ws_url`, m.wsUrl], [`venues.${v.venue}.${m.market}.rest_url`, m.restUrl]])] as [string, string | undefined][]));
  const ua = urls(a);
  const ub = urls(b);
  for (const [k, u] of ua) if (ub.has(k) && ub.get(k) !== u && !out.includes(k)) out.push(k);
  return out;
}

/**
 * One setting spelt two ways is no change: `stale_after_ms = 0` is the adapter's default as an absent key is, and a
 * `symbols_per_connection` equal to the venue's default (Coinbase: 20) is what an absent one gives. Before, each was
 * logged as a change to restart for, and that restart resynced every book for nothing.
 */
function asRun(c: FeederConfig): FeederConfig {
  const venues = c.venues.map((v) => ({
    ...v,
    markets: v.markets.map((m) => {
      const { staleAfterMs, symbolsPerConnection, ...rest } = m;
      const perConnectionDefault = venueSpec(v.venue)?.markets[m.market]?.defaultSymbolsPerConnection;
      return {
        ...rest,
        ...(staleAfterMs === undefined || staleAfterMs === 0 ? {} : { staleAfterMs }),
        ...(symbolsPerConnection === undefined || symbolsPerConnection === perConnectionDefault ? {} : { symbolsPerConnection }),
      };
    }),
  }));
  return { ...c, venues };
}

function flatten(v: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix === "" ? k : `${prefix}.${k}`, out);
  } else if (Array.isArray(v) && v.some((x) => typeof x === "object")) v.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
  else out.set(prefix, JSON.stringify(v));
  return out;
}

/**
 * Answers SIGHUP with checkReload until the returned function is called. Once `stopSignal` has come (the process is
 * stopping) a SIGHUP is only logged as ignored: until 2026-12-07 it was checked and logged "running on as started".
 */
export function reloadOnHangup(path: string, running: FeederConfig, log: Logger, load: ValidateOptions = {}, stopSignal?: Promise<unknown>): () => void {
  // Called just after the start's load: the key read now is the one the publisher reads when it opens.
  const runningKey = keyDigest(running);
  let stopping = false;
  void stopSignal?.then(() => (stopping = true));
  const onHangup = () => {
    if (stopping) {
      log.info("configuration reload ignored: the process is stopping", { path });
      return;
    }
    const r = checkReload(path, running, runningKey, load);
    if ("problems" in r) log.error("configuration reload refused: the file cannot be used; running on as started", { path, problems: r.problems });
    else if (r.changed.length === 0 && r.ignored === undefined) log.info("configuration reload: the file is valid and the same as the running configuration", { path });
    else if (r.changed.length === 0) log.info("configuration reload: the file is valid; what differs is ignored by this command, nothing to restart for", { path, ignored: r.ignored });
    else log.warn("configuration reload refused: feeder applies its configuration at start only; running on as started (restart to apply)", { path, changed: r.changed, ...(r.ignored && { ignored: r.ignored }) });
  };
  process.on("SIGHUP", onHangup);
  return () => process.off("SIGHUP", onHangup);
}
