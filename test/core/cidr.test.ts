/**
 * IPv4 parsing for publish.retransmit.allow: the allocation-free parser agrees with the dotted-decimal grammar the
 * rest of the configuration takes (core/ipv4.ts isIpv4: no leading zeros, which inet_aton reads as octal).
 */
import { describe, expect, it } from "vitest";
import { isIpv4 } from "../../src/core/ipv4.ts";
import { CidrHostBitsError, inCidrs, ipv4ToU32, parseCidr } from "../../src/core/cidr.ts";
import { randInt, rng } from "../wire/helpers.ts";

/** The grammar: isIpv4's (four octets 0–255, no leading zeros), valued octet by octet. */
function reference(s: string): number {
  if (!/^[0-9.]*$/.test(s) || !isIpv4(s)) return -1;
  return s.split(".").reduce((v, o) => v * 256 + Number(o), 0);
}

describe("ipv4ToU32", () => {
  it("parses addresses and refuses what is not one", () => {
    expect(ipv4ToU32("127.0.0.1")).toBe(0x7f000001);
    expect(ipv4ToU32("255.255.255.255")).toBe(0xffffffff);
    expect(ipv4ToU32("0.0.0.0")).toBe(0);
    expect(ipv4ToU32("10.100.0.9")).toBe(0x0a640009);
    // A leading zero: inet_aton (dgram's resolver) reads "010" as octal 8 and cannot read "09"; listen and every other
    // address of the configuration refuse it (isIpv4), so allow must not read "010.1.2.0/24" as 10.1.2.0/24.
    for (const bad of ["010.1.2.0", "10.01.2.0", "10.1.00.0", "10.1.2.09", "00.0.0.0", "", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.0004", "1.2.3.-4", "::1", "a.b.c.d", "1.2.3.4/8"]) {
      expect(ipv4ToU32(bad), bad).toBe(-1);
    }
  });

  it("agrees with the grammar on random strings of digits and dots", () => {
    const r = rng(11);
    const alphabet = "0123456789..5x";
    for (let n = 0; n < 20_000; n++) {
      let s = "";
      const len = randInt(r, 0, 17);
      for (let i = 0; i < len; i++) s += alphabet[randInt(r, 0, alphabet.length - 1)];
      expect(ipv4ToU32(s), s).toBe(reference(s));
    }
  });

  it("parseCidr refuses an address with a leading zero, naming the block", () => {
    expect(() => parseCidr("010.1.2.0/24")).toThrow('"010.1.2.0/24" is not an IPv4 CIDR block');
    expect(parseCidr("10.1.2.0/24").base).toBe(0x0a010200);
  });

  it("inCidrs takes an IPv4-mapped IPv6 address", () => {
    const allow = [parseCidr("10.1.2.0/24")];
    expect(inCidrs("::ffff:10.1.2.9", allow)).toBe(true);
    expect(inCidrs("10.1.2.9", allow)).toBe(true);
    expect(inCidrs("10.1.3.9", allow)).toBe(false);
    expect(inCidrs("::1", allow)).toBe(false);
  });
});

describe("a block with host bits set (s-cfg8)", () => {
  // Before, "10.0.0.1/8" was read as 10.0.0.0/8 without a word: a host meant as /32 with a mistyped prefix let 16
  // million addresses ask. Refused now, as `ip route` and Python's ipaddress refuse it, naming both readings.
  it("is refused, naming the network and the host", () => {
    expect(() => parseCidr("10.0.0.1/8")).toThrow(new CidrHostBitsError("10.0.0.1/8", "10.0.0.0/8", "10.0.0.1/32"));
    expect(() => parseCidr("192.168.1.130/25")).toThrow('"192.168.1.130/25" has host bits set: the network is "192.168.1.128/25", the one host "192.168.1.130/32"');
    expect(() => parseCidr("1.2.3.4/0")).toThrow(CidrHostBitsError);
  });

  it("is refused exactly when a bit of the address lies beyond the prefix (random addresses and prefixes)", () => {
    const r = rng(23);
    for (let n = 0; n < 5_000; n++) {
      const octets = [0, 0, 0, 0].map(() => (randInt(r, 0, 3) === 0 ? 0 : randInt(r, 0, 255)));
      const bits = randInt(r, 0, 32);
      const text = `${octets.join(".")}/${bits}`;
      // The reference: the address's bits as a string, every one past the prefix must be 0.
      const binary = octets.map((o) => o.toString(2).padStart(8, "0")).join("");
      const clean = !binary.slice(bits).includes("1");
      if (clean) expect(parseCidr(text).base, text).toBe(octets.reduce((v, o) => v * 256 + o, 0));
      else expect(() => parseCidr(text), text).toThrow(CidrHostBitsError);
    }
  });

  it("a bare address and a clean block are taken", () => {
    expect(parseCidr("10.0.0.1").mask).toBe(0xffffffff);
    expect(parseCidr("0.0.0.0/0").mask).toBe(0);
    expect(parseCidr("10.0.0.0/8").base).toBe(0x0a000000);
  });
});
