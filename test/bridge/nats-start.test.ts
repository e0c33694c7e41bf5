/**
 * start() of the reader and the forward bridge. Each dial of a NATS server is given up after DIAL_TIMEOUT_MS (5 s),
 * at start too: the client's own default is 20 s, and a server that verifies clients refuses a missing or unknown
 * client certificate after the TLS 1.3 handshake, which the client does not notice, so start() (and each of the
 * client's reconnects) waited those 20 s; a port that sends INFO and never answers did the same. A start whose
 * connect failed may be tried again; one after stop() tells a refusal of the credentials again. A live reader's start
 * resolves once the server has its SUB (a round trip after it), and after the client's own reconnect it is not ready
 * until the same for the SUB the client sent again; a connection made again after a close for good that closes again
 * during that round trip is not told as reconnected. In-process: a silent or minimal "server" on 127.0.0.1
 * or a fake client, no nats-server.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../../src/bridge/reverse-bridge.ts";
import { fromNatsReadiness } from "../../src/cli/commands/bridge-http.ts";
import { listen } from "../../src/cli/commands/listen.ts";
import { natsReadOptions } from "../../src/cli/commands/nats-args.ts";
import type { CommandContext } from "../../src/cli/command.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { StreamManager } from "../../src/bridge/stream-watch.ts";
import { captureLog } from "../support/capture-log.ts";
import { FeedSubscriber } from "../../src/subscriber/feed-subscriber.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { DIAL_TIMEOUT_MS, NatsFeedReader, attachNats, connectNats, useNatsModules, type NatsReaderEvent } from "../../src/subscriber/nats-source.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { EncodedDefinition, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { heldNatsServer } from "./held-nats-server.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A TCP port that sends a NATS INFO and then answers nothing (no PONG, or with `tls` no TLS handshake: the client's
 * connect waits).
 */
