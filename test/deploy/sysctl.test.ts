/**
 * deploy/sysctl/90-feeder.conf: every key is a real kernel setting, rmem_max fits the subscriber's request, and the
 * send side sets what the publisher's sockets really take: net.core.wmem_default (the publisher cannot ask for a
 * size; net.core.wmem_max only caps a request, and no socket in src/ makes one).
 */
import { describe, expect, test } from "vitest";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { openMulticastSender } from "../../src/net/multicast.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const settings = readFileSync(join(ROOT, "deploy/sysctl/90-feeder.conf"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => {
    const m = /^([a-z0-9_.]+)\s*=\s*(\d+)$/.exec(l);
    if (!m) throw new Error(`not a sysctl line: ${l}`);
    return [m[1]!, Number(m[2])] as const;
  });
const byKey = Object.fromEntries(settings);

/** Every .ts file under src/, as text. */
function sources(dir = join(ROOT, "src")): string[] {
  return Object.values(sourcesByPath(dir));
}

/** Every .ts file under src/: its path (from the repository root) → its text. */
function sourcesByPath(dir = join(ROOT, "src")): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? Object.entries(sourcesByPath(join(dir, e.name))) : e.name.endsWith(".ts") ? [[join(dir, e.name).slice(ROOT.length + 1), readFileSync(join(dir, e.name), "utf8")]] : [],
    ),
  );
}

/** A byte count written as a product of integers (`8 * 1024 * 1024`), or a const of the file holding one; else NaN. */
function bytesOf(expr: string, text: string): number {
  const resolved = /^[A-Z_][A-Z0-9_]*$/.test(expr) ? new RegExp(`\\bconst ${expr}(?:: number)? = ([\\d\\s*_]+);`).exec(text)?.[1] : expr;
  if (resolved === undefined || !/^[\d\s*_]+$/.test(resolved)) return NaN;
  return resolved.split("*").reduce((p, x) => p * Number(x.trim().replaceAll("_", "")), 1);
}

/** The kernel's send buffer of the UDP socket bound to 127.0.0.1:port (`ss`'s skmem tb), undefined without ss. */
function sendBufferOf(port: number): number | undefined {
  const r = Bun.spawnSync(["ss", "-uamnH", `src 127.0.0.1:${port}`], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return undefined;
  const m = /\btb(\d+)/.exec(r.stdout.toString());
  return m ? Number(m[1]) : undefined;
}

describe("deploy/sysctl/90-feeder.conf", () => {
  test("every key exists under /proc/sys", () => {
    expect(settings.length).toBeGreaterThanOrEqual(3);
    for (const [key] of settings) expect(existsSync(`/proc/sys/${key.replaceAll(".", "/")}`), key).toBe(true);
  });

  test("net.core.rmem_max is at least the receive buffer the subscriber library asks for", () => {
    const src = readFileSync(join(ROOT, "src/subscriber/feed-subscriber.ts"), "utf8");
    const m = /DEFAULT_RECV_BUFFER_BYTES = ([\d\s*]+);/.exec(src)!;
    const requested = m[1]!.split("*").reduce((p, x) => p * Number(x), 1);
    expect(requested).toBe(8 * 1024 * 1024);
    expect(byKey["net.core.rmem_max"]).toBeGreaterThanOrEqual(requested);
  });

  test("net.core.rmem_max is at least every receive buffer src/ asks for (listen, the bridge, the publisher's stream watcher)", () => {
    // The kernel caps a request at rmem_max silently: a request raised past the file's value would get less.
    const requests: [string, string, number][] = [];
    for (const [path, text] of Object.entries(sourcesByPath())) {
      for (const m of text.matchAll(/\brecvBuffer(?:Size|Bytes): ([^,};\n]+?)\s*[,}]/g)) {
        const expr = m[1]!.trim();
        if (expr === "this.recvBufferBytes") continue; // FeedSubscriber's option: its default is the test above
        requests.push([path, expr, bytesOf(expr, text)]);
      }
    }
    expect(requests.map((r) => r[0]).sort()).toEqual(expect.arrayContaining(["src/bridge/forward-bridge.ts", "src/cli/commands/listen.ts", "src/net/stream-watcher.ts"]));
    for (const [path, expr, bytes] of requests) {
      expect(Number.isFinite(bytes), `${path}: recvBuffer request ${expr} is not a literal byte count or a const of the file`).toBe(true);
      expect(byKey["net.core.rmem_max"], `${path}: ${expr}`).toBeGreaterThanOrEqual(bytes);
    }
  });

  test("send side: the publisher's sockets take net.core.wmem_default, which the file raises; no wmem_max without a request", async () => {
    // No socket in src/ asks for a send buffer (Bun.udpSocket has no such option; node:dgram's sendBufferSize is not used).
    const requests = sources().filter((t) => /sendBufferSize|setSendBufferSize|SO_SNDBUF/.test(t));
    expect(requests).toEqual([]);
    expect(byKey["net.core.wmem_max"], "net.core.wmem_max caps SO_SNDBUF requests, and nothing requests one").toBeUndefined();
    // ~2.3 KiB of buffer per 1400-byte datagram: at least ~1,000 datagrams of a burst before the kernel refuses.
    expect(byKey["net.core.wmem_default"]).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    // What a publisher socket gets, where `ss` can tell: the host's wmem_default.
    const socket = await openMulticastSender({ iface: "127.0.0.1", ttl: 1, connectTo: { group: "239.255.77.9", port: 31977 } });
    try {
      const tb = sendBufferOf(socket.port);
      if (tb !== undefined) expect(tb).toBe(Number(readFileSync("/proc/sys/net/core/wmem_default", "utf8")));
    } finally {
      socket.close();
    }
  });
});
