"""Connection credentials for one database: neutral ground between where they come from (``aws.secrets``) and
who uses them (``engines``), so the engines import nothing from ``aws``.

The password lives only here, and ``repr`` hides it; it is never logged or reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    user: str
    database: str | None
    password: str = field(repr=False)
    ssl_mode: str = "none"
    origin: str = ""  # e.g. "secret dms/source" -- for messages, never the value

    def __repr__(self) -> str:  # dataclass(repr) would be enough; explicit so a refactor cannot leak it
        return (f"Credentials(host={self.host!r}, port={self.port}, user={self.user!r}, "
                f"database={self.database!r}, password='***', origin={self.origin!r})")
