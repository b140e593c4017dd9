"""The README, docs/ and benchmarks/README.md: their links resolve and their commands exist.

Read without TensorFlow: a command's flags are checked against the config
dataclasses and `flags.DEFINE_*` calls of the program it runs, so a renamed
flag, field or module fails here, naming the page, before a reader finds it.
"""

import dataclasses
import glob
import os
import re

import pytest

from kgan import config as kgan_config
from tests.conftest import REPO

PAGES = sorted(
    os.path.relpath(p, REPO)
    for p in [
        os.path.join(REPO, "README.md"),
        *glob.glob(os.path.join(REPO, "docs", "*.md")),
        os.path.join(REPO, "benchmarks", "README.in.md"),
    ]
)
# Flags every absl program has.
ABSL_FLAGS = {"help", "helpfull", "helpshort", "helpxml", "flagfile", "undefok"}

_LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_PROGRAM = re.compile(r"python (?:-m )?([\w./]+)((?:\s+(?!python )\S+)*)")
# The programs of this repository: `python train.py`, `python -m examples.cgan`, ...
_OURS = re.compile(r"^(?:[a-z_]+\.py|(?:kgan|examples|benchmarks)(?:\.[a-z_0-9]+)+)$")


def _read(page):
    with open(os.path.join(REPO, page)) as f:
        return f.read()


def _anchors(text):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _snippets(text):
    """Code blocks (line by line) and code spans (joined over line breaks)."""
    blocks = re.findall(r"```\w*\n(.*?)```", text, flags=re.S)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = [" ".join(span.split()) for span in _CODE_SPAN.findall(prose)]
    return [line.split(" #")[0] for block in blocks for line in block.splitlines()] + spans


def _program_file(name):
    """`train.py` or `examples.cgan` -> its source file under the repository."""
    path = name if name.endswith(".py") else name.replace(".", os.sep) + ".py"
    return os.path.join(REPO, path)


def _config_fields(source):
    """The fields of the config dataclasses a program turns into flags."""
    fields = {}
    for class_name in re.findall(r"define_config_flags\((\w+)", source):
        # A config class of kgan.config, or a subclass of Config in the program itself.
        config_class = getattr(kgan_config, class_name, kgan_config.Config)
        fields.update({f.name: f for f in dataclasses.fields(config_class)})
    return fields


def _flags_of(source):
    """The flags a program defines: its config dataclass fields and its DEFINE_* calls."""
    names = set(ABSL_FLAGS) | set(re.findall(r"DEFINE_\w+\(\s*\"(\w+)\"", source))
    names |= set(_config_fields(source))
    names |= set(re.findall(r"^\s+(\w+): [\w |]+ = _field\(", source, flags=re.M))
    return names


def _commands(page):
    for snippet in _snippets(_read(page)):
        for program, rest in _PROGRAM.findall(snippet):
            yield program, re.findall(r"(?<!\S)--(\w+)(?:=(\S+))?", rest)


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_and_anchor_resolves(page):
    text = _read(page)
    broken = []
    for target in (a or b for a, b in _LINK.findall(text)):
        if re.match(r"\w+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (
            os.path.normpath(os.path.join(REPO, os.path.dirname(page), path)) if path else None
        )
        if resolved and not os.path.exists(resolved):
            broken.append(f"{target} (no such file)")
        elif anchor and (resolved is None or resolved.endswith(".md")):
            # benchmarks/README.md is generated from README.in.md: its headings are the template's.
            heading_source = resolved.replace("README.md", "README.in.md") if resolved else None
            if heading_source and not os.path.exists(heading_source):
                heading_source = resolved
            headings = _anchors(_read(heading_source) if heading_source else text)
            if anchor not in headings:
                broken.append(f"{target} (no heading #{anchor})")
    assert broken == [], f"{page}: {broken}"


@pytest.mark.parametrize("page", PAGES)
def test_every_command_runs_a_program_that_exists_with_flags_it_defines(page):
    problems, seen = [], 0
    for program, flags in _commands(page):
        if not _OURS.match(program):
            continue  # another tool (pytest, pip) or a placeholder (benchmarks.NAME)
        source_file = _program_file(program)
        if not os.path.exists(source_file):
            problems.append(f"python {program}: no {os.path.relpath(source_file, REPO)}")
            continue
        with open(source_file) as f:
            source = f.read()
        known, fields = _flags_of(source), _config_fields(source)
        seen += 1
        for flag, value in flags:
            name = flag[2:] if flag.startswith("no") and flag[2:] in known else flag
            choices = fields[name].metadata.get("choices", ()) if name in fields else ()
            if name not in known:
                problems.append(f"python {program} --{flag}: no such flag")
            elif value and choices and value not in choices:
                problems.append(f"python {program} --{flag}={value}: not one of {choices}")
    assert problems == [], f"{page}: {problems}"
    if page == "README.md":
        assert seen >= 10  # the parser found the README's commands


# Tools whose flags are their own, not a kgan program's.
_FOREIGN = {"tensorboard", "pip", "ruff", "apt-get", "git", "pytest"}


def _all_flags():
    """Every flag of every program here: the top-level scripts, examples, benchmarks."""
    names = set()
    for path in [
        *glob.glob(os.path.join(REPO, "*.py")),
        *glob.glob(os.path.join(REPO, "examples", "*.py")),
        *glob.glob(os.path.join(REPO, "benchmarks", "*.py")),
        *glob.glob(os.path.join(REPO, "kgan", "*program*.py")),
    ]:
        with open(path) as f:
            names |= _flags_of(f.read())
    return names


@pytest.mark.parametrize("page", PAGES)
def test_every_flag_a_page_names_is_a_flag_of_some_program(page):
    known, unknown = _all_flags(), set()
    for snippet in _snippets(_read(page)):
        words = snippet.split()
        if not words or words[0] in _FOREIGN or words[:3] == ["python", "-m", "pytest"]:
            continue
        for flag in re.findall(r"(?<![\w-])--(?:\[no\])?(\w+)", snippet):
            name = flag[2:] if flag.startswith("no") and flag[2:] in known else flag
            if name not in known:
                unknown.add(f"--{flag}")
    assert sorted(unknown) == [], f"{page} names flags no program defines"


def _kgan_name_exists(dotted):
    """`kgan.parts.R1Penalty` exists: the longest module prefix is a file or package under
    the repository, and the next name is defined (or exported) in that module's source."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = os.path.join(REPO, *parts[:cut])
        source_file = next(
            (f for f in (base + ".py", os.path.join(base, "__init__.py")) if os.path.exists(f)),
            None,
        )
        if source_file:
            break
    else:
        return False
    if cut == len(parts):
        return True
    name = re.escape(parts[cut])
    with open(source_file) as f:
        source = f.read()
    return bool(
        re.search(rf"\b(?:def|class) {name}\b|^{name}\s*[:=]|[\"']{name}[\"']", source, re.M)
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_kgan_module_and_name_a_page_mentions_exists(page):
    prose = re.sub(r"```.*?```", "", _read(page), flags=re.S)
    missing = set()
    for span in _CODE_SPAN.findall(prose):
        for path in re.findall(r"(?<![\w/])((?:kgan|examples|benchmarks|tests)/[\w/]+\.py)", span):
            if not os.path.exists(os.path.join(REPO, path)):
                missing.add(path)
        for dotted in re.findall(r"(?<![\w.])kgan(?:\.[A-Za-z_]\w*)+", span):
            if not _kgan_name_exists(dotted):
                missing.add(dotted)
    assert sorted(missing) == [], f"{page} names what the code no longer has"
