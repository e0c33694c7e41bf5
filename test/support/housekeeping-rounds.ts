/**
 * Counts an adapter's housekeeping rounds (ConnectionLifecycle.onHousekeeping: pings, pong and ack deadlines, a planned
 * reconnect's completion), for tests that drive the adapter's clock or check that "nothing happens": they wait for
 * rounds that really ran instead of sleeping for a time a loaded machine may fill with no round at all.
 */
export function housekeepingRounds(adapter: object): (n: number, timeoutMs?: number) => Promise<void> {
  const lifecycle = (adapter as { lifecycle?: { onHousekeeping?: () => void } }).lifecycle;
  if (typeof lifecycle?.onHousekeeping !== "function") throw new Error("housekeepingRounds: the adapter has no lifecycle.onHousekeeping to count");
  const round = lifecycle.onHousekeeping.bind(lifecycle);
  let rounds = 0;
  // The lifecycle's timer calls this.onHousekeeping() each time: the instance's own property wins over the prototype's.
  lifecycle.onHousekeeping = () => {
    round();
    rounds++;
  };
  /** Resolves once `n` more rounds have run to their end (each started after this call: a round is synchronous). */
  return async (n, timeoutMs = 10_000) => {
    const target = rounds + n;
    const deadline = Date.now() + timeoutMs;
    while (rounds < target) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} housekeeping rounds (${rounds - target + n} ran)`);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
}
