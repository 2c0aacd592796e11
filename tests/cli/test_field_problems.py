"""One reading of what a project model refused (`authconfig.field_problems`), told by each front in
its own terms: the CLI names the flag, the Studio's forms put the message next to the field."""

from __future__ import annotations

import pytest
from cli_runner import Cli
from pydantic import ValidationError
from starlette.datastructures import FormData

from lakegate.authconfig import field_problems
from lakegate.project import Action, Input, load_project
from lakegate.studio.action_form import ActionDraft

UNSAFE = "/x/../admin"


def refused(**fields: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Action(**fields)
    return caught.value


def test_a_model_level_check_names_its_field_and_its_fix() -> None:
    [problem] = field_problems(refused(name="a1", connector="api", path=UNSAFE), Action)
    assert (problem.field, problem.missing, problem.under) == ("path", False, "")
    assert "is not safe" in problem.problem and problem.fix
    assert problem.sentence == f"{problem.problem} — {problem.fix}."


def test_a_field_error_is_about_the_deepest_field_of_a_nested_model() -> None:
    inputs = {"limit": {"type": "integer", "required": "maybe"}}
    exc = refused(name="a1", connector="api", path="/x", inputs=inputs)
    [problem] = field_problems(exc, Action)
    assert (problem.field, problem.under) == ("required", "inputs")  # an Input's field
    [problem] = field_problems(refused(name="a1", path="/x"), Action)
    assert (problem.field, problem.missing) == ("connector", True)


def test_a_problem_off_the_models_fields_names_none() -> None:
    with pytest.raises(ValidationError) as caught:
        Input(type="integer", colour="red")  # type: ignore[call-arg]
    [problem] = field_problems(caught.value, Input)
    assert problem.field == "" and problem.under == "colour"


def test_the_cli_and_the_action_form_tell_the_same_problem_each_in_its_terms(cli: Cli) -> None:
    assert cli("init").code == 0
    assert cli("connector", "add", "api", "--base-url", "https://api.example.com").code == 0
    run = cli("action", "add", "a1", "--path", UNSAFE)
    assert run.code == 2
    said = " ".join(run.stderr.split())  # rich wraps long lines
    [problem] = field_problems(refused(name="a1", connector="api", path=UNSAFE), Action)
    assert f"{problem.problem} (--path)" in said and f"hint: {problem.fix}" in said

    draft = ActionDraft.from_form(FormData({"connector": "api", "method": "GET", "path": UNSAFE}))
    assert draft.build("a1", None) is None
    assert draft.errors == {"path": problem.sentence}


def test_a_declared_example_is_typed_as_an_input_value_is(cli: Cli) -> None:
    assert cli("init").code == 0
    assert cli("connector", "add", "api", "--base-url", "https://api.example.com").code == 0
    added = cli(
        "action", "add", "a1", "--path", "/x", "--declare", "verbose:boolean=yes",
        "--declare", "ids:array=[1, 2]",
    )  # fmt: skip
    assert added.code == 0, added.output
    inputs = load_project(cli.project).actions["a1"].inputs
    assert (inputs["verbose"].example, inputs["ids"].example) == (True, [1, 2])
    wrong = cli("action", "add", "a2", "--path", "/x", "--declare", 'ids:array={"a": 1}')
    assert wrong.code == 2 and "not a valid array" in " ".join(wrong.stderr.split())
    assert "a2" not in load_project(cli.project).actions


EXAMPLES = [
    ("integer", "5", 5), ("number", "5", 5), ("number", "0.5", 0.5), ("boolean", "yes", True),
    ("boolean", "off", False), ("array", "[1, 2]", [1, 2]), ("object", '{"a": 1}', {"a": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "text", "typed"), EXAMPLES)
def test_the_cli_and_the_action_form_type_an_example_alike(
    cli: Cli, kind: str, text: str, typed: object
) -> None:
    assert cli("init").code == 0
    assert cli("connector", "add", "api", "--base-url", "https://api.example.com").code == 0
    added = cli("action", "add", "a1", "--path", "/x", "--declare", f"v:{kind}={text}")
    assert added.code == 0, added.output
    from_cli = load_project(cli.project).actions["a1"].inputs["v"].example
    row = [("input_name", "v"), ("input_type", kind), ("input_description", ""),
           ("input_example", text)]  # fmt: skip
    form = FormData([("connector", "api"), ("method", "GET"), ("path", "/x"), *row])
    draft = ActionDraft.from_form(form)
    built = draft.build("a1", None)
    assert built is not None, draft.errors
    from_form = built.inputs["v"].example
    assert from_cli == from_form == typed
    assert type(from_cli) is type(from_form) is type(typed)  # 5 stays 5, not 5.0
