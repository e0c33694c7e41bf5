/** Keeps this thread busy for `ms` (a stall of the process's own thread): no timer, no socket read runs meanwhile. */
export function stallThread(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}
