/**
 * `feeder check-config`: validates a configuration like `run` does (exit 2 naming every bad key, before any socket)
 * and prints the settings in effect as TOML, with the file's key names and every default filled in.
 * @module
 */
import { configNotes } from "../../config/notes.ts";
import { accessSync, constants, statSync } from "node:fs";
import { shownPath } from "../../core/secret-path.ts";
import { configuredSubscriptions, inWorkerShare } from "../../app/feeder.ts";
import { formatConfigToml } from "../../config/format.ts";
import { loadConfigFile } from "../../config/load.ts";
import type { FeederConfig } from "../../config/types.ts";
import { UsageError, type CommandSpec } from "../command.ts";

export const checkConfigCommand: CommandSpec = {
  name: "check-config",
  summary: "validate a configuration file and print the resolved settings",
  help: [
    "Options:",
    "  -c, --config FILE  the TOML configuration to validate (required)",
    "",
    "Checks everything `feeder run` checks before opening any socket (keys, values, that a venue is configured,",
    "that each destination's interface, the retransmission server's address and http.listen are this host's, that every",
    "configured symbol is routed to a destination and has an instrument id of its own, symbols in the venue's",
    "spelling where it has one, that this instance's shard holds a symbol and it has no more workers than symbols,",
    "that a shard (n > 1) sets publish.source_id) and prints every problem with its key, or a",
    "TOML syntax error with its line and column; exit 2 when there is any. A valid file is printed back as TOML",
    "with its own key names and every default filled in (a bearer token is not shown, nor a ws_url or rest_url's",
    "credentials: such a URL is a comment with *** for them); a key whose default is the",
    "adapter's (stale_after_ms, Coinbase's symbols_per_connection) is a `# … not set` comment when the file leaves",
    "it out, with the figure (stale_after_ms: for each depth of the market, SYMBOL@N's too; also when set to 0);",
    "with workers = N, each worker's part of rest_bridge_buffer_bytes is shown. Loading that output gives the same",
    "configuration. With workers = N, a worker the split by",
    "instrument id leaves without a symbol (4 symbols, 2 workers, all 4 ids on one) is named in a `# note:` line:",
    "it is allowed (it starts with no books, publishing heartbeats only), since whether it happens follows the",
    "ids, not the list, and refusing it would make removing one symbol an invalid file. A destination whose",
    "\"*\" rule matches none of the file's markets (a market taken out, its destination left) is named likewise:",
    "it sends heartbeats only. So is a multicast destination with ttl above 1 on a loopback interface (its",
    "datagrams never leave this host, whatever the TTL: an interface left at 127.0.0.1 where the network's was",
    "meant?), and a symbol listed beside \"*\" that no configured market of the rule has (\"*\" routes every",
    "configured one: a symbol taken out of its venue and left here, or a typo); run and record log these two as a",
    "warning at start.",
    "The file is checked for `run` with its workers: `record` and `replay` run one process and check it for that",
    "(a unicast receiver on publish.retransmit.listen's own port is refused there, more workers than symbols is",
    "not); the book export leaves what only a publisher on this host needs unchecked.",
    "",
    "A [nats] section (read only by `feeder bridge` and by `feeder listen` reading NATS) is checked for its shape;",
    "its files are not read (nothing of a secret is printed): a `# note:` says so, and names each file this user",
    "cannot open now (missing, not readable, a directory), which is no error: a systemd credential exists only",
    "inside its service.",
    "",
    "It asks no venue. Symbols are checked by `feeder run` at start: a venue whose symbols are all answered as not",
    "listed (or with an unusable tick/lot) fails the start naming them (exit 2: the venue says the symbols are",
    "wrong, so the file has to change); a venue whose instrument REST cannot be answered (network, 5xx, timeout, 429; no",
    "instrument cache) is an outage: the others start and it joins, retried, when its REST comes back (its symbols",
    "are not ready in /readyz until then); so is one whose listing names its symbols but not as trading now.",
    "",
    "-c FILE may be a FIFO (-c <(render-config)); SIGINT (SIGTERM, SIGHUP) while it is read ends the check at once,",
    "nothing checked: exit 130 (143, 129), never 0, which says the file is valid.",
  ].join("\n"),
  options: { config: { type: "string", short: "c" } },
  // Its 0 says "valid": one stopped while -c <(render-config) is read has checked nothing (until 2026-12-06 it exited 0).
  exitsBySignal: true,
  async run(ctx) {
    const path = ctx.values.config;
    if (typeof path !== "string") throw new UsageError("--config FILE is required");
    const config = loadConfigFile(path);
    // A comment ends at a line break: a path holding one (or another control character, which TOML refuses in a
    // comment) is quoted, escaped, so the output still loads as the configuration it prints.
    const named = /[\x00-\x08\x0a-\x1f\x7f]/.test(path) ? JSON.stringify(path).replace(/\x7f/g, "\\u007f") : path;
    ctx.out(`# ${named} is valid. The settings in effect, defaults filled in:\n${unmatchedDestinationsNote(config)}${configNotes(config).map((n) => `# note: ${n}\n`).join("")}${emptyWorkersNote(config)}${natsFilesNote(config)}\n${formatConfigToml(config)}`);
    return 0;
  },
};

/**
 * `# note:` lines for [nats] (read by `feeder bridge` and `listen --nats` only): its files are not read here, only
 * looked at, so nothing of a secret can reach the output; one this user cannot open (missing, not readable, a
 * directory) is named with why. A note, not an error: a systemd credential (`/run/credentials/<unit>/…`) exists only
 * inside its service, and check-config may run as another user than the bridge. The bridge reads and checks every
 * file at its start (exit 2 naming the key). Before, check-config printed the paths alone, as if checked.
 */
function natsFilesNote(config: FeederConfig): string {
  const n = config.nats;
  if (n === undefined) return "";
  const files: [string, string | undefined][] = [["creds_file", n.credsFile], ["password_file", n.passwordFile], ["token_file", n.tokenFile], ["nkey_file", n.nkeyFile], ["ca_file", n.caFile], ["cert_file", n.certFile], ["key_file", n.keyFile]];
  let out = "# note: [nats] names files that `feeder bridge` and `listen --nats` read and check at their start; check-config does not read them\n";
  for (const [key, path] of files) {
    if (path === undefined) continue;
    const why = unopenable(path);
    // A value that is no path may be the secret itself: not printed (core/secret-path.ts).
    if (why !== undefined) out += `# note: nats.${key} ${shownPath(path)} cannot be read by this user now (${why}): a bridge or listen --nats taking it (no flag overriding the key) exits 2 if it cannot either; a systemd credential exists only inside its service\n`;
  }
  return out;
}

/** Why this process could not open `path` to read, or undefined; looks (stat, access), never opens (a FIFO would wait). */
function unopenable(path: string): string | undefined {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return "a directory";
    if (!st.isFile() && !st.isFIFO()) return "not a regular file";
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === "ENOENT" ? "no such file" : e.code === "EACCES" ? "permission denied" : (e.code ?? e.message);
  }
}

