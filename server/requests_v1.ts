/**
 * Version 1 requests: the protocol as the original server speaks it, behind the access rules.
 *
 * @module
 */
import type { ListTurns } from "./list_turns.ts";
import { Op, Status } from "../protocol/constants.ts";
import type { RequestHeader } from "../protocol/request.ts";
import { encodeResponseHeader } from "../protocol/response.ts";
import type { Access } from "./access.ts";
import { listWriter, sendListing } from "./list_response.ts";
import type { Storage } from "../storage/storage.ts";
import type { PlainUploadGuard } from "./plain_uploads.ts";
import {
  type ByteCount,
  checkFileSize,
  receiveUpload,
  sendStored,
  type TransferIo,
} from "./transfers.ts";

/** The names of the ops, for the log. */
export const V1_OP_NAMES = {
  [Op.Backup]: "backup",
  [Op.Retrieve]: "retrieve",
  [Op.Delete]: "delete",
  [Op.List]: "list",
} as const;

/** What a version 1 request works with. */
export interface RequestContext {
  readonly storage: Storage;
  readonly access: Access;
  readonly maxFileSize: number;
  /** Lists of one user run a few at a time. */
  readonly listTurns: ListTurns;
  /** Refuses uploads for accounts whose repository is encrypted. */
  readonly plainUploads: PlainUploadGuard;
}

/**
 * Carries out one version 1 request; resolves the status it answered with.
 *
 * @throws what the request failed with (turned into an answer by `outcomeForError`).
 */
export async function handleV1(
  header: RequestHeader,
  io: TransferIo,
  ctx: RequestContext,
  record: ByteCount,
): Promise<number> {
  const { storage, access } = ctx;
  access.checkV1(header.userId, V1_OP_NAMES[header.op]);
  switch (header.op) {
    case Op.Backup: {
      checkFileSize(header.payloadSize, ctx.maxFileSize);
      const size = header.payloadSize;
      await receiveUpload(io, {
        size,
        // Under --append-only a replace keeps the old file as a past version (storage's
        // `appendOnlyOf`): version 1 sees a backup replace the file, as it always does.
        begin: async () => {
          await ctx.plainUploads.check(header.userId);
          return await storage.beginUpload(header.userId, header.name, { size });
        },
      }, record);
      await io.write(encodeResponseHeader({ status: Status.Done, name: header.name }));
      return Status.Done;
    }
    case Op.Retrieve: {
      using stored = await storage.open(header.userId, header.name);
      const response = {
        status: Status.FileRestored,
        name: header.name,
        payloadSize: stored.metadata.size,
      };
      await sendStored(io, stored, (target) => encodeResponseHeader(response, target), record);
      return Status.FileRestored;
    }
    case Op.Delete:
      await storage.delete(header.userId, header.name);
      await io.write(encodeResponseHeader({ status: Status.Done, name: header.name }));
      return Status.Done;
    case Op.List: {
      using _turn = await ctx.listTurns.take(header.userId, io.closed);
      using listing = await storage.list(header.userId);
      const buffer = io.buffers.acquire(listing.nameBytes + listing.files);
      try {
        const { payloadSize } = await sendListing(listing, buffer, listWriter(io));
        record.bytes = payloadSize;
        return Status.ListSent;
      } finally {
        io.buffers.release(buffer);
      }
    }
  }
}
