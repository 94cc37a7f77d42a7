"""The project's import graph (grimp, statically, function-level imports included) has no cycles,
the library never imports the experiments or the launcher, and the training loop reaches arms only
through their registry."""
import grimp
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

PACKAGES = ("usjax", "experiments", "launch", "analysis")
# usjax.benchmarks measure the library with the experiments' configs: a client, not the library.
CLIENTS_INSIDE_USJAX = ("usjax.benchmarks",)
ARM_PACKAGES = ("usjax.arms.generative", "usjax.arms.contrastive", "usjax.arms.heads")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def edges(graph):
    return [(m, t) for m in sorted(graph.modules) for t in sorted(graph.find_modules_directly_imported_by(m))]


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (a module importing itself
    through others), each sorted."""
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    pairs = [(index[a], index[b]) for a, b in edges(graph)]
    rows, cols = zip(*pairs) if pairs else ((), ())
    adjacency = csr_matrix((np.ones(len(pairs)), (rows, cols)), shape=(len(modules), len(modules)))
    _, label = connected_components(adjacency, directed=True, connection="strong")
    groups = {}
    for module, component in zip(modules, label):
        groups.setdefault(component, []).append(module)
    return sorted(group for group in groups.values() if len(group) > 1)


def in_library(module: str) -> bool:
    return module.split(".")[0] == "usjax" and not module.startswith(CLIENTS_INSIDE_USJAX)


def test_no_import_cycles(graph):
    assert import_cycles(graph) == []


def test_library_never_imports_experiments_or_launch(graph):
    upward = [f"{a} -> {b}" for a, b in edges(graph)
              if in_library(a) and b.split(".")[0] in ("experiments", "launch")]
    assert upward == []


def test_only_arms_import_arm_packages(graph):
    """Outside usjax/arms, an arm is reached through usjax.arms.get (and usjax.arms.EvalContext),
    never by importing the arm's package or the arms' shared pieces."""
    reach_in = [f"{a} -> {b}" for a, b in edges(graph)
                if in_library(a) and not a.startswith("usjax.arms")
                and b.startswith("usjax.arms.")]
    assert reach_in == []


def test_shared_pieces_import_no_arm(graph):
    shared = [f"{a} -> {b}" for a, b in edges(graph)
              if a.startswith("usjax.arms.shared") and b.startswith(ARM_PACKAGES)]
    assert shared == []


def test_every_arm_provides_the_contract():
    from usjax import arms
    for name in arms.ARMS:
        module = arms.get(name)
        missing = [key for key in arms.CONTRACT if not hasattr(module, key)]
        assert missing == [], f"usjax.arms.{name} lacks {missing}"


def test_cycle_finder_finds_a_cycle():
    """The check itself can fail: two modules importing each other form one component."""
    fake = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        fake.add_module(module)
    fake.add_import(importer="pkg.a", imported="pkg.b")
    fake.add_import(importer="pkg.b", imported="pkg.a")
    fake.add_import(importer="pkg.c", imported="pkg.a")
    assert import_cycles(fake) == [["pkg.a", "pkg.b"]]
