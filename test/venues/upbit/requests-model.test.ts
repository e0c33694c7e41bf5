/**
 * UpbitRequests against a simple model of the venue, randomized (fake timers: the pacing, the probes' error wait and
 * the venue's answers all on one clock). The venue: a request's code list replaces the socket's subscription and
 * each code answers with its SNAPSHOT; a list naming a code it does not serve draws one error frame and changes
 * nothing (the simulator's rule, docs/venues/upbit.md; Upbit's own is not documented); books of subscribed codes at
 * random; every answer a little later on the socket the request went on. Events at random: codes subscribed (valid
 * and not), closed (ConnectionLifecycle.retireAll), a planned reconnect's swap and its end (the old socket gone, or
 * gone back to it, as planned-reconnect.ts does), an ordinary reconnect. Asserted throughout: no book is LIVE that
 * the socket feeding it is not subscribed to; a PENDING code's stale clock starts at or after a write naming it; no
 * two lists wait one behind the other; no code refused is valid. At the end: every wanted valid code is streamed and
 * LIVE, every wanted invalid one refused. Not held against requests.ts (a window it cannot close): a list on its way
 * that the venue will refuse. Gone back to the old socket, or that socket gone, a book the other socket alone fed
 * leaves LIVE there (planned-reconnect.ts goBack and retired, mimicked; before 2026-12-07 such books stayed LIVE until
 * the next book, and this test let them).
 */
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, type TopicState } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { UpbitRequests } from "../../../src/venues/upbit/requests.ts";
import { rng } from "../../support/mulberry32.ts";
import { SendRecordingConnection } from "../common/fake-connection.ts";
import { quietLifecycleOptions } from "../common/quiet-lifecycle.ts";

const ERROR_WAIT_MS = 1_000;
const CODES = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"];

beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: 0 }));
afterEach(() => void vi.useRealTimers());

/** One socket at the venue: its subscription and the requests written to it. */
class VenueSocket {
  subs = new Set<string>();
  /** Error frames on their way: until one comes, the last list looks asked for (a window no client can close). */
  errorsOut = 0;
  readonly writes: { ms: number; codes: string[] }[] = [];
  closed = false;
  constructor(
    readonly id: number,
    private readonly onWrite: (s: VenueSocket, text: string) => void,
  ) {}
  send(text: string): void {
    if (this.closed) throw new Error(`socket ${this.id} closed`);
    this.onWrite(this, text);
  }
  close(): void {
    this.closed = true;
  }
}

