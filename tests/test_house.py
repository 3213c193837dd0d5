"""The package reads as a house: short modules and functions, no state kept between calls,
and every name a docstring or comment points at exists."""
import ast
import importlib
import re
from pathlib import Path

import pytest

import dragnb

ROOT = Path(dragnb.__file__).parent
MODULES = sorted(p for p in ROOT.rglob("*.py"))
MUTATORS = {"append", "add", "update", "setdefault", "extend", "insert", "pop", "popitem", "clear", "remove",
            "discard", "__setitem__"}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_over_400_lines_and_no_function_over_60(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 400, f"{path.name}: {len(text.splitlines())} lines"
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, f"{path.name}: {long}"


def _module_containers(tree: ast.Module) -> set:
    """Names a module binds, at its top level, to a list, dict or set."""
    out = set()
    for node in tree.body:
        targets, value = ((node.targets, node.value) if isinstance(node, ast.Assign) else
                          ([node.target], node.value) if isinstance(node, ast.AnnAssign) and node.value else ([], None))
        kind = isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)) or (
            isinstance(value, ast.Call) and getattr(value.func, "id", "") in ("list", "dict", "set", "OrderedDict"))
        out |= {t.id for t in targets if isinstance(t, ast.Name) and kind}
    return out


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_keeps_state_between_calls(path):
    """No ``global``, and no module-level list, dict or set that the module's code changes."""
    tree = ast.parse(path.read_text())
    shared = _module_containers(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.append(f"global {', '.join(node.names)} (line {node.lineno})")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS
              and isinstance(node.func.value, ast.Name) and node.func.value.id in shared):
            found.append(f"{node.func.value.id}.{node.func.attr} (line {node.lineno})")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            for t in (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]):
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in shared:
                    found.append(f"{t.value.id}[...] changed (line {node.lineno})")
    assert not found, f"{path.name}: {found}"


def _texts(path: Path) -> str:
    """The docstrings and comments of a module."""
    text = path.read_text()
    docs = [ast.get_docstring(n, clean=False) or "" for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    return "\n".join(docs + comments)


def _exists(dotted: str) -> bool:
    """Whether ``dotted`` (``dragnb.x.y``) is a module or an attribute reachable from one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
            return True
        except AttributeError:
            return False
    return False


def _field(module: str, attr: str) -> bool:
    """Whether a class of ``module`` has ``attr`` (``inversion.timesteps``: an ``Inversion``'s field)."""
    classes = [c for c in vars(importlib.import_module(module)).values() if isinstance(c, type)]
    return any(hasattr(c, attr) or attr in getattr(c, "__dataclass_fields__", {}) for c in classes)


SUBMODULES = {_name(p).split(".")[-1] for p in MODULES} - {"dragnb", "__main__"}
FILES = {"dragnb.json"}


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_every_name_a_docstring_or_comment_mentions_exists(path):
    """``dragnb.x.y`` anywhere, and ``module.name`` in double backticks for a module of the package."""
    text = _texts(path)
    missing = [m for m in re.findall(r"\bdragnb(?:\.[A-Za-z_]\w*)+", text)
               if m not in FILES and not _exists(m.rstrip("."))]
    for mod, attr in re.findall(r"``([a-z_]+)\.([A-Za-z_]\w*)", text):
        if mod in SUBMODULES and attr != "py":   # ``warp.py``: a file
            homes = [_name(p) for p in MODULES if _name(p).split(".")[-1] == mod]
            if not any(_exists(f"{home}.{attr}") or _field(home, attr) for home in homes):
                missing.append(f"{mod}.{attr}")
    assert not missing, f"{path.name} mentions {sorted(set(missing))}, which do not exist"


def test_no_private_name_is_imported_from_another_module():
    """A module's interface is named as one: nothing imported across dragnb's modules starts with ``_``."""
    crossing = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("dragnb")):
                crossing += [f"{_name(path)}: {a.name} from {'.' * node.level}{node.module or ''}"
                             for a in node.names if a.name.startswith("_") and a.name != "__version__"]
    assert not crossing, crossing


def _imports(path: Path) -> set:
    """The dragnb modules ``path`` imports, at module level or inside a function."""
    me = _name(path).split(".")
    package = me if path.name == "__init__.py" else me[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module.split(".")[0] != "dragnb":
                continue
            for a in node.names:   # `from . import validate` names a module
                full = f"{module}.{a.name}"
                out.add(full if _is_module(full) else module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "dragnb"}
    return out - {_name(path)}


def _is_module(dotted: str) -> bool:
    return (ROOT.parent / (dotted.replace(".", "/") + ".py")).exists() or \
        (ROOT.parent / dotted.replace(".", "/") / "__init__.py").exists()


def test_imports_run_downward_and_in_no_circle():
    """Nothing outside ui/ and bench/ imports them (the package's front door aside), ui does not import
    bench, and no module imports one that imports it back, by any path."""
    graph = {_name(p): _imports(p) for p in MODULES}
    room = lambda m: m.split(".")[1] if m.count(".") >= 1 else ""   # noqa: E731
    upward = [(m, i) for m, deps in graph.items() for i in deps if m != "dragnb"
              and ((room(m) not in ("ui", "bench") and room(i) in ("ui", "bench"))
                   or (room(m) == "ui" and room(i) == "bench"))]
    assert not upward, upward
    edges = {m: {i for i in deps if i in graph and not i.endswith("__init__") and i != "dragnb"}
             for m, deps in graph.items() if m != "dragnb"}

    def reaches(a, b, seen=()):
        return any(n == b or (n not in seen and reaches(n, b, (*seen, n))) for n in edges.get(a, ()))
    circles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if reaches(b, a)})
    assert not circles, circles
