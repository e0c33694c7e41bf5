/**
 * A WebSocket proxy on 127.0.0.1 between an adapter and its simulator, for tests of what one socket's path does:
 * each client socket (a link) gets its own upstream socket to the same path on the simulator. What the next link
 * does is set beforehand (`next`): hold what the simulator sends it (released or dropped later), rewrite or drop
 * single frames either way, or have its client side closed by the test. Opening handshakes can be held too
 * (`holdUpgrades`): the client's socket stays CONNECTING until they are released, or refused with a status
 * (`refuseUpgrade`: a venue's 429/418/403 on connect).
 */
import type { Server, ServerWebSocket } from "bun";

export interface LinkRules {
  /** Frames from the simulator wait here (null: forwarded as they come). */
  holdDown?: boolean;
  /** Frames from the adapter wait here (null: forwarded). */
  holdUp?: boolean;
  /** Every frame from the simulator passes through: the text to forward, or null to drop it. */
  rewriteDown?: (frame: string) => string | null;
}

export interface ProxyLink {
  readonly index: number;
  readonly up: WebSocket;
  readonly client: ServerWebSocket<{ link: ProxyLink }>;
  /** Held frames from the simulator / from the adapter (null when not holding). */
  heldDown: string[] | null;
  heldUp: string[] | null;
  rewriteDown: ((frame: string) => string | null) | null;
  /** Everything the adapter sent on this link (held or not). */
  readonly fromClient: string[];
  closed: boolean;
  /** 0 while open; then 1, 2, …: the order the links' client sides closed in (which outlived which). */
  closeOrder: number;
}

export interface WsProxy {
  /** ws://127.0.0.1:PORT: the same paths as the simulator's. */
  readonly origin: string;
  readonly links: ProxyLink[];
  /** Rules of the next link to open (then cleared). */
  next: LinkRules | null;
  /** Rules of the link with this index (0 = the first to open), when `next` is not set. */
  readonly byIndex: Map<number, LinkRules>;
  /** While true, a client's opening handshake waits (its socket stays CONNECTING) until releaseUpgrades(). */
  holdUpgrades: boolean;
  /** Handshakes waiting. */
  readonly upgradesHeld: number;
  /**
   * Asked at each opening handshake (0 = the first; `path` the one asked for, e.g. "/stream"): a status answers it
   * instead of 101 (with `Retry-After: 120`, as Binance's 429 / 418), undefined lets it through.
   */
  refuseUpgrade: ((attempt: number, path: string) => number | undefined) | null;
  /** When each opening handshake arrived (Date.now()), refused or not. */
  readonly upgradesAtMs: number[];
  /** Completes the waiting handshakes (a client that gave up meanwhile gets no link). */
  releaseUpgrades(): void;
  /** Sends what the link held from the simulator (and forwards from then on). */
  releaseDown(link: ProxyLink): void;
  /** Sends what the link held from the adapter (and forwards from then on). */
  releaseUp(link: ProxyLink): void;
  /** Closes the link's client side, as a path that fails would (the adapter sees its socket close). */
  closeClient(link: ProxyLink, code?: number): void;
  stop(): void;
}

export function startWsProxy(upstreamOrigin: string): WsProxy {
  const links: ProxyLink[] = [];
  let closes = 0;
  const proxy: WsProxy = {
    origin: "",
    links,
    next: null,
    byIndex: new Map(),
    holdUpgrades: false,
    refuseUpgrade: null,
    upgradesAtMs: [],
    get upgradesHeld() {
      return heldUpgrades.length;
    },
    releaseUpgrades() {
      for (const go of heldUpgrades.splice(0)) go();
    },
    releaseDown(link) {
      const held = link.heldDown ?? [];
      link.heldDown = null;
      for (const f of held) link.client.send(f);
    },
    releaseUp(link) {
      const held = link.heldUp ?? [];
      link.heldUp = null;
      for (const m of held) sendUp(link, m);
    },
    closeClient(link, code = 1011) {
      link.client.close(code, "proxy closed the path");
    },
    stop() {
      server.stop(true);
    },
  };
  const heldUpgrades: (() => void)[] = [];
  const pendingUp = new Map<ProxyLink, string[]>();
  const sendUp = (link: ProxyLink, m: string) => {
    if (link.up.readyState === WebSocket.OPEN) link.up.send(m);
    else pendingUp.get(link)?.push(m);
  };
  const server: Server<{ link: ProxyLink; path: string }> = Bun.serve<{ link: ProxyLink; path: string }>({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, srv) {
      if (proxy.holdUpgrades) await new Promise<void>((go) => heldUpgrades.push(go));
      const u = new URL(req.url);
      proxy.upgradesAtMs.push(Date.now());
      const status = proxy.refuseUpgrade?.(proxy.upgradesAtMs.length - 1, u.pathname);
      if (status !== undefined) return new Response("refused by the test", { status, headers: { "retry-after": "120" } });
      if (srv.upgrade(req, { data: { link: null as unknown as ProxyLink, path: u.pathname + u.search } })) return undefined;
      return new Response("websocket only", { status: 400 });
    },
    websocket: {
      open(ws) {
        const rules = proxy.next ?? proxy.byIndex.get(links.length) ?? {};
        proxy.next = null;
        const link: ProxyLink = {
          index: links.length,
          up: new WebSocket(upstreamOrigin + ws.data.path),
          client: ws as unknown as ServerWebSocket<{ link: ProxyLink }>,
          heldDown: rules.holdDown ? [] : null,
          heldUp: rules.holdUp ? [] : null,
          rewriteDown: rules.rewriteDown ?? null,
          fromClient: [],
          closed: false,
          closeOrder: 0,
        };
        ws.data.link = link;
        links.push(link);
        pendingUp.set(link, []);
        link.up.onopen = () => {
          for (const m of pendingUp.get(link) ?? []) link.up.send(m);
          pendingUp.set(link, []);
        };
        link.up.onmessage = (ev) => {
          let f: string | null = String(ev.data);
          if (link.rewriteDown) f = link.rewriteDown(f);
          if (f === null) return;
          if (link.heldDown !== null) link.heldDown.push(f);
          else if (!link.closed) ws.send(f);
        };
        link.up.onclose = () => {
          if (!link.closed) ws.close();
        };
      },
      message(ws, m) {
        const link = ws.data.link;
        const text = String(m);
        link.fromClient.push(text);
        if (link.heldUp !== null) link.heldUp.push(text);
        else sendUp(link, text);
      },
      close(ws) {
        ws.data.link.closed = true;
        ws.data.link.closeOrder = ++closes;
        ws.data.link.up.close();
      },
    },
  });
  (proxy as { origin: string }).origin = `ws://127.0.0.1:${server.port}`;
  return proxy;
}
