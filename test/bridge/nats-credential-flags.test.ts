/**
 * The NATS credential and TLS flags (src/cli/commands/nats-credentials.ts): every secret from a file, one kind of
 * credentials at most, and a file that is missing, not a regular file, empty or malformed a usage error (exit 2)
 * naming the flag, the file and what is wrong, never the secret. In-process, no server.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { credsAuthenticator, nkeys } from "@nats-io/transport-node";
import type { CommandContext } from "../../src/cli/command.ts";
import { UsageError } from "../../src/cli/command.ts";
import { bridgeCommand } from "../../src/cli/commands/bridge.ts";
import { listenCommand } from "../../src/cli/commands/listen.ts";
import { natsReadOptions } from "../../src/cli/commands/nats-args.ts";
import { natsAccessOf, seedProblem } from "../../src/cli/commands/nats-credentials.ts";
import { FIFO_WRITER_WAIT_MS, setFifoWriterWaitMs } from "../../src/core/regular-file.ts";
import type { Logger } from "../../src/core/log.ts";
import { accessOptions, describeCredentials } from "../../src/subscriber/nats-auth.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const dir = makeTempDir("feeder-nats-flags-");
/** A file of `text` with mode 0600 (a secret's), or `mode`. */
function file(name: string, text: string | Uint8Array, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function logOf(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const log = { warnings, debug() {}, info() {}, error() {}, warn: (msg: string, f?: object) => void warnings.push(`${msg} ${JSON.stringify(f ?? {})}`), child: () => log };
  return log;
}

const NATS = ["nats://127.0.0.1:4222"];
function refusal(values: Record<string, unknown>, servers = NATS): string {
  try {
    natsAccessOf(values, servers, logOf());
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  return "(no usage error)";
}

const SECRET = "hunter2-secret";
const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
const JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQUJDIn0.c2lnbmF0dXJl";
const creds = (jwt: string, s: string) =>
  `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${s}\n------END USER NKEY SEED------\n\n*************************************************************\n`;

describe("NATS credentials from files", () => {
  test("each kind read: user and password, token, nkey seed, .creds (its authenticator answers a nonce)", () => {
    const pw = file("pw", `${SECRET}\n`);
    expect(natsAccessOf({ "nats-user": "bridge", "nats-password-file": pw }, NATS, logOf())).toEqual({ credentials: { kind: "user", user: "bridge", password: SECRET }, tls: undefined });
    expect(natsAccessOf({ "nats-token-file": file("tok", "t0ken\r\n") }, NATS, logOf()).credentials).toEqual({ kind: "token", token: "t0ken" });
    const nk = natsAccessOf({ "nats-nkey-file": file("seed", `${seed}\n`) }, NATS, logOf()).credentials;
    expect(nk?.kind === "nkey" && new TextDecoder().decode(nk.seed)).toBe(seed);
    const c = natsAccessOf({ "nats-creds": file("user.creds", creds(JWT, seed)) }, NATS, logOf()).credentials;
    expect(c?.kind).toBe("creds");
    const auth = accessOptions({ credsAuthenticator, nkeyAuthenticator: () => undefined }, NATS, { credentials: c }).authenticator as (n: string) => { jwt: string; nkey: string; sig: string };
    expect(auth("nonce")).toMatchObject({ jwt: JWT, nkey: expect.stringMatching(/^U/), sig: expect.any(String) });
    // With CRLF line ends (a file that went through Windows): read as the same file. Before, "is not a NATS .creds
    // file": the client's parser finds no block in it.
    const crlf = natsAccessOf({ "nats-creds": file("crlf.creds", creds(JWT, seed).replaceAll("\n", "\r\n")) }, NATS, logOf()).credentials;
    const crlfAuth = accessOptions({ credsAuthenticator, nkeyAuthenticator: () => undefined }, NATS, { credentials: crlf }).authenticator as typeof auth;
    expect(crlfAuth("nonce")).toMatchObject({ jwt: JWT, nkey: auth("nonce").nkey });
  });

  test("a .creds file is described with when its JWT expires (never the secret)", () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const withExp = new TextEncoder().encode(creds(`${b64({ typ: "JWT" })}.${b64({ sub: "UABC", exp: 1_800_000_000 })}.c2ln`, seed));
    expect(describeCredentials({ kind: "creds", creds: withExp }, 1_700_000_000_000)).toBe("a creds file (JWT and nkey) whose JWT expires at 2027-01-15T08:00:00Z");
    expect(describeCredentials({ kind: "creds", creds: withExp }, 1_900_000_000_000)).toBe("a creds file (JWT and nkey) whose JWT expired at 2027-01-15T08:00:00Z");
    expect(describeCredentials({ kind: "creds", creds: new TextEncoder().encode(creds(JWT, seed)) })).toBe("a creds file (JWT and nkey)");
    expect(describeCredentials({ kind: "user", user: "bridge", password: SECRET })).not.toContain(SECRET);
  });

  test("one kind at most; a password needs its user and a file", () => {
    const pw = file("pw2", SECRET);
    expect(refusal({ "nats-creds": "x", "nats-user": "u", "nats-password-file": pw })).toMatch(/--nats-creds and --nats-user both give NATS credentials/);
    expect(refusal({ "nats-token-file": "x", "nats-nkey-file": "y" })).toMatch(/--nats-token-file and --nats-nkey-file/);
    expect(refusal({ "nats-password-file": pw })).toMatch(/--nats-password-file needs --nats-user/);
    expect(refusal({ "nats-user": "u" })).toMatch(/--nats-user needs --nats-password-file/);
    expect(refusal({ "nats-user": "a b", "nats-password-file": pw })).toMatch(/--nats-user must be a user name/);
  });

  test("a file missing, not a regular file, empty or malformed is named with what is wrong, never its content", () => {
    mkdirSync(join(dir, "adir"));
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ "nats-token-file": join(dir, "absent") }, /--nats-token-file: cannot read ".*absent": .*no such file/i],
      [{ "nats-token-file": join(dir, "adir") }, /--nats-token-file: cannot read ".*adir": not a regular file but a directory/],
      [{ "nats-token-file": file("empty", "") }, /--nats-token-file ".*empty" is empty/],
      [{ "nats-user": "u", "nats-password-file": file("nl", "\n") }, /--nats-password-file ".*nl" holds an empty password/],
      [{ "nats-user": "u", "nats-password-file": file("two", `${SECRET}\nsecond-${SECRET}\n`) }, /must hold the password on one line/],
      [{ "nats-nkey-file": file("junk", `${SECRET}\n`) }, /--nats-nkey-file ".*junk" does not hold an nkey user seed/],
      [{ "nats-nkey-file": file("pub", nkeys.createUser().getPublicKey()) }, /holds a public nkey \(U…\), not its seed/],
      [{ "nats-nkey-file": file("flipped", seed.slice(0, 20) + (seed[20] === "A" ? "B" : "A") + seed.slice(21)) }, /checksum is wrong/],
      [{ "nats-creds": file("half.creds", creds(JWT, seed).split("\n\n*")[0]!) }, /--nats-creds ".*half.creds" is not a NATS .creds file/],
      [{ "nats-creds": file("nojwt.creds", creds(SECRET, seed)) }, /holds no JWT in its first block/],
      [{ "nats-creds": file("badseed.creds", creds(JWT, `SU${SECRET}`)) }, /\(its second block\) does not hold an nkey user seed/],
    ];
    for (const [values, expected] of cases) {
      const msg = refusal(values);
      expect(msg, JSON.stringify(values)).toMatch(expected);
      expect(msg).not.toContain(SECRET);
      expect(msg).not.toContain(seed.slice(2, 20));
    }
  });

  test("a password or token not UTF-8 is refused (before: sent with U+FFFD for the byte, a wrong password); a BOM and CRLF dropped", () => {
    const latin1 = file("latin1", Uint8Array.of(0x70, 0xfc, 0x72, 0x0a)); // "pür\n" in ISO-8859-1
    expect(refusal({ "nats-user": "u", "nats-password-file": latin1 })).toMatch(/--nats-password-file ".*latin1" is not UTF-8 text/);
    expect(refusal({ "nats-token-file": latin1 })).toMatch(/--nats-token-file ".*latin1" is not UTF-8 text/);
    const bom = file("bom", `\uFEFF${SECRET} \r\n`);
    expect(natsAccessOf({ "nats-user": "u", "nats-password-file": bom }, NATS, logOf()).credentials).toEqual({ kind: "user", user: "u", password: `${SECRET} ` });
  });

  test("a file larger than 4 MiB is refused without being read whole (a sparse file, a FIFO fed without end)", async (ctx) => {
    const big = file("big.pem", "-----BEGIN CERTIFICATE-----\n");
    truncateSync(big, 5 * 1024 * 1024); // sparse: no disk written
    expect(refusal({ "nats-ca": big })).toMatch(/--nats-ca ".*big.pem" is larger than 4 MiB/);
    if (spawnSync("mkfifo", [join(dir, "endless")]).status !== 0) return ctx.skip("mkfifo not found");
    // A writer that never ends (`--nats-token-file <(yes)`): before, read into memory until it ran out.
    const writer = spawn("sh", ["-c", `exec yes > '${join(dir, "endless")}'`], { stdio: "ignore" });
    try {
      expect(refusal({ "nats-token-file": join(dir, "endless") })).toMatch(/--nats-token-file ".*endless" is larger than 4 MiB/);
    } finally {
      writer.kill("SIGKILL");
    }
  });

  test("a FIFO nothing writes to is refused after the wait (before: open(2) waited for good, deaf to SIGINT and SIGTERM); a slow writer is waited for", async (ctx) => {
    if (spawnSync("mkfifo", [join(dir, "unwritten"), join(dir, "late"), join(dir, "slow")]).status !== 0) return ctx.skip("mkfifo not found");
    setFifoWriterWaitMs(300);
    const writers: ReturnType<typeof spawn>[] = [];
    try {
      expect(refusal({ "nats-token-file": join(dir, "unwritten") })).toMatch(/--nats-token-file ".*unwritten": not a regular file but a FIFO \(named pipe\), and no process opened it to write within 0.3 s/);
      // A writer that opens within the wait; one open at once that writes only after it (`<(pass show nats)`
      // waiting for a passphrase).
      writers.push(spawn("sh", ["-c", `sleep 0.1; printf late-token > '${join(dir, "late")}'`], { stdio: "ignore" }));
      expect(natsAccessOf({ "nats-token-file": join(dir, "late") }, NATS, logOf()).credentials).toEqual({ kind: "token", token: "late-token" });
      writers.push(spawn("sh", ["-c", `exec 3> '${join(dir, "slow")}'; sleep 0.6; printf slow-token >&3`], { stdio: "ignore" }));
      expect(natsAccessOf({ "nats-token-file": join(dir, "slow") }, NATS, logOf()).credentials).toEqual({ kind: "token", token: "slow-token" });
    } finally {
      setFifoWriterWaitMs(FIFO_WRITER_WAIT_MS);
      for (const w of writers) w.kill("SIGKILL");
    }
  });

  test("the seed check agrees with the client's nkeys (its checksum)", () => {
    for (let i = 0; i < 50; i++) {
      const s = new TextDecoder().decode(nkeys.createUser().getSeed());
      expect(seedProblem(s)).toBeUndefined();
      const damaged = s.slice(0, 30) + (s[30] === "Q" ? "R" : "Q") + s.slice(31);
      let clientTakes = true;
      try {
        nkeys.fromSeed(new TextEncoder().encode(damaged));
      } catch {
        clientTakes = false;
      }
      expect(seedProblem(damaged) === undefined).toBe(clientTakes);
    }
  });

  test("a secret file that group or others may read is warned of (its mode, not its content)", () => {
    const log = logOf();
    natsAccessOf({ "nats-token-file": file("open-token", SECRET, 0o644) }, NATS, log);
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/--nats-token-file ".*open-token" is open to group or others: chmod 600 it .*0644/);
    expect(log.warnings[0]).not.toContain(SECRET);
    const quiet = logOf();
    natsAccessOf({ "nats-token-file": file("closed-token", SECRET, 0o600) }, NATS, quiet);
    expect(quiet.warnings).toEqual([]);
  });
});