async function run(seed: number): Promise<void> {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const invalid = new Set(CODES.filter(() => random() < 0.25).map((c) => `KRW-${c}`));
  const conn = new SendRecordingConnection(0, "spot");
  const topics = conn.addTopics(CODES.map((c) => `book.KRW-${c}`), 30);
  const control = new UpbitRequests("upbit", silentLogger, () => Date.now(), (t, state) => void (t.book = state), undefined, ERROR_WAIT_MS);
  const lifecycle = new ConnectionLifecycle("upbit", [conn], control, { invalidate: (t, state) => void (t.book = state), resync: () => undefined }, quietLifecycleOptions(() => Date.now()));
  const code = (t: TopicState) => t.symbol;
  const wanted = new Set<TopicState>(); // subscribed by the test and not closed
  const closed = new Set<TopicState>();
  const askedMs = new Map<TopicState, number>(); // when it was last asked for on the connection's socket
  let where = "";
  const trace: string[] = [];

  // The venue.
  let sockets = 0;
  const answer = (s: VenueSocket, f: () => void) => setTimeout(() => !s.closed && f(), 5 + int(120));
  const onWrite = (s: VenueSocket, text: string) => {
    if (text === "PING") return;
    const codes = (JSON.parse(text) as [unknown, { codes: string[] }])[1].codes.map((c) => c.replace(/\.30$/, ""));
    s.writes.push({ ms: Date.now(), codes });
    trace.push(`${Date.now()} write s${s.id} ${codes}`);
    if (codes.some((c) => invalid.has(c))) {
      s.errorsOut++;
      answer(s, () => (s.errorsOut--, deliverError(s)));
    }
    else {
      s.subs = new Set(codes);
      for (const c of codes) answer(s, () => s.subs.has(c) && deliverBook(s, c));
    }
  };
  const newSocket = () => new VenueSocket(++sockets, onWrite) as unknown as WebSocket;
  const venue = (ws: WebSocket | null) => ws as unknown as VenueSocket | null;

  // The adapter's part (adapter.ts onControl, onBook's guard and first-book rule).
  const deliverError = (s: VenueSocket) => {
    trace.push(`${Date.now()} error s${s.id}${venue(conn.ws) === s ? "" : " (ignored)"}`);
    if (venue(conn.ws) === s) control.onError(conn, "INVALID_PARAM", "잘못된 파라미터입니다.");
    // On the old socket of a planned reconnect: counted and ignored (adapter.ts onControl); on a socket gone: nothing.
  };
  const deliverBook = (s: VenueSocket, c: string) => {
    const fromRetiring = venue(conn.retiringWs) === s;
    if (venue(conn.ws) !== s && !fromRetiring) return;
    const t = topics.find((x) => code(x) === c)!;
    if (t.sub === SUB_IDLE || t.sub === SUB_REJECTED || t.offRequest) return;
    if (t.sub === SUB_PENDING) {
      if (!fromRetiring) t.sub = SUB_ACTIVE;
      else t.onRetiring = true; // the old socket's own request answered: it serves the code
    }
    t.lastMsgMs = Date.now();
    if (t.book !== BookState.LIVE) trace.push(`${Date.now()} LIVE ${c} from s${s.id}`);
    t.book = BookState.LIVE;
  };

  const check = () => {
    try {
      check1();
    } catch (e) {
      console.log(trace.join("\n"));
      throw e;
    }
  };
  const check1 = () => {
    const now = venue(conn.ws);
    for (const t of topics) {
      const c = code(t);
      if (t.book === BookState.LIVE) {
        const refusing = now !== null && now.errorsOut > 0 && (now.writes.at(-1)?.codes.includes(c) ?? false);
        const fed = (now?.subs.has(c) ?? false) || (venue(conn.retiringWs)?.subs.has(c) ?? false) || refusing;
        expect(fed, `${where}: ${c} LIVE, not subscribed on the socket feeding it (${t.sub} onRetiring ${t.onRetiring}; now ${[...(now?.subs ?? [])]} ${JSON.stringify(now?.writes)}; old ${[...(venue(conn.retiringWs)?.subs ?? [])]}; outbox ${conn.outbox.map((m) => m.reqId)})`).toBe(true);
        expect(wanted.has(t), `${where}: ${c} LIVE unasked`).toBe(true);
      }
      if (t.sub === SUB_REJECTED && !closed.has(t)) expect(invalid.has(c), `${where}: ${c} refused, valid`).toBe(true);
      if (t.sub === SUB_PENDING && !t.subscribeQueued && now) {
        // Its stale clock runs: a request naming it was written on this socket since it was asked, not after its clock.
        const from = askedMs.get(t) ?? 0;
        const named = now.writes.some((w) => w.ms >= from && w.ms <= t.lastMsgMs && w.codes.includes(c));
        expect(named, `${where}: ${c}'s stale clock from ${t.lastMsgMs}, asked at ${from}, before any write naming it`).toBe(true);
      }
    }
    const tags = conn.outbox.filter((m) => m.reqId !== undefined).map((m) => m.reqId!.replace(/\d+$/, ""));
    for (let i = 1; i < tags.length; i++) expect(tags[i - 1] === "list" && tags[i] === "list", `${where}: two lists waiting (${tags})`).toBe(false);
  };

  const advance = (ms: number) => {
    for (let left = ms; left > 0; left -= 100) {
      vi.advanceTimersByTime(Math.min(100, left));
      // Books as the exchange's move (Upbit sends one on a change), on every socket still open.
      for (const s of [venue(conn.ws), venue(conn.retiringWs)]) if (s) for (const c of s.subs) if (random() < 0.3) deliverBook(s, c);
      check();
    }
  };

  // Mimics of the lifecycle's socket changes (planned-reconnect.ts swapWhenSettled, retiringGone, goBack;
  // connection-lifecycle.ts onDisconnected and the open's subscribe).
  const askAll = (ts: TopicState[]) => {
    for (const t of ts) askedMs.set(t, Date.now());
    control.sendRequest(conn, "subscribe", ts);
  };
  const swap = () => {
    conn.retiringWs = conn.ws;
    conn.retiringGeneration = conn.generation;
    conn.ws = newSocket();
    conn.generation = ++conn.genSeq;
    control.dropQueued(conn);
    const toSubscribe: TopicState[] = [];
    for (const t of topics) {
      t.onRetiring = t.sub === SUB_ACTIVE;
      if (t.sub === SUB_REJECTED) continue;
      t.sub = SUB_IDLE;
      if (wanted.has(t)) toSubscribe.push(t);
    }
    askAll(toSubscribe);
  };
  const oldGone = () => {
    venue(conn.retiringWs)!.close();
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    for (const t of topics) {
      if (t.onRetiring && t.sub !== SUB_ACTIVE && t.sub !== SUB_REJECTED && (t.book === BookState.LIVE || t.book === BookState.STALE)) t.book = BookState.RESYNCING;
      t.onRetiring = false;
    }
    control.overlapOver(conn, "replacement");
  };
  const goBack = () => {
    const failed = venue(conn.ws)!;
    conn.ws = conn.retiringWs;
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    conn.generation = ++conn.genSeq;
    control.dropQueued(conn);
    const unsure = control.oldMayNotStream(conn);
    for (const t of topics) {
      const unfed = !t.onRetiring || (unsure?.has(t) ?? false);
      if (unfed && t.sub !== SUB_REJECTED && (t.book === BookState.LIVE || t.book === BookState.STALE)) t.book = BookState.RESYNCING;
    }
    const resubscribe: TopicState[] = [];
    const givenUp: TopicState[] = [];
    for (const t of topics) {
      const served = t.onRetiring;
      t.onRetiring = false;
      if (t.sub === SUB_REJECTED) {
        if (served) givenUp.push(t);
        continue;
      }
      if (served) t.sub = SUB_ACTIVE;
      else {
        t.sub = SUB_IDLE;
        if (wanted.has(t)) resubscribe.push(t);
      }
    }
    for (const t of resubscribe) askedMs.set(t, Date.now());
    control.requestsGoingBack(conn, givenUp, resubscribe);
    control.overlapOver(conn, "old");
    failed.close();
  };
  const reconnect = () => {
    if (conn.retiringWs) oldGone();
    venue(conn.ws)!.close();
    conn.generation = ++conn.genSeq;
    conn.ws = null;
    conn.open = false;
    control.dropQueued(conn);
    for (const t of topics) {
      if (t.sub === SUB_REJECTED) continue;
      t.sub = SUB_IDLE;
      if (t.book === BookState.LIVE) t.book = BookState.RESYNCING;
    }
    advance(100 + int(500));
    conn.ws = newSocket();
    conn.open = true;
    askAll(topics.filter((t) => t.sub === SUB_IDLE && wanted.has(t)));
  };

  conn.ws = newSocket();
  for (let step = 0; step < 70; step++) {
    const op = int(12);
    if (op < 4) {
      const idle = topics.filter((t) => !wanted.has(t) && !closed.has(t));
      const ask = idle.filter(() => random() < 0.3);
      if (ask.length === 0 && idle.length > 0) ask.push(idle[int(idle.length)]!);
      where = `seed ${seed} step ${step}: subscribe ${ask.map(code)}`;
      for (const t of ask) wanted.add(t);
      // Asked during a bisection, a code waits for the list after it (its clock too): asked then.
      for (const t of ask) askedMs.set(t, Date.now());
      control.sendRequest(conn, "subscribe", ask);
    } else if (op < 6 && wanted.size > 0) {
      const list = [...wanted];
      const gone = list.filter(() => random() < 0.2);
      if (gone.length === 0) gone.push(list[int(list.length)]!);
      where = `seed ${seed} step ${step}: close ${gone.map(code)}`;
      for (const t of gone) wanted.delete(t), closed.add(t);
      lifecycle.retireAll(gone, StatusReason.INSTRUMENT_CLOSED);
    } else if (op === 6) {
      where = `seed ${seed} step ${step}: ${conn.retiringWs ? "old socket gone" : "swap"}`;
      if (conn.retiringWs) oldGone();
      else swap();
    } else if (op === 7 && conn.retiringWs) {
      where = `seed ${seed} step ${step}: gone back`;
      goBack();
    } else if (op === 8 && random() < 0.3) {
      where = `seed ${seed} step ${step}: reconnect`;
      reconnect();
    } else {
      where = `seed ${seed} step ${step}: time`;
    }
    trace.push(`${Date.now()} ${where}`);
    check();
    advance(100 * int(15));
  }
  if (conn.retiringWs) oldGone();
  where = `seed ${seed}: quiet`;
  advance(120_000);
  for (const t of topics) {
    if (!wanted.has(t)) continue;
    const c = code(t);
    if (invalid.has(c)) expect(t.sub, `seed ${seed}: ${c}, invalid, refused`).toBe(SUB_REJECTED);
    else {
      expect(venue(conn.ws)!.subs.has(c), `seed ${seed}: ${c} streamed`).toBe(true);
      expect(t.book, `seed ${seed}: ${c} LIVE`).toBe(BookState.LIVE);
    }
  }
  conn.ws = null;
  await lifecycle.stop();
  control.stop();
}

test("UpbitRequests against a model of the venue: subscribes, closes, invalid codes, planned and plain reconnects at random", async () => {
  // SEED_FROM / SEEDS: a longer search by hand (seeds 1–1500 passed on 2026-12-07; seed 28 failed before the fixes).
  const from = Number(process.env.SEED_FROM ?? 1);
  for (let seed = from; seed < from + Number(process.env.SEEDS ?? 40); seed++) await run(seed);
});
