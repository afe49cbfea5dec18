/**
 * Storage throws its own errors (`storage/errors.ts`), and `server/error_status.ts` alone turns
 * them into answers: the same answers, messages and closes the codec's errors got before.
 */
import assert from "node:assert/strict";
import { DAMAGED_MESSAGE, encodeErrorAnswer, outcomeForError } from "../server/error_status.ts";
import {
  CorruptStoreError,
  DeleteRefusedError,
  NameRefusedError,
  NoSuchFileError,
  QuotaExceededError,
} from "../storage/errors.ts";
import { InvalidNameError } from "../protocol/errors.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { hex, toHex } from "./_helpers.ts";

Deno.test("storage's no such file is 1001 echoing the name, and the connection stays open", () => {
  const error = new NoSuchFileError("a.txt");
  assert.equal(error.message, "file does not exist: a.txt");
  const outcome = outcomeForError(error);
  assert.deepEqual(outcome, { answer: { kind: "not-found" }, close: false, level: "info" });
  // PROTOCOL.md's vector: 1001 for `a.txt`.
  assert.equal(
    toHex(encodeErrorAnswer(outcome.answer!, 1, "a.txt")),
    toHex(hex("01 e903 0500 612e747874")),
  );
});

Deno.test("a name the store cannot hold is refused as the codec refuses a bad name: 1003, closed", () => {
  const stored = outcomeForError(new NameRefusedError("too long for an object key of this store"));
  assert.deepEqual(stored, {
    answer: {
      kind: "refused",
      code: RefusalCode.BadRequest,
      message: "invalid file name: too long for an object key of this store",
    },
    close: true,
    level: "info",
  });
  const codec = outcomeForError(new InvalidNameError("too long for an object key of this store"));
  assert.deepEqual(stored, codec);
});

Deno.test("storage's quota, append-only and damaged-copy errors keep their answers", () => {
  assert.deepEqual(outcomeForError(new QuotaExceededError(1, 20, 10)), {
    answer: {
      kind: "refused",
      code: RefusalCode.QuotaExceeded,
      message: "user 1 would store 20 bytes, over the quota of 10",
    },
    close: true,
    level: "info",
  });
  assert.deepEqual(outcomeForError(new DeleteRefusedError("a")).answer, {
    kind: "refused",
    code: RefusalCode.Forbidden,
    message: "deletes are refused: the account is append-only (a stays)",
  });
  assert.deepEqual(outcomeForError(new CorruptStoreError("pack 7 is short")), {
    answer: { kind: "refused", code: RefusalCode.ServerFailure, message: DAMAGED_MESSAGE },
    close: false,
    level: "error",
  });
});
