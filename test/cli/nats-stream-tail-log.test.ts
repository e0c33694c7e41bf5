/**
 * The line `listen --nats`/`from-nats` logs for a stream that lost its tail names what happened with its sequences.
 * A stream sequence gone back on the client's consumer is a lost tail however far the stream has grown by the
 * reader's look (nats-source.ts readBeforeBack): its end may then be at or past the last sequence read, and the line
 * said "ends at sequence L, below the R already read" with L not below R (2026-12-07).
 */
import { describe, expect, test } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { natsReadOptions } from "../../src/cli/commands/nats-args.ts";
import type { Logger } from "../../src/core/log.ts";

function errorsOf(lastRead: number, lastSeq: number): string[] {
  const errors: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn() {}, error: (msg) => void errors.push(msg), child: () => log };
  const ctx = { values: { nats: "nats://127.0.0.1:4222", stream: "FEED" }, positionals: [], log, out: () => {}, stopSignal: new Promise<string>(() => {}) } as unknown as CommandContext;
  natsReadOptions(ctx).onNatsEvent!({ kind: "stream_discontinuity", why: "truncated", lastRead, firstSeq: 1, lastSeq });
  return errors;
}

describe("the log line of a stream that lost its tail", () => {
  test("ending below the last sequence read: says so, with both", () => {
    const [line] = errorsOf(12, 2);
    expect(line).toMatch(/^JetStream stream FEED ends at sequence 2, below the 12 already read \(its store lost its tail/);
  });

  test("grown since to or past the last sequence read: says its sequences went back, not that it ends below", () => {
    const [line] = errorsOf(12, 15);
    expect(line).not.toMatch(/below the 12/);
    expect(line).toMatch(/^JetStream stream FEED numbered new messages again at sequences already read \(up to 12\); it ends at sequence 15 now \(its store lost its tail/);
  });
});
