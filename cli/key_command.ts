/**
 * `init` (make an account's repository encrypted, before its first snapshot) and `key list|add|
 * remove|passwd` (its key slots, as restic's `key`): docs/keys_plan.md §1. The master key is made
 * here, on the client, and leaves it only wrapped in slots; the server keeps them as opaque
 * records.
 *
 * @module
 */
import type { Unlocked } from "../client/repository_unlock.ts";
import {
  DEFAULT_SCRYPT_COST,
  makeSlot,
  newMasterKey,
  readSlotInfo,
  type ScryptCost,
  type SlotInfo,
  type SlotSecret,
} from "../client/repository_keys/key_slot.ts";
import type { RepositoryKey } from "../client/repository_keys/blob_seal.ts";
import { currentUser, defaultHost } from "../client/snapshot/snapshot_backup.ts";
import { ExitCode, parseInteger, UsageError } from "./flags.ts";
import type { Output } from "./client_commands.ts";
import { newSecret, type SecretFlags } from "./repository_secret.ts";
import { localTime } from "./snapshot_render.ts";
import { printable } from "../client/safe_paths.ts";

/** What the key commands need of a session: the account's key slots. */
export interface KeySlotSession {
  listKeySlots(): Promise<Uint8Array[]>;
  addKeySlot(slot: Uint8Array, options?: { first?: boolean }): Promise<void>;
  removeKeySlot(slotId: Uint8Array): Promise<void>;
}

/** The flags the key commands read. */
export interface KeyFlags extends SecretFlags {
  "kdf-cost"?: string;
  force?: boolean;
}

/** What `init` and `key` run with. */
export interface KeyContext {
  keys: KeySlotSession;
  output: Output;
  flags: KeyFlags;
  /** What opened the repository (`key` only: `init` opens nothing). */
  unlocked?: Unlocked;
}

/** Slot ids are shown and named by at least this many hex digits. */
const MIN_SLOT_PREFIX = 8;

/**
 * `init`: a new master key, wrapped in a first slot for the secret given.
 *
 * @throws {UsageError} if the repository has slots already; what the server refuses (a
 *   repository with plain snapshots).
 */
export async function initCommand(context: KeyContext): Promise<number> {
  const { keys, output, flags } = context;
  const slots = await keys.listKeySlots();
  if (slots.length > 0) {
    throw new UsageError(
      `this account's repository is encrypted already (${slots.length} key slot(s): key list)`,
    );
  }
  const secret = await newSecret(flags, true);
  const slot = await slotFor(newMasterKey(), secret, flags);
  // Only as the first slot: of two inits at once, one master key wins and the other is refused.
  await keys.addKeySlot(slot, { first: true });
  const id = readSlotInfo(slot).slotId.toHex();
  output.result(
    { op: "init", encrypted: true, slot: id },
    `encrypted repository made: key slot ${id.slice(0, MIN_SLOT_PREFIX)} (${kindOf(secret)}). ` +
      "Keep the passphrase or key file safe: without one, nothing stored can be restored.",
  );
  return ExitCode.Ok;
}

/** `key list|add|remove|passwd` on an opened repository. */
export async function keyCommand(operands: string[], context: KeyContext): Promise<number> {
  const [action, ...rest] = operands;
  const { unlocked } = context;
  if (!unlocked?.key || !unlocked.slotId) {
    throw new UsageError("this account's repository is not encrypted: see init");
  }
  const arity: Record<string, number> = { list: 0, add: 0, remove: 1, passwd: 0 };
  if (!(action in arity)) throw new UsageError("key takes list, add, remove ID or passwd");
  if (rest.length !== arity[action]) {
    throw new UsageError(`key ${action} takes ${arity[action] ? "one slot ID" : "nothing more"}`);
  }
  const opened = { key: unlocked.key, slotId: unlocked.slotId.toHex() };
  switch (action) {
    case "list":
      return await listKeys(context, opened.slotId);
    case "add": {
      const id = await addKey(context, opened.key);
      context.output.result({ op: "key-add", slot: id }, `key slot ${id} added`);
      return ExitCode.Ok;
    }
    case "remove":
      return await removeKey(context, rest[0], opened.slotId);
    default: { // passwd: the new slot first, so that a failure between leaves two, never none
      const id = await addKey(context, opened.key);
      await context.keys.removeKeySlot(Uint8Array.fromHex(opened.slotId));
      context.output.result(
        { op: "key-passwd", slot: id, removed: opened.slotId },
        `key slot ${id} added, ${opened.slotId.slice(0, MIN_SLOT_PREFIX)} removed: the old ` +
          "passphrase or key file opens nothing now",
      );
      return ExitCode.Ok;
    }
  }
}

