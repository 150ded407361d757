"""Autotuning results on disk, one file per timed config, so that a new process (or a kernel that
gained a config) times only what it has not timed before.

Layout, under the runtime's cache directory (``$TESSERA_CACHE_DIR``, default ``~/.cache/tessera``)::

    tuning/<kernel name>-<kernel hash>/<key hash>/<config hash>.json

- the kernel hash covers the compiler version (which hashes the compiler's own sources) and the
  text of the file defining the kernel, so that editing either forgets old timings;
- the key hash covers the tuning key: the values of the ``key`` arguments, the dtypes, and the
  device's compile target (its architecture: "sm_90a"), so that a bundle built for an
  architecture serves every GPU of it;
- each entry holds the config, its time in milliseconds or the reason it was skipped, and a
  SHA-256 of the rest, so that a truncated or altered file is recognised, removed and timed again.

Entries are written to a temporary file in the same directory and renamed into place, so that
processes tuning the same kernel at once never see half an entry. The cache is an optimisation: a
directory that cannot be written costs one warning, and tuning goes on in memory.
"""
from __future__ import annotations

import glob
import hashlib
import inspect
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .. import _C

__all__ = ["AotDevice", "TunedResult", "TuningCache", "UNTIMED", "cache_root", "config_json",
           "kernel_identity", "key_json", "preload", "stored_records"]

logger = logging.getLogger("tessera.autotune")

_FORMAT = 1

# The time a bundle records for a config chosen without timing it (a bundle built without a GPU):
# the autotuner takes that config for its key and times nothing.
UNTIMED = float("inf")


@dataclass(frozen=True)
class TunedResult:
    """A config's outcome: its time in milliseconds, or the reason it could not run."""

    milliseconds: Optional[float] = None
    skipped: Optional[str] = None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _python_source(kernel: Any) -> Any:
    """What defines a (possibly decorated) kernel: the function under its ``.fn`` chain, or the
    class of a kernel object that is not a function."""
    while not inspect.isfunction(kernel) and hasattr(kernel, "fn"):
        kernel = kernel.fn
    return kernel if inspect.isfunction(kernel) else type(kernel)


def kernel_identity(kernel: Any) -> str:
    """``<name>-<hash>`` of a kernel for its tuning directory: see the module docstring."""
    definition = _python_source(kernel)
    name = getattr(kernel, "__name__", definition.__name__)
    try:
        with open(inspect.getsourcefile(definition) or "", encoding="utf-8") as source_file:
            source = source_file.read()
    except (OSError, TypeError):
        source = ""
    qualified = f"{definition.__module__}.{definition.__qualname__}.{name}"
    return f"{name}-{_digest(_C.version() + chr(0) + qualified + chr(0) + source)[:16]}"


@dataclass(frozen=True)
class AotDevice:
    """A device that is not there: the compile target a bundle is built for, standing in for the
    device part of tuning keys (``tessera.aot``)."""

    target: str


def _portable(value: Any) -> Any:
    """A JSON-friendly stand-in for a key part (devices become their compile target)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_portable(v) for v in value]
    if isinstance(value, AotDevice):
        return {"target": value.target}
    if getattr(value, "type", None) == "cuda" and hasattr(value, "index"):
        index = value.index if value.index is not None else 0
        return {"target": _C.device_target(index)}
    return repr(value)


def _config_record(config: Any) -> Dict[str, Any]:
    return {name: _portable(value) for name, value in config.all_kwargs().items()}


def cache_root() -> str:
    """The runtime's cache directory ("" when there is none)."""
    return _C.cache_directory()


_warned = False  # an unwritable directory is reported once per process

# Results from loaded bundles (tessera.load_bundle), consulted before the disk:
# {(kernel identity, key JSON): {config JSON: TunedResult}}.
_preloaded: Dict[Tuple[str, str], Dict[str, TunedResult]] = {}
# Configs that loaded bundles chose without timing: {(kernel identity, key JSON): config JSON}.
_choices: Dict[Tuple[str, str], str] = {}


def key_json(key: Sequence[Any]) -> str:
    """The text that identifies a tuning key across processes (devices as target and name)."""
    return json.dumps(_portable(list(key)))


def config_json(config: Any) -> str:
    """The text that identifies a config across processes."""
    return json.dumps(_config_record(config), sort_keys=True)


def preload(kernel: str, key: str, config: str, milliseconds: float) -> None:
    """Records a bundle's result for ``config`` (``config_json``) of ``kernel``
    (``kernel_identity``) under ``key`` (``key_json``); ``UNTIMED`` makes it the key's choice."""
    if milliseconds == UNTIMED:
        _choices[(kernel, key)] = config
    else:
        _preloaded.setdefault((kernel, key), {})[config] = TunedResult(milliseconds=milliseconds)


