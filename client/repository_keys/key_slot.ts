/**
 * The repository's master key and the key slots that wrap it (docs/keys_plan.md §1). The server
 * keeps slots as opaque records; a passphrase or a key file opens one.
 *
 * ```
 * slot = version 1 (1) | slot id (16) | kind (1: passphrase, 2: key file) | log2 N (1) | r (1)
 *        | p (1) | salt (32) | created ms (8, big-endian) | host length (1) | host | user length (1)
 *        | user | nonce (12) | ChaCha20-Poly1305(KEK, nonce, master key, aad) (65 + 16)
 * aad  = "backup key slot v1\0" | every byte of the slot before the nonce
 * KEK  = scrypt(passphrase, salt, N, r, p, 32)                 for a passphrase
 *      = HKDF-SHA-256(key file's 32 bytes, salt, "backup key slot v1", 32)   for a key file
 * master key = version 1 (1) | encryption key (32) | id key (32)
 * ```
 *
 * What is before the nonce (when and where the slot was made, its cost) is readable without the
 * secret, so `key list` can show it; the aad makes it tamper-evident once opened.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, scrypt } from "node:crypto";
import type { RepositoryKey } from "./blob_seal.ts";
import { KeySlotFormatError, WrongKeyError } from "./errors.ts";

/** The scrypt cost of a passphrase slot. */
export interface ScryptCost {
  /** log2 of N (10..22). */
  logN: number;
  /** Block size (1..32). */
  r: number;
  /** Parallelism (1..16). */
  p: number;
}

/** The default cost: 128 MiB of memory, a few tenths of a second (docs/encryption.md). */
export const DEFAULT_SCRYPT_COST: ScryptCost = { logN: 17, r: 8, p: 1 };
/** scrypt's memory (128·N·r) a slot may ask for, at most: a hostile server's slot cannot ask more. */
export const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;
/** scrypt's work (N·r·p) a slot may ask for, at most: 16 times the default's. */
export const MAX_SCRYPT_WORK = 2 ** 24;
/** Bytes of a master key. */
export const MASTER_KEY_BYTES = 65;
/** Bytes of a key file's secret. */
export const KEY_FILE_BYTES = 32;

/** A passphrase, or the 32 bytes of a key file. */
export type SlotSecret = { passphrase: string } | { keyFile: Uint8Array };

/** What a slot says of itself without its secret. */
export interface SlotInfo {
  /** 16 random bytes naming the slot. */
  slotId: Uint8Array;
  /** What opens it. */
  kind: "passphrase" | "key-file";
  /** The scrypt cost (passphrase slots). */
  cost?: ScryptCost;
  /** When it was made (ms since the epoch). */
  createdMs: number;
  /** Where it was made. */
  host: string;
  /** Who made it. */
  user: string;
}

/** What `makeSlot` needs besides the key and the secret. */
export interface SlotOptions {
  /** When (ms since the epoch). */
  createdMs: number;
  /** Where. */
  host: string;
  /** Who. */
  user: string;
  /** Passphrase slots: the scrypt cost. @default DEFAULT_SCRYPT_COST */
  cost?: ScryptCost;
  /** Tests only: fixed random parts. */
  fixed?: { slotId: Uint8Array; salt: Uint8Array; nonce: Uint8Array };
}

const CONTEXT = new TextEncoder().encode("backup key slot v1\0");
const HKDF_INFO = "backup key slot v1";
const KINDS = { passphrase: 1, "key-file": 2 } as const;
const SEALED_BYTES = MASTER_KEY_BYTES + 16;

/** A new random master key. */
export function newMasterKey(): RepositoryKey {
  const bytes = crypto.getRandomValues(new Uint8Array(64));
  return { encryption: bytes.slice(0, 32), id: bytes.slice(32) };
}

