"""Live samples of a processor's output, from the flow's processes to the instance, through files.

The instance opens a sample by creating ``SAMPLES/open-GEN`` (one generation per cursor). Every
flow process taps the chunks about to reach its sink: it looks for markers at most four times a
second and, only while one exists, appends the chunk as BSON documents to ``SAMPLES/GEN-PID.bson``
(dead letters wrapped as ``{_dlqMessage: record}``, as Atlas prints them). With no sample open the
tap costs one clock read per batch. The instance reads each file from where its cursor stopped;
BSON documents carry their length, so a half-written tail is simply read next time.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time

import bson
from bson.errors import InvalidDocument

from instance.errors import CommandError

MARKER_PREFIX = "open-"
CHECK_SECONDS = 0.25
SAMPLE_LIMIT_BYTES = 40 * 1024 * 1024  # Atlas ends a sample after 40 MB
REPLY_LIMIT_BYTES = 4 * 1024 * 1024  # messages per getMore, well under the 16 MiB of one reply
IDLE_SECONDS = 120.0  # a cursor nobody asked for in this long expires


class SampleTap:
    """Called by the flow with the chunks about to reach the sink (or the DLQ, ``dead``)."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._next_check = 0.0
        self._files: dict[str, object] = {}  # generation → open file
        self._lock = threading.Lock()  # worker threads of one process share the files

    def __call__(self, chunks: list, dead: bool = False) -> list:
        now = time.monotonic()
        if now >= self._next_check:
            self._refresh(now)
        if self._files:
            self._write(chunks, dead)
        return chunks

    def _refresh(self, now: float) -> None:
        self._next_check = now + CHECK_SECONDS
        try:
            names = os.listdir(self._directory)
        except FileNotFoundError:
            names = []
        open_now = {name[len(MARKER_PREFIX) :] for name in names if name.startswith(MARKER_PREFIX)}
        with self._lock:
            for generation in set(self._files) - open_now:
                self._files.pop(generation).close()
            for generation in open_now - set(self._files):
                path = os.path.join(self._directory, f"{generation}-{os.getpid()}.bson")
                self._files[generation] = open(path, "ab")

    def _write(self, chunks: list, dead: bool) -> None:
        parts = []
        for chunk in chunks:
            for doc in chunk:
                try:
                    parts.append(bson.encode({"_dlqMessage": doc} if dead else doc))
                except (InvalidDocument, TypeError, OverflowError):
                    continue  # a sample shows what it can; the sink still gets the document
        if not parts:
            return
        data = b"".join(parts)
        with self._lock:
            for file in self._files.values():
                if file.tell() < SAMPLE_LIMIT_BYTES:
                    file.write(data)
                    file.flush()


class SampleCursor:
    """One open sample: where it stopped in each process's file, and how much it returned."""

    def __init__(self, cursor_id: int, processor_id: str, connection_id: int, directory: str) -> None:
        self.id = cursor_id
        self.processor_id = processor_id
        self.connection_id = connection_id
        self.directory = directory
        self.generation = secrets.token_hex(6)
        self.returned_bytes = 0
        self.last_used = time.monotonic()
        self._offsets: dict[str, int] = {}
        os.makedirs(directory, exist_ok=True)
        open(os.path.join(directory, MARKER_PREFIX + self.generation), "wb").close()

    def read(self) -> list[dict]:
        """The documents written since the last read, within the reply and sample limits."""
        self.last_used = time.monotonic()
        budget = min(REPLY_LIMIT_BYTES, SAMPLE_LIMIT_BYTES - self.returned_bytes)
        messages: list[dict] = []
        for name in self._files():
            if budget <= 0:
                break
            path = os.path.join(self.directory, name)
            offset = self._offsets.get(name, 0)
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read(budget)
            used = 0
            while used + 4 <= len(data):
                size = int.from_bytes(data[used : used + 4], "little")
                if used + size > len(data):
                    break
                messages.append(bson.decode(data[used : used + size]))
                used += size
            self._offsets[name] = offset + used
            self.returned_bytes += used
            budget -= used
        return messages

    @property
    def exhausted(self) -> bool:
        return self.returned_bytes >= SAMPLE_LIMIT_BYTES

    def _files(self) -> list[str]:
        prefix = self.generation + "-"
        try:
            return sorted(name for name in os.listdir(self.directory) if name.startswith(prefix))
        except FileNotFoundError:
            return []

    def close(self) -> None:
        """Tell the taps to stop and remove what they wrote for this cursor."""
        for name in [MARKER_PREFIX + self.generation, *self._files()]:
            try:
                os.remove(os.path.join(self.directory, name))
            except FileNotFoundError:
                pass


class SampleCursors:
    """Every open cursor of the instance, by id; expired on disconnect or idleness."""

    def __init__(self) -> None:
        self._cursors: dict[int, SampleCursor] = {}
        self._ids = itertools.count(secrets.randbelow(1 << 40) + 1)

    def open(self, processor_id: str, connection_id: int, directory: str) -> SampleCursor:
        cursor = SampleCursor(next(self._ids), processor_id, connection_id, directory)
        self._cursors[cursor.id] = cursor
        return cursor

    def get(self, cursor_id: int, processor_id: str) -> SampleCursor:
        cursor = self._cursors.get(cursor_id)
        if cursor is None or cursor.processor_id != processor_id:
            raise CommandError(43, "CursorNotFound", f"sample cursor {cursor_id} not found")
        return cursor

    def close(self, cursor: SampleCursor) -> None:
        if self._cursors.pop(cursor.id, None) is not None:
            cursor.close()

    def of_connection(self, connection_id: int) -> list[SampleCursor]:
        return [c for c in self._cursors.values() if c.connection_id == connection_id]

    def of_processor(self, processor_id: str) -> list[SampleCursor]:
        return [c for c in self._cursors.values() if c.processor_id == processor_id]

    def idle(self) -> list[SampleCursor]:
        cutoff = time.monotonic() - IDLE_SECONDS
        return [c for c in self._cursors.values() if c.last_used < cutoff]
