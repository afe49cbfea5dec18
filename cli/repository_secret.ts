/**
 * The secret that opens an encrypted repository, as the command line gives it (README "Encrypted
 * repositories"): a key file (`--repository-key-file`, or the profile's), a passphrase file
 * (`--password-file`, `$BACKUP_PASSWORD_FILE`), `$BACKUP_PASSWORD`, or typed on the terminal
 * (not echoed) when nothing else gives one. `init`, `key add` and `key passwd` take a new one the
 * same ways (`--new-password-file`, `--new-repository-key-file`, `$BACKUP_NEW_PASSWORD`, or
 * typed twice).
 *
 * @module
 */
import type { SlotSecret } from "../client/repository_keys/key_slot.ts";
import { KEY_FILE_BYTES } from "../client/repository_keys/key_slot.ts";
import { UsageError } from "./flags.ts";

/** The flags that name secrets. */
export interface SecretFlags {
  "password-file"?: string;
  "repository-key-file"?: string;
  "new-password-file"?: string;
  "new-repository-key-file"?: string;
}

/** A key file's first line (the format's name), then the key's 64 hex digits. */
const KEY_FILE_HEADER = "backup-client repository key v1";
const ENTER = [0x0a, 0x0d];
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = [0x08, 0x7f];

/** Whether the flags, a profile or the environment give a secret for the repository. */
export function secretGiven(flags: SecretFlags): boolean {
  return flags["repository-key-file"] !== undefined || flags["password-file"] !== undefined ||
    env("BACKUP_PASSWORD_FILE") !== undefined || env("BACKUP_PASSWORD") !== undefined;
}

/**
 * The secret that opens the repository, read only when called (a plain repository asks none).
 * Typed on the terminal when nothing else gives one; `undefined` without a terminal.
 *
 * @throws {UsageError} for a file that cannot be read or is not a key file.
 */
export function currentSecret(flags: SecretFlags): () => Promise<SlotSecret | undefined> {
  return async () => {
    const keyFile = flags["repository-key-file"];
    if (keyFile !== undefined) return { keyFile: await readKeyFile(keyFile) };
    const file = flags["password-file"] ?? env("BACKUP_PASSWORD_FILE");
    if (file !== undefined) return { passphrase: await readPassphraseFile(file) };
    const typed = env("BACKUP_PASSWORD") ??
      await promptHidden("passphrase of the repository: ");
    return typed === undefined ? undefined : { passphrase: checked(typed) };
  };
}

/**
 * A new secret: for `init` the same flags as `currentSecret`'s, else the `new-` ones. A key file
 * that does not exist is made (32 random bytes, readable by its owner only); a typed passphrase
 * is asked twice.
 *
 * @throws {UsageError} without a terminal and without a flag or variable giving one, or for
 *   passphrases typed twice differently.
 */
export async function newSecret(flags: SecretFlags, forInit: boolean): Promise<SlotSecret> {
  const keyFile = forInit ? flags["repository-key-file"] : flags["new-repository-key-file"];
  if (keyFile !== undefined) return { keyFile: await readOrMakeKeyFile(keyFile) };
  const file = forInit
    ? flags["password-file"] ?? env("BACKUP_PASSWORD_FILE")
    : flags["new-password-file"];
  if (file !== undefined) return { passphrase: await readPassphraseFile(file) };
  const fromEnv = env(forInit ? "BACKUP_PASSWORD" : "BACKUP_NEW_PASSWORD");
  if (fromEnv !== undefined) return { passphrase: checked(fromEnv) };
  const first = await promptHidden("new passphrase: ");
  if (first === undefined) {
    const flag = forInit ? "--password-file FILE" : "--new-password-file FILE";
    const variable = forInit ? "$BACKUP_PASSWORD" : "$BACKUP_NEW_PASSWORD";
    throw new UsageError(
      `no passphrase: give ${flag}, ${variable}, or a key file, or run this on a terminal`,
    );
  }
  if (await promptHidden("the same again: ") !== first) {
    throw new UsageError("the two passphrases typed differ: nothing changed");
  }
  return { passphrase: checked(first) };
}

/**
 * Reads a key file. @throws {UsageError} if it cannot be read or is not one.
 * @example
 * ```ts
 * import { readKeyFile, readOrMakeKeyFile } from "./repository_secret.ts";
 * import assert from "node:assert/strict";
 * const path = `${await Deno.makeTempDir()}/repo.key`;
 * const made = await readOrMakeKeyFile(path);
 * assert.deepEqual(await readKeyFile(path), made);
 * assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
 * ```
 */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`cannot read the key file ${path}: ${(error as Error).message}`);
  }
  const [header, hex] = text.split("\n");
  if (header !== KEY_FILE_HEADER || !/^[0-9a-f]{64}$/.test(hex ?? "")) {
    throw new UsageError(`${path} is not a repository key file (see init --repository-key-file)`);
  }
  return Uint8Array.fromHex(hex);
}

/** Reads the key file at `path`, or makes one there if there is none. */
export async function readOrMakeKeyFile(path: string): Promise<Uint8Array> {
  const key = crypto.getRandomValues(new Uint8Array(KEY_FILE_BYTES));
  try {
    await Deno.writeTextFile(path, `${KEY_FILE_HEADER}\n${key.toHex()}\n`, {
      createNew: true,
      mode: 0o600,
    });
    return key;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw new UsageError(`cannot make the key file ${path}: ${(error as Error).message}`);
    }
  }
  return await readKeyFile(path);
}

async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`cannot read the passphrase file ${path}: ${(error as Error).message}`);
  }
  return checked(text.replace(/\r?\n$/, ""));
}

function checked(passphrase: string): string {
  if (passphrase === "") throw new UsageError("an empty passphrase opens nothing");
  return passphrase;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // not allowed to read it: as if unset
  }
}

/** Removes the last UTF-8 character of `typed`: its continuation bytes, then its first byte. */
function dropLastCharacter(typed: number[]): void {
  while (typed.length > 0 && (typed[typed.length - 1] & 0xc0) === 0x80) typed.pop();
  typed.pop();
}

/** Reads a line from the terminal without echoing it; `undefined` if standard input is not one. */
async function promptHidden(question: string): Promise<string | undefined> {
  if (!Deno.stdin.isTerminal()) return undefined;
  await Deno.stderr.write(new TextEncoder().encode(question));
  const typed: number[] = [];
  const buffer = new Uint8Array(64);
  Deno.stdin.setRaw(true);
  try {
    reading: while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const byte of buffer.subarray(0, n)) {
        if (ENTER.includes(byte) || byte === CTRL_D) break reading;
        if (byte === CTRL_C) throw new UsageError("interrupted: nothing changed");
        if (BACKSPACE.includes(byte)) dropLastCharacter(typed);
        else typed.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(new TextEncoder().encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(typed));
}