/**
 * A `# note:` line per destination whose "*" rule matches none of the file's markets: it sends heartbeats only. Not
 * refused (a market taken out of a file leaves its destination behind: exit 2 at the next start, not restarted, for
 * a feed that lost nothing); a listed symbol not configured is refused by the loader.
 */
function unmatchedDestinationsNote(config: FeederConfig): string {
  const markets = config.venues.flatMap((v) => v.markets.map((m) => ({ venue: v.venue as string, market: m.market as string })));
  return config.publish.destinations
    .map((d, i) => {
      const r = d.match;
      if (!r.symbols.includes("*") || markets.some((m) => (r.venue === "*" || r.venue === m.venue) && (r.market === "*" || r.market === m.market))) return "";
      return `# note: publish.destinations[${i}] (${JSON.stringify(d.name)}: venue ${r.venue}, market ${r.market}) matches none of the markets this file configures (${markets.map((m) => `${m.venue} ${m.market}`).join(", ")}): it will send heartbeats only\n`;
    })
    .join("");
}

/**
 * A `# note:` line per worker the id split leaves without a symbol although there are enough: before, nothing said so
 * (a worker publishing heartbeats only, the others carrying its share). Not refused: see --help.
 */
function emptyWorkersNote(config: FeederConfig): string {
  if (config.workers <= 1) return "";
  const takes = new Array<number>(config.workers).fill(0);
  for (const v of config.venues) {
    for (const sub of configuredSubscriptions(config, v)) {
      for (let i = 0; i < config.workers; i++) if (inWorkerShare(v.venue, sub, i, config.workers)) takes[i]!++;
    }
  }
  const total = takes.reduce((a, b) => a + b, 0);
  return takes
    .map((n, i) => (n > 0 ? "" : `# note: worker ${i} takes none of this instance's ${total} symbols (workers = ${config.workers} split them by instrument id as ${takes.join(", ")}): it will publish heartbeats only; fewer workers would carry the same books\n`))
    .join("");
}
