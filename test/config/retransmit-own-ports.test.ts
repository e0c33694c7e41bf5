/**
 * One file's publish.retransmit.listen against what the same file sends to (s-preflight): a unicast receiver that is
 * this feeder's own request server (every live datagram went there, refused as a bad request), and a server on
 * 0.0.0.0 on a multicast destination's port (the publish guard's watcher holds group:port, so the server's bind
 * failed at every start, exit 1, retried for ever). Both are configuration errors naming both keys. http.listen's
 * port number is no clash (TCP; the servers are UDP), nor port 0.
 *
 * record and replay run one process whatever the file's `workers`: they were checked with the file's workers (servers
 * on port + i + 1), so a receiver on the port their one server binds passed; now checked for one process.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { recordCommand } from "../../src/cli/commands/record.ts";
import { replayCommand } from "../../src/cli/commands/replay.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/log.ts";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";
import { unreachableBybitToml } from "../support/config-toml.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeXrpCapture } from "../support/xrp-capture.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT", "ETHUSDT"]\n';
const problemsOf = (toml: string) => configProblems(toml, { localAddresses: [...LOOPBACK_ONLY, { name: "eth0", address: "10.1.2.1" }] });
// Sent from eth0's address to a receiver off this host (a loopback socket cannot send there).
const unicast = (receivers: string[]) => `[[publish.destinations]]\nreceivers = ${JSON.stringify(receivers)}\ninterface = "${receivers.every((r) => r.startsWith("127.")) ? "127.0.0.1" : "10.1.2.1"}"\n`;
const multicast = (port: number) => `[[publish.destinations]]\ngroup = "239.255.0.1"\nport = ${port}\ninterface = "127.0.0.1"\n`;
const retransmit = (listen: string) => `[publish.retransmit]\nlisten = "${listen}"\n`;

describe("publish.retransmit.listen against the file's own destinations", () => {
  test("a unicast receiver that is our own request server is refused naming both keys", () => {
    expect(problemsOf(`[publish]\n${unicast(["10.9.9.9:31001", "127.0.0.1:31900"])}${retransmit("127.0.0.1:31900")}${VENUE}`)).toEqual([
      'publish.destinations[0].receivers: "127.0.0.1:31900" is not a receiver other than this feeder\'s own retransmission server, publish.retransmit.listen ("127.0.0.1:31900": its server listens on 31900): every live datagram would go to it, refused as a bad request, and to no subscriber',
    ]);
    // 0.0.0.0 listens on every address of this host: loopback and its interfaces' addresses alike.
    expect(problemsOf(`[publish]\n${unicast(["127.0.0.5:31900", "10.1.2.1:31900"])}${retransmit("0.0.0.0:31900")}${VENUE}`)).toHaveLength(2);
    // With workers, worker i's server is on port + i + 1 (port itself is no server's).
    expect(problemsOf(`workers = 2\n[publish]\n${unicast(["10.1.2.1:31902"])}${retransmit("10.1.2.1:31900")}${VENUE}`)).toEqual([
      'publish.destinations[0].receivers: "10.1.2.1:31902" is not a receiver other than this feeder\'s own retransmission server, publish.retransmit.listen ("10.1.2.1:31900": worker 1\'s server listens on 31902): every live datagram would go to it, refused as a bad request, and to no subscriber',
    ]);
  });

  test("a receiver on another address or port, or another host's, is taken", () => {
    expect(problemsOf(`[publish]\n${unicast(["127.0.0.1:31901", "127.0.0.2:31900", "10.9.9.9:31900"])}${retransmit("127.0.0.1:31900")}${VENUE}`)).toEqual([]);
    expect(problemsOf(`workers = 2\n[publish]\n${unicast(["10.1.2.1:31900", "10.1.2.1:31903"])}${retransmit("10.1.2.1:31900")}${VENUE}`)).toEqual([]);
    expect(problemsOf(`[publish]\n${unicast(["127.0.0.1:31900"])}${retransmit("127.0.0.1:0")}${VENUE}`)).toEqual([]);
  });

  test("a server on 0.0.0.0 on a multicast destination's port is refused naming both keys; on one address it is not", () => {
    expect(problemsOf(`[publish]\n${multicast(31900)}${retransmit("0.0.0.0:31900")}${VENUE}`)).toEqual([
      'publish.destinations[0].port: 31900 is not a port apart from publish.retransmit.listen ("0.0.0.0:31900": its server listens on 31900 on every address, the group\'s too): the start-up checks listen on 239.255.0.1:31900 for other publishers, so the server could never bind it (every start would fail as its publisher opened)',
    ]);
    expect(problemsOf(`[publish]\n${multicast(31900)}${retransmit("127.0.0.1:31900")}${VENUE}`)).toEqual([]);
  });

  test("http.listen's port number is no clash: HTTP is TCP, the request servers UDP", () => {
    expect(problemsOf(`[http]\nlisten = "127.0.0.1:31900"\n[publish]\n${retransmit("127.0.0.1:31900")}${VENUE}`)).toEqual([]);
  });
});

test("a malformed listen is named once, not also as a clash with the default port", () => {
  expect(configProblems(`[publish]\n${unicast(["127.0.0.1:31900"])}${retransmit("localhost:31900")}${VENUE}`, { localAddresses: LOOPBACK_ONLY })).toEqual([
    'publish.retransmit.listen: "localhost:31900" is not an IPv4 "address:port" of this host, e.g. "127.0.0.1:31900" (port 0 picks a free port): localhost is a name, not a dotted-decimal address',
  ]);
});

describe("record and replay (one process): checked for one process, not the file's workers", () => {
  const workers2 = `workers = 2\n[publish]\n${unicast(["127.0.0.1:31900"])}${retransmit("127.0.0.1:31900")}${VENUE}`;
  const ownServer = 'publish.destinations[0].receivers: "127.0.0.1:31900" is not a receiver other than this feeder\'s own retransmission server, publish.retransmit.listen ("127.0.0.1:31900": its server listens on 31900): every live datagram would go to it, refused as a bad request, and to no subscriber';

  test("the loader: a receiver on retransmit.listen's own port is refused for one process; more workers than symbols is not", () => {
    expect(configProblems(workers2)).toEqual([]); // run: worker 0 and 1 listen on 31901 and 31902
    expect(configProblems(workers2, { localAddresses: LOOPBACK_ONLY, runWorkers: 1 })).toEqual([ownServer]);
    const many = `workers = 4\n[publish]\n${unicast(["127.0.0.1:31000"])}${VENUE}`;
    expect(configProblems(many)).toEqual([expect.stringMatching(/^workers: 4 is not at most the number of symbols this instance publishes \(2/)]);
    expect(configProblems(many, { localAddresses: LOOPBACK_ONLY, runWorkers: 1 })).toEqual([]);
  });

  test("feeder record and feeder replay refuse such a file (before: it started, its own server on the receiver's port)", async () => {
    const dir = makeTempDir("feeder-record-workers-");
    const config = join(dir, "feeder.toml");
    writeFileSync(config, [workers2.replace(VENUE, ""), ...unreachableBybitToml(dir), '[venues.bybit.linear]', 'symbols = ["XRPUSDT", "ADAUSDT"]', ...["XRPUSDT", "ADAUSDT"].flatMap((s) => [`[venues.bybit.overrides."linear:${s}"]`, 'tick_size = "0.0001"', 'lot_size = "1"']), ""].join("\n"));
    const { file } = writeXrpCapture(dir);
    // The stop signal already come: a start that is not refused stops at once (exit 0) instead of recording.
    const ctx = (values: Record<string, string>, positionals: string[] = []) => ({ values, positionals, log: silentLogger, out: () => undefined, stopSignal: Promise.resolve("SIGTERM") });
    for (const [what, run] of [
      ["record", () => recordCommand.run(ctx({ config, out: join(dir, "captures") }))],
      ["replay", () => replayCommand.run(ctx({ config }, [file]))],
    ] as const) {
      const err = await run().then(
        (code) => new Error(`${what} exited ${code}`),
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems, what).toEqual([ownServer]);
    }
  });
});
