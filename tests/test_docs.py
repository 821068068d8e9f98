"""The README and the reference tell the truth: every name, command, target and file they mention exists.

And the other way round: every `ELB_WATCH_*` variable the code reads is documented.
"""

from __future__ import annotations

import importlib.util
import re
import shlex

import pytest

from handler.cli import _parser
from tests.support import ROOT

DOCS = (ROOT / "README.md", ROOT / "docs" / "reference.md")
VARIABLE = re.compile(r"ELB_WATCH_[A-Z0-9_]*[A-Z0-9]")
PATH = re.compile(r"(?<![\w/.])((?:events|tests|handler|infra|docs)/[\w./*<>-]*[\w*])")
# A command starts a line or follows a space or "$(": not a title such as "[RESOLVED] elb-master-watch ...".
COMMAND = re.compile(r"(?:^|(?<!\])[\s(])(?:\.venv/bin/)?elb-master-watch ([^`\n#]*)", re.MULTILINE)
MAKE = re.compile(r"`make (\w+)")


def text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCS)


def code_variables() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "handler").rglob("*.py"):
        found.update(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_documented_setting_is_read_by_the_code():
    documented = set(VARIABLE.findall(text()))
    assert documented, "the docs name their settings"
    assert sorted(documented - code_variables()) == []


def test_every_setting_the_code_reads_is_documented():
    assert sorted(code_variables() - set(VARIABLE.findall(text()))) == []


def test_every_file_the_docs_mention_exists():
    mentioned = sorted(set(PATH.findall(text())))
    assert "events/direct.json" in mentioned
    missing = []
    for name in mentioned:
        if "<" in name:
            continue
        if "*" in name:
            if not list(ROOT.glob(name)):
                missing.append(name)
        elif not (ROOT / name).exists():
            missing.append(name)
    assert missing == []


def test_links_stay_inside_the_repository():
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if target.startswith("http"):
                continue
            assert (path.parent / target).resolve().is_relative_to(ROOT), target
            assert (path.parent / target).exists(), f"{path.name} links {target}"


def code() -> str:
    """The fenced code blocks and inline code spans of the docs: where commands are written."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text(), re.MULTILINE | re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text(), flags=re.MULTILINE | re.DOTALL))
    return "\n".join([*blocks, *spans])


def commands() -> list[list[str]]:
    found = []
    for raw in COMMAND.findall(code()):
        line = raw.strip().rstrip("\\").strip()
        if line.endswith(")") and "(" not in line:
            line = line[:-1]  # the end of ID=$(elb-master-watch ...)
        if not line or any(mark in line for mark in ("...", "[", "(", "|", ";", "$")):
            continue  # a synopsis or a shell loop, not a command to run as written
        found.append(shlex.split(line))
    return found


def test_every_command_in_the_docs_parses_and_its_files_exist():
    parser = _parser()
    runs = commands()
    assert ["channels", "test"] in runs
    assert any(run[:2] == ["silence", "add"] for run in runs)
    for argv in runs:
        if argv == ["--version"]:
            continue  # prints and exits 0: test_operator runs it
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"`elb-master-watch {' '.join(argv)}` does not parse (exit {exc.code})")
        for word in argv:
            if word.startswith(("events/", "handler/")):
                assert (ROOT / word).exists(), word


def test_every_make_target_and_module_in_the_docs_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in set(MAKE.findall(text())):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"make {target}"
    for module in set(re.findall(r"python -m ([\w.]+)", text())):
        assert importlib.util.find_spec(module) is not None, module


def test_the_readme_starts_with_the_how_to():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    assert headings[:6] == [
        "1. Two commands",
        "2. Try the channels",
        "3. Alerts, silences, dry runs",
        "4. Against a real account",
        "5. From a Cloud Eye alarm",
        "6. Deploy",
    ]
    assert "HUAWEICLOUD_SDK_REGION_SMN_<REGION>" in text()
