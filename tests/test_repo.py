"""The repository installs what it imports, and CI runs what README tells users to run."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> the distribution setup.py must declare
DISTRIBUTIONS = {
    "tensorflow": "tensorflow",
    "keras": "keras",
    "numpy": "numpy",
    "scipy": "scipy",
    "librosa": "librosa",
    "soundfile": "soundfile",
    "soxr": "soxr",
    "mir_eval": "mir_eval",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
    "av": "av",
    "yaml": "pyyaml",
}
OPTIONAL = {"musdb"}  # imported inside the function that needs it, with an error that names the extra


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_is_declared_in_setup_py():
    setup = (ROOT / "setup.py").read_text()
    install_requires = setup[setup.index("install_requires") : setup.index("extras_require")]
    for path in (ROOT / "cunet").rglob("*.py"):
        for name in _module_level_imports(path) - set(sys.stdlib_module_names) - {"cunet"}:
            assert name in DISTRIBUTIONS, f"{path}: imports {name!r}, which setup.py does not declare"
            assert f'"{DISTRIBUTIONS[name]}' in install_requires, f"setup.py lacks {DISTRIBUTIONS[name]}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(pip install[^\n]*)\n```", readme)
    assert len(commands) == 2, commands
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
    for stage in ("cunet.preprocess", "cunet.train --model", "cunet.evaluation.results"):
        assert f"python -m {stage}" in commands[0], stage


def test_the_code_passes_its_lint_and_format_and_ci_checks_both_and_its_types():
    ci = (ROOT / ".ci" / "run").read_text()
    for check in ("ruff check .", "ruff format --check .", "python -m mypy"):
        assert check in ci, check
    assert "files = cunet" in (ROOT / "mypy.ini").read_text()
    for check in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([sys.executable, "-m", "ruff", *check], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_store_format_is_defined_once_beside_its_reader():
    """The format's name and version, and the manifest's fields, live in cunet/store/ only."""
    for path in (ROOT / "cunet").rglob("*.py"):
        text = path.read_text()
        if path.parent.name != "store":
            assert '"cunet-store"' not in text, path
            assert "TRACK = {" not in text and "TOP_KIND" not in text, path
    assert not (ROOT / "cunet" / "datasets" / "store.py").exists()  # datasets/ only reads datasets on disk


def test_no_pickle_and_no_second_stft():
    for path in (ROOT / "cunet").rglob("*.py"):
        text = path.read_text()
        assert "allow_pickle=True" not in text and "import pickle" not in text, path
        if path.name != "audio.py":
            assert not re.search(r"(librosa|scipy\.signal|tf\.signal)\.(i?stft)\b|np\.fft\.", text), path


def _internal_imports(path: Path) -> set[str]:
    """The cunet modules a file imports (relative imports resolved; ``from . import x`` names module x)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cunet")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if base.startswith("cunet"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_no_two_modules_import_each_other_directly_or_through_others():
    files = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "cunet").rglob("*.py")
    }
    graph = {m: {i for i in _internal_imports(p) if i in files and i != m} for m, p in files.items()}
    # a package's __init__ importing its own modules (and they it) is the usual face, not a circle
    graph = {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for nxt in sorted(graph[m]):
            assert state.get(nxt) != 1, "import circle: " + " -> ".join(path + [nxt])
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_layers_import_downwards_only():
    """models import neither training nor separation; separation imports no training, evaluation or command."""
    forbidden = {
        "cunet/models": ("cunet.train", "cunet.separation", "cunet.evaluation"),
        "cunet/separation": ("cunet.train", "cunet.evaluation", "cunet.preprocess"),
        "cunet/datasets": ("cunet.models", "cunet.train", "cunet.separation", "cunet.evaluation", "cunet.store"),
        # the store's format sits under every stage that writes or reads a store
        "cunet/store": (
            "cunet.models",
            "cunet.train",
            "cunet.separation",
            "cunet.evaluation",
            "cunet.preprocess",
            "cunet.datasets",
        ),
    }
    # the face front end sits below separation and preprocessing, and runs no cunet model
    forbidden["cunet/faces"] = (*forbidden["cunet/store"], "cunet.store")
    # what a Y-Net takes comes from cunet/singing_input.py (or a card), not from the Acappella reader
    for layer in ("cunet/models", "cunet/train", "cunet/separation", "cunet/evaluation"):
        forbidden[layer] = (*forbidden.get(layer, ()), "cunet.datasets.acappella")
    for folder, names in forbidden.items():
        for path in (ROOT / folder).rglob("*.py"):
            bad = {i for i in _internal_imports(path) if i.startswith(names)}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    for name, allowed in (
        ("streaming", ("cunet.audio", "cunet.config", "cunet.errors", "cunet.separation.bands", "cunet.faces.choice")),
        ("bands", ("cunet.audio", "cunet.config")),
    ):  # the low modules: no model, no Keras (cunet.config: the choice lists' types)
        low = _internal_imports(ROOT / "cunet" / "separation" / f"{name}.py") - {"cunet"}
        assert all(i.startswith(allowed) for i in low), (name, low)
