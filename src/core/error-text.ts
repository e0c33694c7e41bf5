/**
 * A thrown value in words, whatever it is: never throws. `String(err)` throws for a value with no string form
 * (Object.create(null), a toString that throws), so a catch that described its error so threw itself and the cause
 * was lost: until 2026-12-07 HTTP's handler (Bun's "HTTP server error: Cannot convert object to primitive value"),
 * until 2026-12-07 a book that could not be read (its named 500 became "internal error"). In core: every layer's catch
 * may describe what it caught.
 */
export function errorText(err: unknown): string {
  try {
    const text = err instanceof Error ? err.message : String(err);
    if (typeof text === "string") return text;
  } catch {
    // no string form: what kind of value it is, below
  }
  try {
    return `a thrown ${Object.prototype.toString.call(err)} with no string form`;
  } catch {
    return "a thrown value with no string form";
  }
}
