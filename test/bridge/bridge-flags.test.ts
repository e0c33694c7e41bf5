/**
 * `feeder bridge` flags the code did not act on. `--nats nats://user:pass@host:port` was accepted, but the NATS client
 * takes no credentials from a URL: it connected without them (an auth-requiring server refused it as an
 * authorization violation, the operator's password seemingly wrong), a password of digits became the port, and the
 * URL, password and all, was written to the log at start. `to-nats` took `--ttl`, `--source-id` and `--channel`
 * (from-nats flags) without a word. Both now exit 2 naming the flag. In-process: the command's run() with its values.
 */
import { describe, expect, test, vi } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { UsageError } from "../../src/cli/command.ts";
import { bridgeCommand } from "../../src/cli/commands/bridge.ts";
import { listenCommand } from "../../src/cli/commands/listen.ts";
import { MAX_PREFIX_CHARS, prefixOf, serversOf } from "../../src/cli/commands/nats-args.ts";
import { silentLogger } from "../../src/core/log.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { loopbackTtlNotes } from "../../src/config/notes.ts";
import { captureLog } from "../support/capture-log.ts";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../../src/bridge/reverse-bridge.ts";
import { FeedSubscriber } from "../../src/subscriber/feed-subscriber.ts";
import { NatsFeedReader, attachNats } from "../../src/subscriber/nats-source.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";

function ctxOf(positionals: string[], values: CommandContext["values"]): CommandContext {
  return { values, positionals, log: silentLogger, out: () => {}, stopSignal: new Promise<string>(() => {}) } as unknown as CommandContext;
}

