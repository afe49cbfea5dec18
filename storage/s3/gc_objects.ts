/**
 * The objects by which the servers of one bucket coordinate garbage collection (pure: keys and
 * bodies; docs/s3_repository_plan.md §1.1 and §3):
 *
 * ```text
 * PREFIX g/lock/RAND      the prune lock of one contender (body: who, for people reading it)
 * PREFIX g/pins/SESSION   an upload's pin: its user, its session, the packs it deduplicated against
 * PREFIX g/doomed/RUN     a tombstone: the packs one GC run found unreferenced
 * ```
 *
 * Packs are named by their key relative to PREFIX, `p/USER/SESSION.N`, so that a pin protects
 * every pack of its session by the prefix `p/USER/SESSION.` (as Kopia names packs after their
 * session, `repo/content/sessions.go:20-21`). A pin or tombstone that does not parse is refused
 * with `CorruptStoreError`: GC must not guess what it protects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePin, encodePin, sessionPacksPrefix } from "./gc_objects.ts";
 * const pin = { userId: 7, session: "00112233445566ff", packs: ["p/7/aabbccddeeff0011.2"] };
 * assert.deepEqual(decodePin(encodePin(pin)), pin);
 * assert.equal(sessionPacksPrefix(7, pin.session), "p/7/00112233445566ff.");
 * ```
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { CorruptStoreError } from "../storage.ts";

/**
 * What the GC modules need of the store (an `S3Client` is one): the raw client, because only its
 * listings carry the store's clock and only its requests take `signedAt`.
 */
export type GcBucket = Pick<S3Client, "put" | "get" | "delete" | "list">;

/** The magic of a pin's body. */
export const PIN_FORMAT = "BKPIN001";
/** The magic of a tombstone's body. */
export const TOMBSTONE_FORMAT = "BKDOOM01";

/** An upload's pin: what a GC mark must not doom while it is fresh. */
export interface Pin {
  /** Whose upload. */
  userId: number;
  /** 16 hex digits: every pack `p/USER/SESSION.*` is the upload's own. */
  session: string;
  /** Packs (keys relative to the prefix) the upload deduplicated against so far. */
  packs: string[];
}

/** The folder of the prune lock's contenders. */
export function lockPrefix(prefix: string): string {
  return `${prefix}g/lock/`;
}

/** The folder of the pins. */
export function pinsPrefix(prefix: string): string {
  return `${prefix}g/pins/`;
}

/** The folder of the tombstones. */
export function tombstonesPrefix(prefix: string): string {
  return `${prefix}g/doomed/`;
}

/** The key of the pin of `session`. */
export function pinKey(prefix: string, session: string): string {
  return `${pinsPrefix(prefix)}${session}`;
}

/** The key prefix (relative to the store's prefix) of every pack of `session`. */
export function sessionPacksPrefix(userId: number, session: string): string {
  return `p/${userId}/${session}.`;
}

/** 16 random hex digits: a session, a lock or a GC run. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const SESSION = /^[0-9a-f]{16}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A pin's body. */
export function encodePin(pin: Pin): Uint8Array {
  const { userId, session, packs } = pin;
  return encoder.encode(JSON.stringify({ format: PIN_FORMAT, userId, session, packs }));
}

/**
 * Reads a pin's body.
 * @throws {CorruptStoreError} if `body` is not a pin.
 */
export function decodePin(body: Uint8Array): Pin {
  const value = parse(body, PIN_FORMAT);
  const { userId, session, packs } = value;
  if (
    !Number.isSafeInteger(userId) || (userId as number) < 0 || typeof session !== "string" ||
    !SESSION.test(session) || !isPackList(packs)
  ) {
    throw new CorruptStoreError(`not a ${PIN_FORMAT} pin: ${JSON.stringify(value).slice(0, 200)}`);
  }
  return { userId: userId as number, session, packs };
}

/** A tombstone's body: the packs one GC run doomed. */
export function encodeTombstone(packs: readonly string[]): Uint8Array {
  return encoder.encode(JSON.stringify({ format: TOMBSTONE_FORMAT, packs }));
}

/**
 * Reads a tombstone's body: its packs.
 * @throws {CorruptStoreError} if `body` is not a tombstone.
 */
export function decodeTombstone(body: Uint8Array): string[] {
  const { packs } = parse(body, TOMBSTONE_FORMAT);
  if (!isPackList(packs)) throw new CorruptStoreError(`not a ${TOMBSTONE_FORMAT} tombstone`);
  return packs;
}

function parse(body: Uint8Array, format: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch (error) {
    throw new CorruptStoreError(`not a ${format} object: ${(error as Error).message}`);
  }
  if (
    typeof value !== "object" || value === null || (value as { format?: unknown }).format !== format
  ) {
    throw new CorruptStoreError(`not a ${format} object`);
  }
  return value as Record<string, unknown>;
}

function isPackList(packs: unknown): packs is string[] {
  return Array.isArray(packs) &&
    packs.every((pack) => typeof pack === "string" && pack.startsWith("p/"));
}