describe("NATS TLS flags", () => {
  test("required by --nats-tls or a tls:// URL; as before without them", () => {
    expect(natsAccessOf({}, NATS, logOf()).tls).toBeUndefined();
    expect(natsAccessOf({ "nats-tls": true }, NATS, logOf()).tls).toEqual({});
    expect(natsAccessOf({}, ["nats://a:1", "tls://b:2"], logOf()).tls).toEqual({});
    expect(accessOptions({}, "tls://b:2").tls).toEqual({});
    expect(accessOptions({}, "nats://b:2").tls).toBeUndefined();
    // The library's option as the flags: a client certificate without its key, or a key alone, is refused at once
    // (before: dropped by the runtime, and the connect to a server verifying clients waited for its timeout).
    expect(() => accessOptions({}, NATS, { tls: { cert: "PEM" } })).toThrow(/tls: cert and key go together/);
    expect(() => accessOptions({}, NATS, { tls: { key: "PEM" } })).toThrow(/tls: cert and key go together/);
  });

  test("a CA or client certificate file is checked: PEM, the key the certificate's", (ctx) => {
    expect(refusal({ "nats-cert": file("c.pem", "x") })).toMatch(/--nats-cert and --nats-key go together/);
    expect(refusal({ "nats-ca": file("notpem", SECRET) })).toMatch(/--nats-ca ".*notpem" does not hold a PEM certificate/);
    if (spawnSync("openssl", ["version"]).status !== 0) return ctx.skip("openssl not found: needed to make a certificate");
    const run = (args: string[]) => expect(spawnSync("openssl", args, { cwd: dir }).status).toBe(0);
    run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k1.pem", "-out", "c1.pem", "-days", "1", "-subj", "/CN=t"]);
    run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k2.pem"]);
    const [c1, k1, k2] = ["c1.pem", "k1.pem", "k2.pem"].map((n) => join(dir, n));
    for (const k of [k1!, k2!]) chmodSync(k, 0o600);
    const tls = natsAccessOf({ "nats-ca": c1, "nats-cert": c1, "nats-key": k1 }, NATS, logOf()).tls;
    expect(tls?.ca).toMatch(/BEGIN CERTIFICATE/);
    expect(tls?.key).toMatch(/PRIVATE KEY/);
    expect(refusal({ "nats-cert": c1, "nats-key": k2 })).toMatch(/--nats-key ".*k2.pem" is not the key of the --nats-cert certificate/);
    expect(refusal({ "nats-cert": c1, "nats-key": file("k3", `-----BEGIN PRIVATE KEY-----\n${SECRET}\n-----END PRIVATE KEY-----\n`) })).toMatch(/--nats-key ".*k3" does not hold a PEM private key/);
  });
});

