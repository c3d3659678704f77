"""Training config: recipes, base inheritance, typed key=value overrides and their errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import posekit
from posekit.data.augment import AugmentOptions
from posekit.train.config import ConfigError, TrainConfig, check_model_name, config_from_dict, load_config

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))
MINIMAL = {"model": {"name": "m"}, "data": {"train": [{"kind": "lsp", "path": "lsp"}]}}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_recipes_exist():
    names = {p.stem for p in RECIPES}
    for arch in ("simplebaseline_r50", "hrnet_w32", "vitpose_s"):
        assert {f"lsp_{arch}", f"lsp_{arch}_srcnn"} <= names
    assert {"base", "coco_custom_finetune"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_recipe_loads_and_round_trips(path, tmp_path):
    if path.stem == "base":
        with pytest.raises(ConfigError, match="missing required key model"):
            load_config(path, check_model=False)
        return
    cfg = load_config(path, check_model=False)
    assert isinstance(cfg, TrainConfig) and cfg.data.train
    assert len(path.read_text().splitlines()) <= 30  # recipes stay short: the base holds the rest
    saved = _write(tmp_path, "config.yaml", cfg.to_yaml())
    assert load_config(saved, check_model=False) == cfg


def test_srcnn_recipes_differ_only_in_the_refinement_head():
    for arch in ("simplebaseline_r50", "hrnet_w32", "vitpose_s"):
        plain = load_config(RECIPES[0].parent / f"lsp_{arch}.yaml", check_model=False).to_dict()
        srcnn = load_config(RECIPES[0].parent / f"lsp_{arch}_srcnn.yaml", check_model=False).to_dict()
        assert plain["model"]["srcnn"] is False and srcnn["model"]["srcnn"] is True
        plain["model"]["srcnn"] = True
        plain["runtime"]["out_dir"] = srcnn["runtime"]["out_dir"]
        assert plain == srcnn


def test_lsp_recipes_use_the_standard_split():
    cfg = load_config(RECIPES[0].parent / "lsp_hrnet_w32.yaml", check_model=False)
    assert [(d.kind, d.indices) for d in cfg.data.train] == [("lsp", (0, 1000)), ("lspet", (0, 2000))]
    assert [(d.kind, d.indices) for d in cfg.data.val] == [("lsp", (1000, 2000))]
    assert cfg.data.skeleton == "lsp14" and cfg.augment.half_body_min_total == 8
    coco = load_config(RECIPES[0].parent / "coco_custom_finetune.yaml", check_model=False)
    assert coco.data.skeleton is None and [d.kind for d in coco.data.train] == ["coco"]
    assert coco.augment.half_body_min_total == 9 and coco.optim.lr == 1e-4


def test_recipe_model_names_are_registered():
    names = {load_config(p, check_model=False).model.name for p in RECIPES if p.stem != "base"}
    known = set(posekit.list_models())
    assert names <= known, sorted(names - known)


def test_overrides_are_typed_by_the_field():
    cfg = config_from_dict(MINIMAL, [
        "optim.lr=1e-3", "optim.betas=[0.8, 0.99]", "runtime.batch_size=8", "runtime.ema=true",
        "runtime.grad_clip=2", "runtime.resume=none", "runtime.precision=bf16", "model.srcnn=yes",
        "model.input_size=192,256", "augment.scale_range=0.6,1.4", "schedule.steps=100", "schedule.kind=step",
        "schedule.milestones=0.5,0.75,0.9", "data.train.0.indices=0,500", "data.skeleton=lsp14",
        "data.val.0.kind=lsp", "data.val.0.path=lsp", "model.weights=ckpt.pth", "runtime.device=cuda:1",
    ])
    assert cfg.optim.lr == 1e-3 and isinstance(cfg.optim.lr, float) and cfg.optim.betas == (0.8, 0.99)
    assert cfg.runtime.batch_size == 8 and cfg.runtime.ema is True and cfg.runtime.grad_clip == 2.0
    assert cfg.runtime.resume is None and cfg.runtime.precision == "bf16" and cfg.runtime.device == "cuda:1"
    assert cfg.model.srcnn is True and cfg.model.input_size == (192, 256) and cfg.model.weights == "ckpt.pth"
    assert cfg.augment == AugmentOptions(scale_range=(0.6, 1.4))
    assert cfg.schedule.steps == 100 and cfg.schedule.milestones == (0.5, 0.75, 0.9)
    assert cfg.data.train[0].indices == (0, 500) and cfg.data.val[0].path == "lsp"
    assert type(cfg.model.weights) is str and type(cfg.schedule.kind) is str  # plain values, not override text
    later = config_from_dict(MINIMAL, ["optim.lr=0.1", "optim.lr=0.2"])
    assert later.optim.lr == 0.2


def test_yaml_values_are_checked_and_exponents_read_as_floats(tmp_path):
    path = _write(tmp_path, "r.yaml", "model: {name: m}\ndata: {train: [{kind: lsp, path: x}]}\noptim: {lr: 1e-3}\n")
    assert load_config(path, check_model=False).optim.lr == 1e-3  # YAML 1.1 reads 1e-3 as a string
    path = _write(tmp_path, "r.yaml", "model: {name: m}\ndata: {train: [{kind: lsp, path: x}]}\n"
                                      "runtime: {batch_size: 2.5}\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: runtime\.batch_size: expected int, got '2\.5' \(float\)"):
        load_config(path, check_model=False)


@pytest.mark.parametrize("override, message", [
    ("optim.lrr=1", r"unknown key 'optim.lrr'; did you mean optim.lr\?"),
    ("runtim.seed=1", r"unknown key 'runtim'; did you mean runtime\?"),
    ("augment.flip=0.1", r"did you mean augment.flip_prob\?"),
    ("data.train.0.indexes=0,1", r"did you mean data.train.0.indices\?"),
    ("optim.zzz=1", r"valid keys: optim.lr, optim.weight_decay, optim.betas"),
])
def test_unknown_keys_suggest_the_closest_name(override, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(MINIMAL, [override])


def test_unknown_key_in_a_recipe_file(tmp_path):
    path = _write(tmp_path, "r.yaml", "model: {name: m, srcn: true}\ndata: {train: [{kind: lsp, path: x}]}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'model.srcn'; did you mean model.srcnn\?"):
        load_config(path, check_model=False)


@pytest.mark.parametrize("override, message", [
    ("optim.lr=fast", r"optim.lr: expected float, got 'fast'"),
    ("runtime.batch_size=1.5", r"runtime.batch_size: expected int, got '1.5'"),
    ("runtime.ema=maybe", r"runtime.ema: expected bool"),
    ("runtime.precision=bf61", r"expected one of 'fp32', 'bf16', 'fp16'.*did you mean 'bf16'"),
    ("augment.scale_range=0.5", r"augment.scale_range: expected tuple\[float, float\].*needs 2 values"),
    ("runtime.grad_clip=big", r"runtime.grad_clip: expected float or None"),
    ("optim.betas=[0.9, 0.99", r"optim.betas: expected tuple\[float, float\].*write a list as"),
    ("optim.betas=0.9,", r"optim.betas.1: expected float, got ''"),
    ("model=resnet", r"model is a section; set its fields instead"),
    ("data.train.5.path=x", r"data.train has 1 entries"),
    ("optim.lr.x=1", r"optim.lr is a value, not a section"),
    ("optim.lr", r"must have the form key=value"),
    ("optim.lr=-1", r"optim: lr must be positive"),
    ("augment.flip_prob=1.5", r"augment: flip_prob must be a probability"),
    ("data.skeleton=lsp41", r"skeleton 'lsp41' is not a table of posekit.skeletons; did you mean 'lsp14'"),
    ("schedule.milestones=0.9,0.5", r"milestones must be increasing"),
    ("data.val.0.kind=lsp", r"missing required key data.val.0.path"),
])
def test_bad_values_name_the_key_and_the_expected_type(override, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(MINIMAL, [override])


def test_missing_required_keys():
    with pytest.raises(ConfigError, match="missing required key model.name"):
        config_from_dict({"model": {}, "data": MINIMAL["data"]})
    with pytest.raises(ConfigError, match="missing required key data"):
        config_from_dict({"model": {"name": "m"}})


def test_base_inheritance_deep_merges_one_level(tmp_path):
    _write(tmp_path, "base.yaml", "model: {name: base_model, srcnn: true}\n"
                                  "data: {skeleton: lsp14, train: [{kind: lsp, path: a}, {kind: lspet, path: b}]}\n"
                                  "optim: {lr: 0.5, weight_decay: 0.2}\n")
    (tmp_path / "sub").mkdir()
    child = _write(tmp_path / "sub", "child.yaml", "base: ../base.yaml\nmodel: {name: child_model}\n"
                                                   "data: {train: [{kind: coco, path: c.json}]}\noptim: {lr: 0.1}\n")
    cfg = load_config(child, check_model=False)
    assert cfg.model.name == "child_model" and cfg.model.srcnn is True  # merged key by key
    assert cfg.optim.lr == 0.1 and cfg.optim.weight_decay == 0.2
    assert [d.kind for d in cfg.data.train] == ["coco"] and cfg.data.skeleton == "lsp14"  # lists replaced
    assert load_config(child, ["optim.weight_decay=0"], check_model=False).optim.weight_decay == 0.0
    grandchild = _write(tmp_path, "gc.yaml", "base: sub/child.yaml\n")
    with pytest.raises(ConfigError, match="cannot have its own base"):
        load_config(grandchild, check_model=False)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_config(_write(tmp_path, "m.yaml", "base: missing.yaml\n"), check_model=False)


def test_config_from_dict_does_not_modify_its_input():
    data = copy.deepcopy(MINIMAL)
    config_from_dict(data, ["data.train.0.path=other", "optim.lr=0.1"])
    assert data == MINIMAL


def test_model_names_are_checked_against_the_registry(tmp_path):
    check_model_name("blazepose_full")
    with pytest.raises(ConfigError, match=r"unknown model 'blazepose_ful'; did you mean blazepose_full"):
        check_model_name("blazepose_ful")
    path = _write(tmp_path, "r.yaml", "model: {name: no_such_model}\ndata: {train: [{kind: lsp, path: x}]}\n")
    with pytest.raises(ConfigError, match="unknown model 'no_such_model'"):
        load_config(path)
    assert load_config(path, check_model=False).model.name == "no_such_model"


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(_write(tmp_path, "l.yaml", "- a\n- b\n"), check_model=False)
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "b.yaml", "model: {name: [\n"), check_model=False)
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
