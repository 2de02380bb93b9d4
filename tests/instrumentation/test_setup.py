"""``setup_openobserve``: settings from arguments, environment and ``.env``; errors; idempotence."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from opentelemetry import trace

from instrumentation import ConfigurationError, setup_openobserve, uninstrument
from instrumentation.config import load_config
from tests.instrumentation.conftest import TOKEN, Tracing

VARIABLES = ("OPENOBSERVE_URL", "OPENOBSERVE_ORG", "OPENOBSERVE_AUTH_TOKEN", "OPENOBSERVE_STREAM")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No OPENOBSERVE_* variables (restored afterwards even if a .env load sets them), cwd without .env."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize("token", [f"Basic {TOKEN}", TOKEN, f"basic  {TOKEN} ", f" {TOKEN}\n"])
def test_token_forms_become_one_basic_header(env: pytest.MonkeyPatch, token: str) -> None:
    config = load_config(url="https://o2.example.com/", auth_token=token, load_env_file=False)
    assert config.headers == {"Authorization": f"Basic {TOKEN}", "stream-name": "default"}
    assert config.traces_endpoint == "https://o2.example.com/api/default/v1/traces"


def test_environment_supplies_every_setting(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENOBSERVE_URL", "http://localhost:5080")
    env.setenv("OPENOBSERVE_ORG", "acme")
    env.setenv("OPENOBSERVE_AUTH_TOKEN", f"Basic {TOKEN}")
    env.setenv("OPENOBSERVE_STREAM", "voice")
    config = load_config(load_env_file=False)
    assert config.traces_endpoint == "http://localhost:5080/api/acme/v1/traces"
    assert config.headers == {"Authorization": f"Basic {TOKEN}", "stream-name": "voice"}
    override = load_config(org="other", stream="s2", load_env_file=False)
    assert override.traces_endpoint.endswith("/api/other/v1/traces") and override.stream == "s2"


def test_dotenv_is_read_but_the_real_environment_wins(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"OPENOBSERVE_URL=http://from-dotenv:5080\nOPENOBSERVE_AUTH_TOKEN={TOKEN}\nOPENOBSERVE_STREAM=dotenv\n"
    )
    env.setenv("OPENOBSERVE_STREAM", "from-env")
    config = load_config()
    assert config.traces_endpoint == "http://from-dotenv:5080/api/default/v1/traces"
    assert config.stream == "from-env"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "OPENOBSERVE_URL is not set"),
        ({"OPENOBSERVE_URL": ""}, "OPENOBSERVE_URL is not set"),
        ({"OPENOBSERVE_URL": "localhost:5080"}, "OPENOBSERVE_URL must start with http:// or https://"),
        ({"OPENOBSERVE_URL": "https://"}, "OPENOBSERVE_URL must start with http:// or https://"),
        ({"OPENOBSERVE_URL": "http://o2:5080"}, "OPENOBSERVE_AUTH_TOKEN is not set"),
        ({"OPENOBSERVE_URL": "http://o2:5080", "OPENOBSERVE_ORG": "a/b"}, "OPENOBSERVE_ORG must"),
    ],
)
def test_missing_or_malformed_settings_raise_one_line_naming_the_variable(
    env: pytest.MonkeyPatch, settings: dict[str, str], message: str
) -> None:
    for name, value in settings.items():
        env.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_config(load_env_file=False)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    "secret",
    [
        "root@example.com:Complexpass#123",  # not base64
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Bearer " + TOKEN,
        "%%%not-base64%%%",
    ],
)
def test_bad_token_error_never_shows_the_token(env: pytest.MonkeyPatch, secret: str) -> None:
    env.setenv("OPENOBSERVE_URL", "http://o2:5080")
    env.setenv("OPENOBSERVE_AUTH_TOKEN", secret)
    with pytest.raises(ConfigurationError) as error:
        load_config(load_env_file=False)
    text = str(error.value)
    assert text.startswith("OPENOBSERVE_AUTH_TOKEN must be")
    assert secret.split()[-1] not in text and "Complexpass" not in text
    assert error.value.__cause__ is None and error.value.__context__ is None


def test_token_is_not_in_the_config_repr(env: pytest.MonkeyPatch) -> None:
    config = load_config(url="http://o2:5080", auth_token=TOKEN, load_env_file=False)
    assert TOKEN not in repr(config)


def test_calling_setup_twice_returns_the_same_provider_without_a_second_exporter(tracing: Tracing) -> None:
    processors = tracing.provider._active_span_processor._span_processors
    count = len(processors)
    assert tracing.install() is tracing.provider
    assert setup_openobserve(url="http://elsewhere:1", auth_token=TOKEN) is tracing.provider
    assert len(tracing.provider._active_span_processor._span_processors) == count


def test_uninstrument_takes_our_processors_off_the_applications_provider(tracing: Tracing) -> None:
    """A bot that sets tracing up again (a reload, a test suite) pays for one exporter, not for each set-up."""
    before = tracing.provider._active_span_processor._span_processors
    uninstrument()
    try:
        assert len(tracing.provider._active_span_processor._span_processors) == len(before) - 2
        for _ in range(3):
            tracing.install()
            uninstrument()
    finally:
        tracing.install()
    after = tracing.provider._active_span_processor._span_processors
    assert len(after) == len(before)
    assert [type(p) for p in after] == [type(p) for p in before]


def test_setup_adds_to_the_globally_installed_sdk_provider(
    tracing: Tracing, env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    uninstrument()
    try:
        with pytest.raises(ConfigurationError, match="OPENOBSERVE_URL is not set"):
            setup_openobserve(auth_token=TOKEN, load_env_file=False)
        caplog.set_level(logging.DEBUG)
        provider = setup_openobserve(url=tracing.receiver.url, auth_token=TOKEN, org="testorg", load_env_file=False)
        assert provider is tracing.provider is trace.get_tracer_provider()
        assert not [r for r in caplog.records if TOKEN in r.getMessage()]
    finally:
        uninstrument()
        tracing.install()


def test_capture_content_false_also_hides_openinference_inputs_and_outputs(without_content: Tracing) -> None:
    import asyncio

    from instrumentation import contract as c
    from provision.demo.fakes.openai import FakeOpenAI
    from tests.instrumentation.spanutil import attrs, named
    from tests.instrumentation.test_llm_service_span import QUESTION, pipeline_turn

    async def go() -> None:
        async with FakeOpenAI(ttft=0.01) as fake:
            await pipeline_turn(fake, "sess-private", 1)

    asyncio.run(go())
    spans = without_content.spans()
    (llm,) = named(spans, c.LLM_SPAN)
    (chat,) = named(spans, "ChatCompletion")
    assert c.USER_MESSAGE not in attrs(llm) and c.ASSISTANT_MESSAGE not in attrs(llm)
    assert QUESTION not in repr(attrs(chat)) and "test voice bot" not in repr(attrs(chat))
    assert attrs(chat)["llm.token_count.prompt"] == attrs(llm)[c.PROMPT_TOKENS] > 0