def _checksum(entry: Dict[str, Any]) -> str:
    body = {name: value for name, value in entry.items() if name != "checksum"}
    return _digest(json.dumps(body, sort_keys=True))


def _read_entry(path: str) -> Optional[Dict[str, Any]]:
    """The entry in the file ``path`` when it is whole (its format and checksum right); None when
    it is damaged or unreadable. A missing file raises FileNotFoundError."""
    try:
        with open(path, encoding="utf-8") as entry_file:
            entry = json.load(entry_file)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if isinstance(entry, dict) and entry.get("format") == _FORMAT and \
            entry.get("checksum") == _checksum(entry):
        return entry
    return None


def stored_records(root: Optional[str] = None) -> List[Tuple[str, str, str, float]]:
    """Every timed result in the tuning cache under ``root`` (default ``cache_root()``), as
    ``(kernel identity, key JSON, config JSON, milliseconds)``: what a bundle carries. Damaged
    entries are left out."""
    root = cache_root() if root is None else root
    records = []
    for path in sorted(glob.glob(os.path.join(root, "tuning", "*", "*", "*.json"))):
        try:
            entry = _read_entry(path)
        except FileNotFoundError:  # removed since the listing
            continue
        if entry is None or entry.get("milliseconds") is None:
            continue
        kernel = os.path.basename(os.path.dirname(os.path.dirname(path)))
        records.append((kernel, json.dumps(entry["key"]),
                        json.dumps(entry["config"], sort_keys=True), entry["milliseconds"]))
    return records


class TuningCache:
    """The stored results of one kernel (see ``kernel_identity``), under ``cache_root()``."""

    def __init__(self, kernel: Any) -> None:
        root = cache_root()
        self.identity = kernel_identity(kernel)
        self.directory = os.path.join(root, "tuning", self.identity) if root else None

    def _key_directory(self, key_text: str) -> Optional[str]:
        if self.directory is None:
            return None
        return os.path.join(self.directory, _digest(key_text)[:32])

    @staticmethod
    def _entry_name(config: Any) -> str:
        return _digest(config_json(config))[:32] + ".json"

    def load(self, key: Sequence[Any], configs: Iterable[Any]) -> Dict[Any, TunedResult]:
        """The stored results of those of ``configs`` that have one for ``key``: from a loaded
        bundle, else from the disk."""
        configs = list(configs)
        key_text = key_json(key)
        preloaded = _preloaded.get((self.identity, key_text), {})
        results: Dict[Any, TunedResult] = {}
        for config in configs:
            result = preloaded.get(config_json(config))
            if result is not None:
                results[config] = result
        directory = self._key_directory(key_text)
        if directory is None or not os.path.isdir(directory):
            return results
        for config in configs:
            if config in results:
                continue
            path = os.path.join(directory, self._entry_name(config))
            result = self._read(path, config)
            if result is not None:
                results[config] = result
        return results

    def bundled_choice(self, key: Sequence[Any], configs: Iterable[Any]) -> Optional[Any]:
        """The one of ``configs`` that a loaded bundle chose for ``key`` without timing, or
        None."""
        chosen = _choices.get((self.identity, key_json(key)))
        return next((c for c in configs if config_json(c) == chosen), None) if chosen else None

    def _read(self, path: str, config: Any) -> Optional[TunedResult]:
        try:
            entry = _read_entry(path)
        except FileNotFoundError:
            return None
        if entry is not None and entry.get("config") == _config_record(config):
            return TunedResult(entry.get("milliseconds"), entry.get("skipped"))
        logger.warning("tessera.autotune: discarding the corrupt tuning entry %s", path)
        try:
            os.remove(path)
        except OSError:
            pass
        return None

    def store(self, key: Sequence[Any], config: Any, result: TunedResult) -> None:
        """Writes ``config``'s result for ``key`` (atomically; nothing on failure but a warning,
        once)."""
        directory = self._key_directory(key_json(key))
        if directory is None:
            return
        entry: Dict[str, Any] = {"format": _FORMAT, "config": _config_record(config),
                                 "key": _portable(list(key)),
                                 "milliseconds": result.milliseconds, "skipped": result.skipped}
        entry["checksum"] = _checksum(entry)
        try:
            os.makedirs(directory, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as entry_file:
                    json.dump(entry, entry_file, sort_keys=True)
                    entry_file.flush()
                    os.fsync(entry_file.fileno())
                os.replace(temporary, os.path.join(directory, self._entry_name(config)))
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            global _warned
            if not _warned:
                _warned = True
                logger.warning("tessera.autotune: cannot write tuning results under %s (%s); "
                               "they will be kept in memory only", self.directory, error)
