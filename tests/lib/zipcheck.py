"""Checks a ZIP read from stdin as a stream, without storing it.

Walks the local entries (CRC-32 of every byte), then the central
directory, whose entries must point at the offsets where the local
entries really began, and the end records (ZIP64 ones when the archive
is past 4 GiB). Prints one JSON line: entries, bytes, zip64, names.
Exits 1 with a reason on the first inconsistency.
"""
import json
import struct
import sys
import zlib

inp = sys.stdin.buffer
pos = 0


def read(n):
    global pos
    chunks = []
    while n > 0:
        b = inp.read(min(n, 1 << 20))
        if not b:
            fail("unexpected end of the stream")
        chunks.append(b)
        n -= len(b)
        pos += len(b)
    return b"".join(chunks)


def fail(why):
    print(json.dumps({"error": why, "at": pos}))
    sys.exit(1)


def zip64_extra(extra, usize, csize, offset=None):
    """Replaces 0xFFFFFFFF fields from a ZIP64 extra field (id 1)."""
    i = 0
    while i + 4 <= len(extra):
        hid, hlen = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4:i + 4 + hlen]
        if hid == 1:
            j = 0
            if usize == 0xFFFFFFFF:
                usize = struct.unpack_from("<Q", body, j)[0]
                j += 8
            if csize == 0xFFFFFFFF:
                csize = struct.unpack_from("<Q", body, j)[0]
                j += 8
            if offset == 0xFFFFFFFF:
                offset = struct.unpack_from("<Q", body, j)[0]
        i += 4 + hlen
    return usize, csize, offset


local = {}
names = []
total = 0
zip64 = False
while True:
    start = pos
    sig = struct.unpack("<I", read(4))[0]
    if sig != 0x04034B50:
        break
    (ver, flags, method, _t, _d, crc, csize, usize, nlen,
     xlen) = struct.unpack("<HHHHHIIIHH", read(26))
    name = read(nlen).decode("utf-8")
    extra = read(xlen)
    usize, csize, _ = zip64_extra(extra, usize, csize)
    if method != 0:
        fail(f"{name}: compressed (method {method}), not stored")
    if flags & 8 and csize == 0:
        fail(f"{name}: size only in a data descriptor")
    c = 0
    left = csize
    while left > 0:
        b = read(min(left, 1 << 20))
        c = zlib.crc32(b, c)
        left -= len(b)
    if flags & 8:
        d = read(4)
        if struct.unpack("<I", d)[0] == 0x08074B50:
            d = read(4)
        crc = struct.unpack("<I", d)[0]
        read(16 if csize >= 0xFFFFFFFF else 8)
    if c != crc:
        fail(f"{name}: CRC {c:08x}, header says {crc:08x}")
    if name in local:
        fail(f"{name}: twice in the archive")
    local[name] = (start, usize, crc)
    names.append(name)
    total += usize

# The central directory: sig was the first one's.
count = 0
while sig == 0x02014B50:
    (_vm, _vn, _f, _m, _t, _d, crc, csize, usize, nlen, xlen, clen, _dn,
     _ia, _ea, off) = struct.unpack("<HHHHHHIIIHHHHHII", read(42))
    name = read(nlen).decode("utf-8")
    extra = read(xlen)
    read(clen)
    usize, csize, off = zip64_extra(extra, usize, csize, off)
    if name not in local:
        fail(f"{name}: in the central directory only")
    if local[name] != (off, usize, crc):
        fail(f"{name}: central entry {(off, usize, crc)} != local "
             f"{local[name]}")
    count += 1
    sig = struct.unpack("<I", read(4))[0]
if sig == 0x06064B50:
    zip64 = True
    size = struct.unpack("<Q", read(8))[0]
    read(size)
    sig = struct.unpack("<I", read(4))[0]
    if sig != 0x07064B50:
        fail("no ZIP64 end locator")
    read(16)
    sig = struct.unpack("<I", read(4))[0]
if sig != 0x06054B50:
    fail(f"no end of central directory (signature {sig:08x})")
read(18)
if inp.read(1):
    fail("bytes after the end record")
if count != len(local):
    fail(f"{count} central entries for {len(local)} local ones")
print(json.dumps({"entries": count, "bytes": total, "zip64": zip64,
                  "size": pos, "names": names}))
