/** publish.retransmit: defaults, bad values named, and check-config's TOML round-trips it. */
import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.ts";
import { formatConfigToml } from "../../src/config/format.ts";
import { usableMemory } from "../../src/config/memory-limit.ts";
import { configProblems, LOOPBACK_ONLY, refusedProblems } from "../support/config-problems.ts";
import { rng } from "../support/mulberry32.ts";
import { RING_MIN_DATAGRAM_BYTES, ringMemoryBytes } from "../../src/core/ring-memory.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

function problemsOf(toml: string): string[] {
  return refusedProblems(toml);
}

describe("publish.retransmit", () => {
  test("absent: no server; present: defaults filled in", () => {
    expect(parseConfigText(VENUE, "t.toml").publish.retransmit).toBeUndefined();
    const c = parseConfigText(`[publish.retransmit]\n${VENUE}`, "t.toml");
    expect(c.publish.retransmit).toEqual({ host: "127.0.0.1", port: 31900, ringBytes: 8 << 20, allow: ["127.0.0.0/8"], requestsPerSec: 100, bytesPerSec: 16 << 20, totalBytesPerSec: 64 << 20 });
  });

  test("ring_bytes × destinations × workers, each ring with its index, is bounded by 16 GiB and this host's memory (before: any total taken)", () => {
    const symbols = `[venues.bybit.linear]\nsymbols = ${JSON.stringify(Array.from({ length: 64 }, (_, i) => `S${i}USDT`))}\n`;
    const file = (ringBytes: number, destinations: number, workers: number) =>
      `workers = ${workers}\n` +
      Array.from({ length: destinations }, (_, i) => `[[publish.destinations]]\nname = "d${i}"\ngroup = "239.255.7.${i + 1}"\nport = ${31001 + i}\nchannel = ${i + 1}\n`).join("") +
      `[publish.retransmit]\nlisten = "127.0.0.1:31900"\nring_bytes = ${ringBytes}\n${symbols}`;
    const GIB = 2 ** 30;
    const big = { localAddresses: LOOPBACK_ONLY, hostMemoryBytes: 1024 * GIB };
    expect(configProblems(file(GIB, 4, 64), big)).toEqual([
      "publish.retransmit.ring_bytes: 1073741824 is not a size whose rings fit: 4 destinations × 64 workers preallocate one each (with its index), 347.43 GiB in all, over the cap of 16 GiB for the rings together: at most 49448624 here",
    ]);
    expect(configProblems(file(GIB, 1, 1), { localAddresses: LOOPBACK_ONLY, hostMemoryBytes: 0.5 * GIB })).toEqual([
      "publish.retransmit.ring_bytes: 1073741824 is not a size whose rings fit: 1 destination × 1 worker preallocate one each (with its index), 1.36 GiB in all, over this host's memory (0.5 GiB): at most 395589092 here",
    ]);
    // A cgroup limit smaller than the host's memory is named as such (until s-rd19d: "this host's memory (2 GiB)").
    const unit = { "/proc/self/cgroup": "0::/system.slice/feeder.service\n", "/sys/fs/cgroup/system.slice/feeder.service/memory.max": String(GIB / 2) };
    const memoryLimit = usableMemory((path) => (unit as Record<string, string>)[path], 64 * GIB);
    expect(configProblems(file(GIB, 1, 1), { localAddresses: LOOPBACK_ONLY, memoryLimit })).toEqual([
      "publish.retransmit.ring_bytes: 1073741824 is not a size whose rings fit: 1 destination × 1 worker preallocate one each (with its index), 1.36 GiB in all, over the cgroup memory limit /sys/fs/cgroup/system.slice/feeder.service/memory.max (0.5 GiB): at most 395589092 here",
    ]);
    // The index counted: rings whose bytes alone fit the host's memory (until 2026-12-07 taken) need ~1.36× it.
    expect(configProblems(file(GIB / 2, 2, 1), { localAddresses: LOOPBACK_ONLY, hostMemoryBytes: GIB })).toHaveLength(1);
    // No hint below the least ring_bytes the loader takes: the destinations × workers product is what is too large.
    expect(configProblems(file(65_536, 4, 63), { localAddresses: LOOPBACK_ONLY, hostMemoryBytes: 16 * 2 ** 20 })).toEqual([
      "publish.retransmit.ring_bytes: 65536 is not a size whose rings fit: 4 destinations × 63 workers preallocate one each (with its index), 0.02 GiB in all, over this host's memory (0.02 GiB): even the least ring_bytes (65536) is over it: 4 destinations × 63 workers is too many rings here",
    ]);
    // Random sizes against a reference: a ring of R bytes and its index of 20 bytes per 56 of R (and one slot).
    const memoryOf = (ringBytes: number) => ringBytes + 20 * (Math.floor(ringBytes / 56) + 1);
    const rand = rng(11);
    const seen = { over: 0, under: 0, hinted: 0 };
    for (let i = 0; i < 60; i++) {
      const ringBytes = Math.floor(65536 * 2 ** (rand() * 14)); // 64 KiB to 1 GiB, as many small as large
      const destinations = 1 + Math.floor(rand() * 4);
      const workers = Math.floor(2 ** (rand() * 6)); // 1 to 63
      const hostMemoryBytes = Math.floor((GIB / 4) * 2 ** (rand() * 8)); // 256 MiB to 64 GiB
      const fits = (r: number) => memoryOf(r) * destinations * workers <= Math.min(16 * GIB, hostMemoryBytes);
      const over = !fits(ringBytes);
      seen[over ? "over" : "under"]++;
      const options = { localAddresses: LOOPBACK_ONLY, hostMemoryBytes };
      const problems = configProblems(file(ringBytes, destinations, workers), options);
      expect(problems.length, `${ringBytes} × ${destinations} × ${workers}, memory ${hostMemoryBytes}: ${problems.join("; ")}`).toBe(over ? 1 : 0);
      if (!over) continue;
      expect(problems[0]).toMatch(/^publish\.retransmit\.ring_bytes: \d+ is not a size whose rings fit: /);
      // The hint: the largest ring_bytes that fits, itself taken (one byte more is not), or none below the least.
      const hint = /at most (\d+) here$/.exec(problems[0]!);
      if (hint === null) {
        expect(problems[0]).toContain("is too many rings here");
        expect(fits(65_536)).toBe(false);
        continue;
      }
      seen.hinted++;
      const largest = Number(hint[1]);
      expect([fits(largest), fits(largest + 1)]).toEqual([true, false]);
      expect(configProblems(file(largest, destinations, workers), options)).toEqual([]);
    }
    expect(Math.min(seen.over, seen.under, seen.hinted)).toBeGreaterThan(10); // both sides of the rule drawn, hints checked
    // record runs one process (one worker), and a reader of the file (listen -c) allocates no ring.
    expect(configProblems(file(GIB, 4, 64), { ...big, runWorkers: 1 })).toEqual([]);
    expect(configProblems(file(GIB, 4, 64), { ...big, requireVenue: false })).toEqual([]);
  });

  test("what the config counts of a ring is what the ring allocates (core/ring-memory.ts, net/retransmit-ring.ts)", () => {
    expect(RING_MIN_DATAGRAM_BYTES).toBe(PACKET_HEADER_BYTES + 8);
    for (const capacityBytes of [1400, 65_536, 65_536 + 55, 8 << 20, 1_000_003]) {
      const ring = new RetransmitRing(capacityBytes, 1400) as unknown as Record<"bytes" | "offsets" | "lengths" | "seqs" | "msgCounts", ArrayBufferView>;
      const allocated = [ring.bytes, ring.offsets, ring.lengths, ring.seqs, ring.msgCounts].reduce((sum, a) => sum + a.byteLength, 0);
      expect(allocated, String(capacityBytes)).toBe(ringMemoryBytes(capacityBytes));
    }
  });

  test("bad values are named with their key", () => {
    expect(problemsOf(`[publish.retransmit]\nlisten = "nowhere"\nallow = ["10.0.0.0/33", "10.1.0.0/16"]\nring_bytes = 10\nbogus = 1\n${VENUE}`)).toEqual([
      "publish.retransmit.bogus: unknown key (expected one of listen, ring_bytes, allow, requests_per_sec, bytes_per_sec, total_bytes_per_sec)",
      'publish.retransmit.listen: "nowhere" is not an IPv4 "address:port" of this host, e.g. "127.0.0.1:31900" (port 0 picks a free port)',
      "publish.retransmit.ring_bytes: 10 is not an integer 65536–1073741824",
      'publish.retransmit.allow: "10.0.0.0/33" is not IPv4 CIDR blocks like "10.0.0.0/8" (requesters outside them are not answered)',
    ]);
  });

  test("an allow block with a leading zero is a problem, as a listen address with one is", () => {
    // inet_aton reads "010" as octal 8: "010.1.2.0/24" would be 8.1.2.0/24 to other tools, 10.1.2.0/24 here.
    expect(problemsOf(`[publish.retransmit]\nlisten = "010.0.0.1:31900"\nallow = ["010.1.2.0/24", "10.1.2.0/24"]\n${VENUE}`)).toEqual([
      'publish.retransmit.listen: "010.0.0.1:31900" is not an IPv4 "address:port" of this host, e.g. "127.0.0.1:31900" (port 0 picks a free port): 010.0.0.1 has a leading zero in octet "010", which is ambiguous: octal 8 to inet_aton (which the socket calls use), decimal 10 to most tools',
      'publish.retransmit.allow: "010.1.2.0/24" is not IPv4 CIDR blocks like "10.0.0.0/8" (requesters outside them are not answered): 010.1.2.0 has a leading zero in octet "010", which is ambiguous: octal 8 to inet_aton (which the socket calls use), decimal 10 to most tools',
    ]);
  });

  test("an allow block with host bits set is refused, naming the network and the host it may mean (s-cfg8)", () => {
    // Before, "10.0.0.1/8" was read as 10.0.0.0/8 without a word: 16 million requesters, where 10.0.0.1 may be meant.
    expect(problemsOf(`[publish.retransmit]\nallow = ["10.0.0.1/8", "10.1.2.0/24", "127.0.0.1"]\n${VENUE}`)).toEqual([
      'publish.retransmit.allow: "10.0.0.1/8" is not an IPv4 CIDR block with its host bits clear: write "10.0.0.0/8" for the network it lies in, or "10.0.0.1/32" for the one host',
    ]);
  });

  test("a byte bucket smaller than one full datagram is refused, naming both keys (s-rev56)", () => {
    // The bucket holds one second's worth: a full-size datagram (max_datagram_bytes) was THROTTLED for ever.
    expect(problemsOf(`[publish]\nmax_datagram_bytes = 9000\n[publish.retransmit]\nbytes_per_sec = 8999\ntotal_bytes_per_sec = 4000\n${VENUE}`)).toEqual([
      "publish.retransmit.bytes_per_sec: 8999 is not at least publish.max_datagram_bytes (9000): its bucket holds one second's worth, so a full-size datagram could never be resent (always THROTTLED)",
      "publish.retransmit.total_bytes_per_sec: 4000 is not at least publish.max_datagram_bytes (9000): its bucket holds one second's worth, so a full-size datagram could never be resent (always THROTTLED)",
    ]);
    const c = parseConfigText(`[publish]\nmax_datagram_bytes = 9000\n[publish.retransmit]\nbytes_per_sec = 9000\ntotal_bytes_per_sec = 9000\n${VENUE}`, "t.toml");
    expect(c.publish.retransmit).toMatchObject({ bytesPerSec: 9000, totalBytesPerSec: 9000 });
  });

  test("check-config's TOML loads back to the same settings", () => {
    const c = parseConfigText(`[publish.retransmit]\nlisten = "127.0.0.1:0"\nallow = ["10.0.0.0/8", "127.0.0.1"]\nrequests_per_sec = 7\n${VENUE}`, "t.toml");
    const again = parseConfigText(formatConfigToml(c), "again.toml");
    expect(again.publish.retransmit).toEqual(c.publish.retransmit);
  });
});

