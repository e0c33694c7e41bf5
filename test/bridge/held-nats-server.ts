/** A NATS server that holds its greeting until the test lets it go (rev26-stop-while-connecting, start-twice). */
const INFO = `INFO {"server_id":"rev26","server_name":"rev26","version":"2.10.0","proto":1,"host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576}\r\n`;

/**
 * A minimal NATS server on 127.0.0.1 (stopped through `stops`): it greets (INFO) only once `greet()` is called, answers PING with PONG, and counts the
 * connections it was given, the ones closed, and SUB commands.
 */
export function heldNatsServer(stops: (() => Promise<void> | void)[]) {
  const state = { opened: 0, closed: 0, subs: 0 };
  const waiting: { write(s: string): void }[] = [];
  let greeted = false;
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        state.opened++;
        if (greeted) s.write(INFO);
        else waiting.push(s);
      },
      data(s, data) {
        const text = data.toString();
        for (const _ of text.matchAll(/PING\r\n/g)) s.write("PONG\r\n");
        for (const _ of text.matchAll(/(^|\n)SUB /g)) state.subs++;
      },
      close() {
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
  };
}

