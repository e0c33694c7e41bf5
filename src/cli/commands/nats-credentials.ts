/**
 * The NATS credential and TLS flags of `feeder bridge` and `feeder listen --nats` (docs/nats.md#authentication):
 * every secret comes from a file (never argv, where `ps` shows it), read once at start. A file that is missing, not
 * a regular file (a FIFO is read once: `<(pass show nats)`), empty or malformed is a usage error naming the flag,
 * the file and what is wrong, never the secret; a secret file others may read is warned of. Cold path.
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { Logger } from "../../core/log.ts";
import { EmptyPipeError, FifoWithoutWriterError, FileTooLargeError, readRegularFileSync } from "../../core/regular-file.ts";
import { reasonWithoutPath, shownPath } from "../../core/secret-path.ts";
import { tlsRequiredByUrl, type NatsAccess, type NatsCredentials, type NatsTls } from "../../subscriber/nats-auth.ts";
import type { NatsConfig } from "../../config/types.ts";
import { UsageError } from "../command.ts";

export const NATS_ACCESS_OPTIONS = {
  "nats-creds": { type: "string" },
  "nats-user": { type: "string" },
  "nats-password-file": { type: "string" },
  "nats-token-file": { type: "string" },
  "nats-nkey-file": { type: "string" },
  "nats-tls": { type: "boolean" },
  "nats-ca": { type: "string" },
  "nats-cert": { type: "string" },
  "nats-key": { type: "string" },
} as const;

/** The --help lines of these flags, their text from column `col` (bridge 27, listen 23), at most 110 wide. */
export function natsAccessHelp(col: number): string[] {
  const entries: [string, string][] = [
    ["--nats-creds FILE", "NATS credentials: a .creds file (user JWT and nkey seed, as nsc writes it); or one of the three below. One kind at most (two exit 2); each file is read once at start: missing, empty, over 4 MiB, malformed or a FIFO nothing opens to write within 1 s exits 2 naming it, and a secret file that group or others may read is warned of"],
    ["--nats-user U", "user name, with --nats-password-file FILE: its password (one line)"],
    ["--nats-password-file FILE", "the password of --nats-user (never on the command line): one line of UTF-8, its final newline dropped"],
    ["--nats-token-file FILE", "a token (one line, as the password)"],
    ["--nats-nkey-file FILE", "an nkey user seed (SU…, as nk -gen user writes it)"],
    ["--nats-tls", "require TLS (also implied by a tls:// URL and by the flags below): a server that offers none is refused, never read in plaintext"],
    ["--nats-ca FILE", "PEM CA certificate the server's must chain to (default: the system's CAs)"],
    ["--nats-cert FILE", "PEM client certificate, for a server that verifies clients"],
    ["--nats-key FILE", "the private key of --nats-cert, PEM"],
  ];
  const lines: string[] = [];
  for (const [flag, text] of entries) {
    let line = `      ${flag}`;
    if (line.length < col) line = line.padEnd(col);
    else {
      lines.push(line); // a flag as wide as the column: its text below
      line = " ".repeat(col);
    }
    for (const word of text.split(" ")) {
      if (line.length + 1 + word.length > 110) {
        lines.push(line);
        line = " ".repeat(col);
      }
      line += (line.length === col ? "" : " ") + word;
    }
    lines.push(line);
  }
  return lines;
}

/** Whether any of these flags was given (listen refuses them without --nats). */
export function natsAccessGiven(v: Record<string, unknown>): string | undefined {
  return Object.keys(NATS_ACCESS_OPTIONS).find((k) => v[k] !== undefined && v[k] !== false);
}

/** A file setting: its path and the name it was given by (`--nats-creds`, or `nats.creds_file` in the config). */
interface Named {
  path: string;
  name: string;
}