describe("publish.destinations receivers (unicast)", () => {
  const uni = (body: string) => `[[publish.destinations]]\nname = "u"\n${body}\n${VENUE}`;
  test("receivers instead of a group: parsed, port 0, and round-tripped by check-config", () => {
    const c = parseConfigText(uni('receivers = ["127.0.0.1:4001", "127.0.0.7:4002"]'), "t.toml");
    const d = c.publish.destinations[0]!;
    expect(d.group).toBeUndefined();
    expect(d.port).toBe(0);
    expect(d.receivers).toEqual([{ host: "127.0.0.1", port: 4001 }, { host: "127.0.0.7", port: 4002 }]);
    expect(parseConfigText(formatConfigToml(c), "again.toml").publish.destinations).toEqual(c.publish.destinations);
  });

  test("group and receivers together, a port, a bad or duplicate receiver, an empty list: each named", () => {
    expect(problemsOf(uni('group = "239.255.1.1"\nport = 4000\nreceivers = ["127.0.0.1:4001", "239.1.1.1:5", "127.0.0.1:4001", "x"]'))).toEqual([
      'publish.destinations[0].receivers: "(with group)" is not either group (multicast) or receivers (unicast), not both',
      "publish.destinations[0].port: 4000 is not absent for a unicast destination (each receiver is host:port)",
      'publish.destinations[0].receivers: "239.1.1.1:5" is not IPv4 unicast "host:port" receivers, e.g. "10.1.2.3:31001"',
      'publish.destinations[0].receivers: "127.0.0.1:4001" is not each receiver once (a duplicate would get every datagram twice)',
      'publish.destinations[0].receivers: "x" is not IPv4 unicast "host:port" receivers, e.g. "10.1.2.3:31001"',
    ]);
    expect(problemsOf(uni("receivers = []"))).toEqual(['publish.destinations[0].receivers: [] is not a non-empty list of IPv4 "host:port" receivers']);
  });
});
