#!/usr/bin/env python3
"""Writes the seed corpus of encoded_tensor_fuzzer: valid frames (4-byte little-endian header
length, a TensorHeader, the payload) in every streamed encoding, and a few near misses. Run from
the repository root: tests/fuzz/make_seeds.py (the files are committed; rerun after a format
change)."""
import math
import os
import struct


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def header(encoding, num_elements, block_size, payload_bytes):
    h = b""
    for field, value in ((1, encoding), (2, num_elements), (3, block_size), (4, payload_bytes)):
        if value:
            h += varint(field << 3) + varint(value)
    return h


def frame(encoding, n, block, payload):
    h = header(encoding, n, block, len(payload))
    return struct.pack("<I", len(h)) + h + payload


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "encoded_tensor")
    os.makedirs(out, exist_ok=True)
    values = [0.5, -1.25, 3.0, 0.0, 7.75, -0.125, 1e-3]
    n = len(values)
    seeds = {
        "f32": frame(1, n, 0, struct.pack("<%df" % n, *values)),
        "f16": frame(2, n, 0, struct.pack("<%de" % n, *values)),
        # int8 blocks of 4: two blocks, a float scale each, then one int8 per element.
        "int8_block": frame(3, n, 4, struct.pack("<2f", 0.1, 0.2) + bytes([10, 246, 30, 0, 77, 128, 1])),
        # one-bit blocks of 8 (one block): scale, then ceil(8/8) = 1 sign byte.
        "onebit": frame(5, n, 8, struct.pack("<f", 0.5) + bytes([0b1010101])),
        # top-k: indices 1 and 4 (ascending, below n), then their values.
        "topk": frame(4, n, 0, struct.pack("<2I2f", 1, 4, 2.5, -0.5)),
        "empty_f32": frame(1, 0, 0, b""),
        "f32_short_payload": frame(1, n, 0, struct.pack("<%df" % (n - 1), *values[:-1])),
        "f32_nan": frame(1, 2, 0, struct.pack("<2f", 1.0, math.nan)),
        "bad_header_length": struct.pack("<I", 1000) + header(1, 1, 0, 4),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
