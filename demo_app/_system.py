"""What /api/system tells about the machine and the request. Never secrets: an environment allowlist,
and no credential headers."""

from __future__ import annotations

import fcntl
import os
import platform
import socket
import struct
from collections.abc import Iterable

_SIOCGIFADDR = 0x8915
# Shown by default; DEMOAPP_ENV_ALLOW adds names (comma separated), never credential-looking ones.
DEFAULT_ENV_ALLOWLIST = (
    "HOSTNAME",
    "TZ",
    "LANG",
    "PORT",
    "DEMOAPP_HOST",
    "DEMOAPP_PORT",
    "DEMOAPP_STORE",
    "DEMOAPP_WORKERS",
    "DEMOAPP_LOG_LEVEL",
)
_SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH", "COOKIE")
HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "set-cookie", "x-api-key"})


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_MARKERS)


def allowed_environment(extra_names: Iterable[str] = ()) -> dict[str, str]:
    names = [*DEFAULT_ENV_ALLOWLIST, *extra_names]
    return {name: os.environ[name] for name in names if name in os.environ and not looks_secret(name)}


def interface_addresses() -> list[str]:
    """IPv4 addresses of the machine's interfaces, loopback excluded; always a list."""
    addresses: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                request = struct.pack("256s", name.encode()[:15])
                packed = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)[20:24]
            except OSError:
                continue  # an interface without an IPv4 address
            address = socket.inet_ntoa(packed)
            if not address.startswith("127.") and address not in addresses:
                addresses.append(address)
    return addresses


def machine() -> dict[str, object]:
    return {
        "hostname": socket.gethostname(),
        "ips": interface_addresses(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pid": os.getpid(),
    }
