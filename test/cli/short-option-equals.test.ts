/**
 * A short option written as a long one's `--name=value` (`-o=out.jsonl`): node:util parseArgs takes everything after
 * the letter as the value, the "=" included, so `export -o=out.jsonl` wrote a file named "=out.jsonl", `export -o=-`
 * a file named "=-" instead of standard output, and `record -o=/data` recorded into ./=/data, all exit 0. Refused,
 * exit 2, naming what was given and the two spellings that work.
 */
import { describe, expect, test } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.ts";
import { main, parseCommandLine } from "../../src/cli/main.ts";

describe("-x=value", () => {
  test("every command's short option with a value is refused when written with '=', naming it", () => {
    let checked = 0;
    for (const c of COMMANDS) {
      for (const [name, o] of Object.entries(c.options)) {
        const short = (o as { short?: string; type: string }).short;
        if (short === undefined || o.type !== "string") continue;
        const r = parseCommandLine(c, [`-${short}=a.txt`]);
        expect(r, `feeder ${c.name} -${short}=a.txt`).toBe(`-${short}=a.txt: a short option takes its value after a space (-${short} a.txt) or joined (-${short}a.txt); or --${name}=a.txt`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  test("the spellings that work still do: -o FILE, -oFILE, --out=FILE, and a value beginning with '=' given apart", () => {
    const exp = COMMANDS.find((c) => c.name === "export")!;
    for (const args of [["-o", "a.txt"], ["-oa.txt"], ["--out=a.txt"], ["--out", "a.txt"]]) expect(parseCommandLine(exp, [...args, "x.fcap"]), args.join(" ")).toMatchObject({ values: { out: "a.txt" } });
    expect(parseCommandLine(exp, ["-o", "=a.txt", "x.fcap"])).toMatchObject({ values: { out: "=a.txt" } });
  });

  test("-c= (nothing after the '='): the spellings are shown with a placeholder", () => {
    const check = COMMANDS.find((c) => c.name === "check-config")!;
    expect(parseCommandLine(check, ["-c="])).toBe("-c=: a short option takes its value after a space (-c VALUE) or joined (-cVALUE); or --config=VALUE");
  });

  test("-o==a (a value that itself begins with '='): the joined spelling, refused too, is not offered", () => {
    const exp = COMMANDS.find((c) => c.name === "export")!;
    expect(parseCommandLine(exp, ["-o==a", "x.fcap"])).toBe("-o==a: a short option takes its value after a space (-o =a); or --out==a");
  });

  test("main: exit 2 with the line on stderr, nothing run", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["export", "-o=-", "x.fcap"], { out: (t) => out.push(t), err: (t) => err.push(t) });
    expect({ code, out, err }).toEqual({ code: 2, out: [], err: ["feeder export: -o=-: a short option takes its value after a space (-o -) or joined (-o-); or --out=- (see feeder export --help)"] });
  });
});
