/** Pieces of feeder TOML configs that tests write, one string a line. */
import { join } from "node:path";

/** One publish destination on loopback (interface 127.0.0.1, TTL 1), as tests' multicast must be. */
export function loopbackDestinationToml(dest: { group: string; port: number }): string[] {
  return ["[[publish.destinations]]", `group = "${dest.group}"`, `port = ${dest.port}`, 'interface = "127.0.0.1"', "ttl = 1"];
}

/** A Bybit venue whose endpoints (127.0.0.1:9) answer nothing, its instrument cache in `dir`: books come from overrides. */
export function unreachableBybitToml(dir: string): string[] {
  return ["[venues.bybit]", 'ws_url = "ws://127.0.0.1:9/v5/public"', 'rest_url = "http://127.0.0.1:9"', `instrument_cache = "${join(dir, "instruments.json")}"`];
}
