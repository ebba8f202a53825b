"""aiokafka's connections read each Kafka frame as it did, byte for byte; a large one in pieces joined
once rather than through a growing buffer."""

from __future__ import annotations

import asyncio
import inspect
import random
import struct
import weakref
from collections.abc import AsyncIterator

import pytest
from aiokafka import conn as aiokafka_conn
from aiokafka.conn import AIOKafkaConnection

from streams import kafka_reads
from streams.kafka_reads import WHOLE_READ_MAX, read_frame, read_frames, read_large_frames_in_pieces

SIZES = [
    0,
    1,
    4,
    1000,
    WHOLE_READ_MAX - 1,
    WHOLE_READ_MAX,
    WHOLE_READ_MAX + 1,
    3 * WHOLE_READ_MAX + 17,
    9_000_000,
]


def framed(payloads: list[bytes]) -> bytes:
    return b"".join(struct.pack(">i", len(payload)) + payload for payload in payloads)


def payloads(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for size in SIZES]


async def feed_in_pieces(reader: asyncio.StreamReader, stream: bytes, rng: random.Random) -> None:
    """``stream`` as the transport would feed it, in pieces of any size, the loop turning between them."""
    at = 0
    while at < len(stream):
        size = rng.choice([1, 3, 4096, 65_536, 262_144, 1_000_000])
        reader.feed_data(stream[at : at + size])
        at += size
        await asyncio.sleep(0)
    reader.feed_eof()


async def test_frames_fed_in_any_pieces_read_the_same_bytes_as_readexactly() -> None:
    for seed in range(3):
        sent = payloads(seed)
        stream = framed(sent)
        rng = random.Random(seed)
        read: dict[str, list[bytes]] = {}
        for how in ("readexactly", "read_frame"):
            reader = asyncio.StreamReader(limit=2**16)

            feeding = asyncio.create_task(feed_in_pieces(reader, stream, rng))
            frames = []
            for _ in sent:
                (size,) = struct.unpack(">i", await reader.readexactly(4))
                if how == "readexactly":
                    frames.append(await reader.readexactly(size))
                else:
                    frames.append(await read_frame(reader, size))
            await feeding
            read[how] = frames
        assert read["read_frame"] == read["readexactly"] == sent
        assert all(type(frame) is bytes for frame in read["read_frame"])


async def test_a_frame_cut_short_ends_the_read_as_readexactly_would() -> None:
    for size in (10, 5 * WHOLE_READ_MAX):
        reader = asyncio.StreamReader()
        reader.feed_data(b"x" * (size - 3))
        reader.feed_eof()
        with pytest.raises(asyncio.IncompleteReadError) as cut:
            await read_frame(reader, size)
        assert (cut.value.partial, cut.value.expected) == (b"x" * (size - 3), size)


@pytest.fixture
async def frame_server() -> AsyncIterator[tuple[str, int, list[bytes]]]:
    """A local server that writes the payloads framed, then closes: a transport that pauses and resumes."""
    sent = payloads(7)

    async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(framed(sent))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    yield host, port, sent
    server.close()
    await server.wait_closed()


async def test_frames_over_a_socket_with_aiokafka_s_reader_limit_read_whole(
    frame_server: tuple[str, int, list[bytes]],
) -> None:
    host, port, sent = frame_server
    reader, writer = await asyncio.open_connection(host, port, limit=aiokafka_conn.READER_LIMIT)
    frames = []
    for _ in sent:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        frames.append(await read_frame(reader, size))
    writer.close()
    assert frames == sent


class Connection:
    """What aiokafka's reading task uses of its connection: the reader, and where each frame goes."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.frames: list[bytes] = []

    def _handle_frame(self, frame: bytes) -> None:
        self.frames.append(frame)


async def test_the_reading_task_hands_every_frame_to_the_connection_in_order_until_the_stream_ends() -> None:
    sent = payloads(11)
    reader = asyncio.StreamReader()
    reader.feed_data(framed(sent))
    reader.feed_eof()
    connection = Connection(reader)

    with pytest.raises(asyncio.IncompleteReadError):  # aiokafka's done callback closes the connection on it
        await read_frames(weakref.ref(connection))

    assert connection.frames == sent


async def test_the_reading_task_stops_once_its_connection_is_gone() -> None:
    reader = asyncio.StreamReader()
    connection = Connection(reader)
    task = asyncio.create_task(read_frames(weakref.ref(connection)))
    await asyncio.sleep(0)
    del connection
    reader.feed_data(framed([b"late"]))
    await asyncio.wait_for(task, 1)
    assert task.result() is None


def test_aiokafka_s_own_reading_task_is_the_loop_read_frames_keeps() -> None:
    """The replacement mirrors aiokafka 0.14's ``_read``: a change there must be looked at here."""
    source = inspect.getsource(aiokafka_conn)
    start = source.index("    async def _read(self_ref):")
    stock = source[start : source.index("    def _handle_frame", start)]
    lines = [line.strip() for line in stock.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines == [
        "async def _read(self_ref):",
        "self = self_ref()",
        "if self is None:",
        "return",
        "reader = self._reader",
        "del self",
        "while True:",
        "resp = await reader.readexactly(4)",
        '(size,) = struct.unpack(">i", resp)',
        "resp = await reader.readexactly(size)",
        "self = self_ref()",
        "if self is None:",
        "return",
        "self._handle_frame(resp)",
        "del self",
    ]


def test_connections_read_frames_in_pieces_once_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AIOKafkaConnection, "_read", AIOKafkaConnection.__dict__["_read"])
    assert read_large_frames_in_pieces()
    assert read_large_frames_in_pieces()  # twice is once
    assert AIOKafkaConnection.__dict__["_read"].__func__ is read_frames


def test_an_aiokafka_that_reads_otherwise_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def elsewise(self: AIOKafkaConnection) -> None: ...

    monkeypatch.setattr(AIOKafkaConnection, "_read", elsewise)
    assert not kafka_reads.read_large_frames_in_pieces()
    assert AIOKafkaConnection.__dict__["_read"] is elsewise
