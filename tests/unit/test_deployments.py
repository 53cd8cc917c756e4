"""The deployments are declared once, in prefect.yaml; `medleads serve` builds the same ones."""

from __future__ import annotations

import ast

from flows.serve import deployment_specs, deployments
from qualification.closed_sets import Event
from tests.paths import ROOT


def _flows_in(path) -> list[str]:  # type: ignore[no-untyped-def]
    tree = ast.parse(path.read_text())
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Name) and target.id == "flow":
                    found.append(f"{path.relative_to(ROOT)}:{node.name}")
    return found


def test_every_flow_in_flows_is_a_deployment_of_prefect_yaml() -> None:
    flows = {e for p in sorted((ROOT / "flows").glob("*.py")) for e in _flows_in(p)}
    entrypoints = {spec["entrypoint"] for spec in deployment_specs()}
    assert flows == entrypoints


def test_serve_builds_exactly_the_deployments_of_prefect_yaml() -> None:
    specs = {spec["name"]: spec for spec in deployment_specs()}
    built = {d.name: d for d in deployments()}
    assert set(built) == set(specs)
    for name, deployment in built.items():
        spec = specs[name]
        assert deployment.description == spec["description"]
        assert deployment.tags == spec["tags"]
        assert [set(t.expect) for t in deployment.triggers] == [
            set(t["expect"]) for t in spec.get("triggers", [])
        ]
        assert len(deployment.schedules or []) == len(spec.get("schedules", []))
        limit = spec.get("concurrency_limit")
        assert (deployment.concurrency_limit == limit["limit"]) if limit else True


def test_triggers_wait_for_events_medleads_emits() -> None:
    expected = {
        e for spec in deployment_specs() for t in spec.get("triggers", []) for e in t["expect"]
    }
    assert expected <= set(Event)
