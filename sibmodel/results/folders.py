"""Output folders and files: sibmodel never deletes or replaces anything it did not write.

Every command that writes (``run``, ``compare``, ``stress``, ``sensitivity``,
``join``, ``baseline``, ``report``, ``calibrate --write``) goes through this
module, the one place where outputs are checked, locked, staged and swapped in:

* **Ownership.**  A folder is sibmodel's only if it carries the marker file
  :data:`MARKER_FILE` (JSON: the sibmodel version, the command, when, and every
  path it wrote), or is a run or comparison folder written before the marker
  existed (``manifest.json`` with a ``versions.sibmodel`` entry, or
  ``compare.json``).  A file is sibmodel's if its first line is the header
  ``calibrate`` writes.  An output is replaced only with ``overwrite=True``
  (``--overwrite``), only if it is sibmodel's, and only if it holds nothing
  sibmodel did not write there; anything else is an :class:`OutputError`
  (exit code 2).  A new or empty folder is fine.  The current folder, its
  parents, symbolic links and files where a folder is expected are refused.
* **Locks.**  :func:`claim` takes an exclusive ``flock`` on ``.<name>.lock``
  beside the output for as long as the command runs; a second command writing
  to the same output fails at once.  Locks are re-entrant within a process.
* **Staging and swap.**  :func:`output_folder` yields a hidden folder beside the
  target, then marks it and swaps it into place: by an atomic exchange
  (``renameat2(RENAME_EXCHANGE)``, Linux) where the file system has it, else by
  two renames with the old folder put back if the second fails.  Signals are
  held off during the swap.
* **Temporaries** are named ``.sibmodel-<kind>-<host>-<pid>-<token>[.<target name>]``.
  :func:`clean_stale` (run by every command before it writes in a folder)
  removes those whose process is gone, and puts back an old folder (kind
  ``old``) whose swap was cut short before its replacement arrived.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sibmodel.exceptions import SibmodelError

#: The file that marks a folder as sibmodel's output (JSON; see :func:`write_marker`).
MARKER_FILE = ".sibmodel-output.json"

#: First line of a file sibmodel writes (``calibrate --write``), which marks it as sibmodel's.
FILE_HEADER = "# Written by `sibmodel "

#: Files and folders of a run folder written before :data:`MARKER_FILE` existed.
_LEGACY_RUN = {
    "summary.json",
    "manifest.json",
    "draws.parquet",
    "cashflows.parquet",
    "occupancy.parquet",
    "report.html",
    "figures",
}
#: ... and of a comparison folder.
_LEGACY_COMPARE = {"compare.html", "compare.json", "compare.csv", "figures"}

_TEMP_RE = re.compile(r"^\.sibmodel-(new|old|spool)-([0-9a-f]{6})-(\d+)-([0-9a-f]{8})(?:\.(.+))?$")

#: This machine's tag in temporaries' names: process ids are compared only with this machine's
#: (two hosts or containers writing in one shared folder never clean up each other's).
HOST_TAG = hashlib.sha256(__import__("socket").gethostname().encode()).hexdigest()[:6]

#: Signals that stop a command like Ctrl-C (held off while an output is swapped in).
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


#: Outputs this process has put in place during the current command (for the interrupt message).
written: list[str] = []


class OutputError(SibmodelError):
    """An output cannot be written without destroying something, or cannot be written at all."""


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal (SIGINT, SIGTERM or SIGHUP).

    A :class:`KeyboardInterrupt`, so every clean-up that runs on Ctrl-C runs on
    SIGTERM and SIGHUP too; the command exits with ``128 + signum``.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)


# --------------------------------------------------------------------------- names
def safe_name(text: str, limit: int = 120) -> str:
    """``text`` as one safe folder-name component: no separators, no leading dot, never empty.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``;
    leading dots are dropped (a scenario named ``..yaml`` must not name ``..``);
    a name longer than ``limit`` characters is cut and ends in a hash of the whole.
    """
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(text)).lstrip(".")
    if len(name) > limit:
        name = name[: limit - 9] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name or "scenario"


def overrides_tag(overrides: Iterable[str]) -> str:
    """``-set-<8 hex digits>``: a hash of the ``--set`` overrides, in order ('' without any)."""
    items = list(overrides)
    if not items:
        return ""
    return "-set-" + hashlib.sha256("\n".join(items).encode()).hexdigest()[:8]


def default_output(name: str, overrides: Iterable[str] = (), root: str | os.PathLike = "runs") -> Path:
    """The default output of a command: ``runs/<name>[-set-<hash of the overrides>]``.

    :func:`claim` with ``numbered=True`` adds ``-2``, ``-3``, ... when that is taken.
    """
    return Path(root) / (safe_name(name) + overrides_tag(overrides))


# --------------------------------------------------------------------------- ownership
def _read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "sibmodel" in data else None


def _legacy_kind(folder: Path) -> str | None:
    """``"run"`` or ``"compare"`` for a folder an earlier sibmodel wrote without a marker."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if (
            isinstance(manifest, dict)
            and isinstance(manifest.get("versions"), dict)
            and "sibmodel" in manifest["versions"]
        ):
            return "run"
    except (OSError, ValueError):
        pass
    try:
        doc = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
        if isinstance(doc, dict) and {"scenarios", "table"} <= doc.keys():
            return "compare"
    except (OSError, ValueError):
        pass
    return None


