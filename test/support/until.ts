/** Polls a condition every 10 ms until it holds; past `boundMs` (a generous bound, so a hang fails) it throws naming `what`. */
export async function until(what: string, cond: () => boolean, boundMs = 30_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within ${boundMs} ms: ${what}`);
    await Bun.sleep(10);
  }
}
