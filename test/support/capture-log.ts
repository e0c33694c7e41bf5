/**
 * A Logger that keeps its warn and error lines (debug dropped; info too unless `info`), for tests that assert what was
 * logged.
 */
import type { Logger } from "../../src/core/log.ts";

export interface CapturedLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

export function captureLog(opts: { info?: boolean } = {}): { log: Logger; lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const log: Logger = {
    debug: () => undefined,
    info: opts.info ? (msg, fields = {}) => void lines.push({ level: "info", msg, fields }) : () => undefined,
    warn: (msg, fields = {}) => void lines.push({ level: "warn", msg, fields }),
    error: (msg, fields = {}) => void lines.push({ level: "error", msg, fields }),
    child: () => log,
  };
  return { log, lines };
}
