"""Convert (one-off, run once on corpus/blob) blob-target fuzz inputs from blob format v1 to v2 (scores in
decreasing id order, version 2), keeping what each input exercises: the
checksum is recomputed only where it was valid."""
import struct, sys, pathlib

def fnv(body):
    h = 0xcbf29ce484222325; M = (1 << 64) - 1
    nw = len(body) // 8
    for k in range(nw):
        h = ((h ^ int.from_bytes(body[8*k:8*k+8], 'little')) * 0x100000001b3) & M
    for c in body[8*nw:]:
        h = ((h ^ c) * 0x100000001b3) & M
    return h ^ len(body)

changed = 0
for p in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    d = bytearray(p.read_bytes())
    if not d:
        continue
    t = d[0]
    off = 1 + t
    b = d[off:]
    if len(b) < 64 or b[:8] != b'KXUNIGRM' or struct.unpack_from('<I', b, 8)[0] != 1:
        continue
    ok_sum = struct.unpack_from('<Q', b, 32)[0] == fnv(bytes(b[64:]))
    U, I = struct.unpack_from('<II', b, 12)
    struct.pack_into('<I', b, 8, 2)
    if len(b) == 64 + 6 * U + 8 * I:
        s = 64 + 6 * U
        recs = [bytes(b[s + 8*i: s + 8*i + 8]) for i in range(I)]
        b[s:] = b''.join(reversed(recs))
    if ok_sum:
        struct.pack_into('<Q', b, 32, fnv(bytes(b[64:])))
    d[off:] = b
    p.write_bytes(bytes(d))
    changed += 1
    print(p.name, 'checksum-valid' if ok_sum else 'checksum-invalid', len(b))
print('changed', changed)
