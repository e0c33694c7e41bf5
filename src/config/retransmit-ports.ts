/**
 * The ports publish.retransmit's request servers listen on, as net/retransmit-server.ts binds them: one server in
 * process (workers = 1: the port itself), or worker i's on port + i + 1. Shared by the loader (a destination sent to
 * our own server) and the start-up checks (a port another process holds).
 * @module
 */
import type { RetransmitConfig } from "./types.ts";

/** Each server's port with the worker it belongs to (undefined: in process); [] for port 0 (each picks a free one). */
export function retransmitServerPorts(rt: RetransmitConfig, workers: number): { port: number; worker: number | undefined }[] {
  if (rt.port === 0) return [];
  if (workers <= 1) return [{ port: rt.port, worker: undefined }];
  return Array.from({ length: workers }, (_, i) => ({ port: rt.port + i + 1, worker: i }));
}
