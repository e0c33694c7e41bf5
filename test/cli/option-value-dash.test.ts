/**
 * A value beginning with "-" after an option that takes one (`--port -1`, `-c -x.toml`, or a value forgotten:
 * `-c --duration 5`): parseArgs' refusal was three lines ending in "use '--port=-XYZ'", the value not named. One
 * line now, naming the option and what came after it, and how to give it as the value; exit 2 as before.
 */
import { expect, test } from "vitest";
import { runMain as run } from "./run-main.ts";

test.each([
  [["listen", "--port", "-1"], 'feeder listen: --port needs a value, got "-1", which begins with "-": if it is the value, give --port=-1 (see feeder listen --help)'],
  [["sim", "-p", "-5"], 'feeder sim: --port needs a value, got "-5", which begins with "-": if it is the value, give --port=-5 (see feeder sim --help)'],
  [["check-config", "-c", "--version"], 'feeder check-config: --config needs a value, got "--version", which begins with "-": if it is the value, give --config=--version (see feeder check-config --help)'],
])("%j: exit 2, one line naming the option and the value", async (argv, message) => {
  expect(await run(...argv)).toEqual({ code: 2, out: [], err: [message] });
});

test("given as --name=-value it reaches the flag's own check", async () => {
  expect(await run("listen", "--port=-1")).toEqual({ code: 2, out: [], err: ['feeder listen: --port must be a positive integer, got "-1" (see feeder listen --help)'] });
});
