from pathlib import Path

import pytest

from dsrs.settings import Environment, Settings, SettingsError, load_settings


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DSRS_KAFKA_URL", "DSRS_DATABASE_URL", "DSRS_MONGO_URL", "DSRS_ENV", "DSRS_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.env is Environment.LOCAL
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.database_address == ("127.0.0.1", 5432)
    assert settings.mongo_address == ("127.0.0.1", 27017)
    assert settings.cache_dir == Path("~/.cache/dsrs").expanduser()


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_KAFKA_URL", "kafka://broker.example:19092")
    monkeypatch.setenv("DSRS_WEB_PORT", "8080")
    monkeypatch.setenv("DSRS_ENV", "production")
    monkeypatch.setenv("DSRS_JWKS_URL", "https://idp.example/.well-known/jwks.json")
    settings = load_settings()
    assert settings.kafka_address == ("broker.example", 19092)
    assert settings.web_port == 8080
    assert settings.env is Environment.PRODUCTION


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DSRS_DATABASE_URL", "mysql://root@localhost/dsrs"),
        ("DSRS_DATABASE_URL", "postgresql+asyncpg://user@host"),
        ("DSRS_KAFKA_URL", "localhost:9092"),
        ("DSRS_MONGO_URL", "http://localhost:27017"),
        ("DSRS_WEB_PORT", "eighty"),
        ("DSRS_WEB_PORT", "70000"),
        ("DSRS_ENV", "prod"),
        ("DSRS_LOG_LEVEL", "loud"),
    ],
)
def test_a_bad_value_names_its_variable_in_one_line(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
def test_the_insecure_bypass_is_refused_outside_local(monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    monkeypatch.setenv("DSRS_ENV", environment)
    monkeypatch.setenv("DSRS_JWKS_URL", "https://idp.example/jwks.json")
    monkeypatch.setenv("DSRS_ALLOW_INSECURE_LOCAL", "true")
    with pytest.raises(SettingsError, match="DSRS_ALLOW_INSECURE_LOCAL is only honoured with DSRS_ENV=local"):
        load_settings()


def test_production_needs_a_jwks_url_and_no_shared_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_ENV", "production")
    with pytest.raises(SettingsError, match="DSRS_JWKS_URL is required"):
        load_settings()
    monkeypatch.setenv("DSRS_JWKS_URL", "https://idp.example/jwks.json")
    monkeypatch.setenv("DSRS_JWT_SECRET", "x" * 40)
    with pytest.raises(SettingsError, match="local and test only"):
        load_settings()


def test_a_rejected_secret_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_JWT_SECRET", "too-short-but-secret")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "too-short-but-secret" not in str(raised.value)


def test_a_database_socket_folder_is_expanded_and_refused_with_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_DATABASE_SOCKET_DIR", "~/pg")
    assert load_settings().database_socket_dir == Path("~/pg").expanduser()
    monkeypatch.setenv("DSRS_DATABASE_SSL", "require")
    with pytest.raises(SettingsError, match=r"DSRS_DATABASE_SOCKET_DIR .* TLS does not apply"):
        load_settings()


def test_settings_reach_a_child_process_whole_as_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The worker hands its settings to its relay process this way (dsrs.outbox.relay_process): settings built
    # in code, as tests and benchmarks build them, must arrive as they are, whatever the child's environment.
    monkeypatch.setenv("DSRS_REGIONS", "A,B")
    monkeypatch.setenv("DSRS_DATABASE_SOCKET_DIR", str(tmp_path))
    monkeypatch.setenv("DSRS_JWT_SECRET", "s" * 40)
    settings = load_settings().model_copy(update={"web_port": 7001, "relay_process": False})
    monkeypatch.setenv("DSRS_WEB_PORT", "7002")
    arrived = Settings.model_validate_json(settings.model_dump_json())
    assert arrived == settings
    assert arrived.regions == ("A", "B")
    assert arrived.database_socket_dir == tmp_path
    assert arrived.web_port == 7001
    assert arrived.jwt_secret == "s" * 40


def test_each_app_id_keeps_its_tables_in_a_folder_of_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DSRS_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("DSRS_DATA_DIR", raising=False)
    monkeypatch.setenv("DSRS_APP_ID", "program-a")
    first = load_settings().worker_data_dir
    monkeypatch.setenv("DSRS_APP_ID", "program-b")
    second = load_settings().worker_data_dir
    assert first == tmp_path / "worker" / "program-a"
    assert second == tmp_path / "worker" / "program-b"
    monkeypatch.setenv("DSRS_DATA_DIR", str(tmp_path / "tables"))
    assert load_settings().worker_data_dir == tmp_path / "tables"
