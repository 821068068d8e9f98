"""The lowest versions pyproject.toml allows, as pip constraints: `python -m elb_tools.floors`.

`make floors` installs exactly these (the SDK packages, structlog and the redis extra) into a venv of
its own and runs the SDK-facing tests there, so a floor that does not hold fails CI instead of a user.
Read from pyproject.toml itself, so the floors tested cannot drift from the floors declared.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# The runtime packages whose floors are promises to users (the dev tools' floors are not).
PROMISED = (
    "huaweicloudsdkcore",
    "huaweicloudsdkelb",
    "huaweicloudsdksmn",
    "huaweicloudsdkces",
    "huaweicloudsdkcoc",
    "structlog",
    "redis",
    "tzdata",
)
_REQUIREMENT = re.compile(r'"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)[^"]*"')


def floors(text: str) -> dict[str, str]:
    """{package: lowest version} of every promised package with a `>=` floor in `text`."""
    found: dict[str, str] = {}
    for name, version in _REQUIREMENT.findall(text):
        key = name.lower()
        if key in PROMISED and key not in found:
            found[key] = version
    return found


def main() -> int:
    """Print the constraints, one `name==version` per line; exit 1 when a promised package has none."""
    found = floors(PYPROJECT.read_text(encoding="utf-8"))
    missing = [name for name in PROMISED if name not in found]
    if missing:
        sys.stderr.write(f"no >= floor in pyproject.toml for: {', '.join(missing)}\n")
        return 1
    sys.stdout.write("".join(f"{name}=={version}\n" for name, version in found.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
