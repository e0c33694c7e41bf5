/**
 * Whether a frame the simulator's malformed fault wrote is garbled: no JSON, or a level's price (a JSON string) is no
 * decimal. `levels`: the parsed frame's levels, both sides.
 */
export function garbled(bad: string, levels: (d: any) => string[][]): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bad);
  } catch {
    return true;
  }
  return levels(parsed).some(([p]) => !/^\d+(\.\d+)?$/.test(p!));
}
