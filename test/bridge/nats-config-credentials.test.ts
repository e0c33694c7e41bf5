/**
 * NATS credentials and TLS in the `--config` file's [nats] section (config/load.ts parseNats, nats-credentials.ts
 * natsAccessOf). Before, the file held none (`nats: unknown key`): a unit had to put every credential file on its
 * command line. The same kinds as the flags, the same checks with errors naming the key, flags overriding the file
 * (a credential flag replaces its credentials whole), the secret never in an error, a log line or check-config's
 * output. Then both directions of `feeder bridge -c FILE` against a real nats-server that requires a password.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { UsageError } from "../../src/cli/command.ts";
import { bridgeCommand } from "../../src/cli/commands/bridge.ts";
import { checkConfigCommand } from "../../src/cli/commands/check-config.ts";
import { listenCommand } from "../../src/cli/commands/listen.ts";
import { natsAccessOf } from "../../src/cli/commands/nats-credentials.ts";
import { formatConfigToml } from "../../src/config/format.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { readAuthKeyFile } from "../../src/core/auth-key.ts";
import { ConfigError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { freePort } from "../support/free-port.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const dir = makeTempDir("feeder-nats-config-");
let n = 0;
function file(text: string, mode = 0o600): string {
  const path = join(dir, `f${n++}`);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}
/** A config file: one destination (for to-nats) and the given [nats] lines. */
function config(nats: string, group = "239.255.73.1", port = 31973): string {
  return file(`[[publish.destinations]]\ngroup = "${group}"\nport = ${port}\n\n[nats]\n${nats}\n`, 0o644);
}
function logOf(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (msg: string, f?: object) => void lines.push(`${msg} ${JSON.stringify(f ?? {})}`);
  const log = { lines, debug: at, info: at, warn: at, error: at, child: () => log };
  return log;
}
const NATS = ["nats://127.0.0.1:4222"];
const SECRET = "pw-from-the-file-Ü";
const problems = (path: string): string[] => {
  try {
    loadConfigFile(path, { requireVenue: false });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
};
const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  return "(no usage error)";
};

