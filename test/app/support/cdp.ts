/**
 * Headless Chromium driven over the DevTools protocol (pages on 127.0.0.1 only): act on a page while it runs (click
 * a row) and read its state back, or read it after a budget of its own virtual time (as --dump-dom did). One browser serves a whole test file (a
 * launch costs seconds on a loaded machine): each page opens in a browser context of its own (its own storage,
 * cookies and cache), so a test never sees another's page state. The browser listens on a loopback port of its own
 * choosing and is killed by close(), its profile directory removed (on a failed launch too).
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
  /** A PNG of the page's viewport. */
  screenshot(): Promise<Uint8Array>;
  /** Closes the page and its browser context; idempotent. */
  close(): Promise<void>;
}

export interface PageOptions {
  /** Run in the page before any of its own scripts (the page's Content-Security-Policy does not apply to it). */
  beforeLoad?: string;
  /**
   * Run the page in virtual time, as --virtual-time-budget: its timers fire without waiting, time stands still
   * while a request is pending, and open() returns once this many virtual milliseconds ran; the page's time then
   * stays paused (what is read after is what it drew by then).
   */
  virtualTimeBudgetMs?: number;
  /** The viewport, CSS pixels at scale 1 (default 1400 × 1000). */
  width?: number;
  height?: number;
}

export interface LaunchOptions {
  /** How long one DevTools command may take before it fails (an evaluation's unless given); default 30 s. */
  commandTimeoutMs?: number;
}

export interface CdpBrowser {
  /** The browser's process id (tests). */
  readonly pid: number;
  /** Opens `url` in a new page of a new browser context. */
  open(url: string, opts?: PageOptions): Promise<CdpPage>;
  /** Kills the browser (SIGKILL if it has not exited 10 s after SIGTERM) and removes its profile; idempotent. */
  close(): Promise<void>;
}

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: unknown;
  result?: unknown;
  error?: { message: string };
}

/** Starts a headless Chromium for pages opened with open(). */
export async function launchBrowser(bin: string, opts: LaunchOptions = {}): Promise<CdpBrowser> {
  const commandTimeoutMs = opts.commandTimeoutMs ?? 30_000;
  const profile = mkdtempSync(join(tmpdir(), "feeder-cdp-"));
  const args = [...headlessArgs(profile), "--hide-scrollbars", "--force-device-scale-factor=1", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"];
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
    /** Events waited for: `take` says whether a message is the one, then it is settled and dropped. */
    const events = new Set<{ take: (m: Message) => boolean; reject: (e: Error) => void }>();
    // The browser gone (crashed, killed, closed): every command or event waiting fails now, as does every later one.
    const fail = (why: string) => {
      gone ??= new Error(why);
      for (const w of waiting.values()) w.reject(gone);
      waiting.clear();
      for (const e of events) e.reject(gone);
      events.clear();
    };
    socket.onclose = () => fail("the browser's DevTools connection closed");
    socket.onerror = () => fail("the browser's DevTools connection failed");
    void proc.exited.then((code) => fail(`the browser exited (${code})`));
    socket.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data)) as Message;
      if (msg.id === undefined) {
        for (const e of events) if (e.take(msg)) events.delete(e);
        return;
      }
      const w = waiting.get(msg.id);
      if (!w) return;
      waiting.delete(msg.id);
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
    /** The next `method` event of `sessionId`; register before the command that causes it. */
    const event = (method: string, sessionId: string, timeoutMs: number): Promise<void> =>
      new Promise((resolve, reject) => {
        if (gone) return reject(gone);
        const deadline = setTimeout(() => {
          events.delete(entry);
          reject(new Error(`${method}: not seen within ${timeoutMs} ms`));
        }, timeoutMs);
        const entry = {
          take: (m: Message) => {
            if (m.method !== method || m.sessionId !== sessionId) return false;
            clearTimeout(deadline);
            resolve();
            return true;
          },
          reject: (e: Error) => (clearTimeout(deadline), reject(e)),
        };
        events.add(entry);
      });

    const pid = proc.pid;
    const open = async (url: string, o: PageOptions = {}): Promise<CdpPage> => {
      if (!url.startsWith("http://127.0.0.1:")) throw new Error(`refusing to load ${url}: loopback only`);
      // A budget of 0 never expires (the browser waits for time to be let run): refused rather than left hanging.
      if (o.virtualTimeBudgetMs !== undefined && !(o.virtualTimeBudgetMs > 0)) throw new Error(`virtualTimeBudgetMs must be above 0, not ${o.virtualTimeBudgetMs}`);
      const { browserContextId } = await send("Target.createBrowserContext");
      let targetId: string | undefined;
      let pageClosing: Promise<void> | undefined;
      // A browser already gone has nothing left to close: its errors are not the test's.
      const closePage = () =>
        (pageClosing ??= (async () => {
          if (targetId) await send("Target.closeTarget", { targetId }).catch(() => {});
          await send("Target.disposeBrowserContext", { browserContextId }).catch(() => {});
        })());
      try {
        ({ targetId } = await send("Target.createTarget", { url: "about:blank", browserContextId }));
        const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
        await send("Page.enable", {}, sessionId);
        await send("Emulation.setDeviceMetricsOverride", { width: o.width ?? 1400, height: o.height ?? 1000, deviceScaleFactor: 1, mobile: false }, sessionId);
        if (o.beforeLoad) await send("Page.addScriptToEvaluateOnNewDocument", { source: o.beforeLoad }, sessionId);
        if (o.virtualTimeBudgetMs === undefined) {
          await send("Page.navigate", { url }, sessionId);
        } else {
          // Paused until the page is asked for, so none of the budget runs on about:blank.
          await send("Emulation.setVirtualTimePolicy", { policy: "pause" }, sessionId);
          await send("Page.navigate", { url }, sessionId);
          const expired = event("Emulation.virtualTimeBudgetExpired", sessionId, Math.max(commandTimeoutMs, 60_000));
          expired.catch(() => {}); // the command below may fail first: then its error is the one thrown
          await send("Emulation.setVirtualTimePolicy", { policy: "pauseIfNetworkFetchesPending", budget: o.virtualTimeBudgetMs }, sessionId);
          await expired;
        }
        return {
          pid,
          async evaluate<T>(expression: string, timeoutMs?: number): Promise<T> {
            const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId, timeoutMs);
            if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
            return r.result.value as T;
          },
          async screenshot(): Promise<Uint8Array> {
            const { data } = await send("Page.captureScreenshot", { format: "png" }, sessionId);
            return new Uint8Array(Buffer.from(data as string, "base64"));
          },
          close: closePage,
        };
      } catch (err) {
        await closePage();
        throw err;
      }
    };
    return { pid, open, close: cleanup };
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