async function usageError(positionals: string[], values: CommandContext["values"]): Promise<string> {
  try {
    await bridgeCommand.run(ctxOf(positionals, values));
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  return "(no usage error)";
}

describe("feeder bridge flags", () => {
  test("from-nats --group in 224.0.0.0/24 (the local network control block) is refused, as a destination's group is (before: published to it)", async () => {
    for (const group of ["224.0.0.1:31009", "224.0.0.251:5353", "224.0.0.255:1"]) {
      expect(await usageError(["from-nats"], { group: [group], nats: "nats://127.0.0.1:1", http: "off" }), group).toBe(
        `--group ${JSON.stringify(group)}: from-nats publishes to it: give a multicast group outside 224.0.0.0/24 (reserved for local network control: all hosts, routers and mDNS listen there)`,
      );
    }
  });

  test("from-nats --ttl above 1 from loopback is warned of in the configuration's words (before: no word)", async () => {
    // A bad --http ends the command right after its arguments are read: no socket is opened, none with that TTL.
    const warnsOf = async (values: CommandContext["values"]) => {
      const { log, lines } = captureLog();
      await expect(bridgeCommand.run({ ...ctxOf(["from-nats"], { nats: "nats://127.0.0.1:1", group: ["239.255.1.1:31001"], http: "bad", ...values }), log })).rejects.toThrow(/^--http must be ADDR:PORT/);
      return lines.map((l) => [l.level, l.msg]);
    };
    const why = "datagrams sent from loopback never leave this host, whatever the TTL; to reach subscribers on other hosts, set --iface to this host's address on their network";
    expect(await warnsOf({ iface: "127.0.0.1", ttl: "5" })).toEqual([["warn", `--ttl 5 with --iface 127.0.0.1: ${why}`]]);
    expect(await warnsOf({ ttl: "2" })).toEqual([["warn", `--ttl 2 with --iface 127.0.0.1 (its default): ${why}`]]);
    expect(await warnsOf({ iface: "127.0.0.1", ttl: "1" })).toEqual([]);
    expect(await warnsOf({})).toEqual([]);
    // The same words as the configuration's note on a destination (config/notes.ts).
    const config = loopbackTtlNotes(parseConfigText('[[publish.destinations]]\ngroup = "239.255.9.1"\nport = 31001\nttl = 5\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n', "t.toml", { localAddresses: [{ name: "lo", address: "127.0.0.1" }] }));
    expect(config).toEqual([`publish.destinations[0] ("destination-0"): ttl = 5 with interface 127.0.0.1: ${why.replace("set --iface", "set interface")}`]);
  });

  test("to-nats -c FILE without a multicast destination is told so, not to give --config (it was given)", async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "to-nats-unicast-"));
    try {
      const file = join(dir, "remote.toml");
      writeFileSync(file, '[publish]\n[[publish.destinations]]\nname = "remote"\nreceivers = ["10.2.0.5:31001"]\ninterface = "10.1.2.1"\nchannel = 3\n');
      expect(await usageError(["to-nats"], { config: file, iface: "127.0.0.1", nats: "nats://127.0.0.1:1" })).toBe(
        `to-nats: --config ${file} has no multicast destination to join (the bridge reads multicast only): give --group G:P`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("to-nats --max-pending below 1M is refused naming the flag (before: 1 byte taken, every datagram dropped as backlog)", async () => {
    for (const size of ["1", "64K", "1023K"]) {
      expect(await usageError(["to-nats"], { group: ["239.255.0.9:31009"], nats: "nats://127.0.0.1:1", "max-pending": size }), size).toBe(
        `--max-pending must be at least 1M (the NATS client holds whole messages of up to 64 KiB), got ${JSON.stringify(size)}`,
      );
    }
  });

  test("to-nats --send-ahead-max-ms outside 0..86400000 is refused naming the flag; from-nats refuses it as to-nats' own", async () => {
    for (const ms of ["-1", "86400001", "5s"]) {
      expect(await usageError(["to-nats"], { group: ["239.255.0.9:31009"], nats: "nats://127.0.0.1:1", "send-ahead-max-ms": ms }), ms).toBe(
        `--send-ahead-max-ms must be an integer in 0..86400000, got ${JSON.stringify(ms)}`,
      );
    }
    expect(await usageError(["from-nats"], { group: ["239.255.0.9:31009"], nats: "nats://127.0.0.1:1", "send-ahead-max-ms": "1000" })).toBe("--send-ahead-max-ms is for to-nats");
  });

  test("credentials in --nats are refused, naming the flag (the client would drop them)", () => {
    for (const url of ["nats://bridge:s3cret@127.0.0.1:4222", "nats://bridge:1234@127.0.0.1:4222", "tok@127.0.0.1:4222"]) {
      expect(() => serversOf(url), url).toThrow(UsageError);
      expect(() => serversOf(url), url).toThrow(/--nats .*credentials/);
    }
    // The refusal does not repeat the password (stderr ends up in logs too).
    expect(() => serversOf("nats://bridge:s3cret@127.0.0.1:4222")).not.toThrow(/s3cret/);
    expect(serversOf("nats://127.0.0.1:4222,127.0.0.2:4223")).toEqual(["nats://127.0.0.1:4222", "127.0.0.2:4223"]);
  });

  test("to-nats refuses the from-nats flags", async () => {
    const base = { nats: "nats://127.0.0.1:1", group: ["239.255.1.1:31001"] };
    expect(await usageError(["to-nats"], { ...base, ttl: "4" })).toMatch(/--ttl is for from-nats/);
    expect(await usageError(["to-nats"], { ...base, "source-id": "900" })).toMatch(/--source-id is for from-nats/);
    expect(await usageError(["to-nats"], { ...base, channel: "2" })).toMatch(/--channel is for from-nats/);
  });

  // Before, any length was taken: a prefix over nats-server's control line (4 KiB) had the server close the reader's
  // and the bridge's connections at every SUB and PUB, reconnecting forever. Now refused, naming the flag and the limit.
  test("--prefix is at most MAX_PREFIX_CHARS (128) characters: to-nats, from-nats and listen --nats exit 2 beyond", async () => {
    expect(MAX_PREFIX_CHARS).toBe(128);
    const longest = `${"a".repeat(63)}.${"b".repeat(64)}`;
    expect(prefixOf(longest)).toBe(longest);
    const over = `${longest}c`;
    const refused = /^--prefix is at most 128 characters \(a NATS subject prefix; subjects are kept short\), got 129$/;
    expect(() => prefixOf(over)).toThrow(refused);
    expect(() => prefixOf("x".repeat(100_000))).toThrow(/--prefix is at most 128 characters .*got 100000$/); // not echoed
    const nats = "nats://127.0.0.1:1";
    expect(await usageError(["to-nats"], { nats, group: ["239.255.1.1:31001"], prefix: over })).toMatch(refused);
    expect(await usageError(["from-nats"], { nats, group: "239.255.1.1:31001", prefix: over })).toMatch(refused);
    await expect(listenCommand.run(ctxOf([], { nats, prefix: over }))).rejects.toThrow(refused);
  });

  // The same limit for the library's callers: before, only the command line checked it, and attachNats, a
  // NatsFeedReader, a ForwardBridge or a ReverseBridge given a longer prefix connected and had the server close the
  // connection at every SUB/PUB, reconnecting forever. Refused where the options are taken, before any connect.
  test("the library's prefix option: over MAX_PREFIX_CHARS refused where the options are taken, naming the option", async () => {
    const servers = "nats://127.0.0.1:1"; // never dialled: refused before
    const longest = "p".repeat(MAX_PREFIX_CHARS);
    const over = `${longest}q`;
    const refused = /^prefix is at most 128 characters \(a NATS subject prefix; subjects are kept short\), got 129$/;
    expect(() => new NatsFeedReader({ servers, prefix: over }, () => {})).toThrow(refused);
    expect(() => new ForwardBridge({ groups: [], servers, prefix: over, log: silentLogger })).toThrow(refused);
    expect(() => new ReverseBridge({ servers, prefix: over, group: "239.255.1.1", port: 31001, iface: "127.0.0.1", ttl: 1 })).toThrow(refused);
    await expect(attachNats(new FeedSubscriber({ groups: [], staleAfterMs: 0 }), { servers, prefix: over })).rejects.toThrow(refused);
    expect(() => new ForwardBridge({ groups: [], servers, prefix: "x".repeat(100_000), log: silentLogger })).toThrow(/got 100000$/); // not echoed
    // The longest is taken (nothing dialled until start()).
    expect(() => new NatsFeedReader({ servers, prefix: longest }, () => {})).not.toThrow();
    expect(() => new ForwardBridge({ groups: [], servers, prefix: longest, log: silentLogger })).not.toThrow();
    expect(() => new ReverseBridge({ servers, prefix: longest, group: "239.255.1.1", port: 31001, iface: "127.0.0.1", ttl: 1 })).not.toThrow();
  });

  // Before 2026-12-06 the library took any characters: a space made `SUB a b.> 1` a queue subscription on `a`, a `*` or
  // `>` a wildcard publish the server refuses (every envelope lost) or a subscription on other prefixes' feeds, an empty
  // token a subject the server refuses. Held to --prefix's rule where the options are taken, before any connect.
  test("the library's prefix option: only NATS subject tokens (letters, digits, _ -, dots between), as --prefix", async () => {
    const servers = "nats://127.0.0.1:1"; // never dialled: refused before
    const make = [
      (prefix: string) => new NatsFeedReader({ servers, prefix }, () => {}),
      (prefix: string) => new ForwardBridge({ groups: [], servers, prefix, log: silentLogger }),
      (prefix: string) => new ReverseBridge({ servers, prefix, group: "239.255.1.1", port: 31001, iface: "127.0.0.1", ttl: 1 }),
    ];
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    for (const bad of ["", "a b", "feed.*", "feed.>", ">", "a..b", ".a", "a.", "a\tb", "a\nb", "a/b", "ü"]) {
      const refused = `prefix must be NATS subject tokens such as feeder or site1.md (letters, digits, _ -, dots between), got ${JSON.stringify(bad)}`;
      for (const m of make) {
        const err = thrown(() => m(bad));
        expect([err instanceof RangeError, (err as Error | undefined)?.message], JSON.stringify(bad)).toEqual([true, refused]);
      }
      await expect(attachNats(new FeedSubscriber({ groups: [], staleAfterMs: 0 }), { servers, prefix: bad })).rejects.toThrow(refused);
      const flag = thrown(() => prefixOf(bad));
      expect([flag instanceof UsageError, (flag as Error | undefined)?.message], JSON.stringify(bad)).toEqual([true, `--${refused}`]);
    }
    for (const good of ["feeder", "site1.md", "a-b_C.9"]) for (const m of make) expect(() => m(good), good).not.toThrow();
  });

  // A message is repacked whole: a reader whose datagram maximum is below the upstream publisher's refuses every
  // longer message (bad_message). Both readers had 1400 with no way to change it, so a feed published at
  // publish.max_datagram_bytes = 9000 lost its larger snapshot chunks and deltas at from-nats and listen --nats for
  // good (a gap at each, the books never usable). The reader each command makes is caught at its start (not dialled).
  test("listen --nats repacks a message of any size; from-nats one up to --max-datagram-bytes (856–65507, default 1400)", async () => {
    const bigPublisher = packer({ maxBytes: 9000 });
    const b = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
    const levels = (from: number, step: number): [number, number][] => Array.from({ length: 60 }, (_, i) => [from + step * i, 1 + i]);
    b.load(levels(50_000, -1), levels(50_001, 1), 1, T0);
    packBookSnapshot(bigPublisher, b, 0, false);
    const [d] = take(bigPublisher);
    expect(d!.length).toBeGreaterThan(1400);
    const env = envelopeOf(d!, 1000, PACKET_HEADER_BYTES, d!.length - PACKET_HEADER_BYTES);
    const readerOf = async (run: () => Promise<number>): Promise<NatsFeedReader> => {
      let reader: NatsFeedReader | undefined;
      const spy = vi.spyOn(NatsFeedReader.prototype, "start").mockImplementation(function (this: NatsFeedReader) {
        reader = this;
        return Promise.reject(new Error("not dialled in this test"));
      });
      try {
        expect(await run()).toBe(1); // "cannot read NATS" / "bridge could not start"
      } finally {
        spy.mockRestore();
      }
      return reader!;
    };
    const nats = "nats://127.0.0.1:1";
    expect((await readerOf(() => listenCommand.run(ctxOf([], { nats })))).repacker.add(env, 1)).toBe("ok");
    const from = { nats, group: ["239.255.1.1:31001"], http: "off" };
    expect((await readerOf(() => bridgeCommand.run(ctxOf(["from-nats"], from)))).repacker.add(env, 1)).toBe("bad_message");
    expect((await readerOf(() => bridgeCommand.run(ctxOf(["from-nats"], { ...from, "max-datagram-bytes": "9000" })))).repacker.add(env, 1)).toBe("ok");
    expect(await usageError(["from-nats"], { ...from, "max-datagram-bytes": "855" })).toBe('--max-datagram-bytes must be an integer in 856..65507, got "855"');
    expect(await usageError(["to-nats"], { nats, group: ["239.255.1.1:31001"], "max-datagram-bytes": "9000" })).toMatch(/--max-datagram-bytes is for from-nats/);
  });
});
