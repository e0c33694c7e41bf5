/**
 * The bridge's RETRANSMIT-on-a-group warning words its count as the subscriber's report does (ReportLimit.countWords):
 * the first line has no earlier one to count from. Until 2026-12-07 it said "(count: since the last such line)" with
 * count 1. No sockets, no server: the datagram is handed to onDatagram.
 */
import { describe, expect, it } from "vitest";
import { markRetransmit } from "../../src/wire/retransmit.ts";
import { captureLog } from "../support/capture-log.ts";
import { packer, take } from "../subscriber/feed-harness.ts";
import { NullBridge } from "./null-bridge.ts";

describe("the bridge's RETRANSMIT-on-a-group warning", () => {
  it("words its first line as the first such report, and says nothing more within the interval", () => {
    const captured = captureLog();
    const bridge = new NullBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "words", log: captured.log });
    const p = packer();
    p.appendHeartbeat(0);
    const [d] = take(p);
    markRetransmit(d!, d!.length, undefined);
    bridge.onDatagram(d!, { address: "127.0.0.1", port: 9, family: "IPv4", size: d!.length }, "239.1.2.3:5000");
    bridge.onDatagram(d!, { address: "127.0.0.1", port: 9, family: "IPv4", size: d!.length }, "239.1.2.3:5000");
    expect(bridge.counters.rejected.retransmit).toBe(2);
    expect(captured.lines).toHaveLength(1);
    const [line] = captured.lines;
    expect(line!.msg).toMatch(/never a group \(the first such report\)$/); // before: "(count: since the last such line)"
    expect(line!.fields).toMatchObject({ from: "127.0.0.1:9", group: "239.1.2.3:5000", count: 1, total: 1 });
  });
});
