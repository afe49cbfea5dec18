/**
 * Names sealed one path component at a time (`--encrypt-names`), so that folders stay folders and
 * a folder can still be restored by its (sealed) prefix. Sealing is deterministic (a synthetic
 * nonce: the first 12 bytes of HMAC-SHA-256 of the component), so the same name always gives the
 * same stored name and incremental backups still find it. A sealed component is
 * `base64url(nonce ‖ AES-GCM(component))`, checked on opening against its nonce.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";

/** A name that cannot be sealed (a component too long once sealed) or opened. */
export class NameSealError extends BackupError {}

/** Longest component that still fits the protocol's 255 bytes once sealed. */
export const MAX_SEALABLE_COMPONENT_BYTES = 163;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Seals and opens names with keys derived from the user's key material. */
export class NameCipher {
  readonly #mac: CryptoKey;
  readonly #aes: CryptoKey;

  private constructor(mac: CryptoKey, aes: CryptoKey) {
    this.#mac = mac;
    this.#aes = aes;
  }

  /** Derives the name keys (HKDF-SHA-256, info `backup-client names v1`) from the key material. */
  static async create(material: Uint8Array): Promise<NameCipher> {
    const base = await crypto.subtle.importKey("raw", new Uint8Array(material), "HKDF", false, [
      "deriveBits",
    ]);
    const bits = new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(),
          info: encoder.encode("backup-client names v1"),
        },
        base,
        512,
      ),
    );
    const mac = await crypto.subtle.importKey(
      "raw",
      bits.slice(0, 32),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const aes = await crypto.subtle.importKey("raw", bits.slice(32), "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    return new NameCipher(mac, aes);
  }

  /**
   * Seals each component of `name`; a trailing `/` (a folder prefix) is kept.
   *
   * @throws {NameSealError} for a component longer than `MAX_SEALABLE_COMPONENT_BYTES`.
   */
  async seal(name: string): Promise<string> {
    const folder = name.endsWith("/");
    const parts = (folder ? name.slice(0, -1) : name).split("/");
    const sealed = await settleAll(parts.map((part) => this.#sealComponent(part)));
    return sealed.join("/") + (folder ? "/" : "");
  }

  /** Opens a sealed name; `undefined` if it was not sealed with these keys. */
  async open(name: string): Promise<string | undefined> {
    try {
      const parts = await settleAll(name.split("/").map((part) => this.#openComponent(part)));
      return parts.join("/");
    } catch {
      return undefined;
    }
  }

  async #sealComponent(component: string): Promise<string> {
    const plain = encoder.encode(component);
    if (plain.length > MAX_SEALABLE_COMPONENT_BYTES) {
      throw new NameSealError(
        `"${component.slice(0, 40)}…" is ${plain.length} bytes; sealed names take at most ` +
          `${MAX_SEALABLE_COMPONENT_BYTES} bytes a component`,
      );
    }
    const nonce = new Uint8Array(await crypto.subtle.sign("HMAC", this.#mac, plain)).slice(0, 12);
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, this.#aes, plain),
    );
    const out = new Uint8Array(12 + sealed.length);
    out.set(nonce);
    out.set(sealed, 12);
    return toBase64Url(out);
  }

  async #openComponent(component: string): Promise<string> {
    const bytes = fromBase64Url(component);
    const nonce = bytes.slice(0, 12);
    const plain = new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, this.#aes, bytes.slice(12)),
    );
    const check = new Uint8Array(await crypto.subtle.sign("HMAC", this.#mac, plain)).slice(0, 12);
    if (check.some((byte, i) => byte !== nonce[i])) throw new NameSealError("nonce mismatch");
    return decoder.decode(plain);
  }
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(
    atob(base64 + "=".repeat((4 - base64.length % 4) % 4)),
    (c) => c.charCodeAt(0),
  );
}

/**
 * The values of `promises`, or the first failure once every one has settled: no component's
 * crypto work is left running after the name's answer.
 */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}
