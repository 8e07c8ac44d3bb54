"""References resolve inside the repository (docs/house-rules.md#references).

* No ``.py`` or ``.md`` file cites a numbered section of a document that is not
  here: a section sign followed by a digit, or "spec"/"design" followed by one.
* Every ``docs/<file>.md`` reference names a file that exists, and its
  ``#anchor``, if any, names a heading of that file (GitHub's anchors: lowercase,
  spaces to hyphens, punctuation dropped, ``-1``, ``-2`` … for repeats).
* Every relative Markdown link (``[text](target#anchor)``) in a ``.md`` file
  resolves the same way, relative to the file that holds it.

The files are those git tracks plus new ones it does not ignore; outside a git
checkout, every ``.py`` and ``.md`` file below the root except hidden and
virtual-environment directories.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "\u00a7"
SUFFIXES = (".py", ".md")
_SKIPPED_DIRS = frozenset({".venv", "venv", "node_modules", "__pycache__", "notary-data"})

FORBIDDEN = re.compile(rf"{SECTION}\s?\d|\b(?:spec|design)\s*{SECTION}", re.IGNORECASE)
DOCS_REFERENCE = re.compile(r"(?<![\w./-])(docs/[\w./-]*?\.md)(?:#([\w-]+))?")
MARKDOWN_LINK = re.compile(r"\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference found in a file."""

    source: str
    line: int
    target: Path
    anchor: str | None


def repository_files() -> list[Path]:
    """Return the ``.py`` and ``.md`` files of the repository, sorted."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
    except (OSError, subprocess.CalledProcessError):
        candidates = [
            path
            for path in ROOT.rglob("*")
            if not any(
                part.startswith(".") or part in _SKIPPED_DIRS
                for part in path.relative_to(ROOT).parts[:-1]
            )
        ]
    else:
        candidates = [ROOT / name for name in listing.split("\0") if name]
    return sorted(
        path
        for path in candidates
        if path.suffix in SUFFIXES
        and path.is_file()
        and ".venv" not in path.relative_to(ROOT).parts
    )


def github_anchor(heading: str) -> str:
    """Return the anchor GitHub gives a heading (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _without_fences(markdown: str) -> list[str]:
    """Return the lines of ``markdown`` with fenced code blocks blanked out."""
    lines: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            lines.append("")
        elif opening:
            fence = opening.group(1)
            lines.append("")
        else:
            lines.append(line)
    return lines


def markdown_anchors(markdown: str) -> frozenset[str]:
    """Return every anchor of a Markdown document: its headings and HTML anchors."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _without_fences(markdown):
        anchors.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading:
            base = github_anchor(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.add(base if count == 0 else f"{base}-{count}")
    return frozenset(anchors)


def forbidden_references(text: str) -> list[tuple[int, str]]:
    """Return ``(line, text)`` for each line citing a section of an outside document."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]


def references(path: Path, text: str) -> list[Reference]:
    """Return the in-repository references of one file.

    ``docs/….md`` paths are taken from the repository root, Markdown link
    targets from the directory of the file that holds them.
    """
    source = str(path.relative_to(ROOT))
    found: list[Reference] = []
    for number, line in enumerate(text.splitlines(), start=1):
        found.extend(
            Reference(source, number, ROOT / match.group(1), match.group(2))
            for match in DOCS_REFERENCE.finditer(line)
        )
    if path.suffix != ".md":
        return found
    for number, line in enumerate(_without_fences(text), start=1):
        for match in MARKDOWN_LINK.finditer(line):
            target = match.group(1)
            if _SCHEME.match(target) or target.startswith("//"):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part) if file_part else path
            found.append(Reference(source, number, resolved, anchor or None))
    return found


def broken(reference: Reference) -> str | None:
    """Return why ``reference`` does not resolve, or None when it does."""
    where = f"{reference.source}:{reference.line}"
    target = reference.target.resolve()
    if not target.is_relative_to(ROOT):
        return f"{where}: {reference.target} is outside the repository"
    if not target.exists():
        return f"{where}: {target.relative_to(ROOT)} does not exist"
    if reference.anchor is None:
        return None
    if target.suffix != ".md" or not target.is_file():
        return f"{where}: #{reference.anchor} on {target.relative_to(ROOT)}, not a Markdown file"
    if reference.anchor not in markdown_anchors(target.read_text(encoding="utf-8")):
        return f"{where}: {target.relative_to(ROOT)} has no heading #{reference.anchor}"
    return None


FILES = repository_files()


def test_files_are_found() -> None:
    names = {str(path.relative_to(ROOT)) for path in FILES}
    assert {"README.md", "docs/protocol.md", "docs/house-rules.md"} <= names
    assert not any(name.startswith(".venv/") for name in names)


def test_no_reference_to_sections_of_outside_documents() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line}"
        for path in FILES
        for number, line in forbidden_references(path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_docs_references_resolve() -> None:
    problems = [
        problem
        for path in FILES
        for reference in references(path, path.read_text(encoding="utf-8"))
        if (problem := broken(reference)) is not None
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Routes", "routes"),
        ("Lazy re-issue on GET", "lazy-re-issue-on-get"),
        ("Keys and key IDs", "keys-and-key-ids"),
        ("`notary_tuf`: the format core", "notary_tuf-the-format-core"),
        ("Root rotation (v2, 2026)", "root-rotation-v2-2026"),
        ("See [the ADR](adr/0001.md)", "see-the-adr"),
    ],
)
def test_github_anchor(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_markdown_anchors_skip_code_and_number_repeats() -> None:
    text = '# Title\n## Notes\n```\n# not a heading\n```\n## Notes\n<a id="custom"></a>\n'
    assert markdown_anchors(text) == {"title", "notes", "notes-1", "custom"}


@pytest.mark.parametrize(
    "line",
    [
        f"see spec {SECTION}1.2",
        f"(design {SECTION}5.1, {SECTION}5.9)",
        f"Each route of {SECTION}1.1",
        f"TUF {SECTION} 5",
        f"Spec {SECTION}rollback",
    ],
)
def test_forbidden_references_are_found(line: str) -> None:
    assert forbidden_references(f"ok\n{line}\n") == [(2, line)]


def test_plain_section_sign_is_allowed() -> None:
    assert forbidden_references(f"a `{SECTION}` on its own\n") == []


def test_broken_references_are_reported() -> None:
    docs = "docs"  # spelled apart so that this file's own scan does not see these
    path = ROOT / docs / "house-rules.md"
    text = (
        f"{docs}/protocol.md#routes {docs}/protocol.md#no-such-heading {docs}/missing.md\n"
        "[ok](protocol.md#changefeed) [bad](adr/none.md) [self](#layering) [web](https://x.org/a.md)\n"
    )
    problems = [problem for ref in references(path, text) if (problem := broken(ref))]
    assert problems == [
        f"{docs}/house-rules.md:1: {docs}/protocol.md has no heading #no-such-heading",
        f"{docs}/house-rules.md:1: {docs}/missing.md does not exist",
        f"{docs}/house-rules.md:2: {docs}/adr/none.md does not exist",
    ]
