/** Wire protocol v3 (docs/wire-protocol.md): layout constants, encoder, packer, decoders. @module */
export * from "./layout.ts";
export * from "./packer.ts";
export * from "./encoder.ts";
export * from "./decoder.ts";
export * from "./decode-objects.ts";
export * from "./crc32.ts";
export * from "./crc32c.ts";
export * from "./exact-views.ts";
export * from "./auth.ts";