describe("[nats] in the configuration file", () => {
  test("each kind read from its file; errors name the key, never the secret; check-config prints paths only", () => {
    const pw = file(`${SECRET}\n`);
    const c = loadConfigFile(config(`user = "bridge"\npassword_file = "${pw}"`), { requireVenue: false });
    const log = logOf();
    expect(natsAccessOf({}, NATS, log, c.nats)).toEqual({ credentials: { kind: "user", user: "bridge", password: SECRET }, tls: undefined });
    const printed = formatConfigToml(c);
    expect(printed).toContain(`password_file = ${JSON.stringify(pw)}`);
    expect(printed).not.toContain(SECRET);
    const tok = loadConfigFile(config(`token_file = "${file("t0k\n")}"`), { requireVenue: false });
    expect(natsAccessOf({}, NATS, log, tok.nats).credentials).toEqual({ kind: "token", token: "t0k" });
    expect(natsAccessOf({}, NATS, log, loadConfigFile(config("tls = true"), { requireVenue: false }).nats).tls).toEqual({});
    expect(log.lines.join("\n")).not.toContain(SECRET);

    // The file's content checked as the flags' are, named by the key.
    const empty = loadConfigFile(config(`user = "bridge"\npassword_file = "${file("")}"`), { requireVenue: false });
    expect(usage(() => natsAccessOf({}, NATS, logOf(), empty.nats))).toMatch(/^nats\.password_file ".*" is empty$/);
    const twoLines = loadConfigFile(config(`token_file = "${file(`${SECRET}\nmore\n`)}"`), { requireVenue: false });
    const twoLinesError = usage(() => natsAccessOf({}, NATS, logOf(), twoLines.nats));
    expect(twoLinesError).toMatch(/^nats\.token_file ".*" must hold the token on one line/);
    expect(twoLinesError).not.toContain(SECRET);
    const badSeed = loadConfigFile(config(`nkey_file = "${file("SUNOTASEED\n")}"`), { requireVenue: false });
    expect(usage(() => natsAccessOf({}, NATS, logOf(), badSeed.nats))).toMatch(/^nats\.nkey_file ".*" does not hold an nkey user seed/);
    const missing = loadConfigFile(config(`creds_file = "${join(dir, "absent")}"`), { requireVenue: false });
    expect(usage(() => natsAccessOf({}, NATS, logOf(), missing.nats))).toMatch(/^nats\.creds_file: cannot read/);
    const open = logOf();
    natsAccessOf({}, NATS, open, loadConfigFile(config(`token_file = "${file("t\n", 0o644)}"`), { requireVenue: false }).nats);
    expect(open.lines.join("\n")).toMatch(/nats\.token_file ".*" is open to group or others: chmod 600 it/);

    // The shape, by the loader (check-config says it too).
    expect(problems(config(`user = "bridge"\npassword_file = "${pw}"\ntoken_file = "${pw}"`))).toEqual(["nats.user and nats.token_file: both give NATS credentials (give one kind)"]);
    expect(problems(config(`user = "bridge"`))).toEqual(["nats.password_file: missing (expected the file of nats.user's password (never in the configuration itself))"]);
    expect(problems(config(`password_file = "${pw}"`))).toEqual(["nats.user: missing (expected the user whose password nats.password_file holds)"]);
    expect(problems(config(`cert_file = "${pw}"`))).toEqual(["nats.cert_file and nats.key_file: give both (the client certificate and its private key) or neither"]);
    const inline = problems(config(`password = "${SECRET}"`));
    expect(inline[0]).toMatch(/^nats\.password: unknown key/);
    expect(inline.join("\n")).not.toContain(SECRET);
    expect(problems(config(`token_file = ""`))).toEqual(['nats.token_file: "" is not a file path']);
    expect(problems(config("tls = 1"))).toEqual(["nats.tls: 1 is not true or false"]);
  });

  test("check-config says it does not read [nats]'s files and names those this user cannot open, never their content", async () => {
    const pw = file(`${SECRET}\n`);
    const absent = join(dir, "absent-token");
    const path = file(`[[publish.destinations]]\ngroup = "239.255.73.1"\nport = 31973\n\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n\n[nats]\nuser = "bridge"\npassword_file = "${pw}"\nca_file = "${dir}"\n`, 0o644);
    const out: string[] = [];
    expect(await checkConfigCommand.run({ values: { config: path }, positionals: [], log: logOf(), out: (t: string) => void out.push(t) } as unknown as CommandContext)).toBe(0);
    const text = out.join("");
    expect(text).toContain("# note: [nats] names files that `feeder bridge` and `listen --nats` read and check at their start; check-config does not read them");
    expect(text).toContain(`# note: nats.ca_file ${JSON.stringify(dir)} cannot be read by this user now (a directory)`);
    expect(text).not.toContain(`nats.password_file ${JSON.stringify(pw)} cannot`); // readable: no note
    expect(text).not.toContain(SECRET);
    const second = file(`[[publish.destinations]]\ngroup = "239.255.73.1"\nport = 31973\n\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n\n[nats]\ntoken_file = "${absent}"\n`, 0o644);
    out.length = 0;
    expect(await checkConfigCommand.run({ values: { config: second }, positionals: [], log: logOf(), out: (t: string) => void out.push(t) } as unknown as CommandContext)).toBe(0);
    expect(out.join("")).toContain(`# note: nats.token_file ${JSON.stringify(absent)} cannot be read by this user now (no such file)`);
    // Still the configuration in effect: the notes are comments.
    const again = file(out.join(""), 0o644);
    expect(loadConfigFile(again).nats).toEqual(loadConfigFile(second).nats);
  });

  test("a *_file key or flag holding the secret itself: named, its value never printed (error, check-config)", async () => {
    // The secret written where its file's path goes. Before, "cannot read" quoted it twice (and the system's message
    // with it), and check-config printed it in the settings and in its note.
    const TOKEN = "s3cr3t token+x/y="; // a space: not said either (until 2026-12-07 "it holds a space")
    const flagged = usage(() => natsAccessOf({ "nats-user": "u", "nats-password-file": SECRET }, NATS, logOf()));
    expect(flagged).toMatch(/^--nats-password-file: cannot read \(its value not shown: only a path like \/dir\/name, \.\/name, \.\.\/name or ~\/name without spaces or control characters is shown, it may be the secret itself\): ENOENT: no such file or directory$/);
    const path = config(`token_file = "${TOKEN}"`);
    const keyed = usage(() => natsAccessOf({}, NATS, logOf(), loadConfigFile(path, { requireVenue: false }).nats));
    expect(keyed).toMatch(/^nats\.token_file: cannot read \(its value not shown/);
    expect(keyed).not.toContain(TOKEN);
    // A path is still shown, once (the system's message without it).
    const absent = join(dir, "absent-pw");
    expect(usage(() => natsAccessOf({ "nats-token-file": absent }, NATS, logOf()))).toBe(`--nats-token-file: cannot read ${JSON.stringify(absent)}: ENOENT: no such file or directory`);
    const withVenue = file(`[[publish.destinations]]\ngroup = "239.255.73.1"\nport = 31973\n\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n\n[nats]\ntoken_file = "${TOKEN}"\nca_file = "${absent}"\n`, 0o644);
    const out: string[] = [];
    expect(await checkConfigCommand.run({ values: { config: withVenue }, positionals: [], log: logOf(), out: (t: string) => void out.push(t) } as unknown as CommandContext)).toBe(0);
    const text = out.join("");
    expect(text).not.toContain(TOKEN);
    expect(text).toContain("# token_file is set (not shown: only a path like /dir/name, ./name, ../name or ~/name without spaces or control characters is shown, it may be the secret itself)");
    expect(text).toContain("# note: nats.token_file (its value not shown: only a path like /dir/name, ./name, ../name or ~/name without spaces or control characters is shown, it may be the secret itself) cannot be read by this user now (no such file)");
    expect(text).toContain(`ca_file = ${JSON.stringify(absent)}`);
    // The feed's HMAC key likewise (--auth-key-file of the bridge and listen --nats, publish.auth_key_file).
    const KEY = "00112233445566778899aabbccddeeff";
    expect(() => readAuthKeyFile(KEY, "--auth-key-file", { fifo: true })).toThrow(/^--auth-key-file: cannot read key file \(its value not shown: only a path like \/dir\/name, \.\/name, \.\.\/name or ~\/name without spaces or control characters is shown, it may be the secret itself\): ENOENT: no such file or directory$/);
    const keyed2 = problems(file(`[publish]\nauth_key_file = "${KEY}"\n`, 0o644));
    expect(keyed2.join("\n")).toMatch(/^publish\.auth_key_file: cannot read key file \(its value not shown/);
    expect(keyed2.join("\n")).not.toContain(KEY);
  });

  test("a secret in the service's systemd credentials directory is not warned of for its mode (systemd guards it)", () => {
    // systemd hands the service its copy 0400, or 0400 with an ACL for the service's user where the directory's
    // file system takes ACLs (the mask then shows as group-readable, 0440): warning of that asked for a chmod the
    // service can neither make nor needs. The same mode outside the directory is still warned of.
    const credentials = makeTempDir("feeder-credentials-");
    const inside = join(credentials, "nats-token");
    writeFileSync(inside, "t0k\n");
    chmodSync(inside, 0o440);
    const outside = file("t0k\n", 0o440);
    const before = process.env.CREDENTIALS_DIRECTORY;
    process.env.CREDENTIALS_DIRECTORY = credentials;
    try {
      const quiet = logOf();
      expect(natsAccessOf({ "nats-token-file": inside }, NATS, quiet).credentials).toEqual({ kind: "token", token: "t0k" });
      expect(quiet.lines.join("\n")).not.toMatch(/open to group or others/);
      const warned = logOf();
      natsAccessOf({ "nats-token-file": outside }, NATS, warned);
      expect(warned.lines.join("\n")).toMatch(/open to group or others: chmod 600 it/);
    } finally {
      if (before === undefined) delete process.env.CREDENTIALS_DIRECTORY;
      else process.env.CREDENTIALS_DIRECTORY = before;
    }
  });

  test("flags override the file: a credential flag replaces its credentials whole, --nats-ca its ca_file", () => {
    const c = loadConfigFile(config(`token_file = "${file("from-file\n")}"\nca_file = "${join(dir, "absent-ca.pem")}"`), { requireVenue: false });
    const pw = file("from-flag\n");
    // The file's kind (token) and the flags' (user) are not two kinds: the flags' alone count.
    const a = natsAccessOf({ "nats-user": "u", "nats-password-file": pw, "nats-ca": undefined }, NATS, logOf(), { ...c.nats!, caFile: undefined });
    expect(a.credentials).toEqual({ kind: "user", user: "u", password: "from-flag" });
    // The file's ca_file would fail (absent): the flag's is read instead.
    expect(usage(() => natsAccessOf({}, NATS, logOf(), c.nats))).toMatch(/^nats\.ca_file: cannot read/);
    expect(usage(() => natsAccessOf({ "nats-ca": join(dir, "other-absent.pem") }, NATS, logOf(), c.nats))).toMatch(/^--nats-ca: cannot read/);
  });
});

const missing = natsServerMissing();
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

function run(direction: string, values: CommandContext["values"], log = logOf()): { code: Promise<number>; stop: () => Promise<number> } {
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const code = bridgeCommand.run({ values, positionals: [direction], log, out: () => {}, stopSignal } as unknown as CommandContext);
  return { code, stop: () => (stop("SIGTERM"), code) };
}

async function ready(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not ready (${status})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(missing !== undefined)("feeder bridge -c FILE: the [nats] credentials against a server", () => {
  test("both directions connect with the file's password; a wrong one in the file is refused (exit 1)", async () => {
    const nats = await NatsServer.start(`authorization { users = [ { user: bridge, password: "${SECRET}" } ] }`);
    stops.push(() => nats.stop());
    const G = uniqueDestination(73);
    const good = config(`user = "bridge"\npassword_file = "${file(`${SECRET}\n`)}"`, G.group, G.port);
    const [toPort, fromPort] = [await freePort(), await freePort()];
    const to = run("to-nats", { nats: nats.url, prefix: "cfg", config: good, iface: "127.0.0.1", http: `127.0.0.1:${toPort}` });
    stops.push(to.stop);
    const B = uniqueDestination(74);
    const from = run("from-nats", { nats: nats.url, prefix: "cfg", config: good, group: [`${B.group}:${B.port}`], iface: "127.0.0.1", http: `127.0.0.1:${fromPort}` });
    stops.push(from.stop);
    await ready(toPort);
    await ready(fromPort);
    expect(await to.stop()).toBe(0);
    expect(await from.stop()).toBe(0);
    const wrong = config(`user = "bridge"\npassword_file = "${file("not-it\n")}"`, G.group, G.port);
    const log = logOf();
    expect(await run("to-nats", { nats: nats.url, prefix: "cfg", config: wrong, iface: "127.0.0.1", http: "off" }, log).code).toBe(1);
    expect(log.lines.join("\n")).toMatch(/refused the bridge's credentials \(user \\"bridge\\" with a password\)/);
    expect(log.lines.join("\n")).not.toContain("not-it");
    // A flag overrides the file: the right password by flag, the wrong one in the file.
    const flagged = run("to-nats", { nats: nats.url, prefix: "cfg", config: wrong, iface: "127.0.0.1", http: `127.0.0.1:${toPort}`, "nats-user": "bridge", "nats-password-file": file(`${SECRET}\n`) });
    stops.push(flagged.stop);
    await ready(toPort);
    expect(await flagged.stop()).toBe(0);

    // listen --nats -c FILE takes the file's [nats] as from-nats does (before: refused, "leave out --config"), the
    // flags overriding it; the wrong password from the file is refused by the server (exit 1, the kind named).
    // Both read only [nats] of the file (and publish.auth_key_file, below) and check only those: a file written for
    // another host (a destination interface that is not here) is no error. Before, both refused it (the whole file
    // validated).
    const foreign = file(`[[publish.destinations]]\ngroup = "239.255.73.1"\nport = 31973\ninterface = "192.0.2.7"\n\n[nats]\nuser = "bridge"\npassword_file = "${file(`${SECRET}\n`)}"\n`, 0o644);
    expect(() => loadConfigFile(foreign, { requireVenue: false })).toThrow(ConfigError);
    const fromForeign = run("from-nats", { nats: nats.url, prefix: "cfg", config: foreign, group: [`${B.group}:${B.port}`], iface: "127.0.0.1", http: `127.0.0.1:${fromPort}` });
    stops.push(fromForeign.stop);
    await ready(fromPort);
    expect(await fromForeign.stop()).toBe(0);
    // to-nats -c reads [publish]: the destinations' interfaces are checked, but not when --iface replaces them (the
    // groups joined there). Before, another host's file was refused even with --iface. One not here is a failed
    // start, exit 1 retried by the unit, as `run`'s with the same file (an address that may come up; s-cfgrd: was 2).
    const otherHost = file(`[[publish.destinations]]\ngroup = "${G.group}"\nport = ${G.port}\ninterface = "192.0.2.7"\n\n[nats]\nuser = "bridge"\npassword_file = "${file(`${SECRET}\n`)}"\n`, 0o644);
    const otherLog = logOf();
    expect(await run("to-nats", { nats: nats.url, prefix: "cfg", config: otherHost, http: "off" }, otherLog).code).toBe(1);
    expect(otherLog.lines.join("\n")).toMatch(/^bridge could not start: an address the configuration names is not this host's \(yet\).*interface: \\"192\.0\.2\.7\\" is not an address of this host/m);
    const toOther = run("to-nats", { nats: nats.url, prefix: "cfg", config: otherHost, iface: "127.0.0.1", http: `127.0.0.1:${toPort}` });
    stops.push(toOther.stop);
    await ready(toPort);
    expect(await toOther.stop()).toBe(0);
    // Still checked: the file's [nats], and its section names.
    await expect(run("from-nats", { nats: nats.url, config: config(`user = "bridge"`), group: [`${B.group}:${B.port}`], http: "off" }).code).rejects.toThrow(/nats\.password_file: missing/);
    await expect(run("from-nats", { nats: nats.url, config: file(`[natz]\nuser = "bridge"\n`), group: [`${B.group}:${B.port}`], http: "off" }).code).rejects.toThrow(/natz: unknown key/);

    const listenRun = (values: CommandContext["values"], lg = logOf()) => {
      let stop!: (s: string) => void;
      const stopSignal = new Promise<string>((r) => (stop = r));
      const code = listenCommand.run({ values: { nats: nats.url, prefix: "cfg", format: "ndjson", ...values }, positionals: [], log: lg, out: () => {}, stopSignal } as unknown as CommandContext);
      return { code, log: lg, stop: () => (stop("SIGTERM"), code) };
    };
    const refused = listenRun({ config: wrong });
    expect(await refused.code).toBe(1);
    expect(refused.log.lines.join("\n")).toMatch(/cannot read NATS.*user \\"bridge\\" with a password/);
    const listening = listenRun({ config: good });
    stops.push(listening.stop);
    const deadline = Date.now() + 10_000;
    while (!listening.log.lines.some((l) => l.startsWith("listening "))) {
      if (Date.now() > deadline) throw new Error(`listen --nats -c did not start: ${listening.log.lines.join("; ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await listening.stop()).toBe(0);
    const overridden = listenRun({ config: wrong, "nats-user": "bridge", "nats-password-file": file(`${SECRET}\n`) });
    stops.push(overridden.stop);
    while (!overridden.log.lines.some((l) => l.startsWith("listening "))) {
      if (Date.now() > deadline + 10_000) throw new Error(`listen --nats -c with flags did not start: ${overridden.log.lines.join("; ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await overridden.stop()).toBe(0);
    const fromFile = listenRun({ config: foreign });
    stops.push(fromFile.stop);
    while (!fromFile.log.lines.some((l) => l.startsWith("listening "))) {
      if (Date.now() > deadline + 20_000) throw new Error(`listen --nats -c (another host's file) did not start: ${fromFile.log.lines.join("; ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await fromFile.stop()).toBe(0);
    // Without --nats, -c is the multicast configuration as before: a --nats-* flag still needs --nats.
    await expect(listenCommand.run({ values: { config: good, "nats-tls": true }, positionals: [], log: logOf(), out: () => {}, stopSignal: new Promise(() => {}) } as unknown as CommandContext)).rejects.toThrow(/--nats-tls needs --nats/);
  }, 30_000);
});

/** A command's log until `pattern` appears in it (or 10 s). */
async function logged(log: { lines: string[] }, pattern: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!log.lines.some((l) => pattern.test(l))) {
    if (Date.now() > deadline) throw new Error(`${what}: ${log.lines.join("; ")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(missing !== undefined)("the --config file's publish.auth_key_file: the readers verify with it", () => {
  test("from-nats -c and listen --nats -c take a feed signed with the file's key and refuse unsigned or forged envelopes; --auth-key-file overrides it", async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const KEY = new Uint8Array(32).fill(0x5a);
    const keyFile = file(Buffer.from(KEY).toString("hex") + "\n");
    // The bridge's own file, another host's (its interface not here: not checked by the readers) with its key.
    const keyed = file(`[publish]\nauth_key_file = "${keyFile}"\n\n[[publish.destinations]]\ngroup = "239.255.73.1"\nport = 31973\ninterface = "192.0.2.7"\n`, 0o644);
    const B = uniqueDestination(75);
    const fromPort = await freePort();
    const fromLog = logOf();
    const from = run("from-nats", { nats: nats.url, prefix: "key", config: keyed, group: [`${B.group}:${B.port}`], iface: "127.0.0.1", http: `127.0.0.1:${fromPort}` }, fromLog);
    stops.push(from.stop);
    let stopListen!: (s: string) => void;
    const listenLog = logOf();
    const rows: string[] = [];
    const listenCode = listenCommand.run({ values: { nats: nats.url, prefix: "key", format: "ndjson", config: keyed }, positionals: [], log: listenLog, out: (l: string) => void rows.push(l), stopSignal: new Promise<string>((r) => (stopListen = r)) } as unknown as CommandContext);
    stops.push(() => (stopListen("SIGTERM"), listenCode));
    await ready(fromPort);
    await logged(listenLog, /^listening /, "listen --nats -c did not start");
    expect(fromLog.lines.join("\n")).toContain(`"verifiedWith":"publish.auth_key_file ${JSON.stringify(keyFile).replaceAll('"', '\\"')}"`);
    expect(listenLog.lines.join("\n")).toContain(`"verifiedWith":"publish.auth_key_file`);

    // A signed feed, as to-nats -c FILE publishes it (the bridge given the file's key).
    const signer = new ForwardBridge({ groups: [], servers: nats.url, prefix: "key", authKey: KEY, log: silentLogger });
    await signer.start();
    stops.push(() => signer.stop());
    const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, auth: new DatagramAuth(KEY) });
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    for (const d of take(p, T0 + 1000)) signer.onDatagram(d);
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 2000)) signer.onDatagram(d);
    const metrics = () => fetch(`http://127.0.0.1:${fromPort}/metrics`).then((r) => r.text());
    const sample = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
    const deadline = Date.now() + 10_000;
    while (!(sample(await metrics(), "feeder_bridge_repacked_messages_total") >= 2 && rows.some((r) => r.includes('"type":"update"') && r.includes('"usable":true')))) {
      if (Date.now() > deadline) throw new Error(`the signed feed was not taken: ${await metrics()} ${rows.join("; ")} ${fromLog.lines.join("; ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sample(await metrics(), 'feeder_bridge_nats_refused_envelopes_total{reason="bad_auth"}')).toBe(0);

    // A forger allowed to publish on the prefix: a heartbeat unsigned, one signed with another key. Both refused
    // (before, the readers had no key: both were taken, nothing counted or said).
    const { connect } = await import("@nats-io/transport-node");
    const forger = await connect({ servers: nats.url });
    const hb = packer();
    hb.appendHeartbeat(0);
    const beat = take(hb)[0]!;
    forger.publish("key._hb", envelopeOf(beat, 1000, 0, 0, 5, 77));
    forger.publish("key._hb", envelopeOf(beat, 1000, 0, 0, 6, 77, new DatagramAuth(new Uint8Array(32).fill(1))));
    await forger.flush();
    await forger.close();
    while (sample(await metrics(), 'feeder_bridge_nats_refused_envelopes_total{reason="bad_auth"}') < 2) {
      if (Date.now() > deadline + 10_000) throw new Error(`from-nats -c took unsigned envelopes: ${await metrics()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await logged(listenLog, /NATS envelopes refused: not signed with the publish\.auth_key_file key/, "listen --nats -c did not refuse them");
    await logged(fromLog, /NATS envelopes refused: not signed with the publish\.auth_key_file key/, "from-nats -c did not say so");
    expect(await from.stop()).toBe(0);

    // The key file not on this host: refused naming the key (exit 2), never read without it; the flag overrides it.
    const foreignKey = file(`[publish]\nauth_key_file = "/nonexistent/feed.key"\n`, 0o644);
    await expect(run("from-nats", { nats: nats.url, config: foreignKey, group: [`${B.group}:${B.port}`], http: "off" }).code).rejects.toThrow(/^publish\.auth_key_file: cannot read key file "\/nonexistent\/feed\.key".*--auth-key-file F/);
    await expect(listenCommand.run({ values: { nats: nats.url, config: foreignKey }, positionals: [], log: logOf(), out: () => {}, stopSignal: new Promise(() => {}) } as unknown as CommandContext)).rejects.toThrow(UsageError);
    const overridden = run("from-nats", { nats: nats.url, prefix: "key", config: foreignKey, "auth-key-file": keyFile, group: [`${B.group}:${B.port}`], iface: "127.0.0.1", http: `127.0.0.1:${fromPort}` }, logOf());
    stops.push(overridden.stop);
    await ready(fromPort);
    expect(await overridden.stop()).toBe(0);
    // to-nats -c FILE --iface (the file's interfaces not checked, and before, its key file neither): the file's key
    // is named publish.auth_key_file (before: the bridge's own read named it --auth-key-file, a flag not given).
    await expect(run("to-nats", { nats: nats.url, config: file(`[publish]\nauth_key_file = "/nonexistent/feed.key"\n\n[[publish.destinations]]\ngroup = "239.255.73.1"\nport = 31973\ninterface = "192.0.2.7"\n`, 0o644), iface: "127.0.0.1", http: "off" }).code).rejects.toThrow(/^publish\.auth_key_file: cannot read key file/);
  }, 30_000);
});

describe("listen -c FILE (multicast): the file's key", () => {
  test("verifies with the file's publish.auth_key_file, --auth-key-file overriding it; --iface replaces another host's interfaces", async () => {
    const keyFile = file("5a".repeat(32) + "\n");
    const G = uniqueDestination(76);
    const otherHost = file(`[publish]\nauth_key_file = "${keyFile}"\n\n[[publish.destinations]]\ngroup = "${G.group}"\nport = ${G.port}\ninterface = "192.0.2.7"\n`, 0o644);
    const listenRun = (values: CommandContext["values"]) => {
      let stop!: (s: string) => void;
      const log = logOf();
      const code = listenCommand.run({ values: { format: "ndjson", ...values }, positionals: [], log, out: () => {}, stopSignal: new Promise<string>((r) => (stop = r)) } as unknown as CommandContext);
      return { code, log, stop: () => (stop("SIGTERM"), code) };
    };
    // Without --iface the file's interfaces are this host's to join on: refused.
    await expect(listenRun({ config: otherHost }).code).rejects.toThrow(/interface: "192\.0\.2\.7" is not an address of this host/);
    const l = listenRun({ config: otherHost, iface: "127.0.0.1" });
    stops.push(l.stop);
    await logged(l.log, /^listening /, "listen -c FILE --iface did not start");
    expect(l.log.lines.find((x) => x.startsWith("listening "))).toContain(`"verifiedWith":"publish.auth_key_file ${JSON.stringify(keyFile).replaceAll('"', '\\"')}"`);
    expect(await l.stop()).toBe(0);
    const other = file("6b".repeat(32) + "\n");
    const o = listenRun({ config: otherHost, iface: "127.0.0.1", "auth-key-file": other });
    stops.push(o.stop);
    await logged(o.log, /^listening /, "listen -c FILE --auth-key-file did not start");
    expect(o.log.lines.find((x) => x.startsWith("listening "))).toContain(`"verifiedWith":"--auth-key-file ${JSON.stringify(other).replaceAll('"', '\\"')}"`);
    expect(await o.stop()).toBe(0);
    // A key file not on this host: refused naming it, unless --auth-key-file replaces it (then not read: before, the
    // file's missing key refused the command though the flag named the key it uses). The same for to-nats -c.
    const absentKey = file(`[publish]\nauth_key_file = "/nonexistent/feed.key"\n\n[[publish.destinations]]\ngroup = "${G.group}"\nport = ${G.port}\n`, 0o644);
    await expect(listenRun({ config: absentKey }).code).rejects.toThrow(/^publish\.auth_key_file: cannot read key file "\/nonexistent\/feed\.key"/);
    const f = listenRun({ config: absentKey, "auth-key-file": other });
    stops.push(f.stop);
    await logged(f.log, /^listening /, "listen -c FILE (its key file absent) --auth-key-file did not start");
    expect(await f.stop()).toBe(0);
    await expect(bridgeCommand.run({ values: { nats: "nats://127.0.0.1:1", config: absentKey, http: "off" }, positionals: ["to-nats"], log: logOf(), out: () => {}, stopSignal: new Promise(() => {}) } as unknown as CommandContext)).rejects.toThrow(/^publish\.auth_key_file: cannot read key file/);
    // With the flag the file's key is not looked at: the start goes on to dial NATS (nothing there: exit 1).
    expect(await bridgeCommand.run({ values: { nats: "nats://127.0.0.1:1", config: absentKey, "auth-key-file": other, http: "off" }, positionals: ["to-nats"], log: logOf(), out: () => {}, stopSignal: new Promise(() => {}) } as unknown as CommandContext)).toBe(1);
  });
});