async function listKeys(context: KeyContext, inUse: string): Promise<number> {
  const { keys, output } = context;
  const rows: Array<SlotInfo & { id: string }> = [];
  for (const slot of await keys.listKeySlots()) {
    try {
      const info = readSlotInfo(slot);
      rows.push({ ...info, id: info.slotId.toHex() });
    } catch (error) {
      output.warn(`a key slot this client cannot read: ${(error as Error).message}`);
    }
  }
  if (output.json) {
    console.log(JSON.stringify(rows.map((row) => ({
      id: row.id,
      current: row.id === inUse,
      kind: row.kind,
      created: new Date(row.createdMs).toISOString(),
      host: row.host,
      user: row.user,
      ...(row.cost ? { scrypt: { N: 2 ** row.cost.logN, r: row.cost.r, p: row.cost.p } } : {}),
    }))));
    return ExitCode.Ok;
  }
  console.log(" ID        KIND        CREATED              HOST AND USER");
  for (const row of rows) {
    console.log(
      `${row.id === inUse ? "*" : " "}${row.id.slice(0, MIN_SLOT_PREFIX)}  ` +
        `${row.kind.padEnd(10)}  ${localTime(row.createdMs).padEnd(19)}  ` +
        // Host and user come from the server, unopened: no control character reaches the terminal.
        `${printable(row.host)} ${printable(row.user)}`,
    );
  }
  return ExitCode.Ok;
}

async function addKey(context: KeyContext, key: RepositoryKey): Promise<string> {
  const secret = await newSecret(context.flags, false);
  const slot = await slotFor(key, secret, context.flags);
  await context.keys.addKeySlot(slot);
  return readSlotInfo(slot).slotId.toHex().slice(0, MIN_SLOT_PREFIX);
}

async function removeKey(context: KeyContext, name: string, inUse: string): Promise<number> {
  const { keys, output, flags } = context;
  const prefix = name.toLowerCase();
  if (!/^[0-9a-f]+$/.test(prefix) || prefix.length < MIN_SLOT_PREFIX || prefix.length > 32) {
    throw new UsageError(`"${name}" names no key slot: give ${MIN_SLOT_PREFIX}..32 hex digits`);
  }
  const ids = (await keys.listKeySlots()).flatMap((slot) => {
    try {
      return [readSlotInfo(slot).slotId.toHex()];
    } catch {
      return [];
    }
  }).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) {
    throw new UsageError(
      ids.length === 0 ? `no key slot ${name} (key list)` : `${name} names ${ids.length} slots`,
    );
  }
  const [id] = ids;
  if (id === inUse && !flags.force) {
    throw new UsageError(
      `key slot ${name} is the one this command opened the repository with: ` +
        "use key passwd, or --force",
    );
  }
  await keys.removeKeySlot(Uint8Array.fromHex(id));
  output.result({ op: "key-remove", slot: id }, `key slot ${id.slice(0, MIN_SLOT_PREFIX)} removed`);
  return ExitCode.Ok;
}

async function slotFor(
  key: RepositoryKey,
  secret: SlotSecret,
  flags: KeyFlags,
): Promise<Uint8Array> {
  const cost: ScryptCost = flags["kdf-cost"] === undefined
    ? DEFAULT_SCRYPT_COST
    : { ...DEFAULT_SCRYPT_COST, logN: parseInteger("kdf-cost", flags["kdf-cost"], 10, 20) };
  return await makeSlot(key, secret, {
    createdMs: Date.now(),
    host: defaultHost(),
    user: currentUser(),
    cost,
  });
}

function kindOf(secret: SlotSecret): string {
  return "passphrase" in secret ? "passphrase" : "key file";
}
