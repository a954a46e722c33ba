"""The user docs as executable claims: every command they show names a real script and real options, every
relative link resolves, every module is in the layout page, the front pages stay short, and work-log prose stays in
CHANGELOG.md."""
import re
import shlex
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest

from tests.conftest import REPO, run_script

DOCS = [REPO / "README.md", REPO / "BENCHMARKS.md", *sorted((REPO / "docs").rglob("*.md"))]
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
WORK_LOG = re.compile(r"\bsessions?\b|\bissue \d+|\(issue|\bthis work\b|\bPart [A-H]\b|\bso far\b", re.IGNORECASE)


def shell_commands(path: Path) -> list[str]:
    """The commands of a page's ```bash blocks: continuation lines joined, comments and prompts dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def split_command(line: str) -> list[str]:
    """``line`` as tokens, without a trailing comment, environment assignments or a background ``&``."""
    tokens = shlex.split(line, comments=True)
    while tokens and re.match(r"^[A-Z_]+=", tokens[0]):
        tokens = tokens[1:]
    return [t for t in tokens if t != "&"]


@lru_cache(maxsize=None)
def help_text(script: str) -> str:
    proc = run_script(script, "--help")
    assert proc.returncode == 0, f"{script} --help failed: {proc.stderr[-500:]}"
    return (proc.stdout + proc.stderr).replace("-", "_")


def script_of(tokens: list[str]) -> str | None:
    """The repository script a command runs (python X.py, python -m equidiff_relaxed.cli.X, equidiff-X)."""
    if tokens[0] in ("python", "python3") and len(tokens) > 1:
        if tokens[1] == "-m":
            return "equidiff_relaxed/" + tokens[2].split(".", 1)[1].replace(".", "/") + ".py"
        return tokens[1]
    if tokens[0] in SCRIPTS:
        return SCRIPTS[tokens[0]].split(":")[0].replace(".", "/") + ".py"
    return None


def options(tokens: list[str]) -> list[str]:
    found = []
    for token in tokens:
        for part in token.strip("[]()|").split("|"):
            if part.startswith("--") and len(part) > 2:
                found.append(part.split("=")[0].strip("[]"))
    return found


def documented_commands() -> list[tuple[str, str]]:
    return [(str(path.relative_to(REPO)), line) for path in DOCS for line in shell_commands(path)]


def test_the_docs_show_commands():
    pages = {page for page, _ in documented_commands()}
    assert {"README.md", "docs/training.md", "docs/evaluation.md"} <= pages


@pytest.mark.parametrize("page, line", documented_commands())
def test_every_documented_command_names_a_real_script_and_real_options(page, line):
    tokens = split_command(line)
    if tokens[0] == "make":
        targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))
        assert all(t in targets for t in tokens[1:] if "=" not in t), f"{page}: {line}"
        return
    if tokens[0] == "bash":
        assert (REPO / tokens[1]).is_file(), f"{page}: {line}"
        return
    script = script_of(tokens)
    if script is None:
        return  # pip, git, tensorboard, ...: not this project's commands
    assert (REPO / script).is_file(), f"{page}: {script} does not exist ({line})"
    text = help_text(script)
    for option in options(tokens):
        name = option.replace("-", "_")
        prefixes = [name] + ["__" + ".".join(name[2:].split(".")[:i]) for i in range(1, name.count(".") + 1)]
        assert any(p in text for p in prefixes), f"{page}: {script} has no option {option} ({line})"


def test_relative_links_resolve():
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if re.match(r"^[a-z]+://", target):
                continue
            assert (path.parent / target).exists(), f"{path.relative_to(REPO)}: broken link {target}"


def test_every_module_is_in_the_layout_page():
    layout = (REPO / "docs" / "layout.md").read_text()
    sections = dict(re.findall(r"\*\*`([\w/]+)/`\*\*(.*?)(?=\n\*\*`|\n## |\Z)", layout, re.DOTALL))
    package = REPO / "equidiff_relaxed"
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(package)
        where = layout if len(rel.parts) == 1 else sections.get(str(rel.parent), "")
        assert f"`{path.name}`" in where, f"docs/layout.md does not name equidiff_relaxed/{rel} in its folder's table"
    for folder in ("studies", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder)
            if path.name != "__init__.py":
                assert str(rel) in layout, f"docs/layout.md does not name {folder}/{rel}"


def test_front_pages_are_short_and_user_docs_hold_no_work_log():
    assert len((REPO / "README.md").read_text().splitlines()) <= 200
    assert len((REPO / "BENCHMARKS.md").read_text().splitlines()) <= 200
    for path in DOCS:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not WORK_LOG.search(line), f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}"
