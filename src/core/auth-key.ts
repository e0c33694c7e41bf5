/**
 * HMAC key files (wire AUTHENTICATED datagrams, docs/wire-protocol.md §3.3): read at start by the config check,
 * the publisher and the subscriber. Cold path. Plain Node API (the subscriber runs under Node 20 too).
 * @module
 */
import { FileTooLargeError, readRegularFileSync } from "./regular-file.ts";
import { reasonWithoutPath, shownPath } from "./secret-path.ts";

/** Shortest accepted HMAC key: 128 bits. */
export const MIN_AUTH_KEY_BYTES = 16;
/**
 * The most a key file may hold: far above any key (32 or 64 bytes, twice that as hex), so a file given by mistake (a
 * log, a capture) or a FIFO fed without end (`--auth-key-file <(yes)`) is refused having read at most this (and one
 * chunk), not read whole into memory nor taken as a key of its whole contents.
 */
export const MAX_AUTH_KEY_FILE_BYTES = 1024 * 1024;

/**
 * Reads an HMAC key file: the raw bytes of the file or, when the file is text of hex digits only (an optional
 * trailing newline allowed), the bytes they spell. Errors name `what` (the config key or option) and the file.
 * The path must be a regular file (a device would be read for ever), or a FIFO where `opts.fifo` says the key is
 * read once (a subscriber's `--auth-key-file <(pass show feed-key)`); publish.auth_key_file is read more than once
 * at start and again on SIGHUP.
 */
export function readAuthKeyFile(path: string, what: string, opts: { readonly fifo?: boolean } = {}): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = readRegularFileSync(path, { ...opts, maxBytes: MAX_AUTH_KEY_FILE_BYTES });
  } catch (err) {
    if (err instanceof FileTooLargeError) throw new Error(`${what}: key file ${JSON.stringify(path)} is larger than 1 MiB: not an HMAC key file`);
    // Not found: the value may be the key itself, given by mistake for its file's path: shown only as a path.
    throw new Error(`${what}: cannot read key file ${shownPath(path)}: ${reasonWithoutPath(err as Error, path)}`);
  }
  let key = raw;
  const text = new TextDecoder().decode(raw).trim();
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) key = Uint8Array.from(Buffer.from(text, "hex"));
  if (key.length < MIN_AUTH_KEY_BYTES) {
    throw new Error(`${what}: key file ${JSON.stringify(path)} holds a ${key.length}-byte key; at least ${MIN_AUTH_KEY_BYTES} bytes are required`);
  }
  return key;
}
