/** Wire protocol v1 (docs/wire-protocol.md): layout constants, encoder, packer, decoders. @module */
export * from "./layout.ts";
export * from "./packer.ts";
export * from "./encoder.ts";
export * from "./decoder.ts";
export * from "./decode-objects.ts";
