/** Test helper: counts the sides the WebAssembly side reader took (readSide ≥ 0) and declined, for tests that must not pass vacuously. */
import { vi } from "vitest";
import { WasmLevels } from "../../../src/venues/common/levels-wasm.ts";

/** Spies on WasmLevels.readSide until vi.restoreAllMocks(); the returned counts grow as sides are read. */
export function countSides(): { accepted: number; declined: number } {
  const counts = { accepted: 0, declined: 0 };
  const real = WasmLevels.prototype.readSide;
  vi.spyOn(WasmLevels.prototype, "readSide").mockImplementation(function (this: WasmLevels, ...args: Parameters<WasmLevels["readSide"]>) {
    const r = real.apply(this, args);
    if (r >= 0) counts.accepted++;
    else counts.declined++;
    return r;
  });
  return counts;
}
