"""Where the clips of a training job live: in memory, or unpacked from the keypoint shards
into one unnamed scratch file and read back one clip at a time.

The shards are zstd-compressed parquet, one row group per shard, so a single clip cannot be
read from them without decoding its whole shard. At SLR-500 scale (~87k training clips of
~100 frames x 87 points) the clips are ~9 GB of float32 per stream job: held in memory,
four stream jobs on one node need 36 GB. The disk store reads the shards one at a time,
writes each needed clip's frames to a temporary file (``tempfile.TemporaryFile``: unlinked
from the start, so a killed job leaves nothing behind; it lives in ``$TMPDIR``) and reads a
clip with one ``pread`` when a batch needs it. The job then holds one shard while
unpacking and a few batches while training; the file's pages sit in the kernel's page
cache, which is not the job's memory and is given back under pressure. Every clip is the
same float32 array either way, so results do not depend on the store.
"""
from __future__ import annotations

import logging
import os
import tempfile
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

STORES = ("auto", "memory", "disk")


class ClipFile:
    """A sequence of (T_i, V, C) float32 clips in one file: ``clips[i]`` reads clip i."""

    def __init__(self, file: BinaryIO, offsets: np.ndarray, lengths: np.ndarray, frame_shape: tuple[int, int]):
        self.file, self.frame_shape = file, tuple(frame_shape)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i: int) -> np.ndarray:
        V, C = self.frame_shape
        buffer = bytearray(int(self.lengths[i]) * V * C * 4)
        view, at, fd = memoryview(buffer), int(self.offsets[i]), self.file.fileno()
        while view:                         # pread may return less than asked; it is thread-safe
            got = os.preadv(fd, [view], at)
            if got == 0:
                raise EOFError(f"clip file: clip {i} ends past the file's end")
            view, at = view[got:], at + got
        return np.frombuffer(buffer, dtype=np.float32).reshape(-1, V, C)

    def take(self, indices) -> ClipFile:
        """The clips at ``indices``, in that order (the same file; nothing is read)."""
        indices = np.asarray(indices, dtype=np.int64)
        return ClipFile(self.file, self.offsets[indices], self.lengths[indices], self.frame_shape)


def take_clips(clips, indices):
    """``[clips[i] for i in indices]`` that reads nothing from a ClipFile."""
    return clips.take(indices) if isinstance(clips, ClipFile) else [clips[i] for i in indices]


def choose_store(store: str, nbytes: int, memory_mib: int) -> str:
    """``auto``: memory when the clips fit in ``memory_mib``, else disk."""
    if store not in STORES:
        raise ValueError(f"train.clips.store: {store!r}; expected one of {', '.join(STORES)}")
    if store == "auto":
        return "memory" if nbytes <= memory_mib * 2 ** 20 else "disk"
    return store


class MemoryClips:
    """Keeps the clips it is given (``add``) in memory; ``clips`` hands back the ones asked
    for, in the order asked."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, sample_id: str, frames: np.ndarray) -> None:
        self.arrays[sample_id] = frames

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self.arrays

    def clips(self, sample_ids: list[str]) -> list[np.ndarray]:
        return [self.arrays[s] for s in sample_ids]


class DiskClips:
    """Writes the clips it is given (``add``) to one unnamed scratch file; ``clips`` hands
    back a ClipFile of the ones asked for, in the order asked."""

    def __init__(self):
        self.where: dict[str, tuple[int, int]] = {}       # sample -> (offset, frames)
        self.file = tempfile.TemporaryFile(prefix="gspmc-clips-")
        self.frame_shape: tuple[int, int] | None = None
        self.size = 0

    def add(self, sample_id: str, frames: np.ndarray) -> None:
        self.frame_shape = frames.shape[1:]
        data = np.ascontiguousarray(frames, dtype=np.float32)
        self.file.write(memoryview(data).cast("B"))
        self.where[sample_id] = (self.size, len(frames))
        self.size += data.nbytes

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self.where

    def clips(self, sample_ids: list[str]) -> ClipFile:
        self.file.flush()
        offsets, lengths = zip(*(self.where[s] for s in sample_ids)) if sample_ids else ((), ())
        return ClipFile(self.file, np.array(offsets), np.array(lengths), self.frame_shape)


# a chosen store (choose_store) -> the collector that keeps its clips
CLIP_COLLECTORS = {"memory": MemoryClips, "disk": DiskClips}
