"""The repository installs what it imports, and CI runs what README tells users to run."""

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> the distribution setup.py must declare
DISTRIBUTIONS = {"tensorflow": "tensorflow", "keras": "keras", "numpy": "numpy", "scipy": "scipy",
                 "librosa": "librosa", "soundfile": "soundfile", "soxr": "soxr", "mir_eval": "mir_eval",
                 "pandas": "pandas", "matplotlib": "matplotlib", "tqdm": "tqdm", "av": "av"}
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
    install_requires = setup[setup.index("install_requires"): setup.index("extras_require")]
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


def test_no_pickle_and_no_second_stft():
    for path in (ROOT / "cunet").rglob("*.py"):
        text = path.read_text()
        assert "allow_pickle=True" not in text and "import pickle" not in text, path
        if path.name != "audio.py":
            assert not re.search(r"(librosa|scipy\.signal|tf\.signal)\.(i?stft)\b|np\.fft\.", text), path
