#!/usr/bin/env python3
"""Test vectors of docs/keys_plan.md's formats, made with Python's `cryptography` (an implementation
independent of node:crypto): `python3 tools/keys_vectors.py` prints them as JSON;
tests/repository_keys_test.ts holds the same values and checks the TypeScript code against them."""
import hashlib, hmac, json, struct
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes

ENC, IDK = bytes([1]) * 32, bytes([2]) * 32
KINDS = {"data": 0, "tree": 1, "record": 2}


def seal(kind, blob_id, encoding, data, salt):
    key = hmac.new(ENC, b"backup blob key v1" + salt, hashlib.sha256).digest()
    aad = b"backup blob v1\0" + bytes([KINDS[kind]]) + (bytes(32) if kind == "record" else blob_id)
    return bytes([1]) + salt + ChaCha20Poly1305(key).encrypt(bytes(12), bytes([encoding]) + data, aad)


def slot(kind, secret, cost, slot_id, salt, nonce, created, host, user):
    log_n, r, p = cost
    head = (bytes([1]) + slot_id + bytes([kind, log_n, r, p]) + salt + struct.pack(">Q", created)
            + bytes([len(host)]) + host + bytes([len(user)]) + user)
    if kind == 1:
        kek = Scrypt(salt=salt, length=32, n=2 ** log_n, r=r, p=p).derive(secret)
    else:
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"backup key slot v1").derive(secret)
    master = bytes([1]) + ENC + IDK
    return head + nonce + ChaCha20Poly1305(kek).encrypt(nonce, master, b"backup key slot v1\0" + head)


chunk = b"hello, chunk"
chunk_id = hmac.new(IDK, chunk, hashlib.sha256).digest()
tree = b'{"nodes":[]}'
tree_id = hmac.new(IDK, tree, hashlib.sha256).digest()
print(json.dumps({
    "chunkId": chunk_id.hex(),
    "sealedChunk": seal("data", chunk_id, 0, chunk, bytes([0x33]) * 16).hex(),
    "treeId": tree_id.hex(),
    "sealedTreeZstdFlag": seal("tree", tree_id, 1, tree, bytes([0x44]) * 16).hex(),
    "sealedRecord": seal("record", None, 0, b'{"time":1}', bytes([0x55]) * 16).hex(),
    "passphraseSlot": slot(1, "correct horse".encode(), (10, 8, 1), bytes([0x66]) * 16,
                           bytes([0x77]) * 32, bytes([0x88]) * 12, 1700000000000, b"laptop", b"ana").hex(),
    "keyFileSlot": slot(2, bytes([0x99]) * 32, (0, 0, 0), bytes([0xaa]) * 16, bytes([0xbb]) * 32,
                        bytes([0xcc]) * 12, 1700000000001, b"", b"").hex(),
}, indent=2))
