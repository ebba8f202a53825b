"""aiokafka's connections reading a large response in pieces, joined once.

A fetch of the usage topic answers with megabytes in one Kafka frame (~10 MB at
the worker's 16 MiB a partition). aiokafka reads each frame with
``StreamReader.readexactly(size)``: the reader's bytearray grows a 256 KiB
``recv`` at a time, by an eighth each time it is full, so its reallocations
copy the frame over several times, then ``readexactly`` copies it out once
more; and above twice the reader's 64 KiB limit the transport is paused and
resumed for each piece. Here a frame larger than :data:`WHOLE_READ_MAX` is
taken as it comes, ``StreamReader.read`` of what is buffered (never more than
~256 KiB, so the buffer stays small), and joined into the frame's bytes once.
The frame and what aiokafka makes of it are the same bytes; only the copies
differ (``bench.kafka_read``: about 20 % less CPU reading the fleet's messages).

aiokafka has no option for this: :func:`read_large_frames_in_pieces` replaces
``AIOKafkaConnection._read``, its reading task, with :func:`read_frames`, the
same loop with that one difference. It is private, so the replacement checks
that the connection still reads as this module expects (0.14's ``_read``
static method and ``_handle_frame``) and leaves aiokafka's own otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import weakref
from typing import Any

from aiokafka.conn import AIOKafkaConnection

log = logging.getLogger(__name__)

WHOLE_READ_MAX = 256 * 1024
"""Frames up to this size (a socket read's worth, all but fetches) are read whole, as aiokafka reads them."""

_SIZE = struct.Struct(">i")


async def read_frame(reader: asyncio.StreamReader, size: int) -> bytes:
    """The next ``size`` bytes of ``reader``; in pieces joined once if over :data:`WHOLE_READ_MAX`."""
    if size <= WHOLE_READ_MAX:
        return await reader.readexactly(size)
    pieces: list[bytes] = []
    left = size
    while left:
        piece = await reader.read(left)
        if not piece:  # at EOF, as readexactly would say it
            raise asyncio.IncompleteReadError(b"".join(pieces), size)
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


async def read_frames(self_ref: weakref.ref[Any]) -> None:
    """aiokafka 0.14's ``AIOKafkaConnection._read``, each frame read by :func:`read_frame`.

    As there, the connection is held only while a frame is handled, so that a
    connection dropped without being closed can still be collected.
    """
    self = self_ref()
    if self is None:
        return
    reader: asyncio.StreamReader = self._reader
    del self
    while True:
        (size,) = _SIZE.unpack(await reader.readexactly(4))
        frame = await read_frame(reader, size)
        self = self_ref()
        if self is None:
            return
        self._handle_frame(frame)
        del self


def read_large_frames_in_pieces() -> bool:
    """Have every aiokafka connection of this process read with :func:`read_frames`; False if aiokafka
    no longer reads as this module expects (then it is left as it is)."""
    stock = AIOKafkaConnection.__dict__.get("_read")
    if isinstance(stock, staticmethod) and stock.__func__ is read_frames:
        return True
    if not isinstance(stock, staticmethod) or not hasattr(AIOKafkaConnection, "_handle_frame"):
        log.warning("aiokafka's connection does not read as streams.kafka_reads expects; left as it is")
        return False
    AIOKafkaConnection._read = staticmethod(read_frames)  # type: ignore[method-assign]
    return True
