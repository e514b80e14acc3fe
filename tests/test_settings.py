"""The settings table: the docs are generated from it, every command-line option built from a setting has its
default and choices, flags fall back to environment variables, and a bad value (a flag or a variable) stops the
real command line and the Lambda handler at start with one line."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import cli_command, cli_env, write_colour_images
from lambda_helpers import http_event

from viewfinder import settings
from viewfinder.cli import build_parser
from viewfinder.images import decode
from viewfinder.pipeline.indexer import run_index
from viewfinder.settings import SETTINGS, SettingError
from viewfinder.sources import s3

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
VARIABLES = [setting.env for setting in SETTINGS.values() if setting.env]
# Flags that share a setting's name but mean something else there.
NOT_THE_SETTING = {
    ("rollback", "--index"),  # a published snapshot, required
    ("bench serve", "--index"),  # where the benchmark keeps the index it generates
    ("bench serve", "--runtime"),  # the runtimes to compare
    ("bench search", "--store"),  # the stores to compare
}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting's variable set, so that defaults are the table's."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command's name and parser, `bench search` included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub
                yield from commands(sub, f"{prefix}{name} ")


def test_the_settings_reference_in_the_docs_is_the_table():
    assert DOCS.read_text() == settings.reference(), (
        "docs/settings.md differs from the table: run `python -m viewfinder.settings > docs/settings.md`"
    )
    readme = (DOCS.parents[1] / "README.md").read_text()
    assert "docs/settings.md" in readme


def test_every_option_of_a_setting_has_the_tables_default_and_choices(clean_environment):
    flags = {setting.flag: setting for setting in SETTINGS.values() if setting.flag}
    used = set()
    for command, parser in commands(build_parser()):
        for action in parser._actions:
            setting = next((flags[flag] for flag in action.option_strings if flag in flags), None)
            if setting is None or (command, setting.flag) in NOT_THE_SETTING:
                continue
            where = f"viewfinder {command} {setting.flag}"
            used.add(setting.name)
            assert action.dest == setting.name, where
            built = action.type == setting.from_argument or (setting.kind is list and action.type is None)
            assert built, f"{where} is written by hand: build it with settings.add_option"
            default = action.default
            if isinstance(default, str):  # argparse converts a text default as it converts a flag's text
                default = action.type(default)
            assert (tuple(default) if setting.kind is list else default) == setting.default, where
            assert tuple(action.choices or ()) == setting.choices, where
    assert used == {setting.name for setting in flags.values()}, "a setting's flag that no command takes"


def test_a_flag_falls_back_to_its_environment_variable_and_the_flag_wins(clean_environment):
    clean_environment.setenv("VIEWFINDER_PRESIGN_TTL", "60")
    clean_environment.setenv("VIEWFINDER_INDEX", "s3://photos/indexes/main")
    args = build_parser().parse_args(["serve"])
    assert args.presign_ttl == 60 and args.index == "s3://photos/indexes/main" and type(args.index) is str
    assert build_parser().parse_args(["serve", "--presign-ttl", "120"]).presign_ttl == 120
    clean_environment.setenv("VIEWFINDER_ALLOWED_HOSTS", " photos.lan, ,other.lan ")
    assert settings.value("allowed_hosts") == ("photos.lan", "other.lan")
    assert settings.value("api_token") is None and settings.value("port") == 8000


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve", "--presign-ttl", "700000"], {}, "--presign-ttl 700000: must be between 1 and 604800."),
        (["serve", "--presign-ttl", "0"], {}, "--presign-ttl 0: must be between 1 and 604800."),
        (["serve"], {"VIEWFINDER_PRESIGN_TTL": "-5"}, "VIEWFINDER_PRESIGN_TTL=-5: must be between 1 and 604800."),
        (["serve", "--port", "eighty"], {}, "--port eighty: not a whole number."),
        (["search", "red"], {"VIEWFINDER_RUNTIME": "gpu"}, "VIEWFINDER_RUNTIME=gpu: must be one of auto, torch,"),
        (["index", "photos", "--batch-size", "0"], {}, "--batch-size 0: must be at least 1."),
        (["search", "red", "--min-relevance", "nan"], {}, "--min-relevance nan: not a number."),
    ],
)
def test_a_bad_value_stops_the_command_line_with_one_line_and_exit_2(tmp_path, args, env, message):
    environment = {key: value for key, value in cli_env().items() if key not in VARIABLES}
    result = subprocess.run(
        cli_command(*args), env={**environment, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.startswith(f"viewfinder: error: {message}") and result.stderr.count("\n") == 1, result.stderr


def test_a_bad_variable_stops_only_the_commands_that_read_it(tmp_path):
    env = {**cli_env(), "VIEWFINDER_PRESIGN_TTL": "0"}
    result = subprocess.run(cli_command("sample", tmp_path / "s", "--count", "1"), env=env, capture_output=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("ttl", ["0", "-5", "604801", "15m"])
def test_the_lambda_handler_refuses_a_bad_presign_ttl_before_loading_anything(clean_environment, tmp_path, ttl):
    from viewfinder.serve.lambda_handler import build_handler

    clean_environment.setenv("VIEWFINDER_INDEX", str(tmp_path / "no-index-here"))
    clean_environment.setenv("VIEWFINDER_PRESIGN_TTL", ttl)
    with pytest.raises(SettingError, match=f"^VIEWFINDER_PRESIGN_TTL={ttl}: "):
        build_handler()


def test_serve_and_the_lambda_share_one_allowed_hosts_default(clean_environment, tmp_path):
    """Loopback names only, unless the deployment names more: the SAM template sets '*' for API Gateway."""
    from viewfinder.serve.lambda_handler import build_handler

    index = tmp_path / "index"
    write_colour_images(tmp_path / "photos", 2)
    run_index(index, [str(tmp_path / "photos")], model="test:tiny")
    clean_environment.setenv("VIEWFINDER_INDEX", str(index))
    clean_environment.setenv("VIEWFINDER_RUNTIME", "torch")  # no ONNX export needed in this process
    clean_environment.setenv("VIEWFINDER_POLL_SECONDS", "3600")
    gateway = http_event("GET", "/healthz")  # Host: abc123.execute-api.us-east-1.amazonaws.com
    local = http_event("GET", "/healthz")
    local["headers"]["host"] = "localhost"
    closed = build_handler()
    assert closed(gateway, None)["statusCode"] == 400 and closed(local, None)["statusCode"] == 200
    template = (DOCS.parents[1] / "deploy" / "aws-lambda" / "template.yaml").read_text()
    assert 'VIEWFINDER_ALLOWED_HOSTS: "*"' in template
    clean_environment.setenv("VIEWFINDER_ALLOWED_HOSTS", "*")
    answer = build_handler()(gateway, None)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["images"] == 2


def test_the_s3_ceiling_is_decodes_and_the_endpoint_is_no_environment_side_effect(clean_environment):
    assert inspect.signature(s3.read_object).parameters["limit"].default == decode.MAX_IMAGE_BYTES
    clean_environment.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    parser = build_parser()
    try:
        s3.use_endpoint(
            parser.parse_args(["rollback", "--index", "s3://b/i", "--s3-endpoint", "http://s3.lan"]).s3_endpoint
        )
        assert s3.endpoint() == "http://s3.lan" and s3.client().meta.endpoint_url == "http://s3.lan"
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
        s3.use_endpoint(parser.parse_args(["rollback", "--index", "s3://b/i"]).s3_endpoint)
        assert s3.client().meta.endpoint_url == "http://127.0.0.1:9"
    finally:
        s3.use_endpoint(None)
        s3.client.cache_clear()
