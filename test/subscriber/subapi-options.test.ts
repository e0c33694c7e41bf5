/**
 * s-subapi: bad options to FeedSubscriber throw at construction, naming the option and the value. Before: a group
 * port of 0 bound any free port and start() resolved deaf (no error ever), a unicast `group` or a non-address `iface`
 * failed only at start(), a missing `groups` threw "undefined is not an object", `staleAfterMs: "5000"` was taken,
 * and an `authKey` that is no Uint8Array was taken (a number: an empty HMAC key; a string: every datagram refused).
 */
import { expect, it, vi } from "vitest";
import { FeedSubscriber, formatDecimal, type FeedSubscriberOptions } from "../../src/subscriber/index.ts";

const G = "239.255.0.2";
const bad: [FeedSubscriberOptions, RegExp][] = [
  [{ groups: [{ group: G, port: 0 }] }, /^groups\[0\]\.port must be an integer in 1\.\.65535, got 0$/],
  [{ groups: [{ group: G, port: 31002 }, { group: G, port: 70000 }] }, /^groups\[1\]\.port .* got 70000$/],
  [{ groups: [{ group: G, port: "31002" as never }] }, /^groups\[0\]\.port .* got "31002"$/],
  [{ groups: [{ group: "10.0.0.1", port: 31002 }] }, /^groups\[0\]\.group must be an IPv4 multicast address .* got "10\.0\.0\.1"$/],
  [{ groups: [{ group: "240.0.0.1", port: 31002 }] }, /^groups\[0\]\.group must be an IPv4 multicast/],
  [{ groups: [{ group: G, port: 31002, iface: "eth0" }] }, /^groups\[0\]\.iface must be an IPv4 address .* got "eth0"$/],
  [{ groups: [{ bind: "localhost", port: 31002 }] }, /^groups\[0\]\.bind must be an IPv4 address .* got "localhost"$/],
  [{} as never, /^groups must be an array/],
  [{ groups: [{ group: G, port: 31002 }, null as never] }, /^groups\[1\] must be an object \{ group, port, iface\? \} or \{ bind, port \}, got null$/],
  [{ groups: ["239.255.0.2:31002" as never] }, /^groups\[0\] must be an object .* got "239\.255\.0\.2:31002"$/],
  [{ groups: [], staleAfterMs: "5000" as never }, /^staleAfterMs must be a number of ms ≥ 0, got "5000"$/],
  [{ groups: [], authKey: 5 as never }, /^authKey must be a Uint8Array .* got number$/],
  [{ groups: [], authKey: "0123456789abcdef0123456789abcdef" as never }, /^authKey must be a Uint8Array .* got string$/],
];

it("a bad group, staleAfterMs or authKey throws at construction, naming the option and its value", () => {
  for (const [opts, message] of bad) expect(() => new FeedSubscriber(opts), JSON.stringify(opts)).toThrow(message);
});

it("good groups and keys are still taken: multicast on an interface, a unicast bind, a Buffer key", () => {
  const ok: FeedSubscriberOptions[] = [
    { groups: [{ group: "224.0.0.251", port: 1 }, { group: "239.255.255.255", port: 65535, iface: "127.0.0.1" }, { bind: "0.0.0.0", port: 31002 }] },
    { groups: [], authKey: Buffer.alloc(32, 7) },
  ];
  for (const opts of ok) expect(() => new FeedSubscriber(opts).stop()).not.toThrow();
});

it("on() and off() with an unknown event, or on() with a listener that is no function, throw naming it", () => {
  const sub = new FeedSubscriber({ groups: [] });
  // Before: a TypeError "Spread syntax requires …" (on), "undefined is not an object" (off); a non-function was taken.
  expect(() => sub.on("updates" as never, (() => {}) as never)).toThrow(/^no subscriber event "updates": one of update, status, gap/);
  expect(() => sub.off("counters" as never, (() => {}) as never)).toThrow(/^no subscriber event "counters"/);
  expect(() => sub.on("update", 5 as never)).toThrow(/^on\("update", listener\): the listener must be a function, got number$/);
  const heard: string[] = [];
  sub.on("error", (e) => heard.push(e.from));
  sub.off("error", () => {});
  expect(heard).toEqual([]);
});

it("formatDecimal is exported from the library entry and gives the README's example exactly (i8 exponents both ways)", () => {
  expect(formatDecimal(943503, 1)).toBe("94350.3");
  expect(formatDecimal(-5, 3)).toBe("-0.005");
  expect(formatDecimal(12, -2)).toBe("1200");
  expect(formatDecimal(2 ** 53 - 1, 22)).toBe("0.0000009007199254740991");
});

it("a staleAfterMs of 99 days or more (Infinity too) is taken and checked at most every minute, not every millisecond", async () => {
  // s-rd30a: the stale check ran every staleAfterMs / 4 ms; over 2^31 − 1 ms the runtime takes a period as 1 ms
  // (TimeoutOverflowWarning): a scan of every stream each millisecond for a subscriber meaning "hardly ever stale".
  const spy = vi.spyOn(globalThis, "setInterval");
  try {
    for (const staleAfterMs of [1e10, Infinity]) {
      spy.mockClear();
      const sub = new FeedSubscriber({ groups: [], staleAfterMs });
      await sub.start();
      await sub.stop();
      const periodsMs = spy.mock.calls.map((c) => c[1]);
      expect(periodsMs.length, String(staleAfterMs)).toBeGreaterThan(0);
      for (const ms of periodsMs) expect(ms, String(staleAfterMs)).toBeLessThanOrEqual(60_000);
    }
  } finally {
    spy.mockRestore();
  }
});
