/**
 * bench/publish-guard.bench.ts's verdict, apart so a test can check it: the watcher's added cost is a figure only
 * when, in every round it was on, it read every datagram sent (a watcher that missed some was not paid for them).
 * @module
 */

/** One round of the bench: CPU per datagram sent, and what the watcher read (0 when off). */
export interface GuardRound {
  /** 1-based, as the bench's table. */
  round: number;
  withGuard: boolean;
  sent: number;
  seen: number;
  cpuNsPerDgram: number;
}

/**
 * GUARD_ROUNDS (`text`; unset: `dflt`): rounds of the watcher on and off each. Below 1 there is no round to take a
 * median of: the summary line gave NaN figures (GUARD_ROUNDS=0), so it is refused, as is a fraction or other text.
 */
export function guardRounds(text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = /^\d+$/.test(text) ? Number(text) : 0;
  if (n < 1) throw new Error(`GUARD_ROUNDS must be a whole number of rounds, at least 1: got "${text}"`);
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The summary line: the watcher's added CPU per datagram, or NO naming the rounds in which it saw fewer than sent. */
export function watcherCostLine(rounds: readonly GuardRound[], head: string): string {
  const short = rounds.flatMap((r) => (r.withGuard && r.seen < r.sent ? [`round ${r.round}: saw ${r.seen} of ${r.sent}`] : []));
  if (short.length > 0) return `${head}NO: the watcher saw fewer datagrams than were sent (${short.join("; ")}); its cost is not given.`;
  const off = rounds.filter((r) => !r.withGuard).map((r) => r.cpuNsPerDgram);
  const on = rounds.filter((r) => r.withGuard).map((r) => r.cpuNsPerDgram);
  const ratios = off.map((o, i) => on[i]! / o);
  return (
    `${head}Median CPU per datagram: off ${Math.round(median(off))} ns, on ${Math.round(median(on))} ns; ` +
    `the watcher adds ${Math.round(median(on) - median(off))} ns per datagram sent (on/off ratio, median of rounds: ${median(ratios).toFixed(2)}); ` +
    `the watcher saw every datagram sent in each of its rounds.`
  );
}
