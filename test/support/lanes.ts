/**
 * A FIFO limit on how many of a file's concurrent tests (describe.concurrent) run their body at once: tests that
 * mostly wait (on subprocesses, simulators, backoffs) overlap those waits, while no more than `lanes` load the CPU
 * together. Each caller's work starts in the order it asked.
 */
export function laneLimit(lanes: number): <T>(run: () => Promise<T>) => Promise<T> {
  let free = lanes;
  const waiting: (() => void)[] = [];
  return async <T>(run: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((res) => waiting.push(res));
    try {
      return await run();
    } finally {
      // The lane passes straight to the next caller (free stays taken), or back to the pool.
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
