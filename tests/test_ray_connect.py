"""Joining a Ray cluster: where the token comes from, and the one line a failed join prints."""
from __future__ import annotations

import socket

import pytest

from mixkit.runtime import ray_connect as rc


def test_token_source_looks_where_ray_looks(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert rc.token_source({}) is None
    path = tmp_path / "tok"
    path.write_text("abc\n")
    assert rc.token_source({"RAY_AUTH_TOKEN_PATH": str(path)}) == "RAY_AUTH_TOKEN_PATH"
    assert rc.token_source({"RAY_AUTH_TOKEN": "abc", "RAY_AUTH_TOKEN_PATH": str(path)}) == "RAY_AUTH_TOKEN"
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("  \n")         # empty: Ray would not use it either
    assert rc.token_source({}) is None
    (tmp_path / ".ray" / "auth_token").write_text("abc")
    assert rc.token_source({}) == "~/.ray/auth_token"


def _ray_auth_failure() -> Exception:
    """The shape Ray 2.60 raises for a missing or wrong token (ConnectionError from RuntimeError)."""
    try:
        try:
            raise RuntimeError("Failed to connect to GCS. ... ray.exceptions.AuthenticationError: RPC error: "
                               "InvalidAuthToken: Authentication token is missing or incorrect.")
        except RuntimeError as inner:
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379") from inner
    except ConnectionError as e:
        return e


def test_auth_failures_name_what_to_set(monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    msg = rc._explain(_ray_auth_failure(), "head:6379", None)
    assert "head:6379" in msg and "no token" in msg and "RAY_AUTH_TOKEN" in msg and "\n" not in msg
    assert "rejected the token from ~/.ray/auth_token" in rc._explain(_ray_auth_failure(), "head:6379",
                                                                       "~/.ray/auth_token")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert "set RAY_AUTH_MODE=token" in rc._explain(_ray_auth_failure(), "head:6379", None)
    assert rc._explain(ValueError("a bug"), "head:6379", None) is None      # not a join problem: re-raised


def test_nothing_listening_fails_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]         # bound, never listening
        with pytest.raises(rc.RayConnectError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
            rc._check_reachable(f"127.0.0.1:{port}", timeout=2)
    rc._check_reachable("ray://head:10001")      # Ray Client addresses: left to Ray