/** Where the credentials and TLS come from, whichever way each was given (flags, or the config's [nats]). */
interface AccessSpec {
  creds?: Named | undefined;
  user?: { value: string; name: string } | undefined;
  passwordFile?: Named | undefined;
  tokenFile?: Named | undefined;
  nkeyFile?: Named | undefined;
  tls: boolean;
  ca?: Named | undefined;
  cert?: Named | undefined;
  key?: Named | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const named = (path: string | undefined, name: string): Named | undefined => (path === undefined ? undefined : { path, name });

/** The credential flags (any one of them replaces the config's credentials as a whole). */
const CREDENTIAL_FLAGS = ["nats-creds", "nats-user", "nats-password-file", "nats-token-file", "nats-nkey-file"] as const;

/**
 * Credentials and TLS from the flags and, with `file`, the `--config` file's [nats] (config/load.ts parseNats; its
 * keys named in every error): at most one kind of credentials (two: exit 2 naming both), each file read and checked.
 * A flag overrides the file: any credential flag replaces the file's credentials whole (its kind too), `--nats-ca`
 * its `ca_file`, `--nats-cert`/`--nats-key` its `cert_file`/`key_file` together; `--nats-tls` or `tls = true`
 * require TLS. `log` warns of a secret file that group or others may read.
 */
export function natsAccessOf(v: Record<string, unknown>, servers: string[], log: Logger, file?: NatsConfig): NatsAccess {
  const given = (["nats-creds", "nats-user", "nats-token-file", "nats-nkey-file"] as const).filter((k) => v[k] !== undefined);
  if (given.length > 1) throw new UsageError(`--${given[0]} and --${given[1]} both give NATS credentials: give one kind`);
  if (v["nats-password-file"] !== undefined && v["nats-user"] === undefined) throw new UsageError("--nats-password-file needs --nats-user");
  if ((v["nats-cert"] === undefined) !== (v["nats-key"] === undefined)) throw new UsageError("--nats-cert and --nats-key go together (the client certificate and its private key)");
  const flagCreds = CREDENTIAL_FLAGS.some((k) => v[k] !== undefined);
  const flagCert = v["nats-cert"] !== undefined;
  const f = file;
  const spec: AccessSpec = {
    tls: v["nats-tls"] === true || f?.tls === true,
    ca: named(str(v["nats-ca"]), "--nats-ca") ?? named(f?.caFile, "nats.ca_file"),
    cert: flagCert ? named(str(v["nats-cert"]), "--nats-cert") : named(f?.certFile, "nats.cert_file"),
    key: flagCert ? named(str(v["nats-key"]), "--nats-key") : named(f?.keyFile, "nats.key_file"),
  };
  if (flagCreds) {
    spec.creds = named(str(v["nats-creds"]), "--nats-creds");
    spec.user = str(v["nats-user"]) === undefined ? undefined : { value: str(v["nats-user"])!, name: "--nats-user" };
    spec.passwordFile = named(str(v["nats-password-file"]), "--nats-password-file");
    spec.tokenFile = named(str(v["nats-token-file"]), "--nats-token-file");
    spec.nkeyFile = named(str(v["nats-nkey-file"]), "--nats-nkey-file");
  } else if (f !== undefined) {
    spec.creds = named(f.credsFile, "nats.creds_file");
    spec.user = f.user === undefined ? undefined : { value: f.user, name: "nats.user" };
    spec.passwordFile = named(f.passwordFile, "nats.password_file");
    spec.tokenFile = named(f.tokenFile, "nats.token_file");
    spec.nkeyFile = named(f.nkeyFile, "nats.nkey_file");
  }
  return accessOf(spec, servers, log);
}

function accessOf(spec: AccessSpec, servers: string[], log: Logger): NatsAccess {
  let credentials: NatsCredentials | undefined;
  if (spec.creds !== undefined) {
    const { path, name } = spec.creds;
    // CRLF line ends (a file that went through Windows) as LF: the client's parser finds no block in them.
    const creds = text(readSecret(path, name, log)).replaceAll("\r\n", "\n");
    const why = credsProblem(creds);
    if (why !== undefined) throw new UsageError(`${name} ${JSON.stringify(path)} ${why}`);
    credentials = { kind: "creds", creds: new TextEncoder().encode(creds) };
  } else if (spec.user !== undefined) {
    const { value: user, name } = spec.user;
    if (user === "" || /[\s\0]/.test(user)) throw new UsageError(`${name} must be a user name without spaces, got ${JSON.stringify(user)}`);
    const pw = spec.passwordFile;
    if (pw === undefined) throw new UsageError(`${name} needs ${name === "--nats-user" ? "--nats-password-file FILE" : "nats.password_file"} (the password is never taken from the command line)`);
    credentials = { kind: "user", user, password: oneLine(readSecret(pw.path, pw.name, log), pw.name, pw.path, "password") };
  } else if (spec.tokenFile !== undefined) {
    const { path, name } = spec.tokenFile;
    credentials = { kind: "token", token: oneLine(readSecret(path, name, log), name, path, "token") };
  } else if (spec.nkeyFile !== undefined) {
    const { path, name } = spec.nkeyFile;
    const seed = text(readSecret(path, name, log)).trim();
    const why = seedProblem(seed);
    if (why !== undefined) throw new UsageError(`${name} ${JSON.stringify(path)} ${why}`);
    credentials = { kind: "nkey", seed: new TextEncoder().encode(seed) };
  }
  return { credentials, tls: tlsOf(spec, servers, log) };
}

/** TLS required by --nats-tls (tls = true), a tls:// URL or a CA / client certificate; undefined: as before (TLS if offered). */
function tlsOf(spec: AccessSpec, servers: string[], log: Logger): NatsTls | undefined {
  const { ca, cert: certFile, key: keyFile } = spec;
  if (!spec.tls && ca === undefined && certFile === undefined && !tlsRequiredByUrl(servers)) return undefined;
  const tls: { ca?: string; cert?: string; key?: string } = {};
  if (ca !== undefined) tls.ca = certificateOf(ca.path, ca.name);
  if (certFile !== undefined && keyFile !== undefined) {
    tls.cert = certificateOf(certFile.path, certFile.name);
    const key = text(readSecret(keyFile.path, keyFile.name, log));
    let matches: boolean;
    try {
      matches = new X509Certificate(tls.cert).checkPrivateKey(createPrivateKey(key));
    } catch {
      throw new UsageError(`${keyFile.name} ${JSON.stringify(keyFile.path)} does not hold a PEM private key (unencrypted: the client has no passphrase to give)`);
    }
    if (!matches) throw new UsageError(`${keyFile.name} ${JSON.stringify(keyFile.path)} is not the key of the ${certFile.name} certificate ${JSON.stringify(certFile.path)}`);
    tls.key = key;
  }
  return tls;
}

/** A PEM file of certificates (the first one parsed: a file of something else is refused). */
function certificateOf(path: string, flag: string): string {
  const pem = text(readFile(path, flag));
  try {
    new X509Certificate(pem);
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(path)} does not hold a PEM certificate`);
  }
  return pem;
}

/**
 * The most a credentials, key or certificate file may hold (a CA bundle of every public root is ~0.2 MiB): a FIFO fed
 * without end (`<(yes)`) or a huge file given by mistake is refused, not read into memory whole.
 */
export const MAX_ACCESS_FILE_BYTES = 4 * 1024 * 1024;

// The FIFO wait (1 s) is the shared reader's, for every file read once at start (core/regular-file.ts).

function readFile(path: string, flag: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFileSync(path, { fifo: true, maxBytes: MAX_ACCESS_FILE_BYTES });
  } catch (err) {
    if (err instanceof FileTooLargeError) throw new UsageError(`${flag} ${JSON.stringify(path)} is larger than 4 MiB: not a credentials, key or certificate file`);
    if (err instanceof FifoWithoutWriterError || err instanceof EmptyPipeError) throw new UsageError(`${flag} ${JSON.stringify(path)}: ${err.message}`);
    // Not found (or not a file): the value may be the secret itself, given by mistake for its file's path. Shown only
    // when it looks like a path, and the system's message without it (before, both printed it).
    throw new UsageError(`${flag}: cannot read ${shownPath(path)}: ${reasonWithoutPath(err as Error, path)}`);
  }
  if (bytes.length === 0) throw new UsageError(`${flag} ${JSON.stringify(path)} is empty`);
  return bytes;
}

/**
 * A secret's file: as readFile, and a warning when group or others may read it (its mode, never its content). Not for
 * a file in the service's systemd credentials directory ($CREDENTIALS_DIRECTORY, LoadCredential=): systemd guards
 * it, 0400 or, where its file system takes ACLs, 0400 with an ACL for the service's user whose mask shows as 0440;
 * the warning asked for a chmod the service can neither make nor needs.
 */
function readSecret(path: string, flag: string, log: Logger): Uint8Array {
  const bytes = readFile(path, flag);
  const st = statSync(path);
  if (st.isFile() && (st.mode & 0o077) !== 0 && !inCredentialsDirectory(path)) {
    log.warn(`${flag} ${JSON.stringify(path)} is open to group or others: chmod 600 it`, { mode: `0${(st.mode & 0o777).toString(8)}` });
  }
  return bytes;
}

function inCredentialsDirectory(path: string): boolean {
  const dir = process.env.CREDENTIALS_DIRECTORY;
  return dir !== undefined && dir !== "" && resolve(path).startsWith(`${resolve(dir)}/`);
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/**
 * A password or token file: UTF-8 text (a byte that is not, e.g. a Latin-1 "ü", was sent as U+FFFD: refused by
 * the server as a wrong password), one line (a final newline, as `echo` writes, dropped; a leading BOM too), no
 * control characters; other spaces are part of it.
 */
function oneLine(bytes: Uint8Array, flag: string, path: string, what: string): string {
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(path)} is not UTF-8 text (the ${what} is sent as UTF-8)`);
  }
  const s = decoded.replace(/\r?\n$/, "");
  if (s === "") throw new UsageError(`${flag} ${JSON.stringify(path)} holds an empty ${what}`);
  if (/[\0-\x1f\x7f]/.test(s)) throw new UsageError(`${flag} ${JSON.stringify(path)} must hold the ${what} on one line (it holds more lines or control characters)`);
  return s;
}

