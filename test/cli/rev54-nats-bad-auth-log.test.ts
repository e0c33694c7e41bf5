/**
 * rev54: a keyed NATS reader (`listen --nats --auth-key-file F`, `bridge from-nats --auth-key-file F`) refuses
 * every envelope of a bridge without the key (or with another one), and said nothing: `listen --nats` showed an
 * empty table, no line in its log; `from-nats` only grew `refused.bad_auth` in its periodic info counters. The
 * refusals are now logged as a warning naming the likely cause (rate-limited: the first at once).
 */
import { describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CommandContext } from "../../src/cli/command.ts";
import { natsReadOptions } from "../../src/cli/commands/nats-args.ts";
import type { Logger } from "../../src/core/log.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { packer, take } from "../subscriber/feed-harness.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

function ctxWith(values: CommandContext["values"]): { ctx: CommandContext; warnings: { msg: string; fields: unknown }[] } {
  const warnings: { msg: string; fields: unknown }[] = [];
  const log: Logger = {
    debug() {},
    info() {},
    warn: (msg, fields) => void warnings.push({ msg, fields }),
    error() {},
    child: () => log,
  };
  const ctx = { values, positionals: [], log, out: () => {}, stopSignal: new Promise<string>(() => {}) } as unknown as CommandContext;
  return { ctx, warnings };
}

function heartbeatDatagram(): Uint8Array {
  const p = packer();
  p.appendHeartbeat(0);
  return take(p)[0]!;
}

describe("a keyed NATS reader given envelopes not signed with its key", () => {
  test("warns (an unkeyed bridge's envelopes are all refused)", () => {
    const keyFile = join(makeTempDir("feeder-rev54-"), "feed.key");
    writeFileSync(keyFile, "11".repeat(32) + "\n");
    const { ctx, warnings } = ctxWith({ nats: "nats://127.0.0.1:4222", "auth-key-file": keyFile });
    const reader = new NatsFeedReader(natsReadOptions(ctx), () => {});
    const dgram = heartbeatDatagram();
    expect(reader.repacker.add(envelopeOf(dgram, 1000, 0, 0, 5, 77), 1000)).toBe("bad_auth"); // unsigned
    expect(reader.repacker.add(envelopeOf(dgram, 1000, 0, 0, 6, 77, new DatagramAuth(new Uint8Array(32).fill(2))), 1001)).toBe("bad_auth"); // another key
    expect(reader.counters.refused.bad_auth).toBe(2);
    const w = warnings.filter((x) => /auth-key-file/.test(x.msg));
    expect(w.length, JSON.stringify(warnings)).toBe(1); // the first at once, the second within the interval counted
    expect(w[0]!.msg).toMatch(/not signed with the --auth-key-file key/);
  });

  test("an envelope signed with the key is taken, nothing is logged", () => {
    const keyFile = join(makeTempDir("feeder-rev54-"), "feed.key");
    writeFileSync(keyFile, "11".repeat(32) + "\n");
    const { ctx, warnings } = ctxWith({ nats: "nats://127.0.0.1:4222", "auth-key-file": keyFile });
    const reader = new NatsFeedReader(natsReadOptions(ctx), () => {});
    expect(reader.repacker.add(envelopeOf(heartbeatDatagram(), 1000, 0, 0, 5, 77, new DatagramAuth(new Uint8Array(32).fill(0x11))), 1000)).toBe("ok");
    expect(warnings).toEqual([]);
  });
});

describe("a NATS reader without a key given signed envelopes", () => {
  // The bridge has the feed's key, this reader not (a -c file without publish.auth_key_file, no --auth-key-file):
  // everything is read unverified. Before, only the start line's verifiedWith: none said so; now a warning, once.
  test("warns once that it reads them unverified; unsigned envelopes say nothing", () => {
    const { ctx, warnings } = ctxWith({ nats: "nats://127.0.0.1:4222" });
    const reader = new NatsFeedReader(natsReadOptions(ctx), () => {});
    const dgram = heartbeatDatagram();
    expect(reader.repacker.add(envelopeOf(dgram, 1000, 0, 0, 5, 77), 1000)).toBe("ok"); // unsigned: nothing to say
    expect(warnings).toEqual([]);
    const key = new DatagramAuth(new Uint8Array(32).fill(0x11));
    expect(reader.repacker.add(envelopeOf(dgram, 1000, 0, 0, 6, 77, key), 1001)).toBe("ok"); // read, unchecked
    expect(reader.repacker.add(envelopeOf(dgram, 1000, 0, 0, 7, 77, key), 1002)).toBe("ok");
    const w = warnings.filter((x) => /signed but this reader has no key/.test(x.msg));
    expect(w.length, JSON.stringify(warnings)).toBe(1);
    expect(warnings.length).toBe(1);
  });
});
