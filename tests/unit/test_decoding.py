"""bot/feeds/decoding.py: every coding round-trips however the bytes are split, output comes
in bounded pieces (a bomb is never inflated past what the caller takes), and bad data or
an unknown coding is a DecodeError, never a zlib or brotli exception."""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import Callable, Iterator

import brotli  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.decoding import PIECE_BYTES, BudgetExceeded, DecodeError, Decoder, decoder_for

BODY = b"".join(b'<item><title>Tariffs %d</title><link>https://example.org/%d</link></item>\n'
                % (n, n) for n in range(2000))  # ~150 KB: several pieces, several reads


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "x-gzip": lambda d: gzip.compress(d, mtime=0),
    "deflate (zlib)": zlib.compress,
    "deflate (raw)": raw_deflate,
    "br": lambda d: bytes(brotli.compress(d, quality=5)),
    "gzip, br": lambda d: bytes(brotli.compress(gzip.compress(d, mtime=0), quality=5)),
    "identity": lambda d: d,
}
HEADERS = {"deflate (zlib)": "deflate", "deflate (raw)": "deflate"}


def header(name: str) -> str:
    return HEADERS.get(name, name)


def decode_all(decoder: Decoder, chunks: Iterator[bytes] | list[bytes]) -> bytes:
    out = b"".join(piece for chunk in chunks for piece in decoder.decode(chunk))
    decoder.finish()
    return out


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("name", list(ENCODERS))
@pytest.mark.parametrize("read_size", [1, 7, 4096, 1 << 30], ids=["1", "7", "4096", "whole"])
def test_every_coding_round_trips_in_reads_of_any_size(name: str, read_size: int) -> None:
    body = BODY[:3000] if read_size == 1 else BODY  # byte-at-a-time is slow in Python
    encoded = ENCODERS[name](body)
    assert decode_all(decoder_for(header(name)), split(encoded, read_size)) == body


@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
       name=st.sampled_from(["gzip", "deflate (zlib)", "deflate (raw)", "br"]))
def test_any_split_of_the_stream_decodes_the_same(cuts: list[int], name: str) -> None:
    encoded = ENCODERS[name](BODY[:20_000])
    bounds = [0, *sorted(min(c, len(encoded)) for c in cuts), len(encoded)]
    chunks = [encoded[a:b] for a, b in itertools.pairwise(bounds)]
    assert decode_all(decoder_for(header(name)), chunks) == BODY[:20_000]


@pytest.mark.parametrize(("value", "expected"), [
    (None, b"plain"), ("", b"plain"), ("identity", b"plain"), (" GZIP ", None), ("Br", None),
])
def test_header_values_are_read_loosely(value: str | None, expected: bytes | None) -> None:
    body = b"plain"
    encoded = body if expected else ENCODERS[(value or "").strip().lower()](body)
    assert decode_all(decoder_for(value), [encoded]) == body


