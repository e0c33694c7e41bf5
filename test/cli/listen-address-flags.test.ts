/**
 * `listen --group` refusals name the flag and the entry as given, and say what is wrong with it: a group that is no
 * multicast address was "10.0.0.1 is not an IPv4 multicast group" (no flag), and a port that is no number
 * (`239.1.1.1:abc`, beside --port 5 too) was "give a port (G:P or --port)", though one was given. --bind and
 * --retransmit with a port out of range said only "give ADDR:PORT": they say the range.
 */
import { expect, test } from "vitest";
import { runMain as run } from "./run-main.ts";

test.each([
  [["--group", "10.0.0.1:5"], '--group "10.0.0.1:5": 10.0.0.1 is not an IPv4 multicast group'],
  [["--group", "feed:5"], '--group "feed:5": feed is not an IPv4 multicast group: feed is a name, not a dotted-decimal address'],
  [["--group", "239.1.1.1:abc", "--port", "5"], '--group "239.1.1.1:abc": its port "abc" is not a number (G:P, P in 1..65535)'],
  [["--group", "239.1.1.1:5:6"], '--group "239.1.1.1:5:6": its port "5:6" is not a number (G:P, P in 1..65535)'],
  [["--group", "239.1.1.1:"], '--group "239.1.1.1:": its port "" is not a number (G:P, P in 1..65535)'],
  [["--group", "239.1.1.1"], '--group "239.1.1.1": give a port (G:P or --port)'],
  // Six digits are a number: it said "is not a number", as for "abc".
  [["--group", "239.1.1.1:100000"], '--group "239.1.1.1:100000": port 100000 out of range (1..65535)'],
])("listen %j: exit 2, naming --group and the entry", async (args, message) => {
  expect(await run("listen", ...args, "--duration", "0.05")).toEqual({ code: 2, out: [], err: [`feeder listen: ${message} (see feeder listen --help)`] });
});

test.each([
  [["--bind", "127.0.0.1:70000"], '--bind "127.0.0.1:70000": give a local IPv4 ADDR:PORT (PORT 1..65535)'],
  [["--bind", "127.0.0.1:0"], '--bind "127.0.0.1:0": give a local IPv4 ADDR:PORT (PORT 1..65535)'],
  [["--retransmit", "127.0.0.1:0"], '--retransmit "127.0.0.1:0": give HOST:PORT (PORT 1..65535)'],
])("listen %j: exit 2, saying the port's range (it said only ADDR:PORT, for a port out of it)", async (args, message) => {
  expect(await run("listen", ...args, "--duration", "0.05")).toEqual({ code: 2, out: [], err: [`feeder listen: ${message} (see feeder listen --help)`] });
});
