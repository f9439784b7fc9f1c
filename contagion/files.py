"""Reading and writing files safely: bounded reads, atomic writes, output folders under a lock.

Reading (:func:`read_bytes`, :func:`read_text`). A file is opened with ``O_NONBLOCK``, so
opening a named pipe never waits for a writer, and refused unless ``fstat`` of the open
descriptor says it is a regular file (``stat.S_ISREG``): named pipes, character and block
devices (``/dev/zero``, ``/dev/urandom``), sockets and directories give an
:class:`~contagion.InputError`. At most ``limit + 1`` bytes are then read: the size limit
holds for the bytes actually read, whatever ``st_size`` says (a file that grows while it is
read, a special file that reports 0). Every ``OSError`` (a symlink loop, a permission, a
name too long) becomes an ``InputError`` naming the file.

Writing (:func:`atomic_write_bytes`, :func:`atomic_write_text`). A temp file in the target's
folder, then ``os.replace``: a reader sees the old file or the new one, never a mix; a
symbolic link at the target is replaced, never written through.

Output folders (:class:`OutputDirectory`). A folder that a run writes (a report, a result)
is held under an exclusive, non-blocking ``flock`` on the folder itself for the whole run:
a second process writing to the same folder fails at once with an ``InputError``. New
contents are written into a staging folder beside it (``.<name>.staging-*`` in the same
parent, so on the same file system) and swapped in whole: with Linux's
``renameat2(RENAME_EXCHANGE)`` in one atomic step, elsewhere by two renames. Files and arm
folders of an earlier run therefore never survive beside the new ones, and a run killed
at any moment leaves the old folder or the new one, plus at most a staging folder that the
next run into the same folder removes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from contagion.errors import InputError, Problem

try:  # POSIX only; elsewhere output folders are not locked (documented in the README)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Largest document (YAML, JSON, GraphML, CSV) read, bytes: 50 times the largest bundled
#: system. The limit is on bytes read, not on ``st_size``.
MAX_DOCUMENT_BYTES = 64 * 2**20
#: Largest binary data file (parquet in a result folder or a checkpoint) read, bytes.
MAX_DATA_BYTES = 1024 * 2**20
_CHUNK_BYTES = 2**20
_STAGING = ".staging-"
_LOCK_RETRIES = 5


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def os_problem(err: OSError, field: str = "(path)") -> Problem:
    """An ``OSError`` as a problem (its reason, e.g. 'Too many levels of symbolic links')."""
    if isinstance(err, FileNotFoundError):
        reason = "file not found"
    else:
        reason = err.strerror or str(err)
    return Problem("file", field, reason)


def read_bytes(path: str | os.PathLike, *, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of a regular file, at most ``limit`` (see the module docstring).

    Raises
    ------
    InputError
        Naming the file: not found, not a regular file (pipe, device, socket, directory),
        larger than ``limit`` bytes, or any other ``OSError``.
    """
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the name
        if isinstance(err, ValueError):
            raise InputError(Problem("file", "(path)", f"invalid path: {err}"), source) from None
        raise InputError(os_problem(err), source) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(
                Problem("file", "(path)", f"is {_kind(mode)}; a regular file is needed"), source
            )
        parts: list[bytes] = []
        total = 0
        while True:
            block = os.read(fd, min(_CHUNK_BYTES, limit + 1 - total))
            if not block:
                break
            parts.append(block)
            total += len(block)
            if total > limit:
                raise InputError(
                    Problem("file", "(size)", f"larger than the limit of {limit:,} bytes"),
                    source,
                )
        return b"".join(parts)
    except OSError as err:
        raise InputError(os_problem(err), source) from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, *, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a byte-order mark is kept for the caller)."""
    data = read_bytes(path, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            Problem("file", "(encoding)", f"not valid UTF-8 text ({err.reason})"), str(path)
        ) from None


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_mode() -> int:
    """What ``open()`` gives a new file: 0o666 less the umask (mkstemp makes 0o600)."""
    return 0o666 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write a file atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _default_mode())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: str | os.PathLike, write) -> None:
    """Atomically write ``path`` by calling ``write(temp_path)`` (e.g. ``frame.to_parquet``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- swapping folders ------------------------------------------------------------------------
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    """glibc's ``renameat2`` (Linux >= 3.15, glibc >= 2.28), or None."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_EXCHANGE = _renameat2() if os.name == "posix" else None


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (``RENAME_EXCHANGE``); False if unsupported."""
    if _EXCHANGE is None:
        return False
    rc = _EXCHANGE(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # kernel or file system without the flag
    raise OSError(err, os.strerror(err), str(b))


def swap_in(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target`` and remove what was there (a folder or a link).

    With ``RENAME_EXCHANGE`` the switch is one atomic step; otherwise the old folder is
    renamed aside first (a crash between the two renames leaves it beside ``target``).
    """
    if not target.is_symlink() and target.is_dir():
        if exchange(new, target):
            shutil.rmtree(new, ignore_errors=True)  # now the old contents
            return
        aside = target.with_name(f".{target.name}{_STAGING}old-{os.getpid()}")
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(target, aside)
        os.rename(new, target)
        shutil.rmtree(aside, ignore_errors=True)
        return
    if target.is_symlink() or target.exists():
        target.unlink()  # a link or a file in the way: remove it, never write through it
    os.rename(new, target)


def remove_stale_staging(target: Path) -> None:
    """Remove staging folders that killed runs left beside ``target``."""
    for p in target.parent.glob(f".{target.name}{_STAGING}*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)


def foreign_entries(folder: Path, owned: set[str]) -> list[str]:
    """Entries of ``folder`` that are not in ``owned`` (nor temp files or staging folders
    of ours): what replacing the folder whole would delete that is not output."""
    out = []
    for p in folder.iterdir():
        name = p.name
        if name in owned or (name.startswith(".") and (name.endswith(".tmp") or _STAGING in name)):
            continue
        out.append(name)
    return sorted(out)


# --- output folders ------------------------------------------------------------------------
class OutputDirectory:
    """A folder written by one process at a time, replaced whole (module docstring).

    ``OutputDirectory(path).acquire()`` creates the folder if needed and takes the lock
    (:class:`~contagion.InputError` if another process holds it); :meth:`staging` yields a
    fresh folder beside it and swaps it in when the block ends without an exception;
    :meth:`release` drops the lock. Use it as a context manager.
    """

    def __init__(self, path: str | os.PathLike, *, option: str = "--out") -> None:
        self.path = Path(os.path.realpath(path))  # a link to a folder: write there
        self.option = option
        self._fd: int | None = None
        self.created = False  # whether acquire() made the folder

    def __enter__(self) -> OutputDirectory:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> OutputDirectory:
        """Create the folder (and parents) if missing and lock it; idempotent."""
        if self._fd is not None:
            return self
        for _ in range(_LOCK_RETRIES):
            try:
                try:
                    self.path.mkdir(parents=True)
                    self.created = True
                except FileExistsError:
                    pass
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError as err:
                raise InputError(os_problem(err, self.option), str(self.path)) from None
            if fcntl is None:  # pragma: no cover - no flock: unlocked
                self._fd = fd
                return self
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise InputError(
                        Problem(
                            "output",
                            self.option,
                            "another contagion process is writing to this folder; wait for "
                            "it to finish or choose another folder",
                        ),
                        str(self.path),
                    ) from None
                raise InputError(os_problem(err, self.option), str(self.path)) from None
            # the folder may have been swapped while we waited: lock the one at the path
            try:
                now = os.stat(self.path)
            except OSError:
                now = None
            held = os.fstat(fd)
            if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                self._fd = fd
                remove_stale_staging(self.path)
                return self
            os.close(fd)
        raise InputError(
            Problem("output", self.option, "the folder keeps being replaced by another process"),
            str(self.path),
        )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def abandon(self) -> None:
        """Release, and remove the folder if :meth:`acquire` made it and it is still empty
        (a command that failed leaves nothing behind)."""
        locked = self._fd is not None
        self.release()
        if locked and self.created:
            with contextlib.suppress(OSError):
                self.path.rmdir()  # only if empty

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh folder beside the target; swapped in whole if the block succeeds."""
        self.acquire()
        new = Path(tempfile.mkdtemp(prefix=f".{self.path.name}{_STAGING}", dir=self.path.parent))
        os.chmod(new, 0o777 & ~_umask())  # mkdtemp makes 0o700; give what mkdir would
        try:
            yield new
            swap_in(new, self.path)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        finally:
            # the lock was on the folder now replaced (or on the one kept): writing is over
            self.release()
