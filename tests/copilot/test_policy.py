"""The copilot policy decides which tools exist, what their schemas say and what a call may do."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakegate.copilot.policy import (
    check_sql_scope,
    filter_listing,
    plan_tool,
    plan_tools,
    prepare_call,
)
from lakegate.copilot.scope import scope_show
from lakegate.errors import InputError, PolicyError
from lakegate.project import Action, Connector, CopilotPolicy, Input, Project


def _project(tmp_path: Path, **policy: object) -> Project:
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector("dbx", Connector(name="dbx", base_url="https://dbc.example.com"))
    project.set_action(
        "list_warehouses",
        Action(
            name="list_warehouses",
            connector="dbx",
            path="/api/2.0/sql/warehouses",
            output="warehouses[].{id: id, name: name}",
        ),
    )
    project.set_action(
        "start_warehouse",
        Action(
            name="start_warehouse",
            connector="dbx",
            method="POST",
            path="/api/2.0/sql/warehouses/{{warehouse_id}}/start",
            inputs={"warehouse_id": Input(required=True)},
        ),
    )
    project.set_action(
        "delete_warehouse",
        Action(
            name="delete_warehouse",
            connector="dbx",
            method="DELETE",
            path="/api/2.0/sql/warehouses/{{warehouse_id}}",
            inputs={"warehouse_id": Input(required=True)},
            risk="destructive",
        ),
    )
    project.set_action(
        "execute_sql",
        Action(
            name="execute_sql",
            connector="dbx",
            method="POST",
            path="/api/2.0/sql/statements",
            body={
                "statement": "{{statement}}",
                "warehouse_id": "{{warehouse_id}}",
                "catalog": "{{catalog}}",
                "schema": "{{schema}}",
                "row_limit": "{{row_limit}}",
            },
            inputs={
                "statement": Input(required=True),
                "warehouse_id": Input(required=True),
                "catalog": Input(),
                "schema": Input(),
                "row_limit": Input(type="integer", default=10000),
            },
            risk="read",
        ),
    )
    project.set_copilot(CopilotPolicy(**policy))
    return project


def _exposed(project: Project) -> set[str]:
    return {p.name for p in plan_tools(project) if p.exposed}


def test_readonly_is_the_default_and_exposes_only_read_tools(tmp_path: Path) -> None:
    assert _exposed(_project(tmp_path)) == {"list_warehouses", "execute_sql"}


def test_operator_adds_write_tools_but_not_destructive_ones(tmp_path: Path) -> None:
    exposed = _exposed(_project(tmp_path, profile="operator"))
    assert exposed == {"list_warehouses", "execute_sql", "start_warehouse"}


def test_allow_writes_on_readonly_adds_write_tools(tmp_path: Path) -> None:
    assert "start_warehouse" in _exposed(_project(tmp_path, allow_writes=True))


def test_admin_exposes_destructive_tools_with_a_confirm_argument(tmp_path: Path) -> None:
    project = _project(tmp_path, profile="admin")
    plan = {p.name: p for p in plan_tools(project)}["delete_warehouse"]
    assert plan.exposed and plan.confirm_required
    assert plan.input_schema["properties"]["confirm"]["type"] == "boolean"


def test_allow_list_narrows_but_never_widens_past_writes(tmp_path: Path) -> None:
    project = _project(tmp_path, tools=["list_warehouses", "start_warehouse"])
    plans = {p.name: p for p in plan_tools(project)}
    assert _exposed(project) == {"list_warehouses"}
    assert "writes" in plans["start_warehouse"].reason
    assert plans["execute_sql"].reason == "not in copilot.tools"


def test_destructive_call_without_confirm_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, profile="admin")
    plan = plan_tool(project.copilot, project.actions["delete_warehouse"])
    with pytest.raises(PolicyError) as info:
        prepare_call(plan, project.copilot, {"warehouse_id": "w1"})
    assert info.value.code == "policy.confirm_required"
    call = prepare_call(plan, project.copilot, {"warehouse_id": "w1", "confirm": True})
    assert call.inputs == {"warehouse_id": "w1"}  # confirm is the server's, not the action's


def test_calling_a_hidden_tool_is_a_policy_refusal(tmp_path: Path) -> None:
    project = _project(tmp_path)
    plan = plan_tool(project.copilot, project.actions["start_warehouse"])
    with pytest.raises(PolicyError) as info:
        prepare_call(plan, project.copilot, {"warehouse_id": "w1"})
    assert info.value.code == "policy.not_exposed"


def test_pinned_warehouse_is_removed_from_the_schema_and_forced(tmp_path: Path) -> None:
    project = _project(tmp_path, pinned={"warehouse_id": "pinned1"})
    plan = plan_tool(project.copilot, project.actions["execute_sql"])
    assert "warehouse_id" not in plan.input_schema["properties"]
    assert "warehouse_id" not in plan.input_schema.get("required", [])
    call = prepare_call(plan, project.copilot, {"statement": "SELECT 1"})
    assert call.inputs["warehouse_id"] == "pinned1"
    with pytest.raises(PolicyError) as info:
        prepare_call(plan, project.copilot, {"statement": "SELECT 1", "warehouse_id": "other"})
    assert info.value.code == "policy.pinned"


def test_several_allowed_catalogs_become_an_enum(tmp_path: Path) -> None:
    project = _project(tmp_path, pinned={"catalogs": ["main", "samples"]})
    plan = plan_tool(project.copilot, project.actions["execute_sql"])
    assert plan.input_schema["properties"]["catalog"]["enum"] == ["main", "samples"]
    with pytest.raises(InputError):
        prepare_call(
            plan, project.copilot, {"statement": "SELECT 1", "warehouse_id": "w", "catalog": "prod"}
        )


def test_sql_naming_another_catalog_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, pinned={"catalogs": ["samples"], "schemas": ["samples.nyctaxi"]})
    plan = plan_tool(project.copilot, project.actions["execute_sql"])
    ok = prepare_call(
        plan, project.copilot, {"statement": "SELECT * FROM trips LIMIT 3", "warehouse_id": "w"}
    )
    assert ok.inputs["catalog"] == "samples" and ok.inputs["schema"] == "nyctaxi"
    for sql in (
        "SELECT * FROM prod.sales.orders",
        "SELECT * FROM samples.other.t",
        "WITH x AS (SELECT * FROM prod.a.b) SELECT * FROM x",
        "SELECT * FROM trips JOIN prod.sales.orders o ON true",
        "USE CATALOG prod",
    ):
        with pytest.raises(PolicyError) as info:
            prepare_call(plan, project.copilot, {"statement": sql, "warehouse_id": "w"})
        assert info.value.code == "policy.scope", sql


def test_cte_names_are_not_tables(tmp_path: Path) -> None:
    check_sql_scope(
        "WITH t AS (SELECT 1 AS a) SELECT * FROM t",
        catalogs=["main"],
        schemas=[],
        default_catalog=None,
    )


def test_unqualified_table_without_a_pinned_catalog_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        check_sql_scope("SELECT * FROM t", catalogs=["a", "b"], schemas=[])
    assert "catalog" in info.value.hint


def test_caps_can_be_lowered_but_not_raised(tmp_path: Path) -> None:
    project = _project(tmp_path, caps={"max_rows": 50, "max_bytes": 4096, "deadline_s": 10})
    plan = plan_tool(project.copilot, project.actions["list_warehouses"])
    props = plan.input_schema["properties"]
    assert props["max_rows"]["maximum"] == 50
    assert "max_bytes" not in props and "deadline_s" not in props  # enforced, not offered
    call = prepare_call(plan, project.copilot, {"max_rows": 5})
    assert (call.max_rows, call.max_bytes, call.deadline_s) == (5, 4096, 10)
    assert call.inputs == {}  # caps are the server's arguments, never sent to the API
    with pytest.raises(InputError) as info:
        prepare_call(plan, project.copilot, {"max_rows": 500})
    said = "list_warehouses: max_rows: must be an integer from 1 to 50, not 500"
    assert info.value.message == said


def test_row_caps_only_on_tools_that_return_rows(tmp_path: Path) -> None:
    project = _project(tmp_path)
    plan = plan_tool(
        project.copilot, project.actions["start_warehouse"].model_copy(update={"risk": "read"})
    )
    assert set(plan.input_schema["properties"]) == {"warehouse_id"}  # one object, no row caps
    with pytest.raises(InputError):
        prepare_call(plan, project.copilot, {"warehouse_id": "w", "max_rows": 3})


def test_range_errors_state_the_schema_range(tmp_path: Path) -> None:
    project = _project(tmp_path, caps={"max_rows": 50, "max_bytes": 16384})
    project.set_action(
        "sql",
        Action(
            name="sql",
            connector="dbx",
            handler="databricks.execute_sql",
            inputs={
                "statement": Input(required=True),
                "max_rows": Input(type="integer"),
                "max_bytes": Input(type="integer"),
            },
        ),
    )
    plan = plan_tool(project.copilot, project.actions["sql"])
    props = plan.input_schema["properties"]
    assert (props["max_rows"]["minimum"], props["max_rows"]["maximum"]) == (1, 50)
    assert (props["max_bytes"]["minimum"], props["max_bytes"]["maximum"]) == (1024, 16384)
    for args, said in (
        ({"max_rows": 200}, "max_rows: must be an integer from 1 to 50, not 200"),
        ({"max_rows": 0}, "max_rows: must be an integer from 1 to 50, not 0"),
        ({"max_bytes": 65536}, "max_bytes: must be an integer from 1024 to 16384, not 65536"),
    ):
        with pytest.raises(InputError) as info:
            prepare_call(plan, project.copilot, {"statement": "SELECT 1", **args})
        assert info.value.message == f"sql: {said}"


def test_an_action_row_limit_input_is_bounded_by_the_cap(tmp_path: Path) -> None:
    project = _project(tmp_path, caps={"max_rows": 50})
    plan = plan_tool(project.copilot, project.actions["execute_sql"])
    prop = plan.input_schema["properties"]["row_limit"]
    assert prop["maximum"] == 50 and prop["default"] == 50
    assert "max_rows" not in plan.input_schema["properties"]  # row_limit already says it
    call = prepare_call(plan, project.copilot, {"statement": "SELECT 1", "warehouse_id": "w"})
    assert call.inputs["row_limit"] == 50 and call.max_rows == 50
    call = prepare_call(
        plan, project.copilot, {"statement": "SELECT 1", "warehouse_id": "w", "row_limit": 7}
    )
    assert call.max_rows == 7


def test_bad_arguments_name_the_field_and_the_problem(tmp_path: Path) -> None:
    project = _project(tmp_path)
    plan = plan_tool(project.copilot, project.actions["execute_sql"])
    with pytest.raises(InputError) as info:
        prepare_call(plan, project.copilot, {"statement": 42, "warehouse_id": "w"})
    assert "statement" in info.value.message and "string" in info.value.message
    with pytest.raises(InputError) as info:
        prepare_call(plan, project.copilot, {"warehouse_id": "w"})
    assert "statement" in info.value.message
    with pytest.raises(InputError):
        prepare_call(plan, project.copilot, {"statement": "x", "warehouse_id": "w", "nope": 1})


def test_connector_defaults_make_inputs_optional(tmp_path: Path) -> None:
    project = _project(tmp_path)
    project.set_connector(
        "dbx",
        Connector(name="dbx", base_url="https://dbc.example.com", defaults={"warehouse_id": "w0"}),
    )
    plan = {p.name: p for p in plan_tools(project)}["execute_sql"]
    assert plan.input_schema["required"] == ["statement"]


def test_one_pinned_catalog_is_not_forced_into_sql_without_a_schema(tmp_path: Path) -> None:
    project = _project(tmp_path, pinned={"catalogs": ["samples"]})
    plan = plan_tool(project.copilot, project.actions["execute_sql"])
    # Forced alone it would make the warehouse look for samples.default: SQL names it instead.
    assert plan.input_schema["properties"]["catalog"]["enum"] == ["samples"]
    ok = prepare_call(
        plan,
        project.copilot,
        {"statement": "SELECT * FROM samples.tpch.orders", "warehouse_id": "w"},
    )
    assert "catalog" not in ok.inputs
    with pytest.raises(PolicyError) as info:
        prepare_call(plan, project.copilot, {"statement": "SELECT 1 FROM t", "warehouse_id": "w"})
    assert "samples" in info.value.hint


def test_table_functions_files_and_show_under_a_pinned_scope() -> None:
    for sql in (
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT read_text('/etc/hostname')",
        "SELECT * FROM samples.a.b WHERE x IN (SELECT y FROM main.a.b)",
        "SELECT * FROM explode(array((SELECT max(x) FROM main.a.b)))",
        "SELECT * FROM IDENTIFIER('main.a.b')",
        "SHOW SCHEMAS IN main",
        "SHOW TABLES",
        "SHOW CREATE TABLE main.a.b",
    ):
        with pytest.raises(PolicyError) as info:
            check_sql_scope(sql, catalogs=["samples"], schemas=[])
        assert info.value.code == "policy.scope", sql
    for sql in ("SELECT * FROM range(3)", "SHOW CATALOGS", "SHOW TABLES IN samples.tpch"):
        check_sql_scope(sql, catalogs=["samples"], schemas=[])
    assert scope_show("SHOW CATALOGS", ["samples", "main"], []) == (
        "SHOW CATALOGS LIKE 'samples|main'"
    )
    assert scope_show("SHOW CATALOGS LIKE 'sam*'", ["samples", "main"], []) == (
        "SHOW CATALOGS LIKE 'samples'"
    )
    assert scope_show("SHOW SCHEMAS IN samples", [], ["samples.tpch", "other.x"]) == (
        "SHOW SCHEMAS IN samples LIKE 'tpch'"
    )


def test_listings_keep_only_what_the_scope_allows() -> None:
    catalogs = [{"name": "samples"}, {"name": "main"}, {"name": "SAMPLES2"}]
    assert filter_listing("/api/2.1/unity-catalog/catalogs", catalogs, ["samples"], []) == [
        {"name": "samples"}
    ]
    schemas = {"schemas": [{"name": "tpch", "full_name": "samples.tpch"},
                           {"name": "nyctaxi", "full_name": "samples.nyctaxi"}]}  # fmt: skip
    kept = filter_listing("/api/2.1/unity-catalog/schemas", schemas, [], ["samples.tpch"])
    assert kept == {"schemas": [{"name": "tpch", "full_name": "samples.tpch"}]}


def test_arguments_naming_a_securable_are_checked_against_the_scope(tmp_path: Path) -> None:
    project = _project(
        tmp_path, pinned={"catalogs": ["samples", "main"], "schemas": ["samples.tpch"]}
    )
    project.set_action(
        "describe_table",
        Action(
            name="describe_table",
            connector="dbx",
            path="/api/2.1/unity-catalog/tables/{{name}}",
            inputs={"name": Input(required=True)},
        ),
    )
    project.set_action(
        "get_grants",
        Action(
            name="get_grants",
            connector="dbx",
            path="/api/2.1/unity-catalog/permissions/{{kind}}/{{full_name}}",
            inputs={"kind": Input(required=True), "full_name": Input(required=True)},
        ),
    )
    project.set_action(
        "list_schemas",
        Action(
            name="list_schemas",
            connector="dbx",
            path="/api/2.1/unity-catalog/schemas",
            query={"catalog_name": "{{cat}}"},
            inputs={"cat": Input(required=True)},
        ),
    )
    describe = plan_tool(project.copilot, project.actions["describe_table"])
    grants = plan_tool(project.copilot, project.actions["get_grants"])
    schemas = plan_tool(project.copilot, project.actions["list_schemas"])
    prepare_call(describe, project.copilot, {"name": "samples.tpch.orders"})
    prepare_call(grants, project.copilot, {"kind": "table", "full_name": "samples.tpch.orders"})
    prepare_call(schemas, project.copilot, {"cat": "samples"})
    refused = [
        (describe, {"name": "main.secret.salaries"}),
        (describe, {"name": "salaries"}),
        (describe, {"name": "samples.tpch"}),
        (grants, {"kind": "schema", "full_name": "main.secret"}),
        (grants, {"kind": "catalog", "full_name": "other"}),
        (schemas, {"cat": "other"}),
    ]
    for plan, arguments in refused:
        with pytest.raises(PolicyError) as info:
            prepare_call(plan, project.copilot, arguments)
        assert info.value.code == "policy.scope", arguments