async function silentServer(tls = false): Promise<string> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => undefined);
    s.write(`INFO {"server_id":"silent","version":"2.10.0","proto":1,"max_payload":1048576,"headers":true${tls ? ',"tls_required":true' : ""}}\r\n`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return `nats://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** Events of a client or consumer (status(), consume()), each told when the test pushes it. */
function eventChannel() {
  const queue: { type: string }[] = [];
  let wake = (): void => undefined;
  return {
    push(e: { type: string }): void {
      queue.push(e);
      wake();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<{ type: string }> {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

describe("a NATS dial that gets no answer", () => {
  test("is given up after the dial timeout, saying so (the real client; before: its 20 s)", async () => {
    const url = await silentServer();
    await expect(connectNats(url, "t", undefined, {}, 100)).rejects.toThrow(/no answer from NATS within 100 ms/);
    // Over TLS (a handshake never answered) the message says what else it may be.
    const tlsUrl = (await silentServer(true)).replace("nats://", "tls://");
    await expect(connectNats(tlsUrl, "t", undefined, {}, 100)).rejects.toThrow(/no answer from NATS within 100 ms \(over TLS: .*client certificate/);
  }, 4000);

  test("the reader's and the bridge's start dial with DIAL_TIMEOUT_MS (5 s)", async () => {
    const timeouts: unknown[] = [];
    useNatsModules({
      transport: async () => ({
        connect: async (o: Record<string, unknown>) => {
          timeouts.push(o.timeout);
          throw new Error("refused here");
        },
      }),
      jetstream: async () => ({}),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    await expect(new NatsFeedReader({ servers: "nats://127.0.0.1:1" }, () => {}).start()).rejects.toThrow(/refused here/);
    await expect(new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "t", log: silentLogger }).start()).rejects.toThrow(/refused here/);
    expect(DIAL_TIMEOUT_MS).toBe(5000);
    expect(timeouts).toEqual([DIAL_TIMEOUT_MS, DIAL_TIMEOUT_MS]);
  });
});

describe("a start whose connect failed", () => {
  // Nothing was opened: the caller may try again. Before, it was refused as "start() called twice (stop() first)".
  test("can be tried again (reader and bridge)", async () => {
    let dials = 0;
    useNatsModules({
      transport: async () => ({
        connect: async () => {
          dials++;
          throw new Error("refused here");
        },
      }),
      jetstream: async () => ({}),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1" }, () => {});
    const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "t", log: silentLogger });
    for (const start of [() => reader.start(), () => bridge.start()]) {
      await expect(start()).rejects.toThrow(/refused here/);
      await expect(start()).rejects.toThrow(/refused here/);
    }
    expect(dials).toBe(4);
  });
});

describe("a reverse bridge whose reader's start failed", () => {
  // Before, the multicast socket it had opened stayed open and the bridge `running` until stop(): a caller that
  // handled the rejection kept a socket, and its start again was refused as "start() called twice (stop() first)".
  test("closes its multicast socket and can be tried again", async () => {
    const sockets: { closed: boolean }[] = [];
    const { group, port } = uniqueDestination(259);
    const bridge = new ReverseBridge({ servers: "nats://127.0.0.1:1", prefix: "t", group, port, iface: "127.0.0.1", ttl: 1 });
    useNatsModules({
      transport: async () => ({
        connect: async () => {
          sockets.push((bridge as unknown as { socket: { closed: boolean } }).socket); // open now, while the reader starts
          throw new Error("refused here");
        },
      }),
      jetstream: async () => ({}),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    cleanups.push(() => bridge.stop());
    await expect(bridge.start()).rejects.toThrow(/refused here/);
    await expect(bridge.start()).rejects.toThrow(/refused here/); // before: start() called twice
    expect(sockets.map((s) => s.closed)).toEqual([true, true]);
    expect((bridge as unknown as { socket: unknown }).socket).toBeUndefined();
    // A socket that cannot be opened (TTL 0 refused): the same, nothing left running.
    const badTtl = new ReverseBridge({ servers: "nats://127.0.0.1:1", prefix: "t", group, port, iface: "127.0.0.1", ttl: 0 });
    await expect(badTtl.start()).rejects.toThrow(/TTL 0/);
    await expect(badTtl.start()).rejects.toThrow(/TTL 0/); // before: start() called twice
  });
});

describe("a stream reader whose JetStream requests get no answer at start", () => {
  // Before, a JetStream request at start that timed out (the connection dropped under it, a server too busy to
  // answer) rejected the start: `listen --nats --stream` and `from-nats --stream` exited 1, as for a stream that does
  // not exist. Now that connection is closed and one made again later, the start resolving; a refusal (no such
  // stream) still rejects it.
  test("start() resolves and a connection made again reads the stream; a stream not found still rejects", async () => {
    const clients: { shut: boolean }[] = [];
    let answer: "timeout" | "ok" | "not found" = "timeout";
    const consumed: string[] = [];
    useNatsModules({
      transport: async () => ({
        connect: async () => {
          const c = { shut: false, subscribe: () => ({ unsubscribe() {} }), drain: async () => {}, close: async () => void (c.shut = true), closed: () => new Promise<void>(() => {}) };
          clients.push(c);
          return c;
        },
      }),
      jetstream: async () => ({
        jetstreamManager: async () => ({
          streams: {
            info: async () => {
              if (answer === "timeout") throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
              if (answer === "not found") throw Object.assign(new Error("stream not found"), { name: "StreamNotFoundError" });
              return { config: { subjects: ["js-a.>"] } };
            },
          },
        }),
        jetstream: () => ({
          consumers: {
            get: async (stream: string) => ({
              consume: async () => {
                consumed.push(stream);
                return { stop() {}, [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<never>>(() => {}) }) };
              },
            }),
          },
        }),
      }),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    const told: string[] = [];
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-a", stream: "JSA", reconnectAfterCloseMs: 10, onNatsEvent: (e) => void told.push(`${e.kind}: ${e.error ?? ""}`) }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start(); // before: rejected with the timeout
    expect([told, clients.map((c) => c.shut), reader.health.natsConnected]).toEqual([[expect.stringMatching(/^reconnect_failed: .*timeout/)], [true], false]);
    answer = "ok";
    await waitFor(() => told.length === 2, "a connection made again", 5000);
    expect([told[1], consumed, clients.map((c) => c.shut)]).toEqual(["reconnected: ", ["JSA"], [true, false]]);
    await reader.stop();
    answer = "not found";
    await expect(reader.start()).rejects.toThrow(/stream not found/);
  });
});

describe("a stream reader whose stream was made again", () => {

  // Before, the client's ordered consumer, made again after the stream was deleted and made again, asked for the
  // sequence after the last one read: on the new stream (its sequence from 1 again) nothing was read until it outgrew
  // the old one. Now the stream's creation time is read and another stream read from its first message, the read
  // asked again while the server does not answer (here: once for the stream's info, once for the consumer).
  test("its consumer made again by the client is replaced by one reading the new stream from its first message", async () => {
    let created = "t0";
    let infoFails = 0;
    let getFails = 0;
    const policies: string[] = [];
    const iters: { stopped: boolean; events: { push(e: { type: string }): void } }[] = [];
    useNatsModules({
      transport: async () => ({ connect: async () => ({ subscribe: () => ({ unsubscribe() {} }), close: async () => {}, closed: () => new Promise<void>(() => {}) }) }),
      jetstream: async () => ({
        jetstreamManager: async () => ({
          streams: {
            info: async () => {
              if (infoFails > 0 && infoFails--) throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
              return { config: { subjects: ["js-r.>"] }, created };
            },
          },
        }),
        jetstream: () => ({
          consumers: {
            get: async (_stream: string, policy: { deliver_policy: string }) => {
              policies.push(policy.deliver_policy);
              if (getFails > 0 && getFails--) throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
              return {
                consume: async () => {
                  const it = { stopped: false, events: eventChannel() };
                  iters.push(it);
                  return { stop: () => void (it.stopped = true), status: () => it.events, [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<never>>(() => {}) }) };
                },
              };
            },
          },
        }),
      }),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-r", stream: "JSR", from: "now", reconnectAfterCloseMs: 10 }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    expect(policies).toEqual(["new"]);
    created = "t1"; // deleted and made again
    infoFails = 1;
    getFails = 1;
    iters[0]!.events.push({ type: "ordered_consumer_recreated" });
    await waitFor(() => iters.length === 2, "a consumer of the new stream", 5000);
    expect([policies, iters.map((i) => i.stopped)]).toEqual([["new", "all", "all"], [true, false]]);
  });

  /**
   * A fake JetStream whose stream is made at `created()`, each consumer's events given by `events` and its messages
   * by `messages` (never ending when absent: a consumer past its stream's end); `getFails` consumer makes refused.
   * Each connection the reader makes is in `clients`: its `end()` is the client's close for good. `hold`: each read of
   * the stream's info answers once the promise it returns is resolved (the test's hand on the answer's moment).
   * `deleted`: the consumers (by their number in `iters`) deleted on the server; `deleteHangs`: such a request unanswered;
   * `deleteHold`: each answered once it resolves; `deletedNames`: the names deleted. `made`: each consumer (by its
   * number) with its `name` (`oc<n>_1`; the test's hand sets the one the client is making again, as its remake does
   * before the answer; its delete() names the made one); `getHold`: each make answered once it resolves; `connectHold`: each connect, once it is in `clients`. `filters`: each consumer's filter_subjects (kept out of
   * `policies`); each client's `shut`: closed by the reader. `added`: the names of the consumers a replay from a time
   * makes to find its start sequence (`lookup<n>`, number −1 in `deleted`), each answered once `addHold`'s promise resolves;
   * `lookups`: what each of them was asked with.
   */
  function fakeJetStream(o: { created: () => string; subjects?: () => string[]; events?: (n: number) => AsyncIterable<{ type: string }>; messages?: (n: number) => AsyncIterator<unknown>; getFails?: () => boolean; lastSeq?: () => number; hold?: () => Promise<void> | undefined; deleteHangs?: boolean; deleteHold?: Promise<void>; getHold?: () => Promise<void> | undefined; state?: () => object; connectHold?: () => Promise<void> | undefined; addHold?: () => Promise<void> | undefined }) {
    const s = { infos: 0, policies: [] as object[], iters: [] as { stopped: boolean }[], clients: [] as { end(): void; shut: boolean }[], deleted: [] as number[], deletedNames: [] as string[], made: [] as { name?: string }[], filters: [] as (string | undefined)[], added: [] as string[], lookups: [] as object[] };
    const deleting = (n: number, name: string): Promise<boolean> => (s.deleted.push(n), s.deletedNames.push(name), o.deleteHangs ? new Promise<boolean>(() => {}) : (o.deleteHold ?? Promise.resolve()).then(() => true));
    useNatsModules({
      transport: async () => ({
        connect: async () => {
          let end = (): void => undefined;
          const closed = new Promise<void>((r) => (end = r));
          const c = { end, shut: false };
          s.clients.push(c);
          await o.connectHold?.();
          return { subscribe: () => ({ unsubscribe() {} }), close: async () => void (c.shut = true), closed: () => closed };
        },
      }),
      jetstream: async () => ({
        jetstreamManager: async () => ({
          streams: {
            info: async () => {
              s.infos++;
              await o.hold?.();
              return { config: { subjects: o.subjects?.() ?? ["js-i.>"] }, created: o.created(), ...(o.lastSeq === undefined ? {} : { state: { last_seq: o.lastSeq() } }), ...(o.state === undefined ? {} : { state: o.state() }) };
            },
          },
          consumers: {
            delete: async (_stream: string, name: string) => deleting(s.made.findIndex((c) => c.name === name), name),
            add: async (_stream: string, config: object) => {
              const name = `lookup${s.added.length}`;
              s.added.push(name);
              s.lookups.push(config);
              await o.addHold?.();
              return { name, delivered: { stream_seq: 41 } };
            },
          },
        }),
        jetstream: () => ({
          consumers: {
            get: async (_stream: string, { filter_subjects, ...policy }: { filter_subjects?: string }) => {
              s.policies.push(policy);
              s.filters.push(filter_subjects);
              if (o.getFails?.()) throw new Error("stream not found");
              await o.getHold?.();
              let n = -1;
              const c: { name?: string; delete(): Promise<boolean>; consume(): Promise<unknown> } = {
                delete: () => deleting(n, `oc${n}_1`),
                consume: async () => {
                  n = s.iters.length;
                  c.name = `oc${n}_1`;
                  s.made.push(c);
                  const it = { stopped: false };
                  s.iters.push(it);
                  const next = o.messages?.(n) ?? { next: () => new Promise<IteratorResult<never>>(() => {}) };
                  return { stop: () => void (it.stopped = true), status: () => o.events?.(n) ?? (async function* () {})(), [Symbol.asyncIterator]: () => next };
                },
              };
              return c;
            },
          },
        }),
      }),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    return s;
  }

  // Before, only the client's ordered_consumer_recreated led to the stream's creation time being read: a consumer the
  // client never told of (or told while the old stream was still there) read nothing of the new stream, for good. A
  // first redo (reverted) found the new stream but kept the old consumer's consumer_deleted: /readyz 503 for good.
  test("an idle consumer's stream is looked at every reconnectAfterCloseMs: a stream made again is found and read without the client's event, ready again", async () => {
    let created = "t0";
    const s = fakeJetStream({
      created: () => created,
      // The first consumer's stream is deleted (the client tells so), and the client never tells it made again.
      events: (n) => (async function* () { if (n === 0) yield { type: "consumer_deleted" }; })(),
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSI", from: "all", reconnectAfterCloseMs: 10 }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    await waitFor(() => reader.health.streamProblem === "consumer_deleted", "the consumer's stream gone", 5000);
    const before = s.infos;
    await waitFor(() => s.infos >= before + 2, "the same stream looked at twice", 5000);
    expect([s.policies, s.iters.length]).toEqual([[{ deliver_policy: "all" }], 1]); // the same stream: kept
    created = "t1"; // made again
    await waitFor(() => s.iters.length === 2, "a consumer of the new stream", 5000);
    const after = s.infos;
    await waitFor(() => s.infos >= after + 2, "the new stream looked at twice", 5000);
    expect([s.policies, s.iters.map((i) => i.stopped), reader.health.streamProblem]).toEqual([[{ deliver_policy: "all" }, { deliver_policy: "all" }], [true, false], undefined]);
  });

  // Before, the client's ordered_consumer_recreated made the reader ready at once, before the stream's creation time
  // was read: on a stream made again that consumer (past its end) reads nothing, and while JetStream did not answer
  // that read the reader stayed ready (/readyz 200), reading nothing.
  test("a consumer the client made again is ready once its stream is found the same, not at the client's word", async () => {
    let created = (): string => "t0";
    const events = eventChannel();
    const s = fakeJetStream({ created: () => created(), events: (n) => (n === 0 ? events : (async function* () {})()) });
    // No idle look, no read asked again within the test: what the client's event alone does.
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSC", from: "now", reconnectAfterCloseMs: 60_000 }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    events.push({ type: "consumer_deleted" });
    await waitFor(() => reader.health.streamProblem === "consumer_deleted", "the consumer's stream gone", 5000);
    created = () => {
      throw Object.assign(new Error("timeout"), { name: "TimeoutError" }); // JetStream does not answer
    };
    let asked = s.infos;
    events.push({ type: "ordered_consumer_recreated" });
    await waitFor(() => s.infos > asked, "the stream's creation time asked", 5000);
    await new Promise((r) => setImmediate(r)); // its refusal handled
    expect(reader.health.streamProblem).toBe("consumer_deleted");
    created = () => "t0"; // answered: the same stream
    asked = s.infos;
    events.push({ type: "ordered_consumer_recreated" });
    await waitFor(() => s.infos > asked, "the stream's creation time asked again", 5000);
    await waitFor(() => reader.health.streamProblem === undefined, "ready on the same stream", 5000);
    expect([s.policies, s.iters.map((i) => i.stopped)]).toEqual([[{ deliver_policy: "new" }], [false]]);
  });

  // Before, the answer of the stream check the client's ordered_consumer_recreated started cleared the problem told
  // while it waited: a consumer_deleted then (the consumer just made deleted again) was overwritten, the reader ready
  // and reading nothing until the client's next event. Now the last word wins: the problem told after the event stands.
  test("a consumer_deleted told while the stream check of a consumer made again waits stands: not ready until the client's next event", async () => {
    let release = (): void => undefined;
    let held: Promise<void> | undefined;
    const events = eventChannel();
    const s = fakeJetStream({ created: () => "t0", events: (n) => (n === 0 ? events : (async function* () {})()), hold: () => held });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSD", from: "now", reconnectAfterCloseMs: 60_000 }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    events.push({ type: "consumer_deleted" });
    await waitFor(() => reader.health.streamProblem === "consumer_deleted", "the consumer deleted", 5000);
    const check = () => {
      held = new Promise<void>((r) => (release = r));
      const asked = s.infos;
      events.push({ type: "ordered_consumer_recreated" });
      return waitFor(() => s.infos > asked, "the stream's info asked", 5000);
    };
    await check(); // held
    events.push({ type: "consumer_deleted" }); // the consumer made again is deleted again meanwhile
    await waitFor(() => reader.health.streamProblem === "consumer_deleted", "told", 5000);
    events.push({ type: "stream_not_found" });
    await waitFor(() => reader.health.streamProblem === "stream_not_found", "told", 5000);
    release(); // the same stream
    await new Promise((r) => setImmediate(r)); // the answer handled
    expect(reader.health.streamProblem).toBe("stream_not_found");
    await check(); // the client's next event, nothing told while its check waits
    release();
    await waitFor(() => reader.health.streamProblem === undefined, "ready on the same stream", 5000);
    expect(s.iters.map((i) => i.stopped)).toEqual([false]);
  });

  // Before, only start() looked at the stream's subjects: a stream of that name made again for another prefix was read
  // from its first message (its messages taken as this feed's), and a consumer the reader made itself did the same.
  test("a stream made again for another prefix is not read: told once, not ready, read once it is this feed's again", async () => {
    let created = "t0";
    let subjects = ["js-i.>"];
    const told: string[] = [];
    const events = eventChannel();
    const s = fakeJetStream({ created: () => created, subjects: () => subjects, events: (n) => (n === 0 ? events : (async function* () {})()) });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSF", from: "now", reconnectAfterCloseMs: 10, onNatsEvent: (e) => told.push(`${e.kind}: ${e.error ?? ""}`) }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    created = "t1"; // made again by another feed's bridge
    subjects = ["other.>"];
    events.push({ type: "ordered_consumer_recreated" });
    await waitFor(() => told.length >= 1, "the other feed's stream told", 5000);
    const asked = s.infos;
    await waitFor(() => s.infos >= asked + 3, "the stream looked at again", 5000);
    const why = "JetStream stream JSF keeps other.>, not only js-i.>: give the prefix it was made for (--prefix)";
    expect([told, reader.health.streamProblem, s.policies, s.iters.map((i) => i.stopped)]).toEqual([[`stream_foreign: ${why}`], "foreign_subjects", [{ deliver_policy: "new" }], [true]]);
    const reasons = ["the JetStream stream JSF keeps another prefix's subjects (foreign_subjects): nothing is read until it is this feed's"];
    expect(fromNatsReadiness({ reader } as ReverseBridge, "JSF")).toEqual({ ready: false, reasons });
    subjects = ["js-i.>"]; // this feed's again
    await waitFor(() => s.iters.length === 2, "a consumer of this feed's stream", 5000);
    expect([told, reader.health.streamProblem, s.policies]).toEqual([[`stream_foreign: ${why}`, "consumer_made: "], undefined, [{ deliver_policy: "new" }, { deliver_policy: "all" }]]);
  });

  // Before, the idle look read only the stream's creation time: the same stream's subjects edited in place (an
  // operator's stream edit) to another feed's left the reader ready, reading nothing of this feed (and the other
  // feed's messages, once stored, as this one's).
  test("the same stream's subjects edited to another feed's are found by the idle look: told, not ready, read on from the last message once they are this feed's", async () => {
    let subjects = ["js-i.>"];
    const told: string[] = [];
    const s = fakeJetStream({
      created: () => "t0",
      subjects: () => subjects,
      messages: (n) => {
        let sent = n > 0; // the first consumer reads stream sequence 7, then nothing more
        return { next: async () => (sent ? new Promise<IteratorResult<never>>(() => {}) : ((sent = true), { done: false, value: { data: new Uint8Array(0), info: { pending: 0, streamSequence: 7 } } })) };
      },
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSS", from: "all", reconnectAfterCloseMs: 10, onNatsEvent: (e) => told.push(`${e.kind}: ${e.error ?? ""}`) }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    const asked = s.infos;
    await waitFor(() => s.infos >= asked + 2, "the idle stream looked at", 5000);
    expect([told, reader.health.streamProblem]).toEqual([[], undefined]);
    subjects = ["other.>"]; // edited in place: same stream, same creation time
    await waitFor(() => told.length >= 1, "the edit told", 5000);
    const why = "JetStream stream JSS keeps other.>, not only js-i.>: its subjects were changed since it was read (stream configuration edited): nothing of this feed is stored";
    expect([told, reader.health.streamProblem, s.iters.map((i) => i.stopped)]).toEqual([[`stream_foreign: ${why}`], "foreign_subjects", [true]]);
    expect(fromNatsReadiness({ reader } as ReverseBridge, "JSS").ready).toBe(false);
    await waitFor(() => s.deleted.length > 0, "the stopped consumer deleted", 5000);
    subjects = ["js-i.>"]; // edited back
    await waitFor(() => s.iters.length === 2, "a consumer of this feed's stream", 5000);
    expect([told.slice(1), reader.health.streamProblem, s.policies]).toEqual([["consumer_made: "], undefined, [{ deliver_policy: "all" }, { deliver_policy: "by_start_sequence", opt_start_seq: 8 }]]);
    await reader.stop();
    expect(s.deleted).toEqual([0, 1]);
    expect(s.filters).toEqual(["js-i.>", "js-i.>"]); // each consumer reads only this feed's subjects of the stream
  });

  // Before, stop() only stopped the consumer's pulls: the client's ordered consumer stayed on the server until its
  // inactive_threshold (5 min), one per reader stopped. Now it is deleted, within a bound: a server that does not
  // answer does not hold the stop.
  test("stop() deletes the reader's consumer on the server; one the server does not answer for does not hold the stop", async () => {
    for (const deleteHangs of [false, true]) {
      const s = fakeJetStream({ created: () => "t0", deleteHangs });
      const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSX", from: "all", reconnectAfterCloseMs: 60_000 }, () => {});
      (reader as unknown as { deleteWithinMs: number }).deleteWithinMs = 10;
      await reader.start();
      await reader.stop(); // with no bound, never resolves when the delete hangs
      expect([deleteHangs, s.deleted, s.iters.map((i) => i.stopped)]).toEqual([deleteHangs, [0], [true]]);
    }
  });

  // Before, the bound on a deletion not waited for (a consumer replaced, or ended by the client) held the process
  // alive while the server did not answer: a process done with the reader lingered deleteWithinMs (0.5 s).
  test("the bound on a consumer's deletion not waited for does not hold the process", async () => {
    let created = "t0";
    const s = fakeJetStream({ created: () => created, deleteHangs: true });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSU", from: "all", reconnectAfterCloseMs: 10 }, () => {});
    const boundMs = 43_210; // the bound's timer, told from the reader's others by its delay
    (reader as unknown as { deleteWithinMs: number }).deleteWithinMs = boundMs;
    const bounds: { hasRef(): boolean }[] = [];
    const setTimeoutBefore = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      const t = setTimeoutBefore(fn, ms);
      if (ms === boundMs) bounds.push(t as unknown as { hasRef(): boolean });
      return t;
    }) as typeof setTimeout;
    cleanups.push(() => reader.stop());
    cleanups.push(() => ((globalThis.setTimeout = setTimeoutBefore), ((reader as unknown as { deleteWithinMs: number }).deleteWithinMs = 10)));
    await reader.start();
    created = "t1"; // made again: the idle look replaces the consumer, its deletion not waited for (unanswered)
    await waitFor(() => s.deleted.length === 1, "the replaced consumer's deletion asked", 5000);
    expect([bounds.length, bounds.map((t) => t.hasRef())]).toEqual([1, [false]]);
  });

  // @nats-io/jetstream 3.4 makes an ordered consumer again (lost, a message out of order) by deleting it, then sending
  // the request making the next one, whose name its delete() takes only from the answer. Before, a stop() meanwhile
  // deleted the one already deleted: the one being made stayed on the server 5 min.
  test("stop() while the client makes its consumer again deletes the one being made", async () => {
    const s = fakeJetStream({ created: () => "t0" });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSM", from: "all", reconnectAfterCloseMs: 60_000 }, () => {});
    await reader.start();
    s.made[0]!.name = "oc0_2"; // the client's remake under way: oc0_1 deleted by it, oc0_2 asked for
    await reader.stop();
    expect(s.deletedNames).toEqual(["oc0_2"]);
  });

  // Before, a name the client gives that is not a usable string (none yet, an empty one) was asked deleted as it was:
  // the server refused it, quietly, and the consumer stayed 5 min. Now its delete() is used, as with no name.
  test("stop() deletes a consumer whose name is not a usable string by its delete()", async () => {
    for (const name of ["", null, 7]) {
      const s = fakeJetStream({ created: () => "t0" });
      const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSN", from: "all", reconnectAfterCloseMs: 60_000 }, () => {});
      await reader.start();
      s.made[0]!.name = name as unknown as string;
      await reader.stop();
      expect([name, s.deletedNames]).toEqual([name, ["oc0_1"]]);
    }
  });

  // Before, stop() during a consumer's make closed the connection at once, cutting the answer: the consumer the server
  // had made stayed there 5 min (or, the answer in, it was stopped and not deleted). Now stop() waits for the make
  // (within deleteWithinMs: one never answered does not hold it) and the consumer is deleted before the close.
  test("stop() while a consumer is being made deletes it once made, before the close", async () => {
    for (const answered of [true, false]) {
      let answer = (): void => undefined;
      let deletedAnswer = (): void => undefined;
      const s = fakeJetStream({
        created: () => "t0",
        getHold: () => new Promise<void>((r) => (answer = answered ? r : () => undefined)),
        deleteHold: new Promise<void>((r) => (deletedAnswer = r)),
      });
      const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSK", from: "all", reconnectAfterCloseMs: 60_000 }, () => {});
      (reader as unknown as { deleteWithinMs: number }).deleteWithinMs = answered ? 60_000 : 10;
      const starting = reader.start();
      await waitFor(() => s.policies.length === 1, "the consumer's make asked", 5000);
      const stopping = reader.stop();
      answer(); // the server made it
      if (answered) await waitFor(() => s.deleted.length === 1, "the consumer made deleted", 5000);
      const shutBeforeDeleted = s.clients[0]!.shut;
      deletedAnswer();
      await stopping; // never answered: within deleteWithinMs
      if (answered) await starting; // else left waiting by the fake (a real client's close rejects it)
      expect([answered, s.deleted, s.iters.map((i) => i.stopped), shutBeforeDeleted, s.clients.map((c) => c.shut)]).toEqual(answered ? [true, [0], [true], false, [true]] : [false, [], [], false, [true]]);
    }
  });

  // A consumer ended by the client (consumerEnded) or replaced (afterRecreated: its stream made again) is deleted
  // without waiting there. Before s-restwarn a stop() meanwhile closed the connection at once: the deletion cut (or,
  // after the old consumer's stop, never sent) and the consumer left 5 min on the server. Now stop() waits for it too,
  // within deleteWithinMs (one never answered does not hold it).
  test("stop() while an ended or replaced consumer's deletion is under way waits for it before the close", async () => {
    for (const why of ["ended", "replaced"] as const) {
      for (const answered of [true, false]) {
        let created = "t0";
        let end = (): void => undefined;
        let deletedAnswer = (): void => undefined;
        const s = fakeJetStream({
          created: () => created,
          deleteHold: new Promise<void>((r) => (deletedAnswer = answered ? r : () => undefined)),
          messages: (n) => ({ next: () => new Promise<IteratorResult<never>>((r) => (n === 0 ? (end = () => r({ done: true, value: undefined as never })) : undefined)) }),
          getFails: () => s.policies.length > 1, // no consumer made after the first: the stop deletes none of its own
        });
        const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSE", from: "all", reconnectAfterCloseMs: why === "ended" ? 60_000 : 10 }, () => {});
        (reader as unknown as { deleteWithinMs: number }).deleteWithinMs = answered ? 60_000 : 10;
        await reader.start();
        if (why === "ended") end(); // the client ends its consumer's messages
        else created = "t1"; // made again: the idle look replaces the consumer
        await waitFor(() => s.deleted.length === 1, "the old consumer's deletion asked", 5000);
        const stopping = reader.stop();
        await new Promise((r) => setTimeout(r, 20)); // a turn for the close, were it not waiting
        const shutBeforeDeleted = s.clients[0]!.shut;
        deletedAnswer();
        await stopping; // never answered: within deleteWithinMs
        expect([why, answered, shutBeforeDeleted, s.deleted, s.clients.map((c) => c.shut)]).toEqual([why, answered, !answered, [0], [true]]);
      }
    }
  });

  // A replay from a time finds its start sequence through a consumer made and deleted at once (inactive_threshold
  // 60 s). Before, stop() during that lookup did not wait for it: the connection closed at once, the deletion sent
  // after the answer went nowhere and the consumer stayed 60 s (and a consumer was made for the stopped run). Now
  // stop() waits for the lookup (within deleteWithinMs) and its consumer is deleted before the close.
  test("stop() during a replay's by-time lookup deletes its consumer before the close", async () => {
    for (const answered of [true, false]) {
      let answer = (): void => undefined;
      let deletedAnswer = (): void => undefined;
      const s = fakeJetStream({
        created: () => "t0",
        addHold: () => new Promise<void>((r) => (answer = answered ? r : () => undefined)),
        deleteHold: new Promise<void>((r) => (deletedAnswer = r)),
      });
      const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JST", from: new Date(T0 / 1000), reconnectAfterCloseMs: 60_000 }, () => {});
      (reader as unknown as { deleteWithinMs: number }).deleteWithinMs = answered ? 60_000 : 10;
      const starting = reader.start();
      await waitFor(() => s.added.length === 1, "the lookup's consumer asked", 5000);
      const stopping = reader.stop();
      answer(); // the server made it
      if (answered) await waitFor(() => s.deletedNames.includes("lookup0"), "the lookup's consumer deleted", 5000);
      const shutBeforeDeleted = s.clients[0]!.shut;
      deletedAnswer();
      await stopping; // never answered: within deleteWithinMs
      if (answered) await starting;
      expect([answered, s.deletedNames, shutBeforeDeleted, s.policies, s.clients.map((c) => c.shut)]).toEqual(answered ? [true, ["lookup0"], false, [], [true]] : [false, [], false, [], [true]]);
    }
  });

  // The stop above waits for the make: a start() again meanwhile (allowed without waiting for the stop) clears
  // `stopped` while the earlier run's connection is still the reader's. Its consumer, made then, is the earlier run's:
  // deleted, not read (on a connection its stop then closes).
  test("a consumer made for a run stopped and started again while its make was under way is deleted, not read", async () => {
    let answer = (): void => undefined;
    let connected = (): void => undefined;
    const s = fakeJetStream({
      created: () => "t0",
      getHold: () => (s.policies.length === 1 ? new Promise<void>((r) => (answer = r)) : undefined),
      connectHold: () => (s.clients.length === 2 ? new Promise<void>((r) => (connected = r)) : undefined),
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSQ", from: "all", reconnectAfterCloseMs: 60_000 }, () => {});
    (reader as unknown as { deleteWithinMs: number }).deleteWithinMs = 60_000;
    cleanups.push(() => reader.stop());
    const starting = reader.start();
    await waitFor(() => s.policies.length === 1, "the consumer's make asked", 5000);
    const stopping = reader.stop();
    const startingAgain = reader.start(); // its connect under way
    answer(); // the first run's consumer made
    await stopping;
    await starting;
    connected();
    await startingAgain;
    expect([s.deleted, s.iters.map((i) => i.stopped), s.clients.map((c) => c.shut), reader.health.natsConnected]).toEqual([[0], [true, false], [true, false], true]);
  });

  // The client's iterator hands out what it had received before stop() (queued ahead of its end). Before, such a
  // message of a consumer the reader had replaced (its stream made again) was read as the stream's last: the replaced
  // consumer's next make started after that sequence on the new stream, passing over its first messages.
  test("a message the replaced consumer hands out after its stop is not read", async () => {
    let created = "t0";
    let late = (): void => undefined;
    let end = (): void => undefined;
    const never = { next: () => new Promise<IteratorResult<never>>(() => {}) };
    const s = fakeJetStream({
      created: () => created,
      messages: (n) => {
        if (n === 0) {
          let handed = false; // one message, received before the stop, handed out after it
          return { next: () => (handed ? never.next() : ((handed = true), new Promise<IteratorResult<unknown>>((r) => (late = () => r({ done: false, value: { data: new Uint8Array(0), info: { pending: 0, streamSequence: 50 } } }))))) };
        }
        if (n === 1) return { next: () => new Promise<IteratorResult<never>>((r) => (end = () => r({ done: true, value: undefined }))) };
        return never;
      },
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSL", from: "all", reconnectAfterCloseMs: 10 }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    created = "t1"; // made again: the idle look replaces the consumer
    await waitFor(() => s.iters.length === 2, "a consumer of the new stream", 5000);
    late();
    await new Promise((r) => setImmediate(r)); // handed out and taken
    end(); // the new stream's consumer ends having read nothing: made again
    await waitFor(() => s.policies.length === 3, "the consumer made again", 5000);
    expect([reader.counters.envelopes, s.iters.map((i) => i.stopped), s.policies]).toEqual([0, [true, false, false], [{ deliver_policy: "all" }, { deliver_policy: "all" }, { deliver_policy: "all" }]]);
  });

  // Before, stop() left its consumer the reader's: what the client's iterator handed out after the stop was read, the
  // sink fed after stop() had resolved.
  test("a message the consumer hands out after stop() is not read", async () => {
    let late = (): void => undefined;
    const s = fakeJetStream({
      created: () => "t0",
      messages: () => {
        let handed = false;
        return { next: () => (handed ? new Promise<IteratorResult<never>>(() => {}) : ((handed = true), new Promise<IteratorResult<unknown>>((r) => (late = () => r({ done: false, value: { data: new Uint8Array(0), info: { pending: 0, streamSequence: 3 } } }))))) };
      },
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSP", from: "all", reconnectAfterCloseMs: 60_000 }, () => {});
    await reader.start();
    await reader.stop();
    late();
    await new Promise((r) => setImmediate(r)); // handed out and taken
    expect([reader.counters.envelopes, s.iters.map((i) => i.stopped)]).toEqual([0, [true]]);
  });

  // Before, stop() read the connection to close after the consumer's deletion (up to 0.5 s): a start() again meanwhile
  // (the library allows it without waiting for the stop) had opened its own, which the earlier stop then closed, the
  // new run's reader not connected, its consumer reading nothing, for good.
  test("a start() again while stop() waits for its consumer's deletion keeps the new run's connection", async () => {
    let release = (): void => undefined;
    const s = fakeJetStream({ created: () => "t0", deleteHold: new Promise<void>((r) => (release = r)) });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSR", from: "all", reconnectAfterCloseMs: 60_000 }, () => {});
    (reader as unknown as { deleteWithinMs: number }).deleteWithinMs = 60_000;
    cleanups.push(() => (release(), reader.stop()));
    await reader.start();
    const stopping = reader.stop();
    await reader.start(); // the new run's connection open, its consumer made
    release(); // the first run's consumer deleted: its stop goes on to the close
    await stopping;
    expect([s.clients.map((c) => c.shut), s.deleted, s.iters.map((i) => i.stopped), reader.health.natsConnected]).toEqual([[true, false], [0], [true, false], true]);
  });

  // Before, a stream found another prefix's by a connect made again after a close for good (open()) failed that
  // connect: `reconnect_failed` every reconnectAfterCloseMs with a full connect each time, no `stream_foreign`, no
  // backoff, and /readyz "not connected to NATS" rather than why.
  test("a stream found another prefix's after a close for good: the connection kept, told once, not ready, looked at again with backoff", async () => {
    let created = "t0";
    let subjects = ["js-i.>"];
    const told: string[] = [];
    const s = fakeJetStream({ created: () => created, subjects: () => subjects });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSC", from: "now", reconnectAfterCloseMs: 10, onNatsEvent: (e) => told.push(`${e.kind}: ${e.error ?? ""}`) }, () => {});
    cleanups.push(() => reader.stop());
    const waits: number[] = []; // each look asked for after `tries` (its wait 10 ms × 2^min(tries, 3)), as on the live paths
    const r = reader as unknown as { makeConsumerLater(nc: unknown, parts: unknown, tries: number): void };
    const makeLater = r.makeConsumerLater.bind(reader);
    r.makeConsumerLater = (nc, parts, tries) => (waits.push(tries), makeLater(nc, parts, tries));
    await reader.start();
    created = "t1"; // made again by another feed's bridge while the connection was down
    subjects = ["other.>"];
    s.clients[0]!.end(); // closed for good
    await waitFor(() => waits.length >= 4 || told.length >= 4, "the stream looked at again", 5000);
    const why = "JetStream stream JSC keeps other.>, not only js-i.>: give the prefix it was made for (--prefix)";
    expect([told, waits.slice(0, 4), s.clients.length, s.policies]).toEqual([["closed: closed", "reconnected: ", `stream_foreign: ${why}`], [0, 1, 2, 3], 2, [{ deliver_policy: "new" }]]);
    const reasons = ["the JetStream stream JSC keeps another prefix's subjects (foreign_subjects): nothing is read until it is this feed's"];
    expect(fromNatsReadiness({ reader } as ReverseBridge, "JSC")).toEqual({ ready: false, reasons }); // connected: only why
    subjects = ["js-i.>"]; // this feed's again
    await waitFor(() => s.iters.length === 2, "a consumer of this feed's stream", 5000);
    expect([told.slice(3), reader.health.streamProblem, s.policies, s.clients.length]).toEqual([["consumer_made: "], undefined, [{ deliver_policy: "new" }, { deliver_policy: "all" }], 2]);
  });

  // Before, each connection opened before the first message was read told it again (a connect made again after a
  // close for good): `replay_starts_later`, and the CLI's warning, once per connection instead of once per start.
  test("a replay from before the stream's oldest message is told once per start, not again by a connect made again before a message was read", async () => {
    const firstStoredAt = "2026-12-07T10:00:00Z";
    const told: string[] = [];
    const s = fakeJetStream({ created: () => "t0", state: () => ({ messages: 3, first_ts: firstStoredAt, last_seq: 3 }) });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSL", from: new Date(Date.parse(firstStoredAt) - 3_600_000), reconnectAfterCloseMs: 10, onNatsEvent: (e) => told.push(e.kind) }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    s.clients[0]!.end(); // closed for good, nothing read
    await waitFor(() => told.includes("reconnected"), "a connect made again", 5000);
    await reader.stop();
    await reader.start(); // a start again tells it again
    expect(told.filter((k) => k === "replay_starts_later" || k === "reconnected")).toEqual(["replay_starts_later", "reconnected", "replay_starts_later"]);
  });

  // @nats-io/jetstream 3.4 ends an ordered consumer that read nothing after 30 failed creates (its stream missing ~2
  // minutes): before, the reader's loop ended with it, quietly, and the reader read nothing more for good.
  test("a consumer the client ends by itself is told, not ready, and made again (with backoff) from after the last message read", async () => {
    let refusals = 3;
    const told: string[] = [];
    const s = fakeJetStream({
      created: () => "t0",
      messages: (n) => {
        // The first consumer reads one message (stream sequence 5), then the client gives up on it.
        let sent = n > 0;
        return {
          next: async () => {
            if (sent) return n === 0 ? Promise.reject(new Error("stream not found")) : new Promise<IteratorResult<never>>(() => {});
            sent = true;
            return { done: false, value: { data: new Uint8Array(0), info: { pending: 0, streamSequence: 5 } } };
          },
        };
      },
      getFails: () => s.iters.length > 0 && refusals-- > 0,
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSE", from: "now", reconnectAfterCloseMs: 10, onNatsEvent: (e) => told.push(`${e.kind}: ${e.error ?? ""}`) }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    await waitFor(() => told.length >= 1, "the consumer's end told", 5000);
    expect([told, reader.health.streamProblem]).toEqual([["consumer_ended: stream not found"], "consumer_ended"]);
    expect(s.deleted).toEqual([0]); // maybe still on the server: not left to expire there (before 2026-12-07)
    await waitFor(() => s.iters.length === 2, "a new consumer", 5000);
    await waitFor(() => told.length === 2, "the new consumer told", 5000);
    const onFrom6 = { deliver_policy: "by_start_sequence", opt_start_seq: 6 };
    expect([s.policies, told[1], reader.health.streamProblem]).toEqual([[{ deliver_policy: "new" }, onFrom6, onFrom6, onFrom6, onFrom6], "consumer_made: ", undefined]);
  });

  // Before, a consumer made again before one read anything started after the stream's last message then (a `now`
  // reader: what was stored while none read skipped), or after the replaced stream's last sequence read (a stream made
  // again: the new stream's messages up to it skipped).
  test("a consumer ended before it read is made again from where the one before it started: now's first sequence, a new stream's first", async () => {
    let lastSeq = 10;
    let created = "t0";
    const s = fakeJetStream({
      created: () => created,
      lastSeq: () => lastSeq,
      messages: (n) => {
        // Consumers 0, 2 and 3 end at once having read nothing; 1 reads stream sequence 12, then ends; 4 reads on.
        let sent = n !== 1;
        return {
          next: async () => {
            if (n === 4) return new Promise<IteratorResult<never>>(() => {});
            if (sent) return Promise.reject(new Error("stream not found"));
            sent = true;
            if (n === 1) created = "t1"; // the stream made again before consumer 2 is made
            return { done: false, value: { data: new Uint8Array(0), info: { pending: 0, streamSequence: 12 } } };
          },
        };
      },
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSN", from: "now", reconnectAfterCloseMs: 5 }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    lastSeq = 14; // stored while consumer 0 is not read
    await waitFor(() => s.iters.length === 5, "five consumers", 5000);
    const from = (seq: number) => ({ deliver_policy: "by_start_sequence", opt_start_seq: seq });
    expect(s.policies).toEqual([from(11), from(11), { deliver_policy: "all" }, { deliver_policy: "all" }, { deliver_policy: "all" }]);
  });

  // Before, each consumer_ended started the backoff again: consumers the client ended at once (their inbox refused)
  // were made again, and the end logged as an error, every reconnectAfterCloseMs (2 s) for good.
  test("consumers ended having read nothing are made again with a growing backoff, from its start again once one read", async () => {
    const s = fakeJetStream({
      created: () => "t0",
      messages: (n) => {
        // Consumers 0-3 end at once; 4 reads one message, then ends; 5 reads on.
        let sent = n !== 4;
        return {
          next: async () => {
            if (n === 5) return new Promise<IteratorResult<never>>(() => {});
            if (sent) return Promise.reject(new Error("Permissions Violation for Subscription to _INBOX.x"));
            sent = true;
            return { done: false, value: { data: new Uint8Array(0), info: { pending: 0, streamSequence: 5 } } };
          },
        };
      },
    });
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSB", from: "now", reconnectAfterCloseMs: 5 }, () => {});
    cleanups.push(() => reader.stop());
    const waits: number[] = []; // each consumer's make asked for after `tries` (its wait 5 ms × 2^min(tries, 3))
    const r = reader as unknown as { makeConsumerLater(nc: unknown, parts: unknown, tries: number): void };
    const makeLater = r.makeConsumerLater.bind(reader);
    r.makeConsumerLater = (nc, parts, tries) => (waits.push(tries), makeLater(nc, parts, tries));
    await reader.start();
    await waitFor(() => s.iters.length === 6, "six consumers", 5000);
    expect(waits).toEqual([0, 1, 2, 3, 0]);
  });

  // Before 2026-12-07 a consumer made after the last read went on after it: messages the stream's limits dropped were
  // a gap only at the next envelope's number, unsaid; a stream ending below it (its tail lost) was no gap, the books
  // usable, its new messages passed over until it outgrew the last read on a server keeping a start past the end
  // (nats-server 2.9 starts such a consumer at the end; stream-tail-lost.test.ts: a real server).
  test("a consumer made where the stream dropped or lost what followed the last read: a gap sent at once, told with the sequences", async () => {
    let state = { first_seq: 1, last_seq: 5 };
    const s = fakeJetStream({
      created: () => "t0",
      state: () => state,
      messages: (n) => {
        // Consumer 0 reads sequence 5, then the stream's limits drop 6 to 8; consumer 1 reads 12, then the stream ends
        // at 7 (its tail lost); each ends after its message; consumer 2 reads on.
        let sent = false;
        return {
          next: async () => {
            if (n === 2) return new Promise<IteratorResult<never>>(() => {});
            if (sent) return Promise.reject(new Error("stream not found"));
            sent = true;
            state = n === 0 ? { first_seq: 9, last_seq: 12 } : { first_seq: 1, last_seq: 7 };
            return { done: false, value: { data: new Uint8Array(0), info: { pending: 0, streamSequence: n === 0 ? 5 : 12, timestampNanos: 1_796_000_000_123_456_789 } } };
          },
        };
      },
    });
    const events: NatsReaderEvent[] = [];
    let datagrams = 0;
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", prefix: "js-i", stream: "JSL", from: "all", reconnectAfterCloseMs: 5, onNatsEvent: (e) => events.push(e) }, () => void datagrams++);
    cleanups.push(() => reader.stop());
    await reader.start();
    await waitFor(() => s.iters.length === 3, "three consumers", 5000);
    expect(events.filter((e) => e.kind === "stream_discontinuity")).toEqual([
      { kind: "stream_discontinuity", why: "discarded", lastRead: 5, firstSeq: 9, lastSeq: 12 },
      { kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 7 },
    ]);
    // Each a gap sent at once (a heartbeat skipping a number: every envelope here is refused, nothing else is sent).
    expect(datagrams).toBe(2);
    // After the lost tail, from the first message stored since the last one read: by its time, found by a look-up
    // (this fake's finds 41), the time floored to the millisecond.
    expect(s.policies).toEqual([{ deliver_policy: "all" }, { deliver_policy: "by_start_sequence", opt_start_seq: 6 }, { deliver_policy: "by_start_sequence", opt_start_seq: 42 }]);
    expect(s.added).toHaveLength(1);
    // The look-up asked from the last read message's stored time, 123.456789 ms past the second, floored to 123 ms: at
    // 124 a message stored after it in that millisecond would be passed over, never read.
    expect(s.lookups).toEqual([expect.objectContaining({ deliver_policy: "by_start_time", opt_start_time: "2026-11-30T00:53:20.123Z" })]);
  });

  test("a stream that lost its tail or dropped unread messages is logged naming it and the sequences", () => {
    const { log, lines } = captureLog();
    const ctx = { values: { nats: "nats://127.0.0.1:1", stream: "S" }, positionals: [], log, out: () => {}, stopSignal: new Promise<string>(() => {}) } as unknown as CommandContext;
    const tell = natsReadOptions(ctx).onNatsEvent!;
    tell({ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 7 });
    tell({ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 7, unread: true });
    tell({ kind: "stream_discontinuity", why: "discarded", lastRead: 5, firstSeq: 9, lastSeq: 12 });
    // Each case in its own words (the merge of 2026-12-07 said "already read or, nothing read yet, started after" of both).
    expect(lines.map((l) => [l.level, l.msg, l.fields])).toEqual([
      ["error", expect.stringMatching(/^JetStream stream S ends at sequence 7, below the 12 already read \(.*; reading on from the first message stored since$/), { stream: "S", lastRead: 12, lastSeq: 7 }],
      ["error", expect.stringMatching(/^JetStream stream S ends at sequence 7, below the 12 this reader started after, nothing read yet \(.*; reading on after its last message now$/), { stream: "S", lastRead: 12, lastSeq: 7, unread: true }],
      // Its limits or an operator's purge: a purge past what the reader read is this too (its sequence goes on, not back).
      ["warn", expect.stringMatching(/^JetStream stream S starts at sequence 9, past the 5 last read \(its limits dropped them, or an operator purged them, before they were read\)/), { stream: "S", lastRead: 5, firstSeq: 9, lastSeq: 12 }],
    ]);
  });

  // Before, every end was logged "(it gave up making it again)", also a refused inbox or a pull the server refused.
  test("the consumer's end is logged with the reason its error gives", () => {
    const { log, lines } = captureLog();
    const ctx = { values: { nats: "nats://127.0.0.1:1", stream: "S" }, positionals: [], log, out: () => {}, stopSignal: new Promise<string>(() => {}) } as unknown as CommandContext;
    const tell = natsReadOptions(ctx).onNatsEvent!;
    for (const error of ["stream not found", "jetstream is not enabled", "Permissions Violation for Subscription to \"_INBOX.x.1\"", "bad request", "ended"]) tell({ kind: "consumer_ended", error });
    const why = (l: { msg: string }) => /consumer \((.*)\): nothing is read/.exec(l.msg)?.[1];
    expect(lines.map((l) => [l.level, why(l), l.fields.error])).toEqual([
      ["error", "it gave up making it again", "stream not found"],
      ["error", "it gave up making it again", "jetstream is not enabled"], // JetStream not answering: no responders
      ["error", "the NATS server refused its inbox subscription (permissions)", 'Permissions Violation for Subscription to "_INBOX.x.1"'],
      ["error", "it stopped on an error: see error", "bad request"],
      ["error", "its messages ended, no error given", "ended"],
    ]);
  });
});

describe("the forward bridge's start", () => {
  /** A client that takes every publish and closes when told to (closed() then resolves), no internals shown. */
  function publisher() {
    let end = (): void => undefined;
    const closed = new Promise<void>((r) => (end = r));
    const c = { shut: false, published: 0, publish: () => void c.published++, flush: async () => {}, close: async () => void ((c.shut = true), end()), closed: () => closed };
    return c;
  }
  /**
   * With the internals the bridge reads (nats-core 3.4's protocol): `connected` stays true after close(), as the real
   * client's does until its socket's close is seen (a real nats-server showed it true right after the start resolved).
   */
  function publisherShowingState() {
    return Object.assign(publisher(), { protocol: { connected: true, outbound: { size: () => 0 } } });
  }
  /** A bridge on fake clients whose JetStream manager answers as the test says. */
  class HeldStreamBridge extends ForwardBridge {
    readonly clients: ReturnType<typeof publisher>[] = [];
    answer: "timeout" | "ok" | "refused" = "timeout";
    /** The connect of this index (0: the start's) waits for `release`. */
    holdAt = -1;
    release = (): void => undefined;
    /** Clients with the internals (publisherShowingState). */
    showState = false;
    /** Called as the stream is added (its set-up under way). */
    duringSetup = (): void => undefined;
    /** Clients with events (eventChannel, as `events`). */
    withEvents = false;
    /** The stream's info requests made, and whether they are answered (else never: a connection dropped under them). */
    infoCalls = 0;
    infoAnswered = true;
    protected override async connect(): Promise<unknown> {
      const c = this.clients[this.clients.push(this.showState ? publisherShowingState() : publisher()) - 1]!;
      if (this.withEvents) {
        const events = eventChannel();
        Object.assign(c, { events, status: () => events });
      }
      if (this.clients.length - 1 === this.holdAt) await new Promise<void>((r) => (this.release = r));
      return c;
    }
    protected override async streamManager(): Promise<StreamManager> {
      const refuse = async (): Promise<never> => {
        if (this.answer === "timeout") throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
        throw new Error("insufficient resources");
      };
      return {
        streams: {
          add: async () => (this.duringSetup(), this.answer === "ok" ? undefined : refuse()),
          update: async () => undefined,
          info: () => {
            this.infoCalls++;
            return this.infoAnswered ? Promise.resolve({ config: { subjects: ["fwd.>"] }, state: { last_seq: 0 }, created: "t0" }) : new Promise<never>(() => undefined);
          },
        },
      };
    }
  }
  const js = { stream: "FWD", maxAgeMs: 0, maxBytes: -1 };

  // Before, a JetStream request at the stream's set-up that got no answer (the connection dropped under it, a server
  // too busy) rejected the start: `bridge to-nats --stream` exited 1 when NATS flapped as it started, where from-nats
  // and listen --nats (s-natsst) connect again. Now that connection is closed and one made again, the start resolving.
  test("a JetStream request at start unanswered: start() resolves, not ready, the connection made again sets up the stream", async () => {
    const { log, lines } = captureLog();
    const bridge = new HeldStreamBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "fwd", jetstream: js, reconnectAfterCloseMs: 10, log });
    cleanups.push(() => bridge.stop());
    await bridge.start(); // before: rejected with the timeout
    expect([bridge.clients.map((c) => c.shut), bridge.health.natsConnected, bridge.health.streamStoring]).toEqual([[true], false, undefined]);
    expect(lines.filter((l) => /JetStream/.test(l.msg)).map((l) => `${l.level} ${l.msg}`)).toEqual([expect.stringMatching(/^warn no answer from NATS setting up the JetStream stream FWD/)]);
    bridge.answer = "ok";
    await waitFor(() => bridge.health.natsConnected && bridge.health.streamStoring === true, "connected again, the stream read", 5000);
    expect([bridge.clients.map((c) => c.shut), bridge.counters.natsReconnects, bridge.counters.natsClosed]).toEqual([[true, false], 1, 0]);
  });

  // Before, until the closed connection's socket was seen closed, what the bridge read went into it: lost, but counted
  // as published and no drop logged (readers saw a gap all the same: its numbers were taken). Now dropped as while
  // disconnected, counted and logged, its number skipped; published again on the connection made again.
  test("a JetStream set-up unanswered: what comes before the connection is made again is dropped, counted and logged", async () => {
    const { log, lines } = captureLog();
    const bridge = new HeldStreamBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "fwd", jetstream: js, reconnectAfterCloseMs: 10, log });
    cleanups.push(() => bridge.stop());
    bridge.showState = true;
    bridge.holdAt = 1;
    await bridge.start();
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500 });
    let sendUs = T0;
    const through = (): void => {
      for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    };
    packInstrumentDefinition(p, new EncodedDefinition(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3)), false);
    through();
    p.appendHeartbeat(0);
    through();
    expect([bridge.clients[0]!.shut, bridge.clients[0]!.published, bridge.counters.published, bridge.counters.heartbeats, bridge.counters.droppedDisconnected]).toEqual([true, 0, 0, 0, 1]);
    expect(lines.filter((l) => /dropping/.test(l.msg)).map((l) => `${l.level} ${l.msg}`)).toEqual(["warn NATS is disconnected: dropping datagrams (readers see the loss)"]);
    bridge.answer = "ok";
    await waitFor(() => bridge.clients.length === 2, "the connect made again under way", 5000);
    bridge.release();
    await waitFor(() => bridge.health.natsConnected, "connected again", 5000);
    p.appendHeartbeat(0);
    through();
    expect([bridge.clients[1]!.published, bridge.counters.heartbeats, bridge.counters.droppedDisconnected]).toEqual([1, 1, 1]);
  });

  // The same in the connect made again: its set-up unanswered too, it closes that connection and waits for the close
  // before the next try is scheduled. Before, what came meanwhile went into the closing connection (it shows itself
  // connected until its socket's close is seen): lost, counted as published, no drop logged.
  test("a JetStream set-up unanswered again: what comes while that connection closes is dropped and counted", async () => {
    const { log } = captureLog();
    const bridge = new HeldStreamBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "fwd", jetstream: js, reconnectAfterCloseMs: 10, log });
    cleanups.push(() => bridge.stop());
    bridge.showState = true;
    bridge.holdAt = 1;
    await bridge.start();
    await waitFor(() => bridge.clients.length === 2, "the connect made again under way", 5000);
    const again = bridge.clients[1]!;
    let closeAsked = false;
    let closeDone = (): void => undefined;
    const closing = new Promise<void>((r) => (closeDone = r));
    const close = again.close;
    again.close = async () => {
      closeAsked = true;
      await closing; // the socket's close not seen yet
      return close();
    };
    bridge.release(); // its set-up unanswered as well
    await waitFor(() => closeAsked, "the connection made again closing", 5000);
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500 });
    packInstrumentDefinition(p, new EncodedDefinition(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3)), false);
    try {
      for (const d of take(p, T0 + 1000)) bridge.onDatagram(d);
      expect([again.published, bridge.counters.published, bridge.counters.droppedDisconnected]).toEqual([0, 0, 1]); // before: [1, 1, 0]
    } finally {
      closeDone();
    }
  });

  // Before, the client's own reconnect during a connect made again's stream set-up left the stream unread on it until
  // a datagram came (its reconnect's read of the stream waits for no set-up under way, and nothing asked again): a
  // silent feed (the venue down) kept /readyz 503 though NATS and the stream were back.
  test("a reconnect of the client during a connect made again's set-up: the stream is read on it, ready without traffic", async () => {
    const bridge = new HeldStreamBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "fwd", jetstream: js, reconnectAfterCloseMs: 10, log: silentLogger });
    cleanups.push(() => bridge.stop());
    bridge.showState = true;
    bridge.holdAt = 1;
    await bridge.start(); // the start's set-up unanswered: a connect made again, held
    await waitFor(() => bridge.clients.length === 2, "the connect made again under way", 5000);
    bridge.answer = "ok";
    const again = bridge.clients[1] as ReturnType<typeof publisherShowingState>;
    bridge.duringSetup = () => void ((again.protocol as { transport?: object }).transport = {}); // a connection made by the client itself
    bridge.release();
    await waitFor(() => bridge.counters.natsReconnects === 1, "connected again", 5000);
    await waitFor(() => bridge.health.natsConnected, "the stream read on the client's connection: ready", 10_000);
  });

  // Before, the read of the stream on a connection the client made again by itself, its request gone out on a
  // connection that dropped under it, was waited out (the client's 5 s request timeout) before the stream was read on
  // the next one: in a flapping server, datagrams dropped for 5 s a drop, not a round trip, and a check failure
  // counted and logged each time.
  test("the client's reconnect while the stream is read on its previous connection: read on the new one at once", async () => {
    const bridge = new HeldStreamBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "fwd", jetstream: js, log: silentLogger });
    cleanups.push(() => bridge.stop());
    bridge.showState = true;
    bridge.withEvents = true;
    bridge.answer = "ok";
    await bridge.start();
    expect(bridge.health.natsConnected).toBe(true);
    const c = bridge.clients[0] as ReturnType<typeof publisherShowingState> & { events: ReturnType<typeof eventChannel> };
    const reconnect = (): void => {
      (c.protocol as { transport?: object }).transport = {};
      c.events.push({ type: "reconnect" });
    };
    const calls = bridge.infoCalls;
    bridge.infoAnswered = false; // the connection drops under the read
    reconnect();
    await waitFor(() => bridge.infoCalls > calls, "the stream read on the new connection", 10_000);
    expect(bridge.health.natsConnected).toBe(false);
    bridge.infoAnswered = true;
    reconnect();
    await waitFor(() => bridge.health.natsConnected, "the stream read on the latest connection: ready", 10_000);
    expect([bridge.counters.natsReconnects, bridge.counters.streamCheckFailures]).toEqual([2, 0]);
  });

  // Before, a connect made again that ended after stop() and start() again took the new run's place (only `stopped`
  // was looked at, which that start cleared): the new run's connection was left open, reconnecting for ever.
  test("a connect made again that ends after stop() and start() again is closed, the new run's connection kept", async () => {
    const bridge = new HeldStreamBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "fwd", jetstream: js, reconnectAfterCloseMs: 10, log: silentLogger });
    cleanups.push(() => bridge.stop());
    bridge.holdAt = 1;
    await bridge.start(); // the stream's set-up unanswered: a connect made again, held
    await waitFor(() => bridge.clients.length === 2, "the connect made again under way", 5000);
    await bridge.stop();
    bridge.answer = "ok";
    await bridge.start();
    bridge.release();
    await waitFor(() => bridge.clients[1]!.shut || bridge.counters.natsReconnects > 0, "the held connect ended: closed or taken", 5000);
    expect([bridge.clients.map((c) => c.shut), bridge.counters.natsReconnects, bridge.health.natsConnected]).toEqual([[true, true, false], 0, true]);
  });

  // Before, a start that failed once connected (the stream refused, a group that cannot be joined) left the
  // connection open, reconnecting forever, with the sockets joined so far, and the bridge `running`: a library caller
  // that handled the rejection kept them, its start again refused as "start() called twice (stop() first)".
  test("a start refused once connected closes what it opened and can be tried again", async () => {
    const bridge = new HeldStreamBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "fwd", jetstream: js, log: silentLogger });
    cleanups.push(() => bridge.stop());
    bridge.answer = "refused";
    await expect(bridge.start()).rejects.toThrow(/insufficient resources/);
    await expect(bridge.start()).rejects.toThrow(/insufficient resources/); // before: start() called twice
    expect(bridge.clients.map((c) => c.shut)).toEqual([true, true]);
    // A group that cannot be joined on its interface (no such address here): the socket bound before it closed too.
    const { group, port } = uniqueDestination(261);
    const joins = new HeldStreamBridge({ groups: [{ group, port, iface: "127.0.0.1" }, { group, port: port + 1, iface: "10.254.254.1" }], servers: "nats://127.0.0.1:1", prefix: "fwd", log: silentLogger });
    cleanups.push(() => joins.stop());
    await expect(joins.start()).rejects.toThrow(/ENODEV|EADDRNOTAVAIL/);
    await expect(joins.start()).rejects.toThrow(/ENODEV|EADDRNOTAVAIL/); // before: start() called twice
    expect([joins.clients.map((c) => c.shut), (joins as unknown as { sockets: unknown[] }).sockets]).toEqual([[true, true], []]);
  });
});

/** A client whose status events the test pushes (an -ERR of the server), never closing by itself. */
function fakeClient() {
  const waiting: ((r: IteratorResult<{ type: string; error?: Error }>) => void)[] = [];
  const queued: { type: string; error?: Error }[] = [];
  let ended = false;
  const push = (value: { type: string; error?: Error }) => {
    const w = waiting.shift();
    if (w !== undefined) w({ done: false, value });
    else queued.push(value);
  };
  const callbacks: ((err: Error | null, msg: { data: Uint8Array }) => void)[] = [];
  const client = {
    /** The subscriptions' callbacks: the test calls them as the client would with a message. */
    callbacks,
    subscribe: (_subject: string, opts: { callback: (err: Error | null, msg: { data: Uint8Array }) => void }) => {
      callbacks.push(opts.callback);
      return { unsubscribe() {} };
    },
    flush: async () => {},
    drain: async () => {},
    close: async () => {
      ended = true;
      for (const w of waiting.splice(0)) w({ done: true, value: undefined });
    },
    closed: () => new Promise<void>(() => {}),
    status: () => ({
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<{ type: string; error?: Error }>>((r) => {
            if (queued.length > 0) r({ done: false, value: queued.shift()! });
            else if (ended) r({ done: true, value: undefined });
            else waiting.push(r);
          }),
      }),
    }),
    /** The server refuses the credentials (as the client reports it while it reconnects). */
    refuse: () => push({ type: "error", error: Object.assign(new Error("Authorization Violation"), { name: "AuthorizationError" }) }),
    /** The client's own reconnect made it again. */
    reconnect: () => push({ type: "reconnect" }),
  };
  return client;
}

describe("a start after stop() during a refusal of the credentials", () => {
  // Before, the episode's "told once" flag outlived stop(): a later refusal after start() again was not told at all.
  test("tells the next refusal again (reader and bridge)", async () => {
    let client = fakeClient();
    useNatsModules({ transport: async () => ({ connect: async () => (client = fakeClient()) }), jetstream: async () => ({}) });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    const told: string[] = [];
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", onNatsEvent: (e) => void (e.kind === "auth_refused" && told.push("reader")) }, () => {});
    const log = { ...silentLogger, error: (msg: string) => void (/refused the bridge's credentials/.test(msg) && told.push("bridge")), child: () => log };
    const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "t", log });
    for (const [name, it] of [["reader", reader], ["bridge", bridge]] as const) {
      for (let round = 1; round <= 2; round++) {
        await it.start();
        client.refuse();
        const deadline = Date.now() + 10_000;
        while (told.filter((t) => t === name).length < round && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        expect(told.filter((t) => t === name), `${name}, round ${round}`).toHaveLength(round);
        await it.stop();
      }
    }
  });
});

describe("a connection made again after a close for good", () => {
  // A client whose close for good (closed() resolving) and round trip (flush) the test drives.
  function heldClient(answerAtOnce: boolean) {
    let end = (): void => undefined;
    let answer = (): void => undefined;
    const closed = new Promise<void>((r) => (end = r));
    return {
      flushes: 0,
      end: () => end(),
      answer: () => answer(),
      subscribe: () => ({ unsubscribe() {} }),
      flush(this: { flushes: number }) {
        this.flushes++;
        return answerAtOnce ? Promise.resolve() : new Promise<void>((r) => (answer = r));
      },
      close: async () => end(),
      closed: () => closed,
    };
  }

  // Before, one that the client closed for good again during the round trip after its SUB was told `reconnected`
  // (and counted in natsReconnects) right after its `closed`, though nothing was connected: `listen --nats` and
  // from-nats logged "connected to NATS again" for a connection already gone.
  test("and closed for good again during its round trip is not told as reconnected", async () => {
    const clients: ReturnType<typeof heldClient>[] = [];
    useNatsModules({ transport: async () => ({ connect: async () => clients[clients.push(heldClient(clients.length !== 1)) - 1] }), jetstream: async () => ({}) });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    const told: string[] = [];
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", reconnectAfterCloseMs: 10, onNatsEvent: (e) => void told.push(e.kind) }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    clients[0]!.end(); // closed for good
    await waitFor(() => clients[1]?.flushes === 1, "the connection made again waits for its round trip", 5000);
    expect(reader.health.subscriptionUnconfirmed).toBe(true);
    clients[1]!.end(); // closed for good again, the round trip unanswered
    await waitFor(() => clients[2]?.flushes === 1, "a third connection", 5000);
    await waitFor(() => told.length >= 3, "the third connection told", 5000);
    expect([told, reader.counters.natsReconnects, reader.counters.natsClosed]).toEqual([["closed", "closed", "reconnected"], 1, 2]);
  });
});

describe("stop() and start() again while a start connects", () => {
  // Before, a start looked only at `stopped` once connected, which the start again cleared: both went on, two
  // connections (and for the bridges two sockets) side by side, the earlier one left open for good: every envelope
  // fed to the sink twice, every datagram forwarded or sent twice.
  function countingClients() {
    const clients: { shut: boolean; subs: number }[] = [];
    useNatsModules({
      transport: async () => ({
        connect: async () => {
          const c = { shut: false, subs: 0, publish() {}, subscribe: () => (c.subs++, { unsubscribe() {} }), flush: async () => {}, drain: async () => {}, close: async () => void (c.shut = true), closed: () => new Promise<void>(() => {}) };
          clients.push(c);
          return c;
        },
      }),
      jetstream: async () => ({}),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    return clients;
  }
  async function startStopStart(it: { start(): Promise<void>; stop(): Promise<void> }): Promise<void> {
    cleanups.push(() => it.stop());
    const first = it.start();
    const stopping = it.stop();
    const second = it.start();
    await Promise.allSettled([first, stopping, second]);
  }

  test("reader: the earlier start's connection is closed, not subscribed", async () => {
    const clients = countingClients();
    await startStopStart(new NatsFeedReader({ servers: "nats://127.0.0.1:1" }, () => {}));
    expect(clients.map((c) => [c.shut, c.subs])).toEqual([[true, 0], [false, 1]]); // before: both open and subscribed
  });

  test("forward bridge: the earlier start's connection is closed, no socket of it left", async () => {
    const clients = countingClients();
    const { group, port } = uniqueDestination(262);
    const bridge = new ForwardBridge({ groups: [{ group, port, iface: "127.0.0.1" }], servers: "nats://127.0.0.1:1", prefix: "t", log: silentLogger });
    await startStopStart(bridge);
    expect([clients.map((c) => c.shut), (bridge as unknown as { sockets: unknown[] }).sockets.length]).toEqual([[true, false], 1]);
  });

  test("reverse bridge: one reader, one socket", async () => {
    const clients = countingClients();
    const { group, port } = uniqueDestination(263);
    await startStopStart(new ReverseBridge({ servers: "nats://127.0.0.1:1", prefix: "t", group, port, iface: "127.0.0.1", ttl: 1 }));
    expect(clients.map((c) => c.shut)).toEqual([false]); // before: two readers, both connected
  });
});

describe("listen --nats whose start's connection dropped", () => {
  // Before, its table said "waiting for the first datagram on NATS … (is a feeder publishing to this group, on this
  // interface?)" while the reader was not connected and connecting again (s-natsst: the start resolves, the reader
  // retrying): only the log said so. Now the table's line says the reader's state.
  test("its table says it is not connected to NATS, not that no feeder publishes", async () => {
    const fails = { subscribe: () => ({ unsubscribe() {} }), flush: () => Promise.reject(new Error("connection dropped")), drain: async () => {}, close: async () => {}, closed: () => new Promise<void>(() => {}) };
    // After nats-args.ts's own (imported by listen.ts): every connect's round trip fails.
    useNatsModules({ transport: async () => ({ connect: async () => fails }), jetstream: async () => ({}) });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    const out: string[] = [];
    const warned: string[] = [];
    const log = { debug() {}, info() {}, warn: (msg: string) => void warned.push(msg), error() {}, child: () => log };
    let stop = (_: string): void => undefined;
    const ctx = { values: { nats: "nats://127.0.0.1:1" }, positionals: [], log, out: (t: string) => void out.push(t), stopSignal: new Promise<string>((r) => (stop = r)) } as unknown as CommandContext;
    const running = listen(ctx);
    await waitFor(() => out.length >= 1, "the first table (drawn every second)", 5000);
    stop("SIGTERM");
    expect(await running).toBe(0);
    expect(warned.some((m) => m.startsWith("connecting to NATS again failed"))).toBe(true);
    expect(out[0]).toMatch(/not connected to NATS: connecting again every 2 s/); // before: "waiting for the first datagram on NATS …"
    expect(out[0]).not.toMatch(/is a feeder publishing/);
    expect(out.at(-1)).toMatch(/waiting for the first datagram/); // the last table, drawn once stopped
    // It asked "is a feeder publishing to this group, on this interface?" of a NATS feed (no group, no interface).
    expect(out.at(-1)!.replace(/\s+/g, " ")).toContain("(is a `feeder bridge to-nats` publishing under this prefix?)");
  });
});

describe("a reader stopped and started again while it connects again", () => {
  // Before, a connect made again (after the start's round trip dropped, or a close for good) that ended after stop()
  // and start() again looked only at `stopped`, cleared by that start: it took its connection as the reader's,
  // leaving the new run's open, reconnecting for ever and subscribed, feeding the sink beside it.
  test("the earlier run's connection is closed, the new run's kept", async () => {
    type Client = { shut: boolean; subs: number; subscribe(): { unsubscribe(): void }; flush(): Promise<void>; drain(): Promise<void>; close(): Promise<void>; closed(): Promise<void> };
    const client = (flushFails: boolean): Client => {
      const c: Client = {
        shut: false,
        subs: 0,
        subscribe: () => (c.subs++, { unsubscribe() {} }),
        flush: () => (flushFails ? Promise.reject(new Error("connection dropped")) : Promise.resolve()),
        drain: async () => {},
        close: async () => void (c.shut = true),
        closed: () => new Promise<void>(() => {}),
      };
      return c;
    };
    const clients: Client[] = [];
    let release = (): void => undefined;
    const connects = [
      async () => client(true), // the start's: its round trip fails, a connect made again is scheduled
      () => new Promise<Client>((r) => (release = () => r(client(false)))), // that connect, held
      async () => client(false), // the start after stop()
    ];
    let dials = 0;
    useNatsModules({
      transport: async () => ({
        connect: async () => {
          const i = dials++;
          const c = await connects[i]!();
          clients[i] = c;
          return c;
        },
      }),
      jetstream: async () => ({}),
    });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", reconnectAfterCloseMs: 10 }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    await waitFor(() => dials === 2, "the connect made again under way", 5000);
    await reader.stop();
    await reader.start();
    release();
    await waitFor(() => clients[1] !== undefined && (clients[1].shut || clients[1].subs > 0), "the held connect ended: closed or taken", 5000);
    expect(clients.map((c) => [c.shut, c.subs])).toEqual([[true, 1], [true, 0], [false, 1]]); // before: [false, 1] for the second, the third left beside it
    expect(reader.health.natsConnected).toBe(true);
  });
});

describe("a reader's callback that throws", () => {
  const fake = () => {
    let client = fakeClient();
    useNatsModules({ transport: async () => ({ connect: async () => (client = fakeClient()) }), jetstream: async () => ({}) });
    cleanups.push(() => useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") }));
    return () => client;
  };

  test("onNatsEvent: counted and handed to onListenerError; the reader goes on watching its connection", async () => {
    const client = fake();
    const told: string[] = [];
    const errors: string[] = [];
    const onNatsEvent = (e: { kind: string }) => {
      told.push(e.kind);
      throw new Error(`listener ${e.kind}`);
    };
    const reader = new NatsFeedReader({ servers: "nats://127.0.0.1:1", onNatsEvent, onListenerError: (err) => errors.push(err.message) }, () => {});
    cleanups.push(() => reader.stop());
    await reader.start();
    // Each status event waited for by what it makes happen (until s-leftops a fixed 20 ms each): the refusal told the
    // listener; after the reconnect, both told and counted (before the fix that never came: the wait timed out).
    client().refuse();
    await waitFor(() => told.length === 1, "auth_refused told to the listener", 5000);
    client().reconnect();
    await waitFor(() => told.length === 2 && errors.length === 2 && reader.counters.natsReconnects === 1, "the reconnect told, its throw and the reconnect counted", 5000);
    // Before: the throw at auth_refused ended the reader's watch of the client's events: the reconnect was never
    // counted nor auth_accepted told (the reader's health said refused for good), and nothing counted the throw.
    expect([told, reader.counters.natsReconnects, reader.health.authRefused]).toEqual([["auth_refused", "auth_accepted"], 1, false]);
    expect([errors, reader.counters.listenerErrors]).toEqual([["listener auth_refused", "listener auth_accepted"], 2]);
  });

  test("onSignedUnverified and onRefused, through attachNats: the subscriber's 'error' event, nothing escapes the client's callback", async () => {
    const client = fake();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 60_000 });
    const errors: string[] = [];
    sub.on("error", (e) => errors.push(e.error.message));
    const boom = (what: string) => () => {
      throw new Error(what);
    };
    const reader = await attachNats(sub, { servers: "nats://127.0.0.1:1", onSignedUnverified: boom("told"), onRefused: boom("refused") });
    cleanups.push(() => reader.stop());
    const p = packer();
    p.appendHeartbeat(0);
    const beat = take(p)[0]!;
    const deliver = (data: Uint8Array) => client().callbacks[0]!(null, { data });
    // Before: both threw out of the NATS client's message callback (into its protocol parser).
    expect(() => deliver(envelopeOf(beat, 1000, 0, 0, 1, 7, new DatagramAuth(new Uint8Array(32).fill(3))))).not.toThrow();
    expect(() => deliver(new Uint8Array(4))).not.toThrow(); // short: refused
    expect([errors, sub.counters.listenerErrors, reader.counters.listenerErrors, reader.counters.heartbeats]).toEqual([["told", "refused"], 2, 2, 1]);
  });
});

describe("the live reader's start resolves once the server has its subscription", { timeout: 30_000 }, () => {
  // Before, start() resolved (attachNats returned, the reverse bridge read ready) with the SUB only queued in the
  // client: what was published in that round trip was not read. A minimal server on 127.0.0.1 that counts SUBs and
  // can hold its PONGs (the round trip's answer), with the real NATS client.
  const stops: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (stops.length > 0) await stops.pop()!();
  });

  test("when start() resolves, the server has read the SUB", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "confirm-a" }, () => {});
    stops.push(() => reader.stop());
    await reader.start();
    expect(nats.state.subs).toBe(1); // before: 0, the SUB still on its way
  });

  test("start() waits for the round trip after the SUB; the reverse bridge is not ready meanwhile, then ready", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    nats.holdPongs();
    const { group, port } = uniqueDestination(257);
    const bridge = new ReverseBridge({ servers: nats.url, prefix: "confirm-b", group, port, iface: "127.0.0.1", ttl: 1 });
    stops.push(() => bridge.stop());
    let started = false;
    const starting = bridge.start().then(() => void (started = true));
    await waitFor(() => nats.state.heldPings === 1, "the round trip's PING after the SUB reached the server", 10_000);
    expect([nats.state.subs, started]).toEqual([1, false]);
    expect(fromNatsReadiness(bridge)).toEqual({ ready: false, reasons: ["the NATS server has not confirmed the subscription on <prefix>.> yet"] });
    nats.answerPongs();
    await starting;
    expect(fromNatsReadiness(bridge)).toEqual({ ready: true, reasons: [] });
  });

  // Before, the client's own reconnect (a dropped connection, made again) made from-nats ready at once, its SUB sent
  // again by the client after the connect's round trip but not yet read by the server: what was published meanwhile
  // was not read while /readyz said 200. Now the reader waits for a round trip after the reconnect, as at start.
  test("the client's own reconnect: not ready until a round trip after the SUB it sent again is answered", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    const { group, port } = uniqueDestination(258);
    const bridge = new ReverseBridge({ servers: nats.url, prefix: "confirm-d", group, port, iface: "127.0.0.1", ttl: 1 });
    stops.push(() => bridge.stop());
    await bridge.start();
    expect(fromNatsReadiness(bridge)).toEqual({ ready: true, reasons: [] });
    nats.holdPongs();
    nats.drop();
    await waitFor(() => bridge.reader!.counters.natsReconnects === 1, "the client's reconnect", 10_000);
    await waitFor(() => nats.state.subs === 2, "the SUB sent again reached the server", 10_000);
    expect(fromNatsReadiness(bridge)).toEqual({ ready: false, reasons: ["the NATS server has not confirmed the subscription on <prefix>.> yet"] });
    await waitFor(() => nats.state.heldPings === 1, "the round trip's PING after the SUB sent again", 10_000);
    nats.answerPongs();
    await waitFor(() => fromNatsReadiness(bridge).ready, "ready once the round trip is answered", 10_000);
  });

  // Before, a drop in that round trip rejected the start: `bridge from-nats` and `listen --nats` exited 1 when NATS
  // flapped as they started, though once started they reconnect forever. Now the start resolves and the reader goes
  // on as after a failed connect made again: told (reconnect_failed), tried again reconnectAfterCloseMs later, not
  // ready meanwhile, ready once the connection made again has its round trip answered.
  test("a drop during that round trip: start() resolves, not ready until a connection made again is confirmed", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    nats.holdPongs();
    const { group, port } = uniqueDestination(260);
    const told: string[] = [];
    const onNatsEvent = (e: { kind: string; error?: string }) => void told.push(e.kind === "reconnect_failed" ? `${e.kind}: ${e.error}` : e.kind);
    const bridge = new ReverseBridge({ servers: nats.url, prefix: "confirm-e", group, port, iface: "127.0.0.1", ttl: 1, reconnectAfterCloseMs: 50, onNatsEvent });
    stops.push(() => bridge.stop());
    const starting = bridge.start();
    await waitFor(() => nats.state.heldPings === 1, "the round trip's PING after the SUB reached the server", 10_000);
    nats.drop();
    await starting; // before: rejected, "the NATS connection dropped before the server confirmed the subscription"
    expect(fromNatsReadiness(bridge).ready).toBe(false);
    expect(told).toEqual([expect.stringMatching(/^reconnect_failed: the NATS connection dropped before the server confirmed the subscription on confirm-e\.>/)]);
    await waitFor(() => nats.state.heldPings === 2, "the connection made again sent its SUB and its round trip", 10_000);
    expect(fromNatsReadiness(bridge)).toEqual({ ready: false, reasons: ["the NATS server has not confirmed the subscription on <prefix>.> yet"] });
    nats.answerPongs();
    await waitFor(() => fromNatsReadiness(bridge).ready, "ready once the round trip is answered", 10_000);
    expect([told.slice(1), bridge.reader!.counters.natsReconnects]).toEqual([["reconnected"], 1]);
  });

  // The same for no answer within the round trip's time (DIAL_TIMEOUT_MS, shortened here through the reader's seam):
  // before, the start rejected; now that connection is closed and one made again.
  test("no answer to that round trip: start() resolves, the connection is closed and made again", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    nats.holdPongs();
    const told: string[] = [];
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "confirm-f", reconnectAfterCloseMs: 50, onNatsEvent: (e) => void told.push(e.kind) }, () => {});
    (reader as unknown as { confirmWithinMs: number }).confirmWithinMs = 100;
    stops.push(() => reader.stop());
    await reader.start(); // before: rejected, "no answer from NATS within … to the round trip confirming the subscription"
    expect(told).toEqual(["reconnect_failed"]);
    (reader as unknown as { confirmWithinMs: number }).confirmWithinMs = 10_000; // before the connection made again (50 ms on)
    await waitFor(() => nats.state.closed >= 1 && nats.state.heldPings >= 2, "the first connection closed, a second one's round trip sent", 10_000);
    expect(reader.health).toMatchObject({ natsConnected: true, subscriptionUnconfirmed: true });
    nats.answerPongs();
    await waitFor(() => told.includes("reconnected"), "connected again", 10_000);
    expect(reader.health).toMatchObject({ natsConnected: true, subscriptionUnconfirmed: false });
  });

  test("stop() during that round trip: start() resolves, nothing is fed, the connection is closed", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    nats.holdPongs();
    let fed = 0;
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "confirm-c" }, () => void fed++);
    stops.push(() => reader.stop());
    const starting = reader.start();
    await waitFor(() => nats.state.heldPings === 1, "the round trip's PING after the SUB reached the server", 10_000);
    await reader.stop();
    await starting; // the client never settles a flush whose connection closed: the reader does not wait on it alone
    await waitFor(() => nats.state.closed === 1, "the reader's NATS connection closed", 10_000);
    expect([fed, reader.health.natsConnected]).toEqual([0, false]);
  });
});
