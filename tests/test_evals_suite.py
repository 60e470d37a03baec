"""Suite files: inline and file cases, variants, templates, and precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixstack.evals import SuiteError, load_suite


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_inline_cases_variants_and_extra_fields(tmp_path: Path) -> None:
    suite = load_suite(
        _write(
            tmp_path / "s.yaml",
            """
name: demo
workload: math
models: [fake/echo, fake/remote]
defaults:
  system: Be brief.
  params: {max_tokens: 10, temperature: 0}
  scorers: [exact, {numeric: {tolerance: 0.5}}]
variants:
  rough: "{{ question }}"
  rephrased:
    prompt: "Question: {{ question }} (context: {{ context }})"
    system: Answer with one number.
cases:
  - id: add
    vars: {question: "2+3?"}
    context: sums
    expected: 5
  - id: 7
    vars: {question: "1+1?"}
    context: more
    expected: 2
    scorers: [contains]
""",
        )
    )
    assert suite.name == "demo"
    assert suite.workload == "math"
    assert suite.models == ["fake/echo", "fake/remote"]
    items = list(suite.items())
    assert [(i.case.id, i.variant) for i in items] == [
        ("add", "rough"),
        ("add", "rephrased"),
        ("7", "rough"),
        ("7", "rephrased"),
    ]
    first, second = items[0], items[1]
    assert [m.text for m in first.request.messages] == ["Be brief.", "2+3?"]
    assert [m.text for m in second.request.messages] == [
        "Answer with one number.",
        "Question: 2+3? (context: sums)",
    ]
    assert first.request.params.max_tokens == 10
    assert first.case.extra == {"context": "sums"}
    assert [s.type for s in suite.scorers_for(first.case)] == ["exact", "numeric"]
    assert suite.scorers_for(first.case)[1].options == {"tolerance": 0.5}
    assert [s.type for s in suite.scorers_for(items[2].case)] == ["contains"]


def test_jsonl_cases_are_streamed_and_errors_name_the_line(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "input": "hello {{ name }}", "vars": {"name": "x"}, "expected": "x"},
        {"id": "b", "messages": [{"role": "user", "content": "hi"}], "needle": "n"},
    ]
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n{not json}\n")
    suite = load_suite(_write(tmp_path / "s.yaml", "cases_file: cases.jsonl\n"))
    it = suite.items()
    assert next(it).request.messages[-1].text == "hello x"
    second = next(it)
    assert second.case.extra == {"needle": "n"}
    with pytest.raises(SuiteError, match=r"cases\.jsonl:4: invalid JSON"):
        next(it)


def test_csv_cases_turn_other_columns_into_vars(tmp_path: Path) -> None:
    _write(tmp_path / "c.csv", "id,input,expected,city\nq1,Capital of {{ city }}?,Paris,France\n")
    suite = load_suite(_write(tmp_path / "s.yaml", "cases_file: c.csv\n"))
    (case,) = list(suite.iter_cases())
    assert case.vars == {"city": "France"}
    assert suite.build_request(case).messages[-1].text == "Capital of France?"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("cases_file: nope.jsonl\n", r"s\.yaml: cases_file: .*nope\.jsonl' not found"),
        ("cases: []\ncases_file: x.jsonl\n", r"exactly one of"),
        ("models: [a]\ndefaults:\n  params:\n    temperature: 9\ncases: []\n", r"s\.yaml:4: "),
        ("cases:\n  - id: q\n    input: hi\n  - id: q\n    input: again\n", r"s\.yaml:4: .*dupl"),
        ("cases:\n  - id: q\n", r"s\.yaml:2: case 'q': input: missing"),
        ("cases:\n  - id: q\n    input: '{{ who }}'\n", r"case 'q': input: template error"),
        ("cases:\n  - id: q\n    input: x\n    images: [gone.png]\n", r"case 'q': images: .*gone"),
        ("cases:\n  - id: q\n    input: x\n    params: {max_tokens: 0}\n", r"params\.max_tokens"),
        ("cases: [\n", r"s\.yaml:2: invalid YAML"),
    ],
)
def test_errors_name_file_line_case_and_field(tmp_path: Path, text: str, pattern: str) -> None:
    path = _write(tmp_path / "s.yaml", text)
    with pytest.raises(SuiteError, match=pattern):
        list(load_suite(path).items())


def test_missing_suite_file(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="not found"):
        load_suite(tmp_path / "absent.yaml")


def test_fingerprint_follows_the_case_file(tmp_path: Path) -> None:
    cases = _write(tmp_path / "c.jsonl", '{"id": "a", "input": "x"}\n')
    suite = load_suite(_write(tmp_path / "s.yaml", "cases_file: c.jsonl\n"))
    before = suite.fingerprint()
    cases.write_text('{"id": "a", "input": "y"}\n')
    assert suite.fingerprint() != before


def test_images_by_path_reach_the_request(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(tmp_path / "dot.png")
    suite = load_suite(
        _write(
            tmp_path / "s.yaml", "cases:\n  - {id: a, input: 'What colour?', images: [dot.png]}\n"
        )
    )
    (item,) = list(suite.items())
    (image,) = item.request.messages[-1].images
    assert image.media_type == "image/png"


def test_variant_params_layer_between_defaults_and_case(tmp_path: Path) -> None:
    suite = load_suite(
        _write(
            tmp_path / "s.yaml",
            "defaults: {params: {max_tokens: 10, temperature: 0.5}}\n"
            "variants:\n  short: {prompt: '{{ input }}',"
            ' params: {max_tokens: 3, stop: ["\\n"]}}\n'
            "cases:\n  - {id: a, input: x, params: {temperature: 0}}\n",
        )
    )
    params = next(suite.items()).request.params
    assert (params.max_tokens, params.temperature, params.stop) == (3, 0.0, ("\n",))


TEMPLATES = [
    "{{ a }}-{{ b }}-{{ c }}",
    "x {{d}} y\n",
    "{{ e }}{{f}}{{ g }}",
    "{% raw %}{{ a }}{% endraw %} {{ a }}",
    "{{ range }}",  # a Jinja global, not a variable
    "{{ a | string }} {{ c.x }} {% if e %}yes{% endif %}",  # not plain: rendered by Jinja
    "plain text, no fields",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_prompts_render_exactly_as_jinja_renders_them(tmp_path: Path, template: str) -> None:
    import jinja2

    values = {"a": None, "b": 1.5, "c": {"x": [1, "é"]}, "d": "line\n", "e": True,
              "f": 10**20, "g": ["<b>", "&"]}  # fmt: skip
    case = {"id": "q", "vars": values}
    (tmp_path / "c.jsonl").write_text(json.dumps(case) + "\n" + json.dumps(case | {"id": "r"}))
    text = f"cases_file: c.jsonl\nvariants:\n  v: {json.dumps(template)}\n"
    suite = load_suite(_write(tmp_path / "s.yaml", text))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    want = env.from_string(template).render({**values, "id": "q", "input": None, "expected": None})
    first, second = (item.request.messages[-1].text for item in suite.items())
    assert first == second == want


def test_a_case_file_line_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text('{"id": "a", "input": "x"}\n\n{"id": "b", "input": }\n')
    suite = load_suite(_write(tmp_path / "s.yaml", "cases_file: c.jsonl\n"))
    with pytest.raises(SuiteError, match=r"c\.jsonl:3: invalid JSON \(Expecting value at col"):
        list(suite.iter_cases())


def test_deferred_items_build_their_request_once_when_asked(tmp_path: Path) -> None:
    suite = load_suite(
        _write(tmp_path / "s.yaml", "variants: {v: 'Q: {{ input }}'}\ncases: [{id: a, input: x}]\n")
    )
    (item,) = list(suite.items(defer=True))
    (eager,) = list(suite.items())
    assert item.request is item.request
    assert item.request == eager.request
    assert item.request.messages[-1].text == "Q: x"
