"""Case schema: a valid case loads; each malformed case fails naming file, line, key and choices."""
import textwrap

import pytest

from sciml.config import CaseError, apply_override, dump_case, load_case, parse_yaml, validate

VALID = textwrap.dedent("""\
    name: tiny
    seed: 3
    problem: {type: burgers1d, params: {nu: 0.01}}
    data: {type: collocation, n_interior: 64, n_boundary: 8, n_initial: 8, sampler: hammersley}
    model: {type: mlp, width: 8, depth: 2, activation: tanh}
    method: {type: pinn, weights: {pde: 1.0}}
    train:
      stages:
        - {optimizer: adam, lr: 1.0e-3, steps: 3}
        - {optimizer: lbfgs, steps: 2}
      eval_every: 10
    output: {formats: [pvd, png]}
""")


def write(tmp_path, text, name="case.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_valid_case_loads_and_round_trips(tmp_path):
    case = load_case(write(tmp_path, VALID))
    assert case.name == "tiny" and case.seed == 3
    assert case.train.stages[0].lr == 1e-3 and case.train.stages[1].optimizer == "lbfgs"
    assert case.output.formats == ["pvd", "png"]
    again = load_case(write(tmp_path, dump_case(case), "dumped.yaml"))
    assert again.to_dict() == case.to_dict()


def test_overrides_reach_nested_lists(tmp_path):
    case = load_case(write(tmp_path, VALID), ["train.stages.0.steps=7", "model.width=16", "problem.params.nu=0.02"])
    assert case.train.stages[0].steps == 7 and case.model["width"] == 16
    assert case.problem["params"]["nu"] == 0.02


@pytest.mark.parametrize(
    "old, new, expect",
    [
        ("  eval_every: 10", "  eval_evry: 10", ["case.yaml:11", "train.eval_evry", "unknown key", "eval_every"]),
        ("type: mlp,", "type: mlpp,", ["case.yaml:5", "model.type", "unknown model 'mlpp'", "mlp"]),
        ("width: 8,", "widht: 8,", ["case.yaml:5", "model.widht", "unknown option", "width"]),
        ("width: 8,", "width: eight,", ["case.yaml:5", "model.width", "expected int", "'eight'"]),
        ("optimizer: adam,", "optimizer: adamm,", ["case.yaml:9", "train.stages.0.optimizer", "adam, adamw, sgd, lbfgs"]),
        ("lr: 1.0e-3, steps: 3", "lr: 1.0e-3", ["train.stages.0", "exactly one of 'steps' or 'epochs'"]),
        ("lr: 1.0e-3,", "lr: -1.0,", ["train.stages.0.lr", "positive"]),
        ("formats: [pvd, png]", "formats: [pvd, vtk]", ["output.formats.1", "unknown format 'vtk'", "vtu, pvd, xdmf, png"]),
        ("formats: [pvd, png]", "formats: [pvd, png], fields: [u, v]", ["output.fields.1", "unknown field 'v'", "x, t, u"]),
        ("seed: 3", "seed: three", ["case.yaml:2", "seed", "expected int"]),
        ("name: tiny\n", "name: tiny\nsolver: fast\n", ["case.yaml:2", "solver", "unknown section", "problem"]),
        ("sampler: hammersley", "sampler: hammersley, n_points: 3", ["data.n_points", "unknown option", "n_interior"]),
        ("{type: pinn, weights: {pde: 1.0}}", "{weights: {pde: 1.0}}", ["method", "missing 'type'", "pinn"]),
        ("  eval_every: 10", "  eval_every: 0", ["train.eval_every", "positive"]),
        ("  stages:", "  stages: []\n  old:", ["train.old", "unknown key"]),
        ("nu: 0.01", "nu: -0.01", ["case.yaml:3", "problem.params", "'nu'=-0.01 is outside its range"]),
        ("nu: 0.01", "mu: 0.01", ["case.yaml:3", "problem.params", "no parameter 'mu'", "nu"]),
    ],
)
def test_malformed_cases_name_file_line_key_and_choices(tmp_path, old, new, expect):
    assert old in VALID
    p = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(CaseError) as err:
        load_case(p)
    msg = str(err.value)
    for piece in expect:
        assert piece in msg, f"{piece!r} not in {msg!r}"


def test_missing_section_and_bad_yaml(tmp_path):
    with pytest.raises(CaseError, match="missing required section 'train'"):
        load_case(write(tmp_path, VALID.split("train:")[0]))
    with pytest.raises(CaseError, match="not valid YAML"):
        load_case(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(CaseError, match="duplicate key 'seed'"):
        load_case(write(tmp_path, VALID.replace("seed: 3", "seed: 3\nseed: 4")))
    with pytest.raises(CaseError, match="case file not found"):
        load_case(tmp_path / "nope.yaml")


def test_empty_stages_and_dtype(tmp_path):
    with pytest.raises(CaseError, match="needs at least one stage"):
        raw, _ = parse_yaml(VALID)
        raw["train"]["stages"] = []
        validate(raw)
    raw, _ = parse_yaml(VALID)
    raw["dtype"] = "float16"
    with pytest.raises(CaseError, match="float32 or float64"):
        validate(raw)


def test_override_errors():
    raw, _ = parse_yaml(VALID)
    with pytest.raises(CaseError, match="expected KEY=VALUE"):
        apply_override(raw, "train.stages.0.steps")
    with pytest.raises(CaseError, match="not an index"):
        apply_override(raw, "train.stages.5.steps=3")


def test_problem_parameter_out_of_range_is_caught_when_building():
    from sciml.registry import PROBLEMS

    with pytest.raises(ValueError, match="parameter 'nu'=-1.0 is outside its range"):
        PROBLEMS.build("burgers1d", {"params": {"nu": -1.0}})
    with pytest.raises(ValueError, match="has no parameter 'mu'"):
        PROBLEMS.build("burgers1d", {"params": {"mu": 1.0}})
