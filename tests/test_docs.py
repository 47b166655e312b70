"""README and docs/ stay true to the code: the flags they show exist, the code map names every module, links resolve.

Docs drift silently: a flag renamed in a parser keeps working in README until a user copies it. These tests read
the command lines out of README.md and docs/*.md and check each flag against the argparse parser of the
command it is given to, without running anything.
"""

import functools
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE_MAP = ROOT / "docs" / "code-map.md"

# `python -m cunet.X` (X any dotted name, so that a command that does not exist is caught too) or a console
# script of setup.py; a run folder named like a script (runs/cunet-six) is preceded by '/' and not matched.
SCRIPTS = dict(re.findall(r'"(cunet-[\w-]+)=([\w.]+):main"', (ROOT / "setup.py").read_text()))
COMMAND = re.compile(r"python -m (cunet(?:\.\w+)*)|(?<![\w/.-])(" + "|".join(map(re.escape, SCRIPTS)) + r")(?![\w-])")
# What ends one command in a shell line: a separator, or a comment (a '#' that starts a word).
END = re.compile(r"&&|\|\||[;|]|(?:^|\s)#")
FLAG = re.compile(r"(?<![\w-])(-{1,2}[A-Za-z][\w-]*)")


def _parser_module(command: str) -> str:
    """The module whose ``build_parser`` parses ``command`` (``python -m`` runs a package's ``__main__``)."""
    if command in SCRIPTS:
        return SCRIPTS[command]
    try:
        spec = importlib.util.find_spec(command)
    except ModuleNotFoundError:  # a parent package is missing
        spec = None
    assert spec is not None, f"python -m {command}: no such module"
    return f"{command}.__main__" if spec.submodule_search_locations is not None else command


@functools.cache
def _options(command: str) -> frozenset[str]:
    parser = importlib.import_module(_parser_module(command)).build_parser()
    return frozenset(s for action in parser._actions for s in action.option_strings)


def _snippets(text: str) -> list[str]:
    """Every piece of shell a page shows: each line of a fenced block (continuations joined), each inline span."""
    out = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        out += block.replace("\\\n", " ").splitlines()
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    out += re.findall(r"`([^`\n]+)`", prose)
    return out


def _command_lines(page: Path):
    """(command, the text of its arguments) for every cunet command a page shows."""
    for snippet in _snippets(page.read_text()):
        hits = list(COMMAND.finditer(snippet))
        for i, hit in enumerate(hits):
            rest = snippet[hit.end() : hits[i + 1].start() if i + 1 < len(hits) else len(snippet)]
            end = END.search(rest)
            yield hit.group(1) or hit.group(2), rest[: end.start()] if end else rest


def test_pages_show_cunet_commands():
    """The checks below see the commands at all (an extraction that finds nothing would pass everything)."""
    found = {command for page in PAGES for command, _ in _command_lines(page)}
    assert {"cunet.preprocess", "cunet-separate", "cunet.evaluation.results"} <= found, found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_command_lines_name_only_flags_their_command_accepts(page):
    wrong = []
    for command, args in _command_lines(page):
        accepted = _options(command)
        wrong += [f"{command} {flag}" for flag in FLAG.findall(args) if flag.split("=")[0] not in accepted]
    assert not wrong, f"{page.relative_to(ROOT)} shows flags its commands do not accept: {wrong}"


def _modules() -> list[Path]:
    # An empty __init__.py only marks a package: there is nothing in it to describe.
    return sorted(
        p.relative_to(ROOT) for p in (ROOT / "cunet").rglob("*.py") if p.name != "__init__.py" or p.stat().st_size
    )


def test_code_map_names_every_module():
    """Each package has a '## cunet/<package>/' section that names each of its modules (`name.py`)."""
    sections = dict(
        re.findall(r"^## `?(cunet(?:/\w+)*)/?`?\s*\n(.*?)(?=^## |\Z)", CODE_MAP.read_text(), flags=re.S | re.M)
    )
    missing = [str(m) for m in _modules() if f"`{m.name}`" not in sections.get(m.parent.as_posix(), "")]
    assert not missing, f"{CODE_MAP.relative_to(ROOT)} does not name: {missing}"


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 150, f"README.md has {lines} lines; the rest belongs in docs/"


def _anchors(page: Path) -> set[str]:
    """The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_and_headings_that_exist(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files or headings {broken}"


def test_docs_pages_are_not_too_long():
    long = [f"{p.relative_to(ROOT)} ({n})" for p in PAGES[1:] if (n := p.read_text().count("\n")) > 350]
    assert not long, long
