"""classroom/config.yaml is valid Zero to JupyterHub chart configuration, checked the way Helm does.

Helm merges a deployment's values over the chart's ``values.yaml`` (maps key by key, a null deletes
the key, anything else replaces) and validates the result against the chart's ``values.schema.yaml``
(JSON Schema draft 7). Both files come from the chart's repository and live in ``../shared/z2jh/``
beside the clone (read-only on CI). The parts of config.yaml that restate the repository (kernel
culling, every student's nbgrader config) must agree with it.
"""

from __future__ import annotations

import copy
import runpy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from traitlets.config import Config

from tests.hub.hub_support import COURSE_ID, STUDENT_NBGRADER_CONFIG

ROOT = Path(__file__).resolve().parent.parent
Z2JH = ROOT.parent / "shared" / "z2jh"
CONFIG = ROOT / "classroom" / "config.yaml"


def helm_merge(defaults, values):
    """``values`` over ``defaults`` as Helm coalesces them (a new object; neither is changed)."""
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@pytest.fixture(scope="module")
def chart():
    if not (Z2JH / "values.schema.yaml").exists():
        pytest.fail(
            f"the chart's schema and defaults are not in {Z2JH} (shared/z2jh beside the clone)"
        )
    schema = yaml.safe_load((Z2JH / "values.schema.yaml").read_text())
    defaults = yaml.safe_load((Z2JH / "values.yaml").read_text())
    return Draft7Validator(schema), defaults


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load(CONFIG.read_text())


def errors(validator, values) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(values)
    ]


def test_helm_merge_follows_helms_rules():
    defaults = {"a": {"b": 1, "c": [1, 2]}, "d": 1, "e": {"f": 1}}
    assert helm_merge(defaults, {"a": {"c": [3]}, "d": None, "e": "x"}) == {
        "a": {"b": 1, "c": [3]},
        "e": "x",
    }
    assert defaults == {"a": {"b": 1, "c": [1, 2]}, "d": 1, "e": {"f": 1}}


def test_config_merged_over_the_charts_defaults_passes_its_schema(chart, config):
    validator, defaults = chart
    assert errors(validator, defaults) == [], "the chart's own defaults should validate"
    assert errors(validator, helm_merge(defaults, config)) == []


@pytest.mark.parametrize(
    "mistake",
    [
        {"singleuser": {"memmory": {"limit": "2G"}}},  # a misspelt key
        {
            "singleuser": {"image": {"name": "softmax-lab"}, "cpu": {"limit": "2"}}
        },  # a string for a number
        {"cull": {"timeout": "an hour"}},
    ],
)
def test_the_check_catches_a_broken_config(chart, config, mistake):
    validator, defaults = chart
    assert errors(validator, helm_merge(defaults, helm_merge(config, mistake)))


def test_the_user_image_and_resources_are_set(config):
    singleuser = config["singleuser"]
    assert singleuser["image"]["name"].endswith("/softmax-lab") and singleuser["image"]["tag"]
    memory = singleuser["memory"]
    units = {"M": 2**20, "G": 2**30}
    guarantee, limit = (int(memory[k][:-1]) * units[memory[k][-1]] for k in ("guarantee", "limit"))
    assert 0 < guarantee <= limit
    assert singleuser["defaultUrl"] == "/lab"
    assert config["cull"]["enabled"]


def test_kernel_culling_is_the_one_of_binder(config):
    culling = config["singleuser"]["extraFiles"]["softmax-lab-culling"]
    assert culling["mountPath"] == "/etc/jupyter/jupyter_server_config.json"

    binder = Config()
    runpy.run_path(
        str(ROOT / "binder" / "jupyter_server_config.py"),
        init_globals={"get_config": lambda: binder},
    )
    assert culling["data"] == {"MappingKernelManager": dict(binder["MappingKernelManager"])}


def test_students_nbgrader_config_is_the_one_the_hub_test_runs(config):
    files = config["singleuser"]["extraFiles"]
    exchange = "/srv/nbgrader/exchange"
    assert files["nbgrader-student"]["stringData"] == STUDENT_NBGRADER_CONFIG.format(
        course_id=COURSE_ID, exchange=exchange
    )
    mounts = config["singleuser"]["storage"]["extraVolumeMounts"]
    assert {"name": "nbgrader-exchange", "mountPath": exchange} in mounts
    volumes = {v["name"]: v for v in config["singleuser"]["storage"]["extraVolumes"]}
    assert volumes["nbgrader-exchange"]["persistentVolumeClaim"]["claimName"]
