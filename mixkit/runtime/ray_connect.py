"""Joining Ray for a build: a local instance or a cluster with token authentication, with Ray's
own logs in a file of the build folder instead of the user's terminal.

Token auth (Ray 2.60, see PITFALLS): `ray start --head` turns it on when the head machine has a
token (~/.ray/auth_token; any local `ray.init()` writes one). Ray switches a client to token mode
by itself only for a cluster it finds locally, never for an explicit address, so `join_ray`
does it whenever a token is at hand: a token-mode client also joins a cluster without auth.
Failures that rerunning cannot fix raise RayConnectError with one line that says what to set.

Ray's C++ core worker in the driver writes its log lines (`core_worker.cc: ...`) straight to
file descriptor 2, so the only way to keep them off the terminal is to point fd 2 at a file while
Ray runs; `release_terminal()` points it back (call it before printing errors).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

LOG_NAME = "ray.log"
TOKEN_HELP = ("set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` on the head prints it) "
              "or copy the head's ~/.ray/auth_token to this machine")


class RayConnectError(RuntimeError):
    """Ray could not be joined. The message says what to set; rerunning as is cannot help."""


def token_source(env=None) -> str | None:
    """Where Ray would read a token from here (the places Ray's token loader looks), or None."""
    env = os.environ if env is None else env
    if env.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    for label, path in (("RAY_AUTH_TOKEN_PATH", env.get("RAY_AUTH_TOKEN_PATH")),
                        ("~/.ray/auth_token", str(Path.home() / ".ray" / "auth_token"))):
        p = Path(path).expanduser() if path else None
        if p and p.is_file() and p.read_text().strip():
            return label
    return None


def use_token_auth_if_available() -> str | None:
    """Token mode for this process when RAY_AUTH_MODE is unset and a token is at hand.
    Returns the token's source (None: no token, mode left as it was)."""
    src = token_source()
    if src and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        try:      # Ray caches its config at import: reread it, as Ray itself does when it enables tokens
            from ray._raylet import Config

            Config.initialize("")
        except (ImportError, AttributeError):
            pass
    return src


def join_ray(address: str | None, *, num_cpus: int | None = None, quiet: bool = True,
             log_dir: str | Path | None = None) -> Path | None:
    """ray.init for a build; returns the file that holds Ray's logs (None: they go to stderr).

    address None: a fresh local instance ("local": never a cluster some other `ray start` left
    running on this machine). Raises RayConnectError when the cluster cannot be joined.
    """
    import ray

    if ray.is_initialized():
        return None
    log = _redirect_native_stderr(Path(log_dir) / LOG_NAME) if log_dir else None
    try:
        if address:
            _check_reachable(address)
        source = use_token_auth_if_available() if address else None
        if log:
            log.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} ray.init(address={address or 'local'}); "
                      f"RAY_AUTH_MODE={os.environ.get('RAY_AUTH_MODE', 'unset')}; token: {source or 'none'}\n")
        try:
            info = _init(ray, address, num_cpus, quiet, log)
        except Exception as e:  # noqa: BLE001 - a join failure gets its one line; anything else is re-raised
            problem = _explain(e, address, source)
            if problem:
                raise RayConnectError(problem) from e
            raise
    except BaseException:
        release_terminal()      # no Ray runs: the terminal is the caller's again
        raise
    if log:
        session = info.address_info.get("session_dir")
        log.write(f"== Ray's per-process logs (workers, raylet, GCS): {session}/logs (on the head node of a cluster)\n")
        log.flush()
    return Path(log.name) if log else None


def _init(ray, address: str | None, num_cpus: int | None, quiet: bool, log):
    kwargs = dict(include_dashboard=False, log_to_driver=not quiet, configure_logging=True,
                  logging_level="INFO" if log else "ERROR")
    term = sys.stderr             # a progress display may have put a proxy to the terminal here
    if log:
        sys.stderr = log          # log handlers Ray sets up while it starts bind to this stream,
        _route_ray_loggers(log)   # and those it set up at `import ray` are pointed at it
    try:
        if address:
            info = ray.init(address=address, **kwargs)
        else:
            info = ray.init(address="local", num_cpus=num_cpus, **kwargs)
        import ray.data  # noqa: F401 - configures Ray Data's loggers
        if log:
            _route_ray_loggers(log)
        return info
    finally:
        sys.stderr = term


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once when nothing listens at HOST:PORT (ray.init would retry for ~13 minutes)."""
    import socket

    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return                      # ray://, "auto": Ray's own resolution
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise RayConnectError(f"no Ray cluster answers at {address} ({e.strerror or e}): start one there "
                              f"(`ray start --head --port {port}`) or give --address the head's HOST:PORT") from None


def _explain(e: BaseException, address: str | None, source: str | None) -> str | None:
    """One line for a connection failure rerunning cannot fix; None for anything else."""
    chain, seen = [], set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " ".join(f"{type(x).__name__}: {x}" for x in chain)
    mode = os.environ.get("RAY_AUTH_MODE")
    if "AuthenticationError" in text or "InvalidAuthToken" in text:
        where = f"the Ray cluster at {address} uses token authentication"
        if mode and mode != "token":
            return f"{where} but RAY_AUTH_MODE={mode}: set RAY_AUTH_MODE=token and {TOKEN_HELP}"
        if source:
            return f"{where} and rejected the token from {source}: {TOKEN_HELP}"
        return f"{where} and this machine has no token: {TOKEN_HELP}"
    if address and any(isinstance(x, ConnectionError) for x in chain):
        return (f"no Ray cluster answers at {address}: start one there (`ray start --head --port PORT`) "
                f"or give --address the head's HOST:PORT")
    return None


# -- Ray's logs into a file ----------------------------------------------------------------------
_saved_fd: int | None = None
_log = None


def _redirect_native_stderr(path: Path):
    """fd 2 (and so Ray's C++ log lines, and Python's stderr) to `path` until release_terminal()."""
    global _saved_fd, _log
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "a", buffering=1, encoding="utf-8", errors="backslashreplace")
    sys.stderr.flush()
    if _saved_fd is None:
        _saved_fd = os.dup(2)
    os.dup2(log.fileno(), 2)
    _log = log
    return log


def _route_ray_loggers(stream) -> None:
    """Ray's Python log handlers that print to a console write to `stream` instead."""
    names = ["ray"] + [n for n in logging.root.manager.loggerDict if n.startswith("ray.")]
    for name in names:
        for h in logging.getLogger(name).handlers:
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                h.setStream(stream)


def release_terminal() -> Path | None:
    """Point fd 2 back at the terminal; returns the file Ray's logs went to (None: no redirect).
    Ray's C++ lines written later (a shutdown still running) land on the terminal again."""
    global _saved_fd, _log
    if _saved_fd is None:
        return None
    sys.stderr.flush()
    os.dup2(_saved_fd, 2)
    os.close(_saved_fd)
    _saved_fd = None
    path = Path(_log.name)
    _log.flush()
    return path