describe("the commands", () => {
  const ctxOf = (positionals: string[], values: CommandContext["values"]) =>
    ({ values, positionals, log: logOf(), out: () => {}, stopSignal: new Promise<string>(() => {}) }) as unknown as CommandContext;
  async function usage(run: Promise<number>): Promise<string> {
    return run.then(
      () => "(no usage error)",
      (err: Error) => (err instanceof UsageError ? err.message : Promise.reject(err)),
    );
  }

  test("to-nats, from-nats and listen --nats read the flags; listen refuses them without --nats", async () => {
    const base = { nats: "nats://127.0.0.1:1", group: ["239.255.1.1:31001"] };
    expect(await usage(bridgeCommand.run(ctxOf(["to-nats"], { ...base, "nats-token-file": join(dir, "absent") })))).toMatch(/--nats-token-file: cannot read/);
    expect(await usage(bridgeCommand.run(ctxOf(["from-nats"], { ...base, "nats-creds": "a", "nats-nkey-file": "b" })))).toMatch(/--nats-creds and --nats-nkey-file/);
    expect(await usage(listenCommand.run(ctxOf([], { nats: "nats://127.0.0.1:1", "nats-key": "k" })))).toMatch(/--nats-cert and --nats-key go together/);
    expect(await usage(listenCommand.run(ctxOf([], { "nats-tls": true })))).toMatch(/--nats-tls needs --nats/);
  });

  test("the reader's refusal of its credentials is logged as an error with the server's reason, its end as info", () => {
    const lines: string[] = [];
    const at = (level: string) => (msg: string, f?: object) => void lines.push(`${level} ${msg} ${JSON.stringify(f ?? {})}`);
    const log = { debug() {}, info: at("info"), warn: at("warn"), error: at("error"), child: () => log };
    const ctx = { values: { nats: "nats://127.0.0.1:1" }, positionals: [], log, out: () => {}, stopSignal: new Promise<string>(() => {}) } as unknown as CommandContext;
    const read = natsReadOptions(ctx);
    read.onNatsEvent!({ kind: "auth_refused", error: "'Authorization Violation'" });
    read.onNatsEvent!({ kind: "auth_accepted" });
    expect(lines).toEqual([
      `error the NATS server refused the reader's credentials: nothing is read, the books go stale; trying again every 2 s {"reason":"'Authorization Violation'"}`,
      "info the NATS server took the reader's credentials again {}",
    ]);
  });
});
