/**
 * The client's Ed25519 key: made by `keygen`, kept as a PKCS#8 PEM file readable by its owner only
 * (`~/.config/backup-client/key`), its public half printed as an OpenSSH line for the server's
 * users file.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { formatSshPublicKey } from "../protocol/v2/auth.ts";
import { configFolder } from "./user_id.ts";

/** A key pair ready to sign handshakes. */
export interface ClientKey {
  /** Signs with the private half. */
  privateKey: CryptoKey;
  /** The raw public key (32 bytes). */
  publicKey: Uint8Array;
  /** The file it came from. */
  path: string;
}

/** A key file that cannot be used. */
export class KeyFileError extends BackupError {
  /**
   * Builds the error.
   * @param message which file and why
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

const PEM_LABEL = "PRIVATE KEY";

/** Where `keygen` writes the key unless told otherwise. @throws {Error} if no home is known. */
export function defaultKeyPath(): string {
  return `${configFolder()}/key`;
}

/**
 * Makes a new key pair and writes it to `path` (mode 0600; the public line to `path.pub`).
 * Resolves the public key's OpenSSH line.
 *
 * @throws {KeyFileError} if a file is already there (a key is never overwritten).
 */
export async function generateKey(path: string, comment: string): Promise<string> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const line = formatSshPublicKey(raw, comment);
  await Deno.mkdir(path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || ".", {
    recursive: true,
    mode: 0o700,
  });
  try {
    await Deno.writeTextFile(path, toPem(pkcs8), { createNew: true, mode: 0o600 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new KeyFileError(
        `${path} already exists: a key is never overwritten; pass --key FILE for another`,
      );
    }
    throw error;
  }
  await Deno.writeTextFile(`${path}.pub`, `${line}\n`, { mode: 0o644 });
  return line;
}

/**
 * Reads a key written by `generateKey`.
 *
 * @throws {KeyFileError} if it is missing, not a PKCS#8 Ed25519 key, or readable by others.
 */
export async function loadKey(path: string): Promise<ClientKey> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new KeyFileError(`cannot read the key ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (Deno.build.os !== "windows") {
    const { mode } = await Deno.stat(path);
    if (mode !== null && (mode & 0o077) !== 0) {
      throw new KeyFileError(
        `${path} can be read by others (mode ${(mode & 0o777).toString(8)}): chmod 600 ${path}`,
      );
    }
  }
  try {
    const privateKey = await crypto.subtle.importKey("pkcs8", fromPem(text), "Ed25519", true, [
      "sign",
    ]);
    // The public half is inside the private key's JWK form (`x`).
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    const publicKey = Uint8Array.from(
      atob(jwk.x!.replaceAll("-", "+").replaceAll("_", "/")),
      (c) => c.charCodeAt(0),
    );
    return { privateKey, publicKey, path };
  } catch (error) {
    throw new KeyFileError(`${path} is not an Ed25519 key made by keygen`, { cause: error });
  }
}

function toPem(der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  const lines = base64.match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${PEM_LABEL}-----\n${lines}\n-----END ${PEM_LABEL}-----\n`;
}

function fromPem(text: string): Uint8Array<ArrayBuffer> {
  const match = new RegExp(`-----BEGIN ${PEM_LABEL}-----([^-]+)-----END ${PEM_LABEL}-----`)
    .exec(text);
  if (!match) throw new Error("no PEM private key");
  return Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
}
