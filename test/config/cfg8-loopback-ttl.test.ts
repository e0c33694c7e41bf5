/**
 * A multicast destination with ttl > 1 and a loopback interface was taken without a word: its datagrams never leave
 * this host, whatever the TTL, so the TTL (set for routers to pass) most likely goes with an interface left at its
 * default where the network's address was meant. Taken still (on loopback the TTL is harmless, and a file that ran
 * must not stop loading), but check-config names it in a `# note:` line and run / record warn at start. s-cfg8.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Server } from "node:net";
import { describe, expect, test, vi } from "vitest";
import { checkConfigCommand } from "../../src/cli/commands/check-config.ts";
import { recordCommand } from "../../src/cli/commands/record.ts";
import { runCommand } from "../../src/cli/commands/run.ts";
import { loopbackTtlNotes } from "../../src/config/notes.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { unreachableBybitToml } from "../support/config-toml.ts";
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

  // s-rdcfg8: the warning had no test. The start is made to fail at its first step, the HTTP bind (the port held
  // here), before any socket with that TTL is opened: the tests' multicast stays at TTL 1.
  test.each([
    ["run", runCommand, {}],
    ["record", recordCommand, { out: "capture" }],
  ] as const)("%s warns at start (before its start fails on the held HTTP port)", async (_name, command, values) => {
    const dir = makeTempDir("rdcfg8-ttl-");
    const held: Server = await new Promise((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => resolve(server));
    });
    const port = (held.address() as { port: number }).port;
    const path = join(dir, "feeder.toml");
    const toml = ['log = { level = "warn", format = "json" }', `http = { listen = "127.0.0.1:${port}" }`, dest(0, 'group = "239.255.9.1"\nport = 31001\nttl = 3\nsymbols = ["*", "ETHUSDT"]'), ...unreachableBybitToml(dir), VENUE];
    writeFileSync(path, toml.join("\n"));
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown, ...rest: unknown[]) => {
      written.push(String(chunk));
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      done?.();
      return true;
    });
    let code: number;
    try {
      const v = "out" in values ? { config: path, out: join(dir, values.out) } : { config: path };
      code = await command.run({ values: v, positionals: [], log: silentLogger, out: () => undefined, stopSignal: new Promise(() => {}) });
    } finally {
      spy.mockRestore();
      held.close();
    }
    expect(code).toBe(1);
    const lines = written.join("").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.filter((l) => l.msg.startsWith("configuration: ")).map((l) => [l.level, l.msg])).toEqual([
      ["warn", 'configuration: publish.destinations[0] ("d0"): ttl = 3 with interface 127.0.0.1: datagrams sent from loopback never leave this host, whatever the TTL; to reach subscribers on other hosts, set interface to this host\'s address on their network'],
      // s-rdcfg8: a symbol beside "*" that no configured market has (taken, not refused: cfg8-second-read.test.ts).
      ["warn", 'configuration: publish.destinations[0] ("d0"): symbols lists "ETHUSDT" beside "*", and no configured market of venue *, market * has it (BTCUSDT): "*" routes every configured symbol; remove it, or correct it if another was meant'],
    ]);
    expect(lines.some((l) => l.msg === "feeder could not start")).toBe(true); // the HTTP bind, first of the checks
  });
});
