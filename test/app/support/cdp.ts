/**
 * Headless Chromium driven over the DevTools protocol (one page, on 127.0.0.1 only), for what --dump-dom cannot
 * do: act on the page while it runs (click a row) and read its state back. The browser listens on a loopback port
 * of its own choosing and is killed by close(), its profile directory removed (on a failed open too).
 * Every command has a deadline and fails when the browser goes away: a test's `finally` then runs and closes the
 * page, where a command left waiting for ever would leave the browser running past the test's timeout.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headlessArgs } from "./chromium-args.ts";

export interface CdpPage {
  /** The browser's process id (tests). */
  readonly pid: number;
  /** The value of `expression` evaluated in the page (awaited when it is a promise); fails after `timeoutMs`. */
  evaluate<T>(expression: string, timeoutMs?: number): Promise<T>;
  /** Kills the browser (SIGKILL if it has not exited 10 s after SIGTERM) and removes its profile; idempotent. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Run in the page before any of its own scripts (the page's Content-Security-Policy does not apply to it). */
  beforeLoad?: string;
  /** How long one DevTools command may take before it fails (an evaluation's unless given); default 30 s. */
  commandTimeoutMs?: number;
}

/** Opens `url` in a new headless Chromium. */
export async function openPage(bin: string, url: string, opts: OpenOptions = {}): Promise<CdpPage> {
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`refusing to load ${url}: loopback only`);
  const commandTimeoutMs = opts.commandTimeoutMs ?? 30_000;
  const profile = mkdtempSync(join(tmpdir(), "feeder-cdp-"));
  const args = [...headlessArgs(profile), "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"];
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let ws: WebSocket | undefined;
  let closing: Promise<void> | undefined;
  const cleanup = () =>
    (closing ??= (async () => {
      ws?.close();
      if (proc) {
        proc.kill();
        const killer = setTimeout(() => proc!.kill("SIGKILL"), 10_000);
        await proc.exited;
        clearTimeout(killer);
      }
      rmSync(profile, { recursive: true, force: true });
    })());
  try {
    // Inside the try: a binary that cannot be started (ENOENT) throws here, and its profile is still removed.
    proc = Bun.spawn([bin, ...args], { stdout: "ignore", stderr: "pipe", cwd: profile });
    const wsUrl = await devtoolsUrl(proc.stderr as ReadableStream<Uint8Array>);
    const socket = (ws = new WebSocket(wsUrl));
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`cannot connect to ${wsUrl} within ${commandTimeoutMs} ms`)), commandTimeoutMs);
      socket.onopen = () => (clearTimeout(deadline), resolve());
      socket.onerror = () => (clearTimeout(deadline), reject(new Error(`cannot connect to ${wsUrl}`)));
    });
    let nextId = 1;
    let gone: Error | undefined;
    const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
    // The browser gone (crashed, killed, closed): every command waiting fails now, as does every later one.
    const fail = (why: string) => {
      gone ??= new Error(why);
      for (const w of waiting.values()) w.reject(gone);
      waiting.clear();
    };
    socket.onclose = () => fail("the browser's DevTools connection closed");
    socket.onerror = () => fail("the browser's DevTools connection failed");
    void proc.exited.then((code) => fail(`the browser exited (${code})`));
    socket.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const w = msg.id === undefined ? undefined : waiting.get(msg.id);
      if (!w) return;
      waiting.delete(msg.id!);
      if (msg.error) w.reject(new Error(msg.error.message));
      else w.resolve(msg.result);
    };
    const send = (method: string, params: object = {}, sessionId?: string, timeoutMs = commandTimeoutMs): Promise<any> =>
      new Promise((resolve, reject) => {
        if (gone) return reject(gone);
        const id = nextId++;
        const deadline = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${method}: no answer from the browser within ${timeoutMs} ms`));
        }, timeoutMs);
        const settle = <A>(f: (a: A) => void) => (a: A) => {
          clearTimeout(deadline);
          f(a);
        };
        waiting.set(id, { resolve: settle(resolve), reject: settle(reject) });
        socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
      });
    const { targetId } = await send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
    await send("Page.enable", {}, sessionId);
    if (opts.beforeLoad) await send("Page.addScriptToEvaluateOnNewDocument", { source: opts.beforeLoad }, sessionId);
    await send("Page.navigate", { url }, sessionId);
    return {
      pid: proc.pid,
      async evaluate<T>(expression: string, timeoutMs?: number): Promise<T> {
        const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId, timeoutMs);
        if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The browser's DevTools WebSocket URL, from its "DevTools listening on ws://…" line; stderr is drained on after it. */
function devtoolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  return new Promise((resolve, reject) => {
    const decoder = new TextDecoder();
    let text = "";
    let found = false;
    const deadline = setTimeout(() => reject(new Error(`chromium printed no DevTools URL within 60 s: ${text.slice(-2000)}`)), 60_000);
    void (async () => {
      for await (const chunk of stderr) {
        if (found) continue;
        text += decoder.decode(chunk, { stream: true });
        const m = /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(text);
        if (m) {
          found = true;
          clearTimeout(deadline);
          resolve(m[1]!);
        }
      }
      clearTimeout(deadline);
      if (!found) reject(new Error(`chromium printed no DevTools URL: ${text.slice(-2000)}`));
    })();
  });
}
