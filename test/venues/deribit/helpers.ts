/** Deribit test helpers. */
import { parseJsonNumberCodes } from "../../../src/core/fixed.ts";

/** A JSON number text at an exponent, exactly (the simulator prints some in exponent form). */
export function mantissa(text: string, exp: number): number {
  const m = parseJsonNumberCodes(text, 0, text.length, exp);
  if (m < 0) throw new Error(`${text} does not fit exponent ${exp}`);
  return m;
}
