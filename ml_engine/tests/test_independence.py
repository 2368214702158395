"""ml_engine is a plain library: it imports nothing from the web framework."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
WEB = re.compile(r"^\s*(from|import)\s+(django|rest_framework|channels|celery|daphne)\b", re.MULTILINE)


def test_no_module_imports_the_web_framework():
    offenders = [str(p) for p in ROOT.rglob("*.py") if WEB.search(p.read_text())]
    assert offenders == []


def test_importing_every_module_loads_no_web_framework():
    code = (
        "import importlib, pkgutil, sys, ml_engine\n"
        "for m in pkgutil.walk_packages(ml_engine.__path__, 'ml_engine.'):\n"
        "    if '.tests' not in m.name: importlib.import_module(m.name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in {'django','rest_framework','channels','celery'}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert result.returncode == 0, result.stdout + result.stderr
