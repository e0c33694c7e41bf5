/** A local HTTP server that takes every request and never answers it: a venue's instrument REST that hangs. */
export interface SilentRest {
  url: string;
  /** How many requests have arrived. */
  requests(): number;
  /** Stops the server, ending the requests still open. */
  stop(): void;
}

export function startSilentRest(): SilentRest {
  let requests = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      requests++;
      return new Promise<Response>(() => undefined); // never answers
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests: () => requests, stop: () => server.stop(true) };
}
