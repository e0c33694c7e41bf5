/**
 * Credentials and required TLS of the bridge and its readers against a real nats-server on loopback (docs/nats.md
 * #authentication). Before, both connected without credentials (none could be given), a server's refusal was counted
 * as one of its other errors (natsErrors), and a tls:// URL read a server that offers no TLS in plaintext. The
 * bridge's datagrams are handed to onDatagram in-process; the reader counts the heartbeats it hears.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { nkeys } from "@nats-io/transport-node";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import type { Logger } from "../../src/core/log.ts";
import type { NatsCredentials } from "../../src/subscriber/nats-auth.ts";
import { NatsFeedReader, type NatsReadOptions, type NatsReaderEvent } from "../../src/subscriber/nats-source.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

async function until(what: string, ok: () => boolean, onTry: () => void = () => {}, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    onTry();
    await new Promise((r) => setTimeout(r, 20));
  }
}

function recordingLog(): Logger & { lines: { level: string; msg: string; fields: string }[] } {
  const lines: { level: string; msg: string; fields: string }[] = [];
  const at = (level: string) => (msg: string, fields?: object) => void lines.push({ level, msg, fields: JSON.stringify(fields ?? {}) });
  const log = { lines, debug() {}, info: at("info"), warn: at("warn"), error: at("error"), child: () => log };
  return log;
}

const PASSWORD = "pw-Ür6-bridge";
const userKey = nkeys.createUser();
const SEED = userKey.getSeed();
const USERS = `authorization { users = [ { user: bridge, password: "${PASSWORD}" }, { nkey: ${userKey.getPublicKey()} } ] }`;
const ROTATED = `authorization { users = [ { user: bridge, password: "another" }, { nkey: ${nkeys.createUser().getPublicKey()} } ] }`;

/** A bridge on `prefix` with `credentials`, and its heartbeat datagrams (one per call). */
function bridgeOf(nats: NatsServer, prefix: string, credentials: NatsCredentials | undefined, log: Logger, url = nats.url): { bridge: ForwardBridge; beat: () => void } {
  const bridge = new ForwardBridge({ groups: [], servers: url, prefix, credentials, reconnectAfterCloseMs: 100, log });
  const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
  let sendUs = T0; // each its own send time: one sent in the µs of the last is a copy the bridge drops
  return {
    bridge,
    beat: () => {
      p.appendHeartbeat(0);
      for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    },
  };
}

function readerOf(opts: Partial<NatsReadOptions> & Pick<NatsReadOptions, "servers">, events: NatsReaderEvent[] = []): NatsFeedReader {
  return new NatsFeedReader({ prefix: "auth", reconnectAfterCloseMs: 100, onNatsEvent: (e) => void events.push(e), ...opts }, () => {});
}

