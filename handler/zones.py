"""IANA time zones for the routing file's windows: the system's zone data, else the one the package ships.

`zoneinfo` reads the runtime's zone files (/usr/share/zoneinfo) and then the `tzdata` package. The
function zip ships `tzdata`'s zones as one compressed archive, `tzdata/zoneinfo.tar.gz` (600 small
files cost 265 kB in the zip, the archive 100 kB; `elb_tools.packaging`), read here when neither has
the zone. Each zone is read once per warm instance.
"""

from __future__ import annotations

import importlib.util
from datetime import timezone, tzinfo
from pathlib import Path
from typing import Any

BUNDLE = "zoneinfo.tar.gz"
_CACHE: dict[str, tzinfo] = {"UTC": timezone.utc}


class UnknownZoneError(ValueError):
    """A time zone name that no zone data here knows."""


def bundle_path() -> Path | None:
    """Where the package's archive of zones is (beside the `tzdata` package), if it is there."""
    spec = importlib.util.find_spec("tzdata")
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        path = Path(location) / BUNDLE
        if path.is_file():
            return path
    return None


def from_bundle(path: Path, name: str) -> tzinfo | None:
    """The zone `name` read from an archive of zone files (as `zoneinfo/<name>`), None when absent."""
    import tarfile  # noqa: PLC0415 - only where the runtime has no zone data
    from zoneinfo import ZoneInfo  # noqa: PLC0415 - cheap, but only windows need it

    with tarfile.open(path, "r:gz") as archive:
        try:
            member = archive.getmember(f"zoneinfo/{name}")
        except KeyError:
            return None
        data = archive.extractfile(member) if member.isfile() else None
        if data is None:
            return None
        with data:
            try:
                return ZoneInfo.from_file(data, key=name)
            except ValueError:
                return None


def _system(name: str) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415 - only windows need it

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone(name: str) -> tzinfo:
    """The time zone `name` ("Asia/Shanghai"); UnknownZoneError when no zone data knows it."""
    found = _CACHE.get(name)
    if found is not None:
        return found
    found = _system(name)
    if found is None:
        path = bundle_path()
        found = from_bundle(path, name) if path is not None and ".." not in name else None
    if found is None:
        raise UnknownZoneError(
            f"{name!r} is not a time zone this runtime knows: use an IANA name such as Asia/Shanghai"
        )
    _CACHE[name] = found
    return found
