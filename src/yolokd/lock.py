"""One process per run folder: a second ``yolokd compare`` or ``yolokd train`` on a folder in use is refused.

The lock is an OS file lock (``flock``; ``msvcrt.locking`` on Windows) on ``FOLDER/.yolokd.lock``, which
also holds the holder's PID, host and start time for the message. The OS releases it when the holder
exits, however it exits, so a lock left by a killed process is simply taken over.
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import datetime
from pathlib import Path

from yolokd.cfg import SettingsError

LOCK = ".yolokd.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FolderLock:
    """Hold ``folder``'s lock (``acquire``/``release``, or ``with``); SettingsError naming the holder if taken."""

    def __init__(self, folder: str | Path, what: str = "folder") -> None:
        self.folder, self.what, self.fd = Path(folder), what, None

    def acquire(self) -> None:
        if self.fd is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            try:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
            except OSError:  # Windows locks are mandatory: the holder's line cannot be read
                holder = "unknown"
            os.close(fd)
            if holder.startswith(f"PID {os.getpid()} on {socket.gethostname()} "):
                raise SettingsError(
                    f"{self.what} '{self.folder}' is held by this same process ({holder}): an earlier run on it "
                    "has not finished; use another name= for a second run at the same time"
                )
            raise SettingsError(
                f"{self.what} '{self.folder}' is in use by another yolokd process ({holder}); wait for it to finish "
                "or stop it, or pass another name= (two processes would train and write the same runs)"
            )
        when = datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"PID {os.getpid()} on {socket.gethostname()} since {when}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    __del__ = release
