/** Capture blocks written by hand, for records the writer would not write (another version's kinds, a loss mark placed by a test). */
import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false });

/** One block as the writer stores it (uncompressed): u32 length, u32 crc32, the MessagePack array of records. */
export function captureBlock(records: unknown[]): Buffer {
  const payload = packr.pack(records);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(payload.byteLength, 0);
  header.writeUInt32LE(Bun.hash.crc32(payload), 4);
  return Buffer.concat([header, payload]);
}
