/**
 * A child process's exit code, or "still running" once `ms` have passed (the process is left as it is): for tests
 * of a process that must exit by itself within a bound (a refused config, a stop during start-up, a closed pipe).
 */
export async function exitCodeWithin(proc: { exited: Promise<number> }, ms: number): Promise<number | "still running"> {
  let bound: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([proc.exited, new Promise<"still running">((resolve) => (bound = setTimeout(() => resolve("still running"), ms)))]);
  clearTimeout(bound);
  return code;
}
