"""Convert (one-off, run once on corpus/blob) blob-target fuzz inputs from blob format v2 to v3, keeping what
each input exercises: unit records become (!id: u16, unit: u32), the unit `label | terminal << 8 | base << B`
(the header's base shift at offset 28, reserved in v2: B = 15 when U <= 2^17, else 10, as the compiler
writes it; a nonzero reserved field stays invalid), empty units labelled as the compiler labels them,
version 3; the checksum is recomputed only where it was valid; files are renamed to their new SHA-1 (seeds
keep their names)."""
import hashlib, struct, sys, pathlib

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
    if len(b) < 64 or b[:8] != b'KXUNIGRM' or struct.unpack_from('<I', b, 8)[0] != 2:
        continue
    ok_sum = struct.unpack_from('<Q', b, 32)[0] == fnv(bytes(b[64:]))
    U, I = struct.unpack_from('<II', b, 12)
    shift = 15 if U <= 1 << 17 else 10
    struct.pack_into('<I', b, 8, 3)
    struct.pack_into('<I', b, 28, shift if struct.unpack_from('<I', b, 28)[0] == 0 else 99)
    n = min(U, (len(b) - 64) // 6)
    recs = [struct.unpack_from('<IH', b, 64 + 6 * i) for i in range(n)]
    # Labels of empty units (and the root), as the compiler picks them: a byte
    # L with i ^ L the base of no node in i's block (bases of the root and the
    # occupied units, 256 for leaves, 0 for a dead walk); 0 if there is none.
    taken = {0, 256}
    for i, (u, _) in enumerate(recs):
        if i == 0 or u & 0x100:
            taken.add(u >> 10)
    for i, (u, ident) in enumerate(recs):
        if i != 0 and u & 0x100:
            label = u & 0xff
        else:
            free = next((v for v in range(256) if ((i >> 8) << 8 | v) not in taken), None)
            label = 0 if free is None else (i ^ free) & 0xff
        u3 = (label | (u >> 9 & 1) << 8 | ((u >> 10) << shift)) & 0xffffffff
        struct.pack_into('<HI', b, 64 + 6 * i, ~ident & 0xffff, u3)
    if ok_sum:
        struct.pack_into('<Q', b, 32, fnv(bytes(b[64:])))
    d[off:] = b
    out = p if not all(c in '0123456789abcdef' for c in p.name) else p.with_name(hashlib.sha1(bytes(d)).hexdigest())
    p.unlink()
    out.write_bytes(bytes(d))
    changed += 1
    print(p.name, '->', out.name, 'checksum-valid' if ok_sum else 'checksum-invalid', len(b))
print('changed', changed)
