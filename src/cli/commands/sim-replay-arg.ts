/**
 * `feeder sim --replay FILE`, checked: a regular file, one the venue's loader takes, holding something to serve.
 * Each refusal is a usage error naming --replay (exit 2).
 * @module
 */
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { UsageError } from "../command.ts";

/**
 * `--replay FILE`: a regular file this user may read. A FIFO held the start in open(2), deaf to SIGINT and SIGTERM (only SIGKILL ended
 * it), and a directory was "no such file".
 */
export function replayFileOf(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  let st;
  try {
    st = statSync(v);
  } catch (err) {
    throw new UsageError(`--replay ${v}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (!st.isFile()) throw new UsageError(`--replay ${v}: not a regular file (${st.isDirectory() ? "a directory" : st.isFIFO() ? "a FIFO" : "a device or socket"}): the simulator reads a recording file`);
  // One this user may not read failed as the simulator opened it: EACCES, exit 1 (as a port in use), not the flag's.
  try {
    accessSync(v, fsConstants.R_OK);
  } catch (err) {
    throw new UsageError(`--replay ${v}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return v;
}

/**
 * A recording the simulator's loader refused (a plain Error: "not a feeder capture file", "not a cryptofeed
 * recording") is the --replay argument's fault: exit 2 naming it, not a stack trace and exit 1.
 */
export function startError(err: unknown, replayFile: string | undefined): unknown {
  if (replayFile === undefined || !(err instanceof Error) || err.constructor !== Error || (err as NodeJS.ErrnoException).code !== undefined) return err;
  return new UsageError(`--replay ${replayFile}: ${err.message.replace(/^sim: /, "")}`);
}

/**
 * A --replay file the simulator found nothing to serve in (another venue's recording; OKX: none of the --symbols
 * instruments) is refused, the simulator stopped: before, it served generated books alone, the replay unsaid.
 */
export async function refuseEmptyReplay(replayFile: string | undefined, topicsServed: number, stop: () => Promise<void>, what: string): Promise<void> {
  if (replayFile === undefined || topicsServed > 0) return;
  await stop();
  throw new UsageError(`--replay ${replayFile}: nothing in it to serve (${what})`);
}
