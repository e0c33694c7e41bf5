/** Rewriting a root-block field of every snapshot message in packed datagrams, to forge what a publisher sent. */
import { MESSAGE_HEADER_BYTES, MSG_LENGTH_OFFSET, MSG_TEMPLATE_ID_OFFSET, PACKET_HEADER_BYTES, PKT_MSG_COUNT_OFFSET, TEMPLATE_BOOK_SNAPSHOT } from "../../src/wire/layout.ts";
import { resealCrc } from "../wire/helpers.ts";

/**
 * Sets the u16 at root-block offset `field` of each snapshot message (chunk 0, 1, … in datagram order) to
 * `f(value, chunk)`, in place, checksums resealed; returns the datagrams.
 */
export function rewriteSnapshotU16(datagrams: Uint8Array[], field: number, f: (value: number, chunk: number) => number): Uint8Array[] {
  let chunk = 0;
  for (const d of datagrams) {
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let off = PACKET_HEADER_BYTES;
    for (let i = 0, n = dv.getUint16(PKT_MSG_COUNT_OFFSET, true); i < n; i++) {
      if (dv.getUint16(off + MSG_TEMPLATE_ID_OFFSET, true) === TEMPLATE_BOOK_SNAPSHOT) {
        const at = off + MESSAGE_HEADER_BYTES + field;
        dv.setUint16(at, f(dv.getUint16(at, true), chunk++), true);
      }
      off += dv.getUint16(off + MSG_LENGTH_OFFSET, true);
    }
    resealCrc(d);
  }
  return datagrams;
}