def zeros_deflate(mebibytes: int, wbits: int) -> bytes:
    """That many MiB of zeros, compressed a MiB at a time (never held whole)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(mebibytes)) + compressor.flush()


def zeros_br(mebibytes: int) -> bytes:
    compressor = brotli.Compressor(quality=5)
    zeros = bytes(1 << 20)
    return bytes(b"".join(compressor.process(zeros) for _ in range(mebibytes))
                 + compressor.finish())


@pytest.mark.parametrize(("coding", "bomb"), [
    ("gzip", lambda: zeros_deflate(64, 31)),
    ("deflate", lambda: zeros_deflate(64, 15)),
    ("br", lambda: zeros_br(64)),
], ids=["gzip", "deflate", "br"])
def test_a_bomb_comes_out_in_bounded_pieces_only_as_far_as_taken(
        coding: str, bomb: Callable[[], bytes]) -> None:
    data = bomb()  # 64 MiB of zeros in 64 KB at most: one "network read"
    pieces = decoder_for(coding).decode(data)
    taken = [next(pieces) for _ in range(8)]
    # brotli rounds its output buffer up (~1.5x); zlib keeps to the byte.
    assert all(0 < len(p) <= PIECE_BYTES * 2 for p in taken)
    assert sum(map(len, taken)) <= 16 * PIECE_BYTES


@pytest.mark.parametrize("piece_bytes", [1000, PIECE_BYTES])
@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_pieces_drain_everything_pending(coding: str, piece_bytes: int) -> None:
    # 8 MiB from a few bytes of br: brotli takes all the input at once and holds the
    # output, still saying it "can accept more data"; nothing may be left behind.
    data = zeros_br(8) if coding == "br" else zeros_deflate(8, 31 if coding == "gzip" else 15)
    decoder = decoder_for(coding, piece_bytes)
    total = sum(len(p) for p in decoder.decode(data))
    decoder.finish()
    assert total == 8 << 20


def corrupt_crc(data: bytes) -> bytes:
    broken = bytearray(data)
    broken[-8] ^= 0xFF  # gzip trailer: CRC-32 first
    return bytes(broken)


@pytest.mark.parametrize(("coding", "data", "message"), [
    ("gzip", b"\x1f\x8b\x08\x00" + b"not deflate at all" * 4, "corrupt gzip"),
    ("gzip", corrupt_crc(gzip.compress(BODY)), "corrupt gzip"),
    ("gzip", b"this is not gzip", "corrupt gzip"),
    ("deflate", b"\x78\x9c" + b"\xff" * 20, "corrupt deflate"),
    ("br", b"\xff\xff\xff not brotli", "corrupt br"),
    ("br", bytes(brotli.compress(b"x")) + b"trailing", "corrupt br"),
], ids=["gzip-garbage", "gzip-crc", "gzip-no-header", "deflate-garbage", "br-garbage",
        "br-trailing"])
def test_corrupt_data_is_a_decode_error(coding: str, data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_all(decoder_for(coding), [data])


@pytest.mark.parametrize("name", ["gzip", "deflate (zlib)", "deflate (raw)", "br"])
def test_a_stream_cut_short_is_a_decode_error(name: str) -> None:
    encoded = ENCODERS[name](BODY)
    decoder = decoder_for(header(name))
    assert sum(len(p) for p in decoder.decode(encoded[: len(encoded) // 2])) > 0
    with pytest.raises(DecodeError, match="cut short"):
        decoder.finish()


def test_a_single_byte_of_deflate_is_cut_short() -> None:
    decoder = decoder_for("deflate")
    assert list(decoder.decode(b"\x78")) == []  # too little to tell zlib from raw yet
    with pytest.raises(DecodeError, match="cut short"):
        decoder.finish()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "gzip, br"])
def test_no_bytes_at_all_is_an_empty_body(coding: str) -> None:
    # Servers label empty bodies too; there is nothing to be cut short.
    assert decode_all(decoder_for(coding), [b""]) == b""


def test_bytes_after_a_gzip_stream_are_ignored_and_not_kept() -> None:
    decoder = decoder_for("gzip")
    out = b"".join(decoder.decode(gzip.compress(b"feed") + b"\0" * 10))
    out += b"".join(piece for _ in range(100) for piece in decoder.decode(b"junk" * 1000))
    decoder.finish()
    assert out == b"feed"


def test_a_stream_of_empty_blocks_decodes_to_nothing() -> None:
    # What the fetcher's wire-size cap is for: valid, endless, and no output to count.
    decoder = decoder_for("gzip")
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    assert list(decoder.decode(gzip_header + b"\x00\x00\x00\xff\xff" * 100_000)) == []
    with pytest.raises(DecodeError, match="cut short"):
        decoder.finish()


@pytest.mark.parametrize(("value", "message"), [
    ("zstd", "unsupported Content-Encoding 'zstd'"),
    ("compress", "unsupported Content-Encoding 'compress'"),
    ("gzip, gzip, gzip", "stacks 3 codings"),
])
def test_unspoken_or_deeply_stacked_codings_are_refused(value: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decoder_for(value)


@pytest.mark.parametrize("value", ["utf-8", "none", "text/xml", "UTF8"])
def test_a_value_that_names_no_compression_is_read_as_identity(value: str) -> None:
    decoder = decoder_for(value)
    assert list(decoder.decode(b"<rss/>")) == [b"<rss/>"]
    decoder.finish()


def test_a_stack_counts_what_passes_between_its_stages() -> None:
    inner = gzip.compress(b"<rss/>") + bytes(300_000)  # the zeros follow the gzip end
    body = brotli.compress(inner)
    unbounded = decoder_for("gzip, br")
    assert b"".join(unbounded.decode(body)) == b"<rss/>"  # all 300 KB dropped unseen
    bounded = decoder_for("gzip, br", budget=100_000)
    with pytest.raises(BudgetExceeded, match="between stages"):
        b"".join(bounded.decode(body))
    # within the budget, the same stack decodes as before
    assert b"".join(decoder_for("gzip, br", budget=400_000).decode(body)) == b"<rss/>"