def is_sibmodel_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a folder sibmodel wrote (marker, or a run/comparison folder of an earlier version)."""
    folder = Path(folder)
    return (
        folder.is_dir()
        and not folder.is_symlink()
        and (_read_marker(folder) is not None or _legacy_kind(folder) is not None)
    )


def list_entries(folder: Path) -> set[str]:
    """Every path under ``folder`` (relative, '/'-separated), without the marker, locks and sibmodel temporaries."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        rel = os.path.relpath(dirpath, folder)
        dirnames[:] = [d for d in dirnames if not _TEMP_RE.match(d)]
        for n in dirnames + filenames:
            if n == MARKER_FILE or _TEMP_RE.match(n) or (n.startswith(".") and n.endswith(".lock")):
                continue
            out.add(n if rel == "." else f"{rel}/{n}".replace(os.sep, "/"))
    return out


def foreign_entries(folder: str | os.PathLike) -> list[str]:
    """Paths in sibmodel's ``folder`` that sibmodel did not write there (sorted)."""
    folder = Path(folder)
    marker = _read_marker(folder)
    have = list_entries(folder)
    if marker is not None:
        return sorted(have - set(marker.get("files") or ()))
    allowed = _LEGACY_RUN if _legacy_kind(folder) == "run" else _LEGACY_COMPARE
    return sorted(p for p in have if not (p in allowed or (p.startswith("figures/") and p.endswith((".png", ".svg")))))


def write_marker(folder: str | os.PathLike, command: str, files: Iterable[str] | None = None) -> None:
    """Write :data:`MARKER_FILE` into ``folder``: version, command, time, and the paths
    sibmodel wrote there (``files``; default: every path now in it)."""
    import datetime as dt

    from sibmodel.version import __version__

    folder = Path(folder)
    doc = {
        "sibmodel": __version__,
        "command": command,
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": sorted(list_entries(folder) if files is None else set(files)),
    }
    replace_file(folder, MARKER_FILE, json.dumps(doc, indent=2))


def replace_file(folder: str | os.PathLike, name: str, text: str) -> Path:
    """Write the file ``name`` in ``folder`` (one sibmodel owns) atomically: beside it, then renamed in."""
    folder = Path(folder)
    tmp = make_temporary(folder, "new", name.lstrip("."), is_folder=False)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / name)
    _mine.discard(_key(tmp))
    return folder / name


