/**
 * The user's encryption key: 32 random bytes in a file only its owner can read (`keygen
 * --encryption`), or derived from a passphrase in `BACKUP_PASSPHRASE` (PBKDF2-SHA-256, 600,000
 * rounds, salted with the user id). Without it, nothing sealed can be opened: keep a copy.
 *
 * @module
 */
import { configFolder } from "../user_id.ts";
import { KeyFileError } from "../keys.ts";
import type { UserKey } from "./seal.ts";

/** The environment variable a passphrase is read from. */
export const PASSPHRASE_VARIABLE = "BACKUP_PASSPHRASE";
/** PBKDF2 rounds for a passphrase. */
export const PASSPHRASE_ROUNDS = 600_000;

/** Where `keygen --encryption` writes the key. @throws {Error} if no home is known. */
export function defaultEncryptionKeyPath(): string {
  return `${configFolder()}/encryption-key`;
}

/** Writes a new random key to `path` (mode 0600); never overwrites. */
export async function generateEncryptionKey(path: string): Promise<void> {
  const key = crypto.getRandomValues(new Uint8Array(32));
  await Deno.mkdir(path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || ".", {
    recursive: true,
    mode: 0o700,
  });
  try {
    await Deno.writeTextFile(path, `${btoa(String.fromCharCode(...key))}\n`, {
      createNew: true,
      mode: 0o600,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new KeyFileError(`${path} already exists: an encryption key is never overwritten`);
    }
    throw error;
  }
}

/** Imports 32 raw bytes as an AES-256-GCM key. */
export function importUserKey(raw: Uint8Array): Promise<UserKey> {
  return crypto.subtle.importKey("raw", new Uint8Array(raw), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

/**
 * The user's key material (32 bytes): from `path` if it exists, else from the passphrase variable.
 * Files are sealed with it as an AES key (`importUserKey`); names with keys derived from it.
 *
 * @throws {KeyFileError} if there is neither, or the file is not a key.
 */
export async function loadKeyMaterial(path: string, userId: number): Promise<Uint8Array> {
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (text !== undefined) {
    const raw = Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
    if (raw.length !== 32) throw new KeyFileError(`${path} is not an encryption key`);
    return raw;
  }
  let passphrase: string | undefined;
  try {
    passphrase = Deno.env.get(PASSPHRASE_VARIABLE);
  } catch {
    passphrase = undefined;
  }
  if (!passphrase) {
    throw new KeyFileError(
      `--encrypt needs a key: run keygen --encryption (writes ${path}) or set ${PASSPHRASE_VARIABLE}`,
    );
  }
  return await passphraseMaterial(passphrase, userId);
}

/** The user's file key: see `loadKeyMaterial`. */
export async function loadUserKey(path: string, userId: number): Promise<UserKey> {
  return await importUserKey(await loadKeyMaterial(path, userId));
}

/** The key a passphrase gives for a user id (the same on every machine). */
export async function passphraseKey(passphrase: string, userId: number): Promise<UserKey> {
  return await importUserKey(await passphraseMaterial(passphrase, userId));
}

/** The 32 bytes PBKDF2 makes of a passphrase for a user id. */
async function passphraseMaterial(passphrase: string, userId: number): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(passphrase),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const salt = new TextEncoder().encode(`backup-client encryption v1, user ${userId}`);
  return new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations: PASSPHRASE_ROUNDS },
      base,
      256,
    ),
  );
}