/**
 * What is wrong with a .creds file's text, or undefined: a user JWT and an nkey user seed, each between a
 * `-----BEGIN …-----` and an `------END …------` line, found as the client's own parser finds them
 * (@nats-io/nats-core credsAuthenticator, which would otherwise fail at every connect).
 */
export function credsProblem(s: string): string | undefined {
  const block = /\s*(?:(?:[-]{3,}[^\n]*[-]{3,}\n)(.+)(?:\n\s*[-]{3,}[^\n]*[-]{3,}\n))/gi;
  const jwt = block.exec(s)?.[1]?.trim();
  const seed = block.exec(s)?.[1]?.trim();
  if (jwt === undefined || seed === undefined) return "is not a NATS .creds file (a -----BEGIN NATS USER JWT----- block, then a -----BEGIN USER NKEY SEED----- block)";
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(jwt)) return "holds no JWT in its first block";
  const why = seedProblem(seed);
  return why === undefined ? undefined : `(its second block) ${why}`;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * What is wrong with an nkey user seed, or undefined: `SU` and 56 base32 characters whose last two bytes are the
 * CRC-16 (XMODEM) of the rest, as @nats-io/nkeys decodes it. Checked here so a damaged file exits 2 at start.
 */
export function seedProblem(seed: string): string | undefined {
  if (/^U[A-Z2-7]{55}$/.test(seed)) return "holds a public nkey (U…), not its seed (SU…)";
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) return "does not hold an nkey user seed (SU and 56 more characters A-Z, 2-7: what `nk -gen user` writes)";
  const raw = new Uint8Array(36);
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (const ch of seed) {
    acc = (acc << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      raw[n++] = (acc >>> bits) & 0xff;
    }
  }
  let crc = 0;
  for (let i = 0; i < 34; i++) {
    crc ^= raw[i]! << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  if (crc !== (raw[34]! | (raw[35]! << 8))) return "does not hold a valid nkey user seed (its checksum is wrong: the file is damaged)";
  return undefined;
}
