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
        (
            "optimizer: adam,",
            "optimizer: adamm,",
            ["case.yaml:9", "train.stages.0.optimizer", "adam, adamw, sgd, lbfgs"],
        ),
        ("lr: 1.0e-3, steps: 3", "lr: 1.0e-3", ["train.stages.0", "exactly one of 'steps' or 'epochs'"]),
        ("lr: 1.0e-3,", "lr: -1.0,", ["train.stages.0.lr", "positive"]),
        (
            "formats: [pvd, png]",
            "formats: [pvd, vtk]",
            ["output.formats.1", "unknown format 'vtk'", "vtu, pvd, xdmf, png"],
        ),
        (
            "formats: [pvd, png]",
            "formats: [pvd, png], fields: [u, v]",
            ["output.fields.1", "unknown field 'v'", "x, t, u"],
        ),
        ("seed: 3", "seed: three", ["case.yaml:2", "seed", "expected int"]),
        ("name: tiny\n", "name: tiny\nsolver: fast\n", ["case.yaml:2", "solver", "unknown section", "problem"]),
        ("sampler: hammersley", "sampler: hammersley, n_points: 3", ["data.n_points", "unknown option", "n_interior"]),
        ("{type: pinn, weights: {pde: 1.0}}", "{weights: {pde: 1.0}}", ["method", "missing 'type'", "pinn"]),
        ("type: mlp, width: 8,", "width: 8,", ["case.yaml:5", "model", "missing 'type'", "mlp"]),  # not named nets
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


# ---------------------------------------------------------------- generic rules (issue "Reliability" §3)
def _float_fields(cls):
    from dataclasses import fields

    return [f.name for f in fields(cls) if isinstance(f.default, float)]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_every_float_of_the_train_schema_must_be_finite(value):
    from sciml.config import Stage, Train

    assert _float_fields(Stage) and _float_fields(Train)
    for section, cls in ((("train", "stages", 0), Stage), (("train",), Train)):
        for name in _float_fields(cls):
            raw, _ = parse_yaml(VALID)
            apply_override(raw, ".".join(map(str, section + (name,))) + f"={value}")
            with pytest.raises(CaseError, match=rf"{'.'.join(map(str, section))}.{name}: must be a finite number"):
                validate(raw)


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("train.stages.0.steps", -3, "must be >= 0"),
        ("train.stages.0.batch_size", -1, "must be >= 0"),
        ("train.stages.1.history_size", 0, "must be a positive integer"),
        ("train.stages.1.line_search", "wolfe", "strong_wolfe, none"),
        ("train.stages.0.clip_grad", -0.5, "must be >= 0"),
        ("train.stages.0.weight_decay", -1, "must be >= 0"),
        ("train.divergence_factor", 0, "must be positive"),
        ("train.time_limit_s", -1, "must be >= 0"),
        ("train.log_every", 0, "must be a positive integer"),
        ("output.n_samples", 0, "must be a positive integer"),
        ("train.stages.0.scheduler", "{type: step, step_size: 0}", "step_size: must be an integer >= 1"),
        ("train.stages.0.scheduler", "{type: step, gamma: .nan}", "gamma: must be a finite number > 0"),
        ("train.stages.0.scheduler", "{type: plateau, factor: 1.5}", "factor: must be a finite number > 0 and < 1"),
        ("seed", -1, "seed: must be in [0, 2^32)"),
        ("seed", 2**32, "seed: must be in [0, 2^32)"),
        ("name", "a/b", "name: must be a non-empty name without '/'"),
        ("method.weights", "{pde: -1.0}", "method.weights.pde: a loss weight must be a finite number >= 0"),
        ("method.weights", "[1.0]", "method.weights: expected a mapping"),
        ("problem.params", "[0.01]", "problem.params: expected a mapping, got list"),
        ("problem.params", "{nu: .inf}", "problem.params: problem 'burgers1d': parameter 'nu' must be a finite number"),
        ("problem.n_t", 0, "problem.n_t: burgers1d: n_t must be an integer >= 1"),
        ("problem.t_end", ".nan", "problem.t_end: must be a finite number"),
        ("data.n_interior", 0, "data.n_interior: collocation n_interior must be an integer >= 1"),
        ("data.observation_noise", -1.0, "data.observation_noise: observation_noise must be a finite number >= 0"),
        ("data.sampler", "sobolev", "data.sampler: unknown sampler 'sobolev'"),
        ("data.boundary_sampler", "grid", "data.boundary_sampler: unknown boundary_sampler 'grid'"),
    ],
)
def test_ranges_name_the_key(key, value, words):
    raw, _ = parse_yaml(VALID)
    apply_override(raw, f"{key}={value}")
    with pytest.raises(CaseError) as err:
        validate(raw, "case.yaml")
    msg = str(err.value)
    assert words in msg and "\n" not in msg, msg


def test_set_below_a_scalar_names_the_scalar():
    raw, _ = parse_yaml(VALID)
    with pytest.raises(CaseError, match=r"--set seed.x: seed is int 3, not a section"):
        apply_override(raw, "seed.x=1")
    with pytest.raises(CaseError, match="not a dotted key"):
        apply_override(raw, "train..steps=1")


def test_case_file_that_is_a_folder_binary_or_bad_yaml_is_one_line(tmp_path):
    with pytest.raises(CaseError, match="is a directory, not a case file"):
        load_case(tmp_path)
    (tmp_path / "bin.yaml").write_bytes(b"name: x\n\x80\x81\x00")
    with pytest.raises(CaseError, match=r"not a text file \(byte 0x80 at offset 8"):
        load_case(tmp_path / "bin.yaml")
    with pytest.raises(CaseError) as err:
        load_case(write(tmp_path, "name: x\nproblem: [unclosed\n"))
    assert "case.yaml:3: not valid YAML: expected ',' or ']'" in str(err.value) and "\n" not in str(err.value)


def test_dataset_checks_at_load_time_generate_nothing(tmp_path):
    """An hdf5 case validates its data options and its file without generating it."""
    op = textwrap.dedent(f"""\
        name: op
        problem: {{type: darcy2d, resolution: 9}}
        data: {{type: hdf5, path: {tmp_path / "d.h5"}, n_train: 4, n_test: 2, batch_size: 2}}
        model: {{type: fno, n_modes: [2, 2], hidden_channels: 4, n_layers: 1, projection_channels: 4}}
        method: {{type: supervised}}
        train: {{stages: [{{optimizer: adam, lr: 1.0e-3, epochs: 1}}]}}
    """)
    p = write(tmp_path, op)
    load_case(p)
    assert not (tmp_path / "d.h5").exists()
    with pytest.raises(CaseError, match=r"data.path: dataset .* does not exist \(and generate is off\)"):
        load_case(p, ["data.generate=false"])
    with pytest.raises(CaseError, match="data.normalize: unknown normalize 'unit'"):
        load_case(p, ["data.normalize=unit"])
    with pytest.raises(CaseError, match="method.eval_batch: eval_batch must be an integer >= 1"):
        load_case(p, ["method.eval_batch=0"])
    with pytest.raises(CaseError, match="method.loss: unknown operator loss 'l1'"):
        load_case(p, ["method.loss=l1"])
