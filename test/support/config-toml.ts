/** Pieces of feeder TOML configs that tests write, one string a line. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** One publish destination on loopback (interface 127.0.0.1, TTL 1), as tests' multicast must be. */
export function loopbackDestinationToml(dest: { group: string; port: number }): string[] {
  return ["[[publish.destinations]]", `group = "${dest.group}"`, `port = ${dest.port}`, 'interface = "127.0.0.1"', "ttl = 1"];
}

/** A Bybit venue whose endpoints (127.0.0.1:9) answer nothing, its instrument cache in `dir`: books come from overrides. */
export function unreachableBybitToml(dir: string): string[] {
  return ["[venues.bybit]", 'ws_url = "ws://127.0.0.1:9/v5/public"', 'rest_url = "http://127.0.0.1:9"', `instrument_cache = "${join(dir, "instruments.json")}"`];
}

/**
 * Writes `dir`/okx.toml for replay and export --books: one loopback destination, OKX spot at depth 400 whose endpoints
 * (127.0.0.1:9) answer nothing, its instrument cache in `dir`, and each book of `ticks` (symbol → tick size, lot 0.001)
 * from overrides. Returns the file's path.
 */
export function writeOfflineOkxConfig(dir: string, dest: { group: string; port: number }, ticks: Record<string, string>): string {
  const symbols = Object.keys(ticks);
  const lines = [
    "[publish]",
    ...loopbackDestinationToml(dest),
    "[venues.okx]",
    'ws_url = "ws://127.0.0.1:9/ws/v5/public"',
    'rest_url = "http://127.0.0.1:9"',
    `instrument_cache = "${join(dir, "instruments.json")}"`,
    "[venues.okx.spot]",
    "depth = 400",
    `symbols = [${symbols.map((s) => `"${s}"`).join(", ")}]`,
    ...symbols.flatMap((s) => [`[venues.okx.overrides."spot:${s}"]`, `tick_size = "${ticks[s]}"`, 'lot_size = "0.001"']),
  ];
  const path = join(dir, "okx.toml");
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}
