/** The CLI run in this process, its output and errors kept as lines: for tests of what a command says and exits with. */
import { main } from "../../src/cli/main.ts";

export async function runMain(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}
