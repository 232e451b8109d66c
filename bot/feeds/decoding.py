"""Content-Encoding decoders whose output is bounded per step.

Owns: turning a response's raw (compressed) bytes into its body, a bounded piece at a
time, so that the caller can stop at its size cap with at most one more piece decoded:
a 1 KB gzip or brotli "bomb" that inflates to gigabytes never exists in memory. An
httpx-style decoder returns everything one network read inflates to (64 KiB of zeros
in brotli is hundreds of MiB) before anyone can count it.

Speaks identity, gzip (also its `x-gzip` alias), deflate (zlib-wrapped as RFC 9110 says,
or raw as some servers send it and browsers accept) and br, and a stack of up to
`MAX_CODINGS` of them. Must not: do I/O, know about HTTP responses or caps, or let a
zlib/brotli exception escape (a `DecodeError` says what went wrong).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]  # no stubs; 1.2+ for output_buffer_limit

# The most one decoding step produces; brotli rounds it up to its buffer blocks (at least
# 32 KiB, ~96 KiB for this value).
PIECE_BYTES = 64 * 1024
# "gzip, br" is seen in the wild; a deeper stack only multiplies the work (and the state
# held: ~40 KB per zlib stage) for whoever sends it.
MAX_CODINGS = 2
# Real compressions we do not ask for (Accept-Encoding) and cannot undo: a clear error,
# not a parse of compressed bytes.
UNSPOKEN_CODINGS = frozenset({"zstd", "compress", "x-compress", "exi", "pack200-gzip",
                              "aes128gcm", "dcb", "dcz"})
_GZIP_WBITS = zlib.MAX_WBITS | 32  # gzip header, or a zlib one from a mislabelled server
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS


class DecodeError(ValueError):
    """Compressed data that is corrupt or cut short, or a compression not spoken here."""


class BudgetExceeded(DecodeError):
    """A stacked coding's inner stages produced more than the budget allowed."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]:
        """The output `data` adds, in pieces of at most about `PIECE_BYTES`; stop
        iterating at any point to stop decoding (the rest is then never computed)."""
        ...

    def finish(self) -> None:
        """Raise `DecodeError` unless the compressed stream ended properly."""
        ...


class IdentityDecoder:
    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data  # already bounded by the caller's read size

    def finish(self) -> None:
        pass


class ZlibDecoder:
    """gzip (`wbits=_GZIP_WBITS`) or deflate (`wbits=None`: zlib-wrapped or raw, told
    apart by the first two bytes, as browsers do)."""

    def __init__(self, wbits: int | None, piece_bytes: int = PIECE_BYTES) -> None:
        self._wbits = wbits
        self._piece_bytes = piece_bytes
        self._head = b""  # deflate only: input held until the wrapper is known
        self._inflater = zlib.decompressobj(wbits) if wbits is not None else None
        self._fed = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        inflater = self._inflater
        if inflater is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            inflater = self._inflater = zlib.decompressobj(
                _ZLIB_WBITS if _is_zlib_header(data) else _RAW_WBITS)
        while not inflater.eof:
            try:
                piece = inflater.decompress(data, self._piece_bytes)
            except zlib.error as exc:
                raise DecodeError(f"corrupt {self._name}: {exc}") from exc
            data = inflater.unconsumed_tail
            if piece:
                yield piece
            # A full piece may leave output inside zlib even with no input left: ask again.
            if not data and len(piece) < self._piece_bytes:
                return
        # Bytes after the end of the stream (padding, or a second gzip member) are ignored,
        # as httpx does; they are never fed to zlib, whose unused_data would keep growing.

    def finish(self) -> None:
        # No bytes at all is an empty body that a server labelled anyway, not a cut.
        if self._fed and (self._inflater is None or not self._inflater.eof):
            raise DecodeError(f"{self._name} data cut short")

    @property
    def _name(self) -> str:
        return "gzip" if self._wbits == _GZIP_WBITS else "deflate"


def _is_zlib_header(head: bytes) -> bool:
    # RFC 1950: method 8 (deflate), a window of at most 32 KiB, and a check value making
    # the two bytes a multiple of 31. Raw deflate never starts so: its first byte would
    # be a stored block with non-zero padding bits, which no encoder writes.
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


