/**
 * The pure codec of the backup protocol, version 2: authenticated sessions, uploads carrying their
 * SHA-256, metadata and past versions. No I/O happens here.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./requests.ts";
export * from "./responses.ts";
export * from "./auth.ts";
