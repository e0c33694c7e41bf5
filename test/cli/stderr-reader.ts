/** A child's standard error read as it comes, for tests whose child writes into a pipe whose reader takes nothing. */

/**
 * Reads `proc`'s stderr into `text`. The script gives its standard output to a reader (a sleep) that announces
 * itself first on stderr as `reader <pid>`: that pid is kept in `readerPid`, so the test can end it afterwards.
 */
export function stderrReader(proc: { stderr: ReadableStream<Uint8Array> }) {
  const reader = proc.stderr.getReader();
  const decoder = new TextDecoder();
  const out = {
    text: "",
    readerPid: undefined as number | undefined,
    /** Reads stderr until it holds `want` or ends (the bash and the sleep have let go of it by then). */
    async readUntil(want: string): Promise<void> {
      while (!out.text.includes(want)) {
        const { value, done } = await reader.read();
        if (done) return;
        out.text += decoder.decode(value, { stream: true });
        out.readerPid ??= Number(/reader (\d+)/.exec(out.text)?.[1]) || undefined;
      }
    },
  };
  return out;
}