describe.skipIf(missing !== undefined)("NATS credentials", () => {
  test("bridge (user and password) and reader (nkey) exchange messages; wrong ones are refused at start, counted, named without the secret", async () => {
    const nats = await NatsServer.start(USERS);
    stops.push(() => nats.stop());
    const log = recordingLog();
    const { bridge, beat } = bridgeOf(nats, "auth", { kind: "user", user: "bridge", password: PASSWORD }, log);
    await bridge.start();
    stops.push(() => bridge.stop());
    const reader = readerOf({ servers: nats.url, credentials: { kind: "nkey", seed: SEED } });
    await reader.start();
    stops.push(() => reader.stop());
    await until("the reader to hear the bridge's heartbeats", () => reader.counters.heartbeats > 0, beat);

    const wrong = bridgeOf(nats, "auth", { kind: "user", user: "bridge", password: "not-it" }, log).bridge;
    const refused = await wrong.start().then(() => "started", (err: Error) => err.message);
    await wrong.stop();
    expect(refused).toMatch(/refused the bridge's credentials \(user "bridge" with a password\): .*authorization violation/i);
    expect(refused).not.toContain("not-it");
    expect(wrong.counters.natsAuthErrors).toBe(1);
    const none = readerOf({ servers: nats.url });
    await expect(none.start()).rejects.toThrow(/refused the reader's credentials \(none\)/);
    expect(none.counters.natsAuthErrors).toBe(1);
  }, 15_000);

  test("a token", async () => {
    const nats = await NatsServer.start(`authorization { token: "t0k-en" }`);
    stops.push(() => nats.stop());
    const { bridge, beat } = bridgeOf(nats, "auth", { kind: "token", token: "t0k-en" }, recordingLog());
    await bridge.start();
    stops.push(() => bridge.stop());
    const reader = readerOf({ servers: nats.url, credentials: { kind: "token", token: "t0k-en" } });
    await reader.start();
    stops.push(() => reader.stop());
    await until("the reader to hear the bridge's heartbeats", () => reader.counters.heartbeats > 0, beat);
    await expect(readerOf({ servers: nats.url, credentials: { kind: "token", token: "other" } }).start()).rejects.toThrow(/refused the reader's credentials \(a token\)/);
  }, 15_000);

  test("credentials refused while running: counted apart from other errors, logged once, tried again until taken", async () => {
    const nats = await NatsServer.start(USERS);
    stops.push(() => nats.stop());
    const log = recordingLog();
    const { bridge, beat } = bridgeOf(nats, "auth", { kind: "user", user: "bridge", password: PASSWORD }, log);
    await bridge.start();
    stops.push(() => bridge.stop());
    const events: NatsReaderEvent[] = [];
    const reader = readerOf({ servers: nats.url, credentials: { kind: "nkey", seed: SEED } }, events);
    await reader.start();
    stops.push(() => reader.stop());

    await nats.stop();
    await nats.restart(ROTATED); // the server's credentials changed: both are refused
    // Tried again (every 100 ms here) and refused each time: several refusals, one line, no other error counted.
    await until("refusals after the client closed", () => bridge.counters.natsAuthErrors >= 3 && reader.counters.natsAuthErrors >= 3, beat);
    expect(bridge.counters.natsErrors).toBe(0);
    const refusals = log.lines.filter((l) => /refused the bridge's credentials/.test(l.msg));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.level).toBe("error");
    expect(refusals[0]!.fields).toMatch(/authorization violation/i);
    expect(events.filter((e) => e.kind === "auth_refused")).toHaveLength(1);
    expect(events.some((e) => e.kind === "reconnect_failed")).toBe(false);
    expect(JSON.stringify(log.lines)).not.toContain(PASSWORD);

    await nats.stop();
    await nats.restart(USERS);
    const heard = reader.counters.heartbeats;
    await until("the reader to hear the bridge again", () => reader.counters.heartbeats > heard, beat);
    expect(log.lines.some((l) => /took the bridge's credentials again/.test(l.msg))).toBe(true);
    expect(events.filter((e) => e.kind === "auth_accepted")).toHaveLength(1);
  }, 20_000);
});

/** A JWT (nats-server's operator mode) of `nats` claims about `sub`, signed by `signer`, made here as nsc would. */
function jwtOf(signer: ReturnType<typeof nkeys.createOperator>, sub: string, nats: object, claims: object = {}): string {
  const b64 = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");
  const head = b64(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const body = b64(JSON.stringify({ jti: `T${sub.slice(1, 20)}`, iat: Math.floor(Date.now() / 1000) - 120, iss: signer.getPublicKey(), name: "t", sub, nats, ...claims }));
  return `${head}.${body}.${b64(signer.sign(new TextEncoder().encode(`${head}.${body}`)))}`;
}

/** An operator, its system account and an account (preloaded in the server), and .creds of users of `signer`. */
function operatorMode(): { config: string; credsOf: (signer: ReturnType<typeof nkeys.createAccount>, claims?: object) => Uint8Array; account: ReturnType<typeof nkeys.createAccount> } {
  const op = nkeys.createOperator();
  const limits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const [account, sys] = [nkeys.createAccount(), nkeys.createAccount()];
  const acc = (a: typeof account) => `${a.getPublicKey()}: ${jwtOf(op, a.getPublicKey(), { limits, type: "account", version: 2 })}`;
  const config = `operator: ${jwtOf(op, op.getPublicKey(), { type: "operator", version: 2 })}\nresolver: MEMORY\nsystem_account: ${sys.getPublicKey()}\nresolver_preload: { ${acc(account)}, ${acc(sys)} }`;
  const credsOf = (signer: typeof account, claims: object = {}) => {
    const user = nkeys.createUser();
    const jwt = jwtOf(signer, user.getPublicKey(), { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: "user", version: 2 }, claims);
    const seed = new TextDecoder().decode(user.getSeed());
    return new TextEncoder().encode(`-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`);
  };
  return { config, credsOf, account };
}

describe.skipIf(missing !== undefined)("NATS .creds (operator mode)", () => {
  test("bridge and reader with .creds of the account exchange messages; a user of an unknown account, or whose JWT expired, is refused", async () => {
    const { config, credsOf, account } = operatorMode();
    const nats = await NatsServer.start(config);
    stops.push(() => nats.stop());
    const { bridge, beat } = bridgeOf(nats, "auth", { kind: "creds", creds: credsOf(account) }, recordingLog());
    await bridge.start();
    stops.push(() => bridge.stop());
    const reader = readerOf({ servers: nats.url, credentials: { kind: "creds", creds: credsOf(account) } });
    await reader.start();
    stops.push(() => reader.stop());
    await until("the reader to hear the bridge's heartbeats", () => reader.counters.heartbeats > 0, beat);
    const stranger = readerOf({ servers: nats.url, credentials: { kind: "creds", creds: credsOf(nkeys.createAccount()) } });
    await expect(stranger.start()).rejects.toThrow(/refused the reader's credentials \(a creds file \(JWT and nkey\)\)/);
    // An expired JWT: the server says only 'Authorization Violation'; the message says when it expired.
    const expiredAt = Math.floor(Date.now() / 1000) - 60;
    const expired = readerOf({ servers: nats.url, credentials: { kind: "creds", creds: credsOf(account, { exp: expiredAt }) } });
    const iso = new Date(expiredAt * 1000).toISOString().replace(".000Z", "Z");
    await expect(expired.start()).rejects.toThrow(`(a creds file (JWT and nkey) whose JWT expired at ${iso})`);
  }, 15_000);
});

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, or why not (no openssl). */
function makeCerts(): { dir: string } | { skip: string } {
  if (spawnSync("openssl", ["version"]).status !== 0) return { skip: "openssl not found: the TLS tests need it to make certificates" };
  const dir = makeTempDir("feeder-nats-tls-");
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=feeder test CA"]);
  for (const [name, ext] of [["server", "subjectAltName=IP:127.0.0.1"], ["client", "extendedKeyUsage=clientAuth"]] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    run(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
    run(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "1", "-extfile", `${name}.ext`]);
  }
  return { dir };
}

describe.skipIf(missing !== undefined)("NATS TLS", () => {
  test("required: a tls:// URL or tls option refuses a server without TLS (before: plaintext); a private CA and a client certificate", async (ctx) => {
    const plain = await NatsServer.start();
    stops.push(() => plain.stop());
    const tlsUrl = plain.url.replace("nats://", "tls://");
    await expect(readerOf({ servers: tlsUrl }).start()).rejects.toThrow(/tls/i);
    await expect(bridgeOf(plain, "auth", undefined, recordingLog(), tlsUrl).bridge.start()).rejects.toThrow(/tls/i);
    await expect(readerOf({ servers: plain.url, tls: {} }).start()).rejects.toThrow(/tls/i);

    const certs = makeCerts();
    if ("skip" in certs) return ctx.skip(certs.skip);
    const f = (n: string) => join(certs.dir, n);
    const nats = await NatsServer.start(`tls { cert_file: "${f("server.pem")}", key_file: "${f("server.key")}", ca_file: "${f("ca.pem")}", verify: true }`);
    stops.push(() => nats.stop());
    const ca = readFileSync(f("ca.pem"), "utf8");
    const tls = { ca, cert: readFileSync(f("client.pem"), "utf8"), key: readFileSync(f("client.key"), "utf8") };
    const bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: "auth", tls, log: recordingLog() });
    await bridge.start();
    stops.push(() => bridge.stop());
    const reader = readerOf({ servers: nats.url, tls });
    await reader.start();
    stops.push(() => reader.stop());
    const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
    let sendUs = T0; // each its own send time: one sent in the µs of the last is a copy the bridge drops
    await until("the reader to hear the bridge over TLS", () => reader.counters.heartbeats > 0, () => {
      p.appendHeartbeat(0);
      for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    });
    // The server's certificate checked against the system's CAs only: refused. (A client without a certificate is
    // refused by the server after the TLS 1.3 handshake: the client then waits for its dial timeout, 5 s:
    // nats-start.test.ts.)
    await expect(readerOf({ servers: nats.url, tls: { cert: tls.cert, key: tls.key } }).start()).rejects.toThrow(/verify|certificate/);
    // The server's name checked too: its certificate (the CA's, for 127.0.0.1) is not one for "localhost".
    await expect(readerOf({ servers: nats.url.replace("127.0.0.1", "localhost"), tls }).start()).rejects.toThrow(/does not match|altname/i);
  }, 15_000);
});
