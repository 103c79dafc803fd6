"""Minimal stand-in for python-snappy (not packaged in Debian here) so that python3-avro's
SnappyCodec can read snappy blocks: decompress/compress through libsnappy's C API (ctypes).
The container parsing and the CRC32 check stay python3-avro's own."""
import ctypes
import ctypes.util

_lib = ctypes.CDLL(ctypes.util.find_library("snappy") or "libsnappy.so.1")
_size_t = ctypes.c_size_t


def decompress(data):
    data = bytes(data)
    n = _size_t()
    if _lib.snappy_uncompressed_length(data, _size_t(len(data)), ctypes.byref(n)) != 0:
        raise ValueError("snappy: bad compressed length")
    out = ctypes.create_string_buffer(max(n.value, 1))
    if _lib.snappy_uncompress(data, _size_t(len(data)), out, ctypes.byref(n)) != 0:
        raise ValueError("snappy: corrupt block")
    return out.raw[: n.value]


def compress(data):
    data = bytes(data)
    _lib.snappy_max_compressed_length.restype = _size_t
    n = _size_t(_lib.snappy_max_compressed_length(_size_t(len(data))))
    out = ctypes.create_string_buffer(max(n.value, 1))
    if _lib.snappy_compress(data, _size_t(len(data)), out, ctypes.byref(n)) != 0:
        raise ValueError("snappy: compress failed")
    return out.raw[: n.value]