/** Wraps `master` in a new slot that `secret` opens. */
export async function makeSlot(
  master: RepositoryKey,
  secret: SlotSecret,
  options: SlotOptions,
): Promise<Uint8Array> {
  const kind = "passphrase" in secret ? "passphrase" : "key-file";
  const cost = kind === "passphrase" ? options.cost ?? DEFAULT_SCRYPT_COST : undefined;
  if (cost) checkCost(cost);
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const slotId = options.fixed?.slotId ?? random(16);
  const salt = options.fixed?.salt ?? random(32);
  const nonce = options.fixed?.nonce ?? random(12);
  const host = utf8Within(options.host, 255);
  const user = utf8Within(options.user, 255);
  const head = new Uint8Array(1 + 16 + 4 + 32 + 8 + 1 + host.length + 1 + user.length);
  const view = new DataView(head.buffer);
  head[0] = 1;
  head.set(slotId, 1);
  head.set([KINDS[kind], cost?.logN ?? 0, cost?.r ?? 0, cost?.p ?? 0], 17);
  head.set(salt, 21);
  view.setBigUint64(53, BigInt(options.createdMs));
  head[61] = host.length;
  head.set(host, 62);
  head[62 + host.length] = user.length;
  head.set(user, 63 + host.length);
  const kek = await keyEncryptionKey(secret, kind, salt, cost);
  const cipher = createCipheriv("chacha20-poly1305", kek, nonce, { authTagLength: 16 });
  cipher.setAAD(aadOf(head), { plaintextLength: MASTER_KEY_BYTES });
  const plain = new Uint8Array(MASTER_KEY_BYTES);
  plain[0] = 1;
  plain.set(master.encryption, 1);
  plain.set(master.id, 33);
  const sealed = [cipher.update(plain), cipher.final(), cipher.getAuthTag()];
  const out = new Uint8Array(head.length + 12 + SEALED_BYTES);
  out.set(head);
  out.set(nonce, head.length);
  let at = head.length + 12;
  for (const part of sealed) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What `slot` says of itself. @throws {KeySlotFormatError} if it is not a slot this code wrote. */
export function readSlotInfo(slot: Uint8Array): SlotInfo {
  return parse(slot).info;
}

/**
 * The master key `slot` wraps, opened with `secret`.
 *
 * @throws {KeySlotFormatError} if it is not a slot, or asks for more than `MAX_SCRYPT_MEMORY`.
 * @throws {WrongKeyError} if the secret does not open it (or is of the other kind).
 */
export async function openSlot(slot: Uint8Array, secret: SlotSecret): Promise<RepositoryKey> {
  const { info, head, salt } = parse(slot);
  if (("passphrase" in secret) !== (info.kind === "passphrase")) throw new WrongKeyError();
  const kek = await keyEncryptionKey(secret, info.kind, salt, info.cost);
  const nonce = slot.subarray(head.length, head.length + 12);
  const decipher = createDecipheriv("chacha20-poly1305", kek, nonce, { authTagLength: 16 });
  decipher.setAAD(aadOf(head), { plaintextLength: MASTER_KEY_BYTES });
  decipher.setAuthTag(slot.subarray(slot.length - 16));
  let plain: Uint8Array;
  try {
    // A copy, not node's Buffer (whose `slice` shares memory).
    plain = new Uint8Array(decipher.update(slot.subarray(head.length + 12, slot.length - 16)));
    decipher.final();
  } catch {
    throw new WrongKeyError();
  }
  if (plain[0] !== 1) throw new KeySlotFormatError(`master key version ${plain[0]}`);
  return { encryption: plain.slice(1, 33), id: plain.slice(33, 65) };
}

function parse(slot: Uint8Array): { info: SlotInfo; head: Uint8Array; salt: Uint8Array } {
  const fail = (reason: string): never => {
    throw new KeySlotFormatError(reason);
  };
  if (slot.length < 63 || slot[0] !== 1) fail(`version ${slot[0]} or ${slot.length} bytes`);
  const kind = slot[17] === 1
    ? "passphrase"
    : slot[17] === 2
    ? "key-file"
    : fail(`kind ${slot[17]}`);
  const cost = kind === "passphrase"
    ? { logN: slot[18], r: slot[19], p: slot[20] }
    : (slot[18] | slot[19] | slot[20]) === 0
    ? undefined
    : fail("a key-file slot with a cost");
  if (cost) checkCost(cost);
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  const createdMs = Number(view.getBigUint64(53));
  const hostEnd = 62 + slot[61];
  if (slot.length < hostEnd + 1) fail("cut in its host");
  const userEnd = hostEnd + 1 + slot[hostEnd];
  if (slot.length !== userEnd + 12 + SEALED_BYTES) fail(`${slot.length} bytes`);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let host = "", user = "";
  try {
    host = decoder.decode(slot.subarray(62, hostEnd));
    user = decoder.decode(slot.subarray(hostEnd + 1, userEnd));
  } catch {
    fail("host or user not UTF-8");
  }
  const info = { slotId: slot.slice(1, 17), kind, cost, createdMs, host, user } as SlotInfo;
  return { info, head: slot.subarray(0, userEnd), salt: slot.subarray(21, 53) };
}

function checkCost(cost: ScryptCost): void {
  const { logN, r, p } = cost;
  if (
    !(logN >= 10 && logN <= 22 && r >= 1 && r <= 32 && p >= 1 && p <= 16) ||
    128 * 2 ** logN * r > MAX_SCRYPT_MEMORY || 2 ** logN * r * p > MAX_SCRYPT_WORK
  ) throw new KeySlotFormatError(`scrypt cost N=2^${logN} r=${r} p=${p} is out of bounds`);
}

async function keyEncryptionKey(
  secret: SlotSecret,
  kind: SlotInfo["kind"],
  salt: Uint8Array,
  cost: ScryptCost | undefined,
): Promise<Uint8Array> {
  if (kind === "key-file") {
    const keyFile = (secret as { keyFile: Uint8Array }).keyFile;
    if (keyFile.length !== KEY_FILE_BYTES) throw new WrongKeyError();
    return new Uint8Array(hkdfSync("sha256", keyFile, salt, HKDF_INFO, 32));
  }
  const { logN, r, p } = cost!;
  const passphrase = new TextEncoder().encode((secret as { passphrase: string }).passphrase);
  const maxmem = 2 * 128 * 2 ** logN * r;
  return await new Promise((resolve, reject) =>
    scrypt(
      passphrase,
      salt,
      32,
      { N: 2 ** logN, r, p, maxmem },
      (error, key) => error ? reject(error) : resolve(new Uint8Array(key)),
    )
  );
}

function aadOf(head: Uint8Array): Uint8Array {
  const aad = new Uint8Array(CONTEXT.length + head.length);
  aad.set(CONTEXT);
  aad.set(head, CONTEXT.length);
  return aad;
}

// The UTF-8 of `text`'s longest start that fits in `limit` bytes, never cut inside a character.
function utf8Within(text: string, limit: number): Uint8Array {
  const encoder = new TextEncoder();
  let bytes = encoder.encode(text);
  if (bytes.length > limit) text = [...text].slice(0, limit).join(""); // a character is ≥ 1 byte
  while (bytes.length > limit) {
    text = [...text].slice(0, -1).join("");
    bytes = encoder.encode(text);
  }
  return bytes;
}