def check_target(
    target: str | os.PathLike, *, overwrite: bool, folder: bool = True, display: str | None = None
) -> None:
    """Refuse an output that cannot be written without destroying something.

    Parameters
    ----------
    target : path
        The output folder (or file, with ``folder=False``).
    overwrite : bool
        Whether an earlier sibmodel output there may be replaced.
    folder : bool
        A folder output (else a file).
    display : str, optional
        How to name the output in messages (default: as given).

    Raises
    ------
    OutputError
        The current folder or one of its parents; a symbolic link; a file where
        a folder is expected or the reverse; a non-empty folder or a file
        sibmodel did not write; an earlier output without ``overwrite``; an
        earlier output holding paths sibmodel did not write.
    """
    given = display or str(target)
    path = Path(os.path.abspath(target))
    if folder:
        cwd = Path.cwd().resolve()
        if (
            path.name in ("", ".", "..")
            or path == cwd
            or path in cwd.parents
            or path.resolve() == cwd
            or path.resolve() in cwd.parents
        ):
            raise OutputError(
                f"{given}: is the current folder or one of its parents; give a new folder, e.g. runs/<name>"
            )
    if os.path.islink(path):
        raise OutputError(
            f"{given}: is a symbolic link; "
            "sibmodel does not write through links (give the folder it points to, or a new path)"
        )
    if not os.path.lexists(path):
        return
    if folder and not path.is_dir():
        raise OutputError(f"{given}: exists and is not a folder; give a new folder or an empty one")
    if not folder:
        if not path.is_file():
            raise OutputError(f"{given}: exists and is not a regular file; give a new file name")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                first = f.readline()
        except OSError as exc:
            raise OutputError(f"{given}: cannot be read ({exc.strerror}); give a new file name") from None
        if not first.startswith(FILE_HEADER):
            raise OutputError(
                f"{given}: exists and was not written by sibmodel; it is never replaced: give a new file name"
            )
        if not overwrite:
            raise OutputError(
                f"{given}: exists (an earlier sibmodel output); add --overwrite to replace it, or give a new file name"
            )
        return
    try:
        empty = not any(path.iterdir())
    except OSError as exc:
        raise OutputError(f"{given}: cannot be read ({exc.strerror})") from None
    if empty:
        return
    if not is_sibmodel_folder(path):
        raise OutputError(
            f"{given}: is a folder that sibmodel did not write (no {MARKER_FILE}) and is not empty; "
            "sibmodel never replaces it: give a new folder or an empty one"
        )
    if not overwrite:
        raise OutputError(
            f"{given}: holds an earlier sibmodel output; add --overwrite to replace it, or give another folder"
        )
    foreign = foreign_entries(path)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputError(
            f"{given}: holds files sibmodel did not write ({shown}); "
            "move them out first: --overwrite never deletes them"
        )


# --------------------------------------------------------------------------- temporaries
_mine: set[str] = set()  # the temporaries this process made (as _key gives them)


def _key(path: str | os.PathLike) -> str:
    """One spelling of a path however it was given (relative, with '..', through links)."""
    return os.path.realpath(path)


