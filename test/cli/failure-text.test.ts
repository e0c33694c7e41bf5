/**
 * main's line for a command's uncaught failure (`failureText`): an Error's stack, else the value in words, and never a
 * throw of its own. Until 2026-12-07 it was `(err as Error).stack ?? String(err)`, which threw for a value with no
 * string form (Object.create(null), a toString that throws), losing the failure's line.
 */
import { describe, expect, test } from "vitest";
import { failureText } from "../../src/cli/main.ts";

describe("failureText", () => {
  test("an Error gives its stack", () => {
    const err = new Error("boom");
    expect(failureText(err)).toBe(err.stack);
  });

  test("a value with no string form is described, not thrown", () => {
    expect(failureText(Object.create(null))).toBe("a thrown [object Object] with no string form");
    const hostile = { toString: () => { throw new Error("no"); } };
    expect(failureText(hostile)).toBe("a thrown [object Object] with no string form");
  });

  test("an Error whose stack getter throws is described by its message", () => {
    const err = new Error("inner");
    Object.defineProperty(err, "stack", { get: () => { throw new Error("no stack"); } });
    expect(failureText(err)).toBe("inner");
  });

  test("a string or number says itself", () => {
    expect(failureText("plain")).toBe("plain");
    expect(failureText(42)).toBe("42");
  });
});
