from pathlib import Path

import pytest

from dsrs.settings import load_settings
from dsrs.worker.app import create_app


def test_the_worker_makes_its_default_table_folder_on_a_fresh_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DSRS_CACHE_DIR", str(tmp_path / "fresh-cache"))
    monkeypatch.delenv("DSRS_DATA_DIR", raising=False)
    settings = load_settings()
    app = create_app(settings)
    assert settings.worker_data_dir.is_dir()
    assert app.conf.datadir == settings.worker_data_dir
