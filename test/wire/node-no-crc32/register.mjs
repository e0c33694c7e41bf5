// `node --import ./register.mjs app.mjs`: the app then sees a node:zlib without `crc32`, as on Node 20.0–20.14
// (test/wire/node-compat.test.ts).
import { register } from "node:module";

register(new URL("./hooks.mjs", import.meta.url));
