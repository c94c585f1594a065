"""The stub's ``Literal`` types cannot drift from the core's enums.

``_librarian._LITERALS`` is built from the core's ``ALL`` lists (each checked
complete at compile time) with the same ``as_str`` the getters use. Every
``Literal[...]`` in ``_librarian.pyi`` must be the value of a module-level alias
(``_Name: TypeAlias = Literal[...]``), and each alias must list exactly the strings of
its entry there: a variant added in Rust fails this test until the stub lists it, and
a string the core does not know fails it too."""

import ast
import importlib.util
import pathlib

import librarian
from librarian import _librarian


def stub_source() -> str:
    spec = importlib.util.find_spec("librarian")
    assert spec is not None and spec.submodule_search_locations
    return (pathlib.Path(list(spec.submodule_search_locations)[0]) / "_librarian.pyi").read_text()


def literal_values(node: ast.expr) -> "list[str]":
    """The strings of ``Literal["a", "b"]`` (or ``Literal["a"]``)."""
    assert isinstance(node, ast.Subscript), ast.dump(node)
    assert isinstance(node.value, ast.Name) and node.value.id == "Literal", ast.dump(node)
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    out = []
    for item in items:
        assert isinstance(item, ast.Constant) and isinstance(item.value, str), ast.dump(item)
        out.append(item.value)
    return out


def stub_aliases() -> "dict[str, list[str]]":
    """Every module-level ``Name: TypeAlias = Literal[...]`` of the stub."""
    out = {}
    for node in ast.parse(stub_source()).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Subscript)
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "Literal"
        ):
            out[node.target.id] = literal_values(node.value)
    return out


def test_runtime_literals_come_from_the_core():
    lits = _librarian._LITERALS
    assert isinstance(lits, dict) and lits
    for alias, values in lits.items():
        assert isinstance(values, tuple) and values, alias
        assert all(isinstance(v, str) for v in values), alias
        assert len(set(values)) == len(values), f"{alias}: a value twice: {values}"


def test_every_literal_alias_equals_its_core_enum():
    stub = stub_aliases()
    runtime = _librarian._LITERALS
    assert set(stub) == set(runtime), (
        f"aliases only in the stub: {sorted(set(stub) - set(runtime))}; "
        f"only at runtime (add them to the stub): {sorted(set(runtime) - set(stub))}"
    )
    for alias, values in sorted(stub.items()):
        want = set(runtime[alias])
        got = set(values)
        assert got == want, (
            f"{alias} in _librarian.pyi: missing {sorted(want - got)} (added in the core?), "
            f"unknown to the core {sorted(got - want)}"
        )
        assert len(values) == len(got), f"{alias}: a value twice in the stub"


def test_every_literal_of_the_stub_is_a_checked_alias():
    # An inline Literal[...] (in a signature, or inside a quoted annotation) would escape
    # the check above: each one must be an alias definition.
    text = stub_source()
    # (Literal[True] / Literal[False] select an overload by a flag: not a set of
    # spellings the core defines.)
    strings = text.count("Literal[") - text.count("Literal[True]") - text.count("Literal[False]")
    assert strings == len(stub_aliases()), (
        "_librarian.pyi uses Literal[...] outside a module-level alias; "
        "name it (and add it to _LITERALS in librarian-py/src/lib.rs)"
    )


def test_runtime_values_are_what_the_api_returns_and_accepts(site, src, tmp_path):
    """Spot checks that the aliases describe the values that really cross the API."""
    lits = _librarian._LITERALS
    f = site.upload(src, "lit/a", deletion_policy="allowed", algorithm="sha256")
    assert f.kind in lits["_FileKind"]
    assert f.instances[0].deletion_policy in lits["_DeletionPolicy"]
    for algorithm in lits["_Algorithm"]:
        site.upload(src, f"lit/alg-{algorithm}", algorithm=algorithm)
    for policy in lits["_DeletionPolicy"]:
        site.upload(src, f"lit/pol-{policy}", deletion_policy=policy)
    check = site.verify("lit/a").checked[0]
    assert check.status in lits["_CheckStatus"]
    assert check.state in lits["_InstanceState"]
    assert site.file("lit/a").instances[0].state in lits["_InstanceState"]
    assert site.scrub(1).stopped in lits["_ScrubStop"]
    assert site.drop("lit/a", store="main", min_copies=0).items[0].action in lits["_DeletionAction"]
    outcomes = site.run_tasks(only=list(lits["_TaskName"]))
    assert [o.task for o in outcomes] == list(lits["_TaskName"])
    assert {o.status for o in outcomes} <= set(lits["_TaskStatus"])
    for level in lits["_Level"]:
        kwargs = {"for_peer": "peer-x"} if level == "callback" else {}
        if level == "callback":
            site.add_peer("peer-x", "http://127.0.0.1:9", "acct", "pw")
        assert site.add_account(f"acct-{level}", level, "pw", **kwargs).level == level
    for status in lits["_TransferStatus"]:
        assert site.transfers(status=status) == []
    for direction in lits["_Direction"]:
        assert site.transfers(direction=direction) == []
    assert isinstance(librarian.Librarian, type)
