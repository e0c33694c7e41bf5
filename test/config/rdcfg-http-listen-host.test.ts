/**
 * http.listen at an address this host does not have (a typo of its LAN address, or a file written for another host)
 * was taken: check-config called the file valid, and `run` / `record` failed their start binding it (exit 1,
 * "cannot listen"), while the same typo in publish.retransmit.listen or a destination's interface is named by the
 * loader as an address not up yet. It is named the same way now (HostAddressError: exit 1 retried, as an address that
 * may come up). Not where no HTTP server runs: HTTP off, `replay`, `export --books`, a reader of [publish].
 */
import { describe, expect, test } from "vitest";
import { parseConfigText, type ValidateOptions } from "../../src/config/load.ts";
import { ConfigError, HostAddressError } from "../../src/core/errors.ts";
import { configProblems } from "../support/config-problems.ts";

const LAN = [{ name: "lo", address: "127.0.0.1" }, { name: "eth0", address: "10.1.2.1" }];
const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const http = (listen: string, extra = "") => `[http]\nlisten = "${listen}"\nallow_non_loopback = true\nbearer_token = "abc"\n${extra}${VENUE}`;

function thrown(toml: string, opts: ValidateOptions = { localAddresses: LAN }): unknown {
  try {
    parseConfigText(toml, "t.toml", opts);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("http.listen must be an address of this host", () => {
  test("an address this host lacks is named, as one not up yet (HostAddressError: exit 1, retried)", () => {
    const err = thrown(http("10.9.9.9:9464"));
    expect(err).toBeInstanceOf(HostAddressError);
    expect((err as ConfigError).problems).toEqual(['http.listen: "10.9.9.9:9464" is not an address of this host (it has 127.0.0.1 on lo, 10.1.2.1 on eth0), or 0.0.0.0']);
  });

  test("beside a problem of the file itself: a ConfigError (exit 2), both named", () => {
    const err = thrown(http("10.9.9.9:9464", "max_in_flight = 0\n"));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).not.toBeInstanceOf(HostAddressError);
    expect((err as ConfigError).problems.map((p) => p.split(":")[0])).toEqual(["http.max_in_flight", "http.listen"]);
  });

  test("this host's address, 0.0.0.0 and loopback are taken", () => {
    for (const listen of ["10.1.2.1:9464", "0.0.0.0:9464", "127.0.0.2:9464", "localhost:0"]) expect(configProblems(http(listen), { localAddresses: LAN }), listen).toEqual([]);
    // Loopback is every host's, also where the list given has none (as the default 127.0.0.1 always was).
    expect(configProblems(VENUE.replace("[venues", '[[publish.destinations]]\ngroup = "239.255.9.1"\nport = 31001\ninterface = "10.1.2.1"\n[venues'), { localAddresses: [LAN[1]!] })).toEqual([]);
  });

  test("not where no HTTP server runs from the file here: HTTP off, replay, export --books, a reader of [publish]", () => {
    expect(configProblems(http("10.9.9.9:9464", "enabled = false\n"), { localAddresses: LAN })).toEqual([]);
    expect(configProblems(http("10.9.9.9:9464"), { localAddresses: LAN, servesHttp: false })).toEqual([]);
    expect(configProblems(http("10.9.9.9:9464"), { localAddresses: LAN, publishesHere: false })).toEqual([]);
    expect(configProblems(http("10.9.9.9:9464"), { localAddresses: LAN, requireVenue: false })).toEqual([]);
  });
});
