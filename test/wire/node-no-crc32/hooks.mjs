// Module hooks (test only): node:zlib resolves to a module with every export of the real one except `crc32`, the
// module namespace a Node older than 20.15 offers. A named import of crc32 then fails to link, as it would there.
import zlib from "node:zlib";

const names = Object.keys(zlib).filter((k) => k !== "crc32" && /^[A-Za-z_$][\w$]*$/.test(k));
const SHIM =
  "data:text/javascript," +
  encodeURIComponent(
    `import z from "node:zlib";\n${names.map((n) => `export const ${n} = z.${n};`).join("\n")}\n` +
      `export default Object.fromEntries(Object.entries(z).filter(([k]) => k !== "crc32"));\n`,
  );

export async function resolve(specifier, context, next) {
  // The shim itself imports the real module.
  if ((specifier === "node:zlib" || specifier === "zlib") && !(context.parentURL ?? "").startsWith("data:")) {
    return { url: SHIM, shortCircuit: true };
  }
  return next(specifier, context);
}
