/**
 * A stand-in for ConnectionLifecycle where the instrument watch or a late join runs without sockets. It implements
 * TopicMembership (every lifecycle call they make) with no cast, so a call they start making fails the typecheck
 * here instead of throwing inside a test's watch (s-rev42 added retireAll / activateAll; three stand-ins lacked them).
 * As the real one: activate() is activateAll([t]) and retire() is retireAll([t]). It records what it was asked;
 * `onActivate` / `onRetire` do a test's own part (change t.sub, throw) for each topic.
 */
import type { StatusReason } from "../../src/core/types.ts";
import type { TopicMembership } from "../../src/venues/common/connection-lifecycle.ts";
import type { TopicState } from "../../src/venues/common/connection.ts";

export interface FakeLifecycle extends TopicMembership {
  stopping: boolean;
  /** Indexes of the topics activated, in order; `activateCalls` counts the calls (a batch is one). */
  readonly activated: number[];
  activateCalls: number;
  /** Topics retired with their reason, in order; `retireCalls` counts the calls (a batch is one). */
  readonly retired: [number, StatusReason][];
  retireCalls: number;
}

export function fakeLifecycle(o: { stopping?: boolean; onActivate?: (t: TopicState) => void; onRetire?: (t: TopicState, reason: StatusReason) => void } = {}): FakeLifecycle {
  const f: FakeLifecycle = {
    stopping: o.stopping ?? false,
    onTopicStale: null,
    onTopicRejected: null,
    onReplayClosed: null,
    onReplayReopened: null,
    activated: [],
    activateCalls: 0,
    retired: [],
    retireCalls: 0,
    activate: (t) => f.activateAll([t]),
    activateAll: (ts) => {
      f.activateCalls++;
      for (const t of ts) {
        f.activated.push(t.index);
        o.onActivate?.(t);
      }
    },
    retire: (t, reason) => f.retireAll([t], reason),
    retireAll: (ts, reason) => {
      f.retireCalls++;
      for (const t of ts) {
        f.retired.push([t.index, reason]);
        o.onRetire?.(t, reason);
      }
    },
  };
  return f;
}
