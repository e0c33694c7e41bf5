/**
 * A multicast destination with ttl > 1 and a loopback interface was taken without a word: its datagrams never leave
 * this host, whatever the TTL, so the TTL (set for routers to pass) most likely goes with an interface left at its
 * default where the network's address was meant. Taken still (on loopback the TTL is harmless, and a file that ran
 * must not stop loading), but check-config names it in a `# note:` line and run / record warn at start. s-cfg8.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { checkConfigCommand } from "../../src/cli/commands/check-config.ts";
import { loopbackTtlNotes } from "../../src/config/notes.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const LOCAL = [{ name: "lo", address: "127.0.0.1" }, { name: "eth0", address: "10.1.2.1" }];
const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const dest = (i: number, extra: string) => `[[publish.destinations]]\nname = "d${i}"\nchannel = ${i + 1}\n${extra}\n`;

function notesOf(toml: string): string[] {
  return loopbackTtlNotes(parseConfigText(toml, "t.toml", { localAddresses: LOCAL }));
}

describe("ttl above 1 on a loopback interface", () => {
  test("named for each such multicast destination; ttl 1, a LAN interface and unicast are not", () => {
    const toml = [
      dest(0, 'group = "239.255.9.1"\nport = 31001\nttl = 8'),
      dest(1, 'group = "239.255.9.2"\nport = 31001\nttl = 1'),
      dest(2, 'group = "239.255.9.3"\nport = 31001\nttl = 8\ninterface = "10.1.2.1"'),
      dest(3, 'receivers = ["127.0.0.1:31005"]\nttl = 4'),
      VENUE,
    ].join("");
    expect(notesOf(toml)).toEqual([
      'publish.destinations[0] ("d0"): ttl = 8 with interface 127.0.0.1: datagrams sent from loopback never leave this host, whatever the TTL; to reach subscribers on other hosts, set interface to this host\'s address on their network',
    ]);
  });

  test("check-config takes the file (exit 0) and prints the note", async () => {
    const path = join(makeTempDir("cfg8-ttl-"), "feeder.toml");
    writeFileSync(path, dest(0, 'group = "239.255.9.1"\nport = 31001\nttl = 2') + VENUE);
    let out = "";
    const code = await checkConfigCommand.run({ values: { config: path }, positionals: [], log: silentLogger, out: (s: string) => void (out += s), stopSignal: new Promise(() => {}) });
    expect(code).toBe(0);
    expect(out).toContain('# note: publish.destinations[0] ("d0"): ttl = 2 with interface 127.0.0.1: datagrams sent from loopback never leave this host');
  });
});
