/**
 * Credentials and TLS for the NATS connections of the bridge and its readers (docs/nats.md#authentication). The
 * secrets are held as given (read from files by the CLI) and handed to the client only: never logged, never part
 * of an error (`describeCredentials` names the kind, not the secret). Cold path.
 * @module
 */

/** One way to authenticate to the NATS server (nats-server's authorization block, or its operator mode for `creds`). */
export type NatsCredentials =
  | { readonly kind: "user"; readonly user: string; readonly password: string }
  | { readonly kind: "token"; readonly token: string }
  /** An nkey user seed (`SU…`, as `nk -gen user` writes it): the client signs the server's nonce with it. */
  | { readonly kind: "nkey"; readonly seed: Uint8Array }
  /** A .creds file's bytes (a user JWT and its nkey seed, as `nsc` writes it). */
  | { readonly kind: "creds"; readonly creds: Uint8Array };

/**
 * TLS required (an object, even empty): a server that offers none, or an offer stripped on the way, is refused
 * instead of read in plaintext. PEM texts; without `ca` the system's CAs verify the server.
 */
export interface NatsTls {
  readonly ca?: string;
  /** Client certificate and its key, for a server that verifies clients (`verify: true`): both or neither. */
  readonly cert?: string;
  readonly key?: string;
}

/** What a connection authenticates with: credentials, TLS. Neither: as before (no credentials, TLS if offered). */
export interface NatsAccess {
  readonly credentials?: NatsCredentials;
  readonly tls?: NatsTls;
}

/**
 * The kind of credentials, for logs and errors (never the secret); of a .creds file, when its JWT expires or
 * expired: the server refuses an expired one with only 'Authorization Violation'.
 */
export function describeCredentials(c: NatsCredentials | undefined, nowMs = Date.now()): string {
  if (c === undefined) return "none";
  if (c.kind === "user") return `user ${JSON.stringify(c.user)} with a password`;
  if (c.kind === "token") return "a token";
  if (c.kind === "nkey") return "an nkey";
  const expS = credsExpiryS(c.creds);
  if (expS === undefined) return "a creds file (JWT and nkey)";
  const at = new Date(expS * 1000).toISOString().replace(".000Z", "Z");
  return `a creds file (JWT and nkey) whose JWT ${expS * 1000 <= nowMs ? "expired" : "expires"} at ${at}`;
}

/** The `exp` claim (Unix seconds) of a .creds file's user JWT (its first x.y.z token), or undefined: none, unreadable. */
export function credsExpiryS(creds: Uint8Array): number | undefined {
  const m = /[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+/.exec(new TextDecoder().decode(creds));
  if (m === null) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(m[1]!, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) && exp > 0 && exp < 1e11 ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** A `tls://` URL among the servers: TLS is required (the client itself takes only host and port from a URL). */
export function tlsRequiredByUrl(servers: string | string[]): boolean {
  return (typeof servers === "string" ? [servers] : servers).some((s) => /^tls:\/\//i.test(s.trim()));
}

/** The client's authenticator factories (@nats-io/nats-core, re-exported by @nats-io/transport-node). */
interface AuthenticatorFactories {
  nkeyAuthenticator?: (seed: Uint8Array) => unknown;
  credsAuthenticator?: (creds: Uint8Array) => unknown;
}

/** Connect options for `access` (and a tls:// URL): user/pass, token or an authenticator; `tls` when required. */
export function accessOptions(mod: AuthenticatorFactories, servers: string | string[], access: NatsAccess = {}): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const c = access.credentials;
  if (c?.kind === "user") {
    o.user = c.user;
    o.pass = c.password;
  } else if (c?.kind === "token") o.token = c.token;
  else if (c !== undefined) {
    const make = c.kind === "nkey" ? mod.nkeyAuthenticator : mod.credsAuthenticator;
    if (typeof make !== "function") throw new Error(`the installed NATS client cannot authenticate with ${describeCredentials(c)} (@nats-io/transport-node 3.x can)`);
    o.authenticator = c.kind === "nkey" ? make(c.seed) : make(c.creds);
  }
  const tls = access.tls ?? (tlsRequiredByUrl(servers) ? {} : undefined);
  // One without the other: the runtime dropped the certificate, and a server that verifies clients refused it
  // unseen, the connect ending at its timeout (the CLI checks its flags likewise).
  if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) throw new Error("tls: cert and key go together (the client certificate and its private key)");
  if (tls !== undefined) o.tls = { ...tls };
  return o;
}

/**
 * The server refused the credentials (its -ERR 'Authorization Violation', an expired or timed-out authentication):
 * told apart from its other errors by the client's error classes, by name (the client is loaded dynamically).
 */
export function isAuthError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AuthorizationError" || err.name === "UserAuthenticationExpiredError");
}
