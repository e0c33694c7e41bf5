/**
 * Which address problems `run`/`record` retry (HostAddressError: exit 1) and which are the file's (ConfigError:
 * exit 2). An address this host may get later (a secondary or VRRP address) is retried; one no host can have (a
 * multicast group written as the interface, 255.255.255.255, 0/8) is the file's: before, it was retried every 5 s
 * for ever. A file with an address not up yet and a share that holds no symbol is the file's too: before, the
 * share was not checked beside the address, so `run` exited 1 until the address came up, and only then 2.
 */
import { describe, expect, test } from "vitest";
import { loadForStart } from "../../src/cli/command.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { shardOfId } from "../../src/config/share.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { ConfigError, HostAddressError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/log.ts";
import { LOOPBACK_ONLY } from "../support/config-problems.ts";

const linear = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const destination = (iface: string) => `[[publish.destinations]]\ngroup = "239.1.2.3"\nport = 31001\ninterface = "${iface}"\n`;

/** What loading `toml` throws (undefined when it loads), on a host whose only address is 127.0.0.1. */
function thrown(toml: string): unknown {
  try {
    parseConfigText(toml, "t.toml", { localAddresses: LOOPBACK_ONLY });
  } catch (err) {
    return err;
  }
  return undefined;
}

/** `run`'s reading of the file: undefined (exit 1, retried) for a HostAddressError; a ConfigError is thrown (exit 2). */
function startsAs(toml: string): "exit 1" | "exit 2" | "loads" {
  try {
    return loadForStart(toml, (t) => parseConfigText(t, "t.toml", { localAddresses: LOOPBACK_ONLY }), silentLogger) === undefined ? "exit 1" : "loads";
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return "exit 2";
  }
}

describe("an address this host lacks: retried only when it could come up", () => {
  test("an interface address not on this host (yet): HostAddressError, exit 1", () => {
    expect(thrown(`[publish]\n${destination("10.9.9.9")}${linear}`)).toBeInstanceOf(HostAddressError);
    expect(startsAs(`[publish]\n${destination("10.9.9.9")}${linear}`)).toBe("exit 1");
  });

  test("an address no host has (a group as the interface, broadcast, 0/8): the file's, exit 2, named", () => {
    for (const iface of ["239.1.2.3", "224.0.0.1", "255.255.255.255", "0.1.2.3"]) {
      const err = thrown(`[publish]\n${destination(iface)}${linear}`);
      expect(err, iface).toBeInstanceOf(ConfigError);
      expect(err, iface).not.toBeInstanceOf(HostAddressError);
      expect((err as ConfigError).problems, iface).toEqual([expect.stringMatching(new RegExp(`^publish\\.destinations\\[0\\]\\.interface: "${iface.replaceAll(".", "\\.")}" is not the IPv4 address of a local interface.*no host has it`))]);
      expect(startsAs(`[publish]\n${destination(iface)}${linear}`), iface).toBe("exit 2");
    }
    const rt = thrown(`[publish]\n[publish.retransmit]\nlisten = "239.1.2.3:31900"\n${linear}`);
    expect(rt).toBeInstanceOf(ConfigError);
    expect(rt).not.toBeInstanceOf(HostAddressError);
    expect((rt as ConfigError).problems).toEqual([expect.stringMatching(/^publish\.retransmit\.listen: "239\.1\.2\.3:31900" .*multicast group address/)]);
    // One this host may get: retried.
    expect(thrown(`[publish]\n[publish.retransmit]\nlisten = "10.9.9.9:31900"\n${linear}`)).toBeInstanceOf(HostAddressError);
  });

  test("an address not up yet beside a shard that holds no symbol: both named, exit 2", () => {
    const empty = 1 - shardOfId(instrumentIdOf("bybit", "linear", "BTCUSDT"), 2);
    const toml = `shard = "${empty}/2"\n[publish]\nsource_id = 4\n${destination("10.9.9.9")}${linear}`;
    const err = thrown(toml);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).not.toBeInstanceOf(HostAddressError);
    expect((err as ConfigError).problems.map((p) => p.split(":")[0])).toEqual(["publish.destinations[0].interface", "shard"]);
    expect(startsAs(toml)).toBe("exit 2");
    // More workers than symbols beside it: the same.
    expect(startsAs(`workers = 2\n[publish]\n${destination("10.9.9.9")}${linear}`)).toBe("exit 2");
  });
});