def make_temporary(parent: str | os.PathLike, kind: str, name: str = "", *, is_folder: bool = True) -> Path:
    """A new hidden temporary in ``parent``, named with this process's id (see :func:`clean_stale`).

    Stale temporaries in ``parent`` are cleaned first.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    clean_stale(parent)
    suffix = f".{name}" if name else ""
    while True:
        path = parent / f".sibmodel-{kind}-{HOST_TAG}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
        try:
            if is_folder:
                path.mkdir(mode=0o777)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        _mine.add(_key(path))
        return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    _mine.discard(_key(path))


def _alive(pid: int, path: Path) -> bool:
    if pid == os.getpid():  # ours only if this process made it (a dead process may have had our id)
        return _key(path) in _mine
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - e.g. a pid out of range
        return False
    return True


def clean_stale(parent: str | os.PathLike) -> list[str]:
    """Remove sibmodel temporaries in ``parent`` whose process is gone; restore cut-short swaps.

    An ``old`` temporary is a replaced output whose swap was interrupted: if its
    output is missing it is put back there, otherwise removed.

    Returns
    -------
    list of str
        What was done, one line each.
    """
    parent = Path(parent)
    done = []
    try:
        names = os.listdir(parent)
    except OSError:
        return done
    for n in names:
        m = _TEMP_RE.match(n)
        path = parent / n
        if not m or m.group(2) != HOST_TAG or _alive(int(m.group(3)), path):
            continue
        kind, target_name = m.group(1), m.group(5)
        if kind == "old" and target_name:
            target = parent / target_name
            try:
                with claim(target, check=False):
                    if not os.path.lexists(target):
                        os.rename(path, target)
                        done.append(f"restored {target} (its replacement was interrupted)")
                        continue
            except OutputError:
                continue  # someone is writing there now: leave it to them
        _remove(path)
        done.append(f"removed {path}")
    return done


# --------------------------------------------------------------------------- locks
@dataclass
class _Lock:
    fd: int
    path: Path
    count: int = 1


_held: dict[str, _Lock] = {}
_held_guard = threading.Lock()


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _acquire(target: Path, display: str) -> None:
    key = str(target)
    with _held_guard:
        if key in _held:
            _held[key].count += 1
            return
    lock = _lock_path(target)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"{display}: cannot write in {target.parent} ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            finally:
                os.close(fd)
            who = f" (process {other})" if other.isdigit() else ""
            raise OutputError(
                f"{display}: another sibmodel command is writing there{who}; wait for it, or give another output"
            ) from None
        # the lock file may have been removed by its previous holder between open and flock: retry
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    with _held_guard:
        _held[key] = _Lock(fd, lock)


def _release(target: Path) -> None:
    key = str(target)
    with _held_guard:
        lk = _held[key]
        lk.count -= 1
        if lk.count:
            return
        del _held[key]
    with contextlib.suppress(FileNotFoundError):
        lk.path.unlink()  # while still holding it: a waiting opener sees the inode change and retries
    os.close(lk.fd)


def _free(target: Path) -> bool:
    """Whether ``target`` does not exist and no process holds its lock."""
    if os.path.lexists(target):
        return False
    try:
        _acquire(target, str(target))
    except OutputError:
        return False
    _release(target)
    return not os.path.lexists(target)


@contextlib.contextmanager
def claim(
    target: str | os.PathLike,
    *,
    overwrite: bool = False,
    numbered: bool = False,
    folder: bool = True,
    check: bool = True,
) -> Iterator[Path]:
    """Lock the output ``target`` for as long as the block runs, and check it may be written.

    Parameters
    ----------
    target : path
    overwrite : bool
        An earlier sibmodel output there may be replaced (``--overwrite``).
    numbered : bool
        ``target`` is a default name: when it is taken (and ``overwrite`` is not
        given), use the first free ``<target>-2``, ``<target>-3``, ... instead.
    folder : bool
        A folder output (else a file).
    check : bool
        Run :func:`check_target` (``False`` only for the clean-up's own use).

    Yields
    ------
    Path
        The output path (``target``, or the numbered one).

    Raises
    ------
    OutputError
        Another process holds the lock, or :func:`check_target` refuses.
    """
    display = str(target)
    path = Path(os.path.abspath(target))
    if numbered and not overwrite and os.path.lexists(path):
        k = 2
        while not _free(path.with_name(f"{path.name}-{k}")):
            k += 1
            if k > 10_000:
                raise OutputError(f"{display}: no free numbered folder beside it; give --out")
        display = str(Path(display).with_name(f"{Path(display).name}-{k}"))
        path = path.with_name(f"{path.name}-{k}")
    if check:
        check_target(path, overwrite=overwrite, folder=folder, display=display)  # before making any folder
    made = [p for p in reversed(path.parents) if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{display}: cannot make {path.parent} ({exc.strerror})") from None
    try:
        _acquire(path, display)
    except BaseException:
        _remove_made(made)
        raise
    ok = False
    try:
        if check:
            clean_stale(path.parent)
            check_target(path, overwrite=overwrite, folder=folder, display=display)  # again, under the lock
        yield Path(display)
        ok = True
    finally:
        _release(path)
        if not ok:
            _remove_made(made)


def _remove_made(made: list[Path]) -> None:
    """Remove the folders :func:`claim` made, deepest first, if still empty."""
    for p in reversed(made):
        with contextlib.suppress(OSError):
            p.rmdir()


# --------------------------------------------------------------------------- signals
@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold off Ctrl-C, SIGTERM and SIGHUP until the block is done (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` in the block, as Ctrl-C raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in STOP_SIGNALS:
        # an ignored signal stays ignored: under nohup a hangup must not stop the run
        if sig != signal.SIGINT and signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- swap
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically (Linux ``renameat2``); ``False`` where not available."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_into_place(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Put ``new`` (a folder or file beside ``target``) at ``target``; the old one is removed after.

    An atomic exchange where the system has one; else ``target`` is renamed to
    an ``old`` temporary, ``new`` renamed into place, and the old one put back if
    that fails (and by :func:`clean_stale` if this process dies in between).
    Signals are held off meanwhile.
    """
    new, target = Path(new), Path(target)
    with signals_held():
        if not os.path.lexists(target):
            os.rename(new, target)
            _mine.discard(_key(new))
            return
        if _exchange(new, target):
            _remove(new)  # now holds the old one
            return
        # an empty folder (or file) to rename the old one onto: renaming onto it replaces it
        old = make_temporary(target.parent, "old", target.name, is_folder=target.is_dir())
        os.rename(target, old)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(old, target)
            raise
        _mine.discard(_key(new))
        _remove(old)


@dataclass
class Output:
    """An output being written: stage everything in :attr:`staging`; :attr:`target` is where it goes."""

    target: Path
    staging: Path


def output_folder(
    target: str | os.PathLike, *, command: str, overwrite: bool = False, numbered: bool = False, before_marker=None
):
    """Write an output folder safely: claim it, stage it, mark it, swap it in.

    Parameters
    ----------
    target : path
        The output folder.
    command : str
        The command writing it (recorded in the marker).
    overwrite, numbered : bool
        As for :func:`claim`.
    before_marker : callable, optional
        Called with the staging folder when the block ends, before the marker is written
        (e.g. to write ``manifest.json``: :func:`sibmodel.results.manifest.manifest_writer`).

    Yields
    ------
    Output
        Write into ``.staging``; when the block ends normally the folder is
        marked (:func:`write_marker`) and swapped in at ``.target``.  On an
        exception or a signal the staging folder is removed and nothing changes.

    Raises
    ------
    OutputError
        As :func:`claim`, or when the folder cannot be written (disk full, read-only).
    """

    def finish(staging: Path) -> None:
        if before_marker is not None:
            before_marker(staging)
        write_marker(staging, command)

    return _staged(target, overwrite=overwrite, numbered=numbered, finish=finish)


def write_file(target: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    """Write a text file safely: claimed, written beside, renamed in (see :func:`check_target`)."""
    with _staged(target, overwrite=overwrite, folder=False) as out:
        out.staging.write_text(text, encoding="utf-8")
    return out.target


@contextlib.contextmanager
def _staged(target, *, overwrite: bool, numbered: bool = False, folder: bool = True, finish=None) -> Iterator[Output]:
    """Claim ``target``, yield a staging folder (or file) beside it, then ``finish(staging)``,
    check again and swap it in; on any failure remove the staging copy and change nothing."""
    with claim(target, overwrite=overwrite, numbered=numbered, folder=folder) as path:
        staging = make_temporary(Path(os.path.abspath(path)).parent, "new", path.name, is_folder=folder)
        try:
            yield Output(path, staging)
            if finish is not None:
                finish(staging)
            check_target(
                path, overwrite=overwrite, folder=folder, display=str(path)
            )  # nothing appeared there meanwhile
            with signals_held():  # a signal now is handled after the swap is recorded as done
                swap_into_place(staging, path)
                written.append(str(path))
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        finally:
            if os.path.lexists(staging):
                with signals_held():
                    _remove(staging)
