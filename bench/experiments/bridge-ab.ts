/**
 * A/B of the NATS bridge's two hot paths (rev19), in ONE process, alternating rounds, medians: the old and the
 * current ForwardBridge.onDatagram (the current one reads the client's backlog per datagram and catches a refused
 * publish), each on its own connection to a real nats-server, and the old and the current EnvelopeRepacker.add (the
 * current one follows one bridge per upstream stream). Both sides of each pair are loaded with loadSource (the old
 * from git, default 39b1f25, before rev19), so only the file itself differs. The current bridge gets a backlog
 * limit it never reaches here: what is measured is the check, not drops. Between rounds the clients flush.
 *   npx bun bench/experiments/bridge-ab.ts [rounds]      (needs nats-server on the PATH)
 */
import { mkdtempSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measure } from "../harness.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EncodedDefinition, packBookDelta, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES, PKT_MSG_COUNT_OFFSET } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { makeInstrument, TestBook } from "../../test/wire/helpers.ts";
import { loadSource } from "./load-source.ts";

type Bridge = typeof import("../../src/bridge/forward-bridge.ts");
type Envelope = typeof import("../../src/subscriber/nats-envelope.ts");
const OLD = process.env.BRIDGE_AB_OLD ?? "39b1f25";
const ROUNDS = Number(process.argv[2] ?? 15);

const port = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
const server = Bun.spawn(["nats-server", "-a", "127.0.0.1", "-p", String(port), "-sd", mkdtempSync(join(tmpdir(), "bridge-ab-"))], { stdout: "ignore", stderr: "ignore" });
for (let up = false; !up; ) {
  up = await new Promise<boolean>((r) => {
    const c = connect(port, "127.0.0.1");
    c.once("connect", () => (c.destroy(), r(true)));
    c.once("error", () => r(false));
  });
  if (!up) await Bun.sleep(20);
}
const url = `nats://127.0.0.1:${port}`;

const T0_US = 1_764_000_000_000_000;
// One datagram of 7 typical deltas (7 changed levels each), after the definitions (so every message is published).
const p = new ChannelPacker(1400, 7, 1, 0x0badcafe, { heartbeatIntervalMs: 1000 });
const books = Array.from({ length: 7 }, (_, i) => {
  const b = new TestBook(makeInstrument("bybit", "linear", `SYM${i}USDT`, 1, 3));
  b.load([[302_472, 1000]], [[302_473, 2000]], 1, T0_US);
  return b;
});
const cs = new ChangeSet();
for (let i = 0; i < 3; i++) cs.addBid(302_472 - i, 1500 + i);
for (let i = 0; i < 4; i++) cs.addAsk(302_473 + i, 250 + i);
for (const b of books) packInstrumentDefinition(p, new EncodedDefinition(b.instrument), false);
p.seal(T0_US);
const defs = Array.from({ length: p.count }, (_, i) => p.bytes[i]!.slice(0, p.lengths[i]));
p.clear();
for (const b of books) {
  b.apply(cs, 2, T0_US);
  packBookDelta(p, b, cs);
}
p.seal(T0_US + 1000);
const datagram = p.bytes[0]!.slice(0, p.lengths[0]);
p.clear();
const count = new DataView(datagram.buffer).getUint16(PKT_MSG_COUNT_OFFSET, true);

const sides = await Promise.all(
  (["old", "new"] as const).map(async (tag) => {
    const rev = tag === "old" ? OLD : null;
    const fb = await loadSource<Bridge>("src/bridge/forward-bridge.ts", rev, `bab-${tag}`);
    const ne = await loadSource<Envelope>("src/subscriber/nats-envelope.ts", rev, `bab-${tag}`);
    const bridge = new fb.ForwardBridge({ groups: [], servers: url, prefix: `ab${tag}`, maxPendingBytes: 1 << 30, log: silentLogger } as never);
    await bridge.start();
    for (const d of defs) bridge.onDatagram(d);
    const envs: Uint8Array[] = [];
    let off = PACKET_HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const len = new DataView(datagram.buffer).getUint16(off + MSG_LENGTH_OFFSET, true);
      envs.push(ne.envelopeOf(datagram, 1000, off, len, 5, 77));
      off += len;
    }
    const repacker = new ne.EnvelopeRepacker({ channelId: 1, sourceId: 9, heartbeatIntervalMs: 200 });
    return { tag, bridge, envs, repacker, fwd: [] as number[], rep: [] as number[] };
  }),
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (let r = 0; r < ROUNDS; r++) {
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
    s.fwd.push(measure(`${s.tag} onDatagram`, () => s.bridge.onDatagram(datagram), { opsPerCall: count, warmupMs: 50, durationMs: 60 }).nsPerOp);
    await Bun.sleep(300); // the client writes what the loop queued
    s.rep.push(
      measure(
        `${s.tag} add`,
        () => {
          for (const e of s.envs) s.repacker.add(e, 0);
          s.repacker.packer.seal(0);
          s.repacker.packer.clear();
        },
        { opsPerCall: count, warmupMs: 50, durationMs: 150 },
      ).nsPerOp,
    );
  }
}
for (const s of sides) {
  console.log(`${s.tag}: to-nats per message ${median(s.fwd).toFixed(0)} ns (rounds ${s.fwd.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`${s.tag}: from-nats per message ${median(s.rep).toFixed(0)} ns (rounds ${s.rep.map((x) => x.toFixed(0)).join(" ")})`);
  const c = s.bridge.counters as unknown as Record<string, unknown>;
  console.log(`${s.tag}: ${JSON.stringify(c)}`);
}
for (const s of sides) await s.bridge.stop();
server.kill("SIGTERM");
await server.exited;
