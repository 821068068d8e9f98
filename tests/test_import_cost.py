"""`import handler` stays cheap: nothing heavy is imported until an invocation needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "huaweicloudsdkcore",
    "huaweicloudsdkelb",
    "huaweicloudsdksmn",
    "huaweicloudsdkcoc",
    "structlog",
    "requests",
    "redis",
)


def test_importing_handler_loads_neither_the_sdk_nor_structlog():
    code = f"import sys, handler; print(','.join(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_handler_entry_point_is_a_function_of_the_package():
    code = "import handler, inspect; print(inspect.isfunction(handler.handler))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_the_composition_root_imports_no_sdk_and_no_diagnosis():
    prefixes = ("huaweicloudsdk", "handler.diagnose")
    code = f"import sys, handler.app; print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
