"""Port choice for the embedded SeaweedFS: every server gets a free loopback port (and +10000 for gRPC)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import ClassVar

HOST = "127.0.0.1"
GRPC_OFFSET = 10000  # weed's own convention: gRPC port = HTTP port + 10000


@dataclass(frozen=True)
class SeaweedPorts:
    """HTTP ports of the servers; each gRPC port is its HTTP port + 10000."""

    s3: int
    filer: int
    master: int
    volume: int
    admin: int

    NAMES: ClassVar[tuple[str, ...]] = ("s3", "filer", "master", "volume", "admin")

    def http(self) -> tuple[int, ...]:
        """All HTTP ports."""
        return tuple(getattr(self, n) for n in self.NAMES)

    def grpc(self) -> tuple[int, ...]:
        """All gRPC ports."""
        return tuple(p + GRPC_OFFSET for p in self.http())

    def flags(self) -> list[str]:
        """The ``weed mini`` port flags."""
        out: list[str] = []
        for name in self.NAMES:
            port = getattr(self, name)
            out += [f"-{name}.port={port}", f"-{name}.port.grpc={port + GRPC_OFFSET}"]
        return out


def port_free(port: int) -> bool:
    """True when a listener could bind 127.0.0.1:``port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listeners do
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port_pairs(count: int) -> list[int]:
    """``count`` distinct free loopback ports P whose P + 10000 (gRPC) is free too."""
    held: list[socket.socket] = []
    chosen: list[int] = []
    try:
        while len(chosen) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            held.append(s)
            port = int(s.getsockname()[1])
            grpc = port + GRPC_OFFSET
            taken = {p for c in chosen for p in (c, c + GRPC_OFFSET)}
            if grpc <= 65535 and grpc not in taken and port not in taken and port_free(grpc):
                chosen.append(port)
    finally:
        for s in held:
            s.close()
    return chosen


def pick_ports() -> SeaweedPorts:
    """Five free ports P whose P + 10000 is free too, all distinct."""
    return SeaweedPorts(*free_port_pairs(len(SeaweedPorts.NAMES)))
