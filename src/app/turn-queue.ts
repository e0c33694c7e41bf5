/**
 * One event-loop turn at a time for everyone who asks (setImmediate between them), so that work split into chunks by
 * several callers never adds up to one long turn: the HTTP bodies' formatting (book-stream.ts formattingTurn) and a
 * worker's replies (worker-reply.ts sharedTurns) each keep one queue. Within it the lowest `order` goes first (equal
 * orders in arrival order), and a health check's turn (/readyz) ahead of the others, but never two of them in a row
 * while others wait: a steady stream of health checks (a flood of /readyz, which is never refused) would otherwise
 * hold every chunk as long as it lasts.
 * @module
 */

/**
 * Another turn of the queue; a health check's (/readyz) goes ahead of the others'. `order`: lowest first (a worker's
 * reply passes its request id, so the oldest reply's chunk goes first); equal orders in arrival order.
 */
export type SharedTurn = (healthCheck?: boolean, order?: number) => Promise<void>;

/** A queue of its own: resolves one waiter per event-loop turn, its work running in that turn's microtasks. */
export function turnQueue(): SharedTurn {
  const waiting: { order: number; resolve: () => void }[] = [];
  const checks: { order: number; resolve: () => void }[] = [];
  let checkLast = false;
  let pumping = false;
  const pump = (): void => {
    const check = checks.length > 0 && (!checkLast || waiting.length === 0);
    const next = check ? checks.shift() : waiting.shift();
    checkLast = check;
    if (next === undefined) {
      pumping = false;
      return;
    }
    next.resolve(); // its chunk runs in this turn's microtasks
    setImmediate(pump);
  };
  return (healthCheck = false, order = 0) =>
    new Promise<void>((resolve) => {
      const queue = healthCheck ? checks : waiting;
      let at = queue.length; // after every waiter of a lower or the same order (a few: one per caller in progress)
      while (at > 0 && queue[at - 1]!.order > order) at--;
      queue.splice(at, 0, { order, resolve });
      if (!pumping) {
        pumping = true;
        setImmediate(pump);
      }
    });
}