class BrotliDecoder:
    def __init__(self, piece_bytes: int = PIECE_BYTES) -> None:
        self._piece_bytes = piece_bytes
        self._decompressor = brotli.Decompressor()
        self._fed = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        decompressor = self._decompressor
        if decompressor.is_finished() and data:
            # brotli itself refuses bytes after the end within one call; refuse them in a
            # later read too, rather than depend on where a read happened to split.
            raise DecodeError("data after the end of the br stream")
        limit = self._piece_bytes
        try:
            piece: bytes = decompressor.process(data, output_buffer_limit=limit)
            while True:
                if piece:
                    yield piece
                # Past the limit, brotli keeps the rest: input it has not read yet (then it
                # cannot accept more), or output of input it has (then it says it can, and
                # only a full piece tells). Either way, ask with empty input until drained.
                if decompressor.can_accept_more_data() and (
                        len(piece) < limit or decompressor.is_finished()):
                    return
                piece = decompressor.process(b"", output_buffer_limit=limit)
        except brotli.error as exc:
            raise DecodeError(f"corrupt br: {exc}") from exc

    def finish(self) -> None:
        if self._fed and not self._decompressor.is_finished():
            raise DecodeError("br data cut short")


class StackedDecoder:
    """Codings applied one after another ("gzip, br": gzip first), undone last first;
    each stage gets the previous stage's pieces, so every stage stays bounded.

    The caller's cap sees only the last stage's output, and an inner stage may turn
    gigabytes into nothing (bytes after a gzip stream's end are dropped; empty blocks
    decode to nothing), all within one synchronous call: so what passes between stages
    is counted too, against `budget`."""

    def __init__(self, outermost_first: list[Decoder], budget: int | None = None) -> None:
        self._stages = outermost_first
        self._budget = budget
        self._passed = 0  # bytes handed from one stage to the next, so far

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def _through(self, stage: int, data: bytes) -> Iterator[bytes]:
        if stage == len(self._stages):
            yield data
            return
        for piece in self._stages[stage].decode(data):
            if stage + 1 < len(self._stages):
                self._passed += len(piece)
                if self._budget is not None and self._passed > self._budget:
                    raise BudgetExceeded(f"stacked codings passed over {self._budget} "
                                         "bytes between stages")
            yield from self._through(stage + 1, piece)

    def finish(self) -> None:
        for stage in self._stages:
            stage.finish()


def decoder_for(content_encoding: str | None, piece_bytes: int = PIECE_BYTES,
                budget: int | None = None) -> Decoder:
    """The decoder for a Content-Encoding header value (several headers joined by commas).
    Raises `DecodeError` for a compression not spoken here or too deep a stack; a value
    that names no compression at all is read as identity. `budget` bounds what a stack's
    inner stages may produce (`StackedDecoder`)."""
    value = content_encoding or ""
    codings = [c for c in (part.strip().lower() for part in value.split(","))
               if c and c != "identity"]
    if not codings:
        return IdentityDecoder()
    if len(codings) > MAX_CODINGS:
        raise DecodeError(f"Content-Encoding stacks {len(codings)} codings: "
                          f"{value[:80]!r}")
    stages = [_decoder_for_one(coding, piece_bytes) for coding in reversed(codings)]
    return stages[0] if len(stages) == 1 else StackedDecoder(stages, budget)


def _decoder_for_one(coding: str, piece_bytes: int) -> Decoder:
    if coding in ("gzip", "x-gzip"):
        return ZlibDecoder(_GZIP_WBITS, piece_bytes)
    if coding == "deflate":
        return ZlibDecoder(None, piece_bytes)
    if coding == "br":
        return BrotliDecoder(piece_bytes)
    if coding in UNSPOKEN_CODINGS:
        raise DecodeError(f"unsupported Content-Encoding {coding[:40]!r}")
    # Anything else is a mislabel ("utf-8", "none", "text" are all seen): the body is
    # most likely plain, and the parser will say if it is not. Refusing it would fail
    # such a feed on every poll for a header nobody reads.
    return IdentityDecoder()
