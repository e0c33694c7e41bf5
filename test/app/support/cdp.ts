/**
 * Headless Chromium driven over the DevTools protocol (one page, on 127.0.0.1 only), for what --dump-dom cannot
 * do: act on the page while it runs (click a row) and read its state back. The browser listens on a loopback port
 * of its own choosing and is killed by close().
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CdpPage {
  /** The value of `expression` evaluated in the page (awaited when it is a promise). */
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * Opens `url` in a new headless Chromium; `beforeLoad` is run in the page before any of its own scripts (the
 * page's Content-Security-Policy does not apply to it).
 */
export async function openPage(bin: string, url: string, beforeLoad = ""): Promise<CdpPage> {
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`refusing to load ${url}: loopback only`);
  const profile = mkdtempSync(join(tmpdir(), "feeder-cdp-"));
  const args = [
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    `--user-data-dir=${profile}`,
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
    "about:blank",
  ];
  const proc = Bun.spawn([bin, ...args], { stdout: "ignore", stderr: "pipe", cwd: profile });
  const cleanup = async () => {
    proc.kill();
    await proc.exited;
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const wsUrl = await devtoolsUrl(proc.stderr);
    const ws = new WebSocket(wsUrl);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to ${wsUrl}`));
    });
    let nextId = 1;
    const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
    ws.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const w = msg.id === undefined ? undefined : waiting.get(msg.id);
      if (!w) return;
      waiting.delete(msg.id!);
      if (msg.error) w.reject(new Error(msg.error.message));
      else w.resolve(msg.result);
    };
    const send = (method: string, params: object = {}, sessionId?: string): Promise<any> =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
      });
    const { targetId } = await send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
    await send("Page.enable", {}, sessionId);
    if (beforeLoad) await send("Page.addScriptToEvaluateOnNewDocument", { source: beforeLoad }, sessionId);
    await send("Page.navigate", { url }, sessionId);
    return {
      async evaluate<T>(expression: string): Promise<T> {
        const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
        if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      async close() {
        ws.close();
        await cleanup();
      },
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
