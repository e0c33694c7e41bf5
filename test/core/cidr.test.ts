/** IPv4 parsing for publish.retransmit.allow: the allocation-free parser agrees with the dotted-quad grammar. */
import { describe, expect, it } from "vitest";
import { inCidrs, ipv4ToU32, parseCidr } from "../../src/core/cidr.ts";
import { randInt, rng } from "../wire/helpers.ts";

/** The grammar as a regex (what the parser replaced): four octets of 1–3 digits, each ≤ 255. */
function reference(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null || m.slice(1).some((o) => Number(o) > 255)) return -1;
  return m.slice(1).reduce((v, o) => v * 256 + Number(o), 0);
}

describe("ipv4ToU32", () => {
  it("parses addresses and refuses what is not one", () => {
    expect(ipv4ToU32("127.0.0.1")).toBe(0x7f000001);
    expect(ipv4ToU32("255.255.255.255")).toBe(0xffffffff);
    expect(ipv4ToU32("0.0.0.0")).toBe(0);
    expect(ipv4ToU32("010.001.000.009")).toBe(0x0a010009);
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.0004", "1.2.3.-4", "::1", "a.b.c.d", "1.2.3.4/8"]) {
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

  it("inCidrs takes an IPv4-mapped IPv6 address", () => {
    const allow = [parseCidr("10.1.2.0/24")];
    expect(inCidrs("::ffff:10.1.2.9", allow)).toBe(true);
    expect(inCidrs("10.1.2.9", allow)).toBe(true);
    expect(inCidrs("10.1.3.9", allow)).toBe(false);
    expect(inCidrs("::1", allow)).toBe(false);
  });
});
