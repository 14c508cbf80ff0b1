"""The type stub names every public name of the module, and only those."""
import ast
import os

import pywf as wf

STUB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python", "pywf", "__init__.pyi")


def stub_names():
    tree = ast.parse(open(STUB).read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def test_stub_matches_module():
    public = {n for n in dir(wf) if not n.startswith("_")}
    assert stub_names() == public


def test_every_class_and_function_has_a_docstring():
    for name in dir(wf):
        obj = getattr(wf, name)
        if not name.startswith("_") and (callable(obj)) and not isinstance(obj, int):
            assert obj.__doc__, name
