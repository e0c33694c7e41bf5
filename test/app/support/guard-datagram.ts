/** The header the publish guard's watcher reads (channel 4, source 0, a session, flags): all it needs of a datagram. */
import { waitFor } from "../../e2e/harness.ts";
import { MAGIC, PKT_CHANNEL_ID_OFFSET, PKT_FLAGS_OFFSET, PKT_MAGIC_OFFSET, PKT_SESSION_ID_OFFSET, PKT_SOURCE_ID_OFFSET, PKT_VERSION_OFFSET } from "../../../src/wire/layout.ts";

export function guardDatagram(sessionId: number, flags = 0): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint16(PKT_MAGIC_OFFSET, MAGIC, true);
  dv.setUint8(PKT_VERSION_OFFSET, 1);
  dv.setUint8(PKT_FLAGS_OFFSET, flags);
  dv.setUint16(PKT_CHANNEL_ID_OFFSET, 4, true);
  dv.setUint32(PKT_SESSION_ID_OFFSET, sessionId, true);
  dv.setUint16(PKT_SOURCE_ID_OFFSET, 0, true);
  return b;
}

/** A loopback sender socket (interface 127.0.0.1, TTL 1), closed through `cleanups`. */
export async function loopbackSender(cleanups: (() => unknown)[]) {
  const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  tx.setMulticastInterface("127.0.0.1");
  tx.setMulticastTTL(1);
  cleanups.push(() => tx.close());
  return tx;
}

/**
 * A loopback sender socket `tx` (interface 127.0.0.1, TTL 1) and send(d, times) to `group`:`port`, resolved once the
 * guard's watcher has received every copy (sent 100 at a time: within the watcher's receive buffer). The socket closes
 * through `cleanups`.
 */
export async function guardSender(guard: { watcherDatagrams(): number }, group: string, port: number, cleanups: (() => unknown)[]): Promise<{ tx: { readonly port: number }; send: (d: Uint8Array, times?: number) => Promise<void> }> {
  const tx = await loopbackSender(cleanups);
  let sent = 0;
  const send = async (d: Uint8Array, times = 1) => {
    for (let i = 0; i < times; i += 100) {
      const n = Math.min(100, times - i);
      for (let j = 0; j < n; j++) tx.send(d, port, group);
      sent += n;
      await waitFor(() => guard.watcherDatagrams() === sent, "the guard's watcher received them");
    }
  };
  return { tx, send };
}
