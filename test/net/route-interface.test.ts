/**
 * A multicast destination whose interface address goes away and comes back (DHCP), or whose interface is deleted
 * and made again (the same address on a new interface index), over a real socket in a network namespace of the
 * test's own (skipped where one cannot be made: not root). There: lo is up with no address, a veth pair v0/v1
 * holds 127.0.0.1 on v0 and the multicast route (removing it, or deleting v0, takes the destination's interface
 * address away; the tests' rule holds: interface 127.0.0.1, TTL 1); its datagrams go to v0's peer, nowhere else.
 * Each try after a pause is forced with tryNextSend (no clock in the test). Shown: an address removed and put back needs nothing (the same socket sends
 * again: the kernel checks the source address at each send); an interface made again needs a new socket (the old
 * one's multicast interface is the deleted index: ENODEV at every send), so ENODEV counts as a lost route (paused)
 * and the destination makes a new socket in the background (send-batch.ts ROUTE_GONE, PublishChannel.remakeSocket).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { exitCodeWithin } from "../support/exit-within.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const ROOT = join(import.meta.dirname, "../..");
const MAKE_V0 = "ip link add v0 type veth peer name v1 && ip link set v1 up && ip link set v0 up && ip addr add 127.0.0.1/32 dev v0 && ip route add 224.0.0.0/4 dev v0";
// route_localnet (this namespace's own): a 127.0.0.0/8 source on an interface other than lo is refused without it.
const SETUP = `set -e; ip link set lo up; ip addr del 127.0.0.1/8 dev lo; sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.default.route_localnet=1; ${MAKE_V0}`;

function canMakeNamespace(): boolean {
  return spawnSync("unshare", ["-n", "bash", "-c", SETUP]).status === 0;
}

describe("a multicast destination's interface address", { timeout: 30_000 }, () => {
  test.skipIf(!canMakeNamespace())("removed then put back: the same socket sends again; the interface made again: a new socket sends", async () => {
    const dir = makeTempDir("feeder-route-interface-");
    const script = join(dir, "route.ts");
    writeFileSync(
      script,
      [
        `import { spawnSync } from "node:child_process";`,
        `import { PublishChannel } from ${JSON.stringify(join(ROOT, "src/net/publish-channel.ts"))};`,
        `import { ChannelPacker } from ${JSON.stringify(join(ROOT, "src/wire/packer.ts"))};`,
        `const sh = (cmd) => { const r = spawnSync("bash", ["-c", cmd]); if (r.status !== 0) throw new Error(cmd + ": " + r.stderr); };`,
        `const lines = [];`,
        `const log = { debug() {}, warn() {}, error() {}, info: (msg) => lines.push(msg), child: () => log };`,
        `const dest = { name: "desk", group: "239.255.48.201", port: 48201, iface: "127.0.0.1", ttl: 1, channelId: 1, match: { venue: "*", market: "*", symbols: ["*"] } };`,
        `const counters = { datagrams: 0, bytes: 0, sendErrors: 0, droppedOnPurpose: 0 };`,
        `const T0 = 1_764_000_000_000_000;`,
        `const ch = new PublishChannel(dest, new ChannelPacker(1400, 1, 0, 77, { sessionStartUs: T0, heartbeatIntervalMs: 100 }), undefined, counters, undefined, log);`,
        `await ch.open();`,
        `const first = ch.socket;`,
        `const steps = [];`,
        `const send = (label) => {`,
        `  ch.tryNextSend();`,
        `  ch.packer.beginMessage(8, 1, 8, 1, 0);`,
        `  ch.packer.closeDatagram();`,
        `  ch.flush(T0);`,
        `  steps.push({ label, datagrams: counters.datagrams, paused: ch.routeBackoffMs > 0, firstSocket: ch.socket === first, lastError: ch.lastSendError.split(":")[0] });`,
        `};`,
        `send("up");`,
        `sh("ip addr del 127.0.0.1/32 dev v0");`,
        `send("address gone");`,
        `send("address gone");`,
        `sh("ip addr add 127.0.0.1/32 dev v0 && ip route add 224.0.0.0/4 dev v0");`,
        `send("address back");`,
        `sh("ip link del v0");`,
        `send("interface gone");`,
        `sh(${JSON.stringify(MAKE_V0)});`,
        `send("interface made again");`,
        `for (let i = 0; i < 2000 && ch.socket === first; i++) await Bun.sleep(5); // the new socket is made in the background (a bound of 10 s, not a timing)`,
        `send("after");`,
        `send("after");`,
        `ch.close();`,
        `console.log(JSON.stringify({ steps, lines }));`,
        "",
      ].join("\n"),
    );
    const proc = Bun.spawn(["unshare", "-n", "bash", "-c", `${SETUP}; "$0" "$1"`, process.execPath, script], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const code = await exitCodeWithin(proc, 20_000);
    if (code === "still running") proc.kill("SIGKILL");
    const stdout = await new Response(proc.stdout).text();
    expect(code, await new Response(proc.stderr).text()).toBe(0);
    const { steps, lines } = JSON.parse(stdout) as { steps: { label: string; datagrams: number; paused: boolean; firstSocket: boolean; lastError: string }[]; lines: string[] };
    const view = steps.map((s) => `${s.label}: ${s.datagrams} sent, ${s.paused ? "paused" : "sending"}, ${s.firstSocket ? "first socket" : "new socket"}, ${s.lastError || "-"}`);
    expect(view).toEqual([
      "up: 1 sent, sending, first socket, -",
      "address gone: 1 sent, paused, first socket, ENETUNREACH",
      "address gone: 1 sent, paused, first socket, ENETUNREACH",
      // The kernel takes the same socket's datagrams again: no new socket needed.
      "address back: 2 sent, sending, first socket, ENETUNREACH",
      "interface gone: 2 sent, paused, first socket, ENETUNREACH",
      // The old socket names the deleted interface's index: a lost route (paused), and a new socket is made.
      "interface made again: 2 sent, paused, first socket, ENODEV",
      "after: 3 sent, sending, new socket, ENODEV",
      "after: 4 sent, sending, new socket, ENODEV",
    ]);
    expect(lines).toEqual([
      "destination sends again; its route is back",
      "destination socket made anew: its interface was re-created",
      "destination sends again; its route is back",
    ]);
  });
});
