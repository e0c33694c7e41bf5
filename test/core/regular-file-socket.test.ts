/**
 * readRegularFileSync on a Unix socket: open(2) answers ENXIO, so the refusal said "ENXIO: no such device or
 * address" (a configuration error read "cannot read the file (ENXIO)"), where a FIFO or a device is named by what it
 * is. A socket is now named too: "not a regular file but a socket".
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { NotRegularFileError, readRegularFileSync } from "../../src/core/regular-file.ts";

let dir: string | undefined;
let server: Server | undefined;
afterEach(async () => {
  if (server !== undefined) await new Promise<void>((res) => server!.close(() => res()));
  server = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function socketAt(): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), "feeder-socket-"));
  const path = join(dir, "feeder.toml");
  const s = createServer();
  server = s;
  await new Promise<void>((res, rej) => {
    s.once("error", rej);
    s.listen(path, () => res());
  });
  return path;
}

describe("readRegularFileSync: a Unix socket", () => {
  it("is refused by what it is, read once or not", async () => {
    const path = await socketAt();
    for (const opts of [{}, { fifo: true }]) {
      let err: unknown;
      try {
        readRegularFileSync(path, opts);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NotRegularFileError);
      expect((err as Error).message).toBe("not a regular file but a socket");
    }
  });

  it("as the configuration: a configuration error naming the socket", async () => {
    const path = await socketAt();
    let err: unknown;
    try {
      loadConfigFile(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([`${path}: not a regular file but a socket: the configuration must be a regular file`]);
  });
});
