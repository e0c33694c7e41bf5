/**
 * `feeder listen` options that would do nothing are refused, as elsewhere in the CLI (export's --depth without
 * --books, listen's --port without a portless group): --depth sets the levels of ndjson records, and the table shows
 * only each side's best, so `listen --depth 10` drew the same table as without it, silently.
 */
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

test("--depth with the table (the default format, or -f table) is refused, exit 2, before anything starts (before: ignored, exit 0)", async () => {
  const message = "feeder listen: --depth sets the levels of --format ndjson records; the table shows each side's best level only (see feeder listen --help)";
  expect(await run("listen", "--depth", "10", "--duration", "0.05")).toEqual({ code: 2, out: [], err: [message] });
  expect(await run("listen", "-f", "table", "-d", "3", "--duration", "0.05")).toEqual({ code: 2, out: [], err: [message] });
  expect(await run("listen", "-f", "ndjson", "-d", "3", "--duration", "0.05")).toMatchObject({ code: 0, err: [] });
});

test("-c FILE with nothing to read on this host (unicast destinations only, receivers elsewhere) exits 2 naming it (before: joined the default group 239.255.0.1:31001, exit 0)", async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "listen-unicast-"));
  try {
    const file = join(dir, "remote.toml");
    // With --iface the file's interfaces are not checked (another host's file): its receiver 10.2.0.5 is not this host.
    writeFileSync(file, '[publish]\n[[publish.destinations]]\nname = "remote"\nreceivers = ["10.2.0.5:31001"]\ninterface = "10.1.2.1"\nchannel = 3\n');
    const message = `feeder listen: --config ${file}: nothing in it to read on this host: no multicast destination, and no unicast destination's receiver is an address of this host (give --bind ADDR:PORT or --group G:P) (see feeder listen --help)`;
    expect(await run("listen", "-c", file, "--iface", "127.0.0.1", "-f", "ndjson", "--duration", "0.05")).toEqual({ code: 2, out: [], err: [message] });
    // A --group beside it is read as given.
    expect(await run("listen", "-c", file, "--iface", "127.0.0.1", "-g", "239.255.0.7:31007", "-f", "ndjson", "--duration", "0.05")).toMatchObject({ code: 0, err: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--depth above 1000 is refused, exit 2, as export --books --depth (before: any depth taken, each record that long)", async () => {
  expect(await run("listen", "-f", "ndjson", "-d", "1001", "--duration", "0.05")).toEqual({ code: 2, out: [], err: ['feeder listen: --depth must be at most 1000, got "1001" (see feeder listen --help)'] });
  expect(await run("listen", "-f", "ndjson", "-d", "1000", "--duration", "0.05")).toMatchObject({ code: 0, err: [] });
});

test("-c the publisher's file on a receiver host: a unicast destination's interface (the sender's) is not checked as this host's (before: invalid configuration, exit 2; with --iface: refused, none joined)", async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "listen-receiver-"));
  try {
    const file = join(dir, "publisher.toml");
    // The publisher sends from its 10.1.2.1 to a receiver at this host's 127.0.0.1.
    writeFileSync(file, '[publish]\n[[publish.destinations]]\nname = "to-here"\nreceivers = ["127.0.0.1:31587"]\ninterface = "10.1.2.1"\nchannel = 3\n');
    expect(await run("listen", "-c", file, "-f", "ndjson", "--duration", "0.05")).toMatchObject({ code: 0, err: [] });
    // A multicast destination's interface is the one listen joins on: still this host's, or refused.
    writeFileSync(file, '[publish]\n[[publish.destinations]]\nname = "mc"\ngroup = "239.255.0.8"\nport = 31008\ninterface = "10.1.2.1"\nchannel = 3\n');
    const r = await run("listen", "-c", file, "-f", "ndjson", "--duration", "0.05");
    expect(r.code).toBe(2);
    expect(r.err.join("\n")).toContain('publish.destinations[0].interface: "10.1.2.1" is not an address of this host');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("-c FILE whose publish.retransmit.listen is 0.0.0.0:P asks the publisher's host, from its destinations' interface (before: 127.0.0.1 always)", async () => {
  const { resolveGroups } = await import("../../src/cli/commands/listen.ts");
  const { silentLogger } = await import("../../src/core/log.ts");
  const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "listen-retransmit-"));
  const dest = (i: number, extra: string) => `[[publish.destinations]]\nname = "d${i}"\nchannel = ${i + 1}\ngroup = "239.255.8.${i + 1}"\nport = 3100${i}\n${extra}\n`;
  const hostOf = (toml: string, values: Record<string, unknown> = {}) => {
    const file = join(dir, "feeder.toml");
    writeFileSync(file, toml);
    const r = resolveGroups({ values: { config: file, ...values }, positionals: [], log: silentLogger, out: () => {}, stopSignal: new Promise(() => {}) });
    return r.retransmit?.host;
  };
  const wildcard = '[publish.retransmit]\nlisten = "0.0.0.0:31900"\nallow = ["10.0.0.0/8"]\n';
  try {
    // Another host's file (--iface: its interfaces not this host's): the publisher sends from 10.1.0.7, asked there.
    expect(hostOf(dest(0, 'interface = "10.1.0.7"') + dest(1, 'interface = "10.1.0.7"') + wildcard, { iface: "127.0.0.1" })).toBe("10.1.0.7");
    // A unicast destination's interface is the publisher's as well (no --iface needed to read it).
    expect(hostOf('[[publish.destinations]]\nname = "u"\nreceivers = ["127.0.0.1:31005"]\ninterface = "10.1.0.7"\n' + wildcard)).toBe("10.1.0.7");
    // An interface of this host: the publisher is here, asked on loopback (the default allow list's).
    expect(hostOf(dest(0, "") + wildcard)).toBe("127.0.0.1");
    // A loopback interface is every host's: beside 10.1.0.7 it does not put the publisher here (before: 127.0.0.1).
    expect(hostOf(dest(0, 'interface = "127.0.0.1"') + dest(1, 'interface = "10.1.0.7"') + wildcard, { iface: "127.0.0.1" })).toBe("10.1.0.7");
    // Several interfaces, none of this host's: which one this host reaches is not the file's to say.
    expect(() => hostOf(dest(0, 'interface = "10.1.0.7"') + dest(1, 'interface = "10.2.0.7"') + wildcard, { iface: "127.0.0.1" })).toThrow(
      "--config: publish.retransmit.listen is 0.0.0.0:31900 (every address of the publisher's host) and its destinations send from 10.1.0.7, 10.2.0.7, none of them this host's: give --retransmit HOST:31900 naming the publisher's host as this host reaches it",
    );
    // The flag names the server, whatever the file; an address other than 0.0.0.0 is the file's.
    expect(hostOf(dest(0, 'interface = "10.1.0.7"') + dest(1, 'interface = "10.2.0.7"') + wildcard, { iface: "127.0.0.1", retransmit: "feed-a:31900" })).toBe("feed-a");
    expect(hostOf(dest(0, 'interface = "10.1.0.7"') + '[publish.retransmit]\nlisten = "127.0.0.1:31900"\n', { iface: "127.0.0.1" })).toBe("127.0.0.1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--iface is the interface every multicast group is joined on: the -c file's destinations' (another host's) and --group's alike", async () => {
  const { resolveGroups } = await import("../../src/cli/commands/listen.ts");
  const { silentLogger } = await import("../../src/core/log.ts");
  const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "listen-iface-"));
  const file = join(dir, "feeder.toml");
  // Another host's file: its destination sends from 10.1.0.7, which this host (loopback only here) does not have.
  writeFileSync(file, '[[publish.destinations]]\nname = "d"\ngroup = "239.255.8.1"\nport = 31000\ninterface = "10.1.0.7"\n');
  const groupsOf = (values: Record<string, string | string[]>) => resolveGroups({ values, positionals: [], log: silentLogger, out: () => {}, stopSignal: new Promise(() => {}) }).groups;
  try {
    expect(groupsOf({ config: file, iface: "127.0.0.1", group: ["239.255.8.2:31001"] })).toEqual([
      { group: "239.255.8.1", port: 31000, iface: "127.0.0.1" },
      { group: "239.255.8.2", port: 31001, iface: "127.0.0.1" },
    ]);
    expect(groupsOf({ iface: "127.0.0.1" })).toEqual([{ group: "239.255.0.1", port: 31001, iface: "127.0.0.1" }]);
    // Without --iface the file's interface is the one joined on: not this host's, so the file is refused naming it.
    expect(() => groupsOf({ config: file })).toThrow('publish.destinations[0].interface: "10.1.0.7" is not an address of this host');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--send-ahead-max-ms outside 0..86400000 is refused naming the flag, as bridge to-nats'; beside --nats it is refused (the reader stamps what it repacks)", async () => {
  for (const ms of ["-1", "86400001", "5s"]) {
    expect(await run("listen", `--send-ahead-max-ms=${ms}`, "--duration", "0.05"), ms).toEqual({ code: 2, out: [], err: [`feeder listen: --send-ahead-max-ms must be an integer in 0..86400000, got ${JSON.stringify(ms)} (see feeder listen --help)`] });
  }
  const r = await run("listen", "--nats", "nats://127.0.0.1:1", "--send-ahead-max-ms", "1000");
  expect(r.code).toBe(2);
  expect(r.err.join("\n")).toContain("leave out --send-ahead-max-ms");
});

test("--send-ahead-max-ms is the subscriber's bound: a datagram 3 s ahead of this host's clock is counted in the footer's send times ahead at 1000, not at the default 5000", async () => {
  const { listenCommand } = await import("../../src/cli/commands/listen.ts");
  const { silentLogger } = await import("../../src/core/log.ts");
  const { createSocket } = await import("node:dgram");
  const { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } = await import("../../src/wire/encoder.ts");
  const { makeInstrument, TestBook } = await import("../wire/helpers.ts");
  const { packer, take, T0 } = await import("../subscriber/feed-harness.ts");
  const { uniqueDestination } = await import("../e2e/harness.ts");
  const { group, port } = uniqueDestination(733);
  /** One listen (table) on its own port; resolves the first table showing the book, then stops it. */
  const footerAfterBook = async (at: number, values: Record<string, unknown>): Promise<string> => {
    let joined!: () => void;
    const listening = new Promise<void>((resolve) => (joined = resolve));
    let stop!: (why: string) => void;
    let shown!: (table: string) => void;
    const table = new Promise<string>((resolve) => (shown = resolve));
    const log = { ...silentLogger, info: (m: string) => void (m === "listening" && joined()) };
    const out = (t: string) => void (/BTCUSDT/.test(t) && shown(t));
    const running = listenCommand.run({ values: { group: [`${group}:${at}`], ...values }, positionals: [], log, out, stopSignal: new Promise<string>((resolve) => (stop = resolve)) });
    await listening;
    const tx = createSocket("udp4");
    try {
      await new Promise<void>((resolve) => tx.bind(0, "127.0.0.1", resolve));
      tx.setMulticastInterface("127.0.0.1");
      tx.setMulticastTTL(1);
      const p = packer();
      const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
      book.load([[302472, 1500]], [[302473, 250]], 1, T0);
      packInstrumentDefinition(p, new EncodedDefinition(book.instrument), false);
      packBookSnapshot(p, book, 0, false);
      for (const d of take(p, Date.now() * 1000 + 3_000_000)) await new Promise<void>((resolve, reject) => tx.send(d, at, group, (err) => (err ? reject(err) : resolve())));
      return await table;
    } finally {
      tx.close();
      stop("test");
      expect(await running).toBe(0);
    }
  };
  const [bounded, byDefault] = await Promise.all([footerAfterBook(port, { "send-ahead-max-ms": "1000" }), footerAfterBook(port + 1, {})]);
  expect(bounded).toMatch(/send times ahead 1\b/); // the flag not passed on: 0
  expect(byDefault).toMatch(/send times ahead 0\b/);
});

test("publisherHostOf: loopback interfaces say nothing of the host; on the publisher's host, the address its allow list admits, else 127.0.0.1 with a warning (random cases against the rule)", async () => {
  const { publisherHostOf } = await import("../../src/cli/commands/listen.ts");
  const { inCidrs, parseCidr } = await import("../../src/core/cidr.ts");
  const { rng } = await import("../support/mulberry32.ts");
  const here = [{ name: "lo", address: "127.0.0.1" }, { name: "eth0", address: "10.1.0.7" }];
  const away = [{ name: "lo", address: "127.0.0.1" }, { name: "eth0", address: "10.9.0.2" }];
  const rt = (allow: string[]) => ({ port: 31900, allow });
  const warnings: string[] = [];
  const warn = (m: string) => void warnings.push(m);
  // The publisher's own file read on its host, its allow list the subscribers' network only: asked where it answers.
  expect(publisherHostOf(["10.1.0.7"], rt(["10.0.0.0/8"]), warn, here)).toBe("10.1.0.7");
  expect(publisherHostOf(["10.1.0.7"], rt(["127.0.0.0/8", "10.0.0.0/8"]), warn, here)).toBe("127.0.0.1");
  // A local tap on loopback beside the network destination, read on a receiving host: the publisher is 10.1.0.7.
  expect(publisherHostOf(["127.0.0.1", "10.1.0.7"], rt(["10.0.0.0/8"]), warn, away)).toBe("10.1.0.7");
  expect(publisherHostOf(["127.0.0.1", "127.0.0.2"], rt(["127.0.0.0/8"]), warn, away)).toBe("127.0.0.1");
  expect(() => publisherHostOf(["127.0.0.1", "10.1.0.7", "10.2.0.7"], rt(["10.0.0.0/8"]), warn, away)).toThrow("send from 10.1.0.7, 10.2.0.7, none of them this host's");
  expect(warnings).toEqual([]);
  // On the publisher's host, an allow list admitting neither 127.0.0.1 nor its interface: 127.0.0.1, said (before, silently).
  expect(publisherHostOf(["10.1.0.7"], rt(["192.168.0.0/16"]), warn, here)).toBe("127.0.0.1");
  expect(warnings).toEqual([
    `--config: publish.retransmit.allow = ["192.168.0.0/16"] admits neither 127.0.0.1 nor this host's 10.1.0.7: asking 127.0.0.1:31900, whose requests the publisher will likely refuse (give --retransmit HOST:31900, or add the address to the list)`,
  ]);
  // Random files and hosts against the rule written out plainly.
  const rand = rng(14);
  const pool = ["127.0.0.1", "127.0.0.5", "10.1.0.7", "10.2.0.7", "192.168.1.4"];
  const allows = [["127.0.0.0/8"], ["10.0.0.0/8"], ["10.1.0.7"], ["192.168.0.0/16", "127.0.0.1"], ["172.16.0.0/12"]];
  for (let i = 0; i < 200; i++) {
    const ifaces = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pool[Math.floor(rand() * pool.length)]!);
    const local = [{ name: "lo", address: "127.0.0.1" }, ...pool.slice(2).filter(() => rand() < 0.3).map((address, k) => ({ name: `eth${k}`, address }))];
    const allow = allows[Math.floor(rand() * allows.length)]!;
    const nonLoopback = [...new Set(ifaces.filter((a) => !a.startsWith("127.")))];
    const mine = nonLoopback.filter((a) => local.some((l) => l.address === a));
    const blocks = allow.map(parseCidr);
    const what = `${ifaces.join(",")} on ${local.map((l) => l.address).join(",")} allow ${allow.join(",")}`;
    if (nonLoopback.length === 0 || mine.length > 0) {
      const admitted = inCidrs("127.0.0.1", blocks) ? "127.0.0.1" : mine.find((a) => inCidrs(a, blocks));
      warnings.length = 0;
      expect(publisherHostOf(ifaces, rt(allow), warn, local), what).toBe(admitted ?? "127.0.0.1");
      // Neither admitted: the fallback is said, naming the list and the address asked.
      expect(warnings.length, what).toBe(admitted === undefined ? 1 : 0);
      if (admitted === undefined) expect(warnings[0], what).toContain(`allow = ${JSON.stringify(allow)} ${mine.length > 0 ? "admits neither" : "does not admit"} 127.0.0.1`);
    } else if (nonLoopback.length === 1) expect(publisherHostOf(ifaces, rt(allow), warn, local), what).toBe(nonLoopback[0]);
    else expect(() => publisherHostOf(ifaces, rt(allow), warn, local), what).toThrow("give --retransmit HOST:31900");
  }
});
