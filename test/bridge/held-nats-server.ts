/** A NATS server that holds its greeting until the test lets it go (rev26-stop-while-connecting, start-twice). */
const INFO = `INFO {"server_id":"rev26","server_name":"rev26","version":"2.10.0","proto":1,"host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576}\r\n`;

/**
 * A minimal NATS server on 127.0.0.1 (stopped through `stops`): it greets (INFO) only once `greet()` is called, answers PING with PONG, and counts the
 * connections it was given, the ones closed, and SUB commands. With `holdPongs()`, a connection's PINGs after its
 * first (the connect's) are counted (`heldPings`) and not answered until `answerPongs()`: a flush that never ends.
 * `drop()` closes every connection open now (the client reconnects by itself).
 */
export function heldNatsServer(stops: (() => Promise<void> | void)[]) {
  const state = { opened: 0, closed: 0, subs: 0, heldPings: 0 };
  const waiting: { write(s: string): void }[] = [];
  let greeted = false;
  let holding = false;
  const answered = new Map<unknown, number>();
  const held: { write(s: string): void }[] = [];
  const open = new Set<{ end(): void }>();
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        state.opened++;
        open.add(s);
        if (greeted) s.write(INFO);
        else waiting.push(s);
      },
      data(s, data) {
        const text = data.toString();
        for (const _ of text.matchAll(/(^|\n)SUB /g)) state.subs++;
        for (const _ of text.matchAll(/PING\r\n/g)) {
          const n = answered.get(s) ?? 0;
          if (holding && n > 0) {
            state.heldPings++;
            held.push(s);
            continue;
          }
          answered.set(s, n + 1);
          s.write("PONG\r\n");
        }
      },
      close(s) {
        open.delete(s);
        state.closed++;
      },
    },
  });
  stops.push(() => server.stop(true));
  return {
    url: `nats://127.0.0.1:${server.port}`,
    state,
    greet() {
      greeted = true;
      for (const s of waiting.splice(0)) s.write(INFO);
    },
    holdPongs() {
      holding = true;
    },
    drop() {
      for (const s of [...open]) s.end();
    },
    answerPongs() {
      holding = false;
      for (const s of held.splice(0)) s.write("PONG\r\n");
    },
  };
}

