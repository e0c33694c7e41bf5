/**
 * How a message names the value of a setting that should be the path of a secret's file (`nats.password_file`,
 * `--nats-token-file`, …) when that file cannot be read: the secret itself given there by mistake (`password_file =
 * "hunter2"`) would otherwise be printed by the error, the log and check-config, though a secret is never logged.
 * Only a value that looks like a path is shown: absolute with a directory (`/etc/feeder/nats-password`), or starting
 * `./`, `../` or `~/`, without spaces or control characters. Anything else (a bare name, `dir/name`: base64 tokens
 * hold slashes) is said to be hidden, with the same words for every value; the system's reason is given without the
 * path (reasonWithoutPath).
 * Also for HMAC key files (`publish.auth_key_file`, `--auth-key-file`). Cold path.
 * @module
 */

/** Whether `value` is shown (see the module). */
export function looksLikePath(value: string): boolean {
  return /^(?:\/[^/]+\/.|\.\.?\/|~\/)/.test(value) && !/[\s\0-\x1f\x7f]/.test(value);
}

/** The value quoted, or what stands for it when it may be the secret itself. */
export function shownPath(value: string): string {
  return looksLikePath(value) ? JSON.stringify(value) : `(its value not shown: ${whyNotShown()})`;
}

/**
 * Why a value is not shown (the same words for every hidden value): which forms are shown, and nothing of the value (until 2026-12-07 it named the rule the
 * value failed, "holds a space", "absolute but not /dir/name": a little of the secret). True of `/nonexistent` too,
 * and of `/etc/feeder/my key` (until s-rd17c "not a /dir/name or ./name path": false of it).
 */
export function whyNotShown(): string {
  return "only a path like /dir/name, ./name, ../name or ~/name without spaces or control characters is shown, it may be the secret itself";
}

/**
 * The system's reason (`ENOENT: no such file or directory`) without the path it names (`, open 'PATH'`), as it is or
 * escaped: a path with a NUL is quoted by the runtime's argument check (`Received "a\u0000b"`), and was shown whole
 * after "its value not shown" (until 2026-12-06).
 */
export function reasonWithoutPath(err: Error, path: string): string {
  const e = err as NodeJS.ErrnoException;
  const at = e.syscall === undefined ? -1 : e.message.indexOf(`, ${e.syscall} `);
  const reason = at < 0 ? e.message : e.message.slice(0, at);
  if (path === "") return reason;
  return reason.split(path).join("…").split(JSON.stringify(path).slice(1, -1)).join("…");
}
