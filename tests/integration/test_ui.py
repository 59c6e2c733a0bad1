"""The live page in a real browser (Debian's chromium, headless, through chromedriver) against a real worker.

A small saga runs first; then the page, signed in as each role, must show what the API and PostgreSQL
hold, draw as many bars and points as there is data, show operations and payment cycles only to the roles
the API lets read them, and never show a household's personal fields. `make browser` installs the browser.
"""

from __future__ import annotations

import base64
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake
from tests.integration.conftest import run_dsrs
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker, settled

pytestmark = pytest.mark.integration

HOUSEHOLDS = 50
WAIT_SECONDS = 60.0
COUNTS = ("households", "assessed", "approved", "payments_scheduled", "payments_sent", "payments_completed")
PERSONAL = ("head_of_household_name", "phone", "email", "address")


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("ui")) as worker:
        yield worker


@pytest.fixture(scope="module")
async def ui_engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


@pytest.fixture(scope="module")
async def saga(worker: SagaWorker, ui_engine: AsyncEngine) -> int:
    """~50 synthetic households through the saga, a few of them invalid (dead letters); how many are invalid."""
    settings = worker.settings
    messages = list(synthetic_intake(HOUSEHOLDS, settings.regions, seed=29, invalid_share=0.1))
    await publish_intake(settings, messages, topic=settings.topic(HOUSEHOLD_INTAKE))
    programs = len(active_programs(load_programs(settings.programs_dir)))
    await settled(ui_engine, worker, len({m.household_id for m in messages if m.valid}), programs)
    invalid = sum(not m.valid for m in messages)
    assert invalid > 0, "the seed should give the admin's panel dead letters to show"
    return invalid


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        pytest.fail("chromedriver is missing: `make browser` installs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(argument)
    options.add_argument("--lang=en-US")
    # The driver named explicitly: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    viewport(driver, 1280, 800)
    try:
        yield driver
    finally:
        driver.quit()


def viewport(browser: WebDriver, width: int, height: int) -> None:
    """The page's own size, exactly: a headless window's size would include the browser's frame."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def screenshot(browser: WebDriver, path: Path) -> None:
    """The whole page, not just what fits the viewport."""
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))


def token(worker: SagaWorker, role: Role) -> str:
    return issue_token(worker.settings, [role], ttl_seconds=600, subject=f"ui-test-{role.value}")


def open_page(browser: WebDriver, worker: SagaWorker, role: Role) -> None:
    # A new document each time: a fragment change alone would not reload the page.
    browser.get("about:blank")
    browser.get(f"{worker.base_url}/ui/#token={token(worker, role)}")
    wait(browser, lambda: int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-polls") or 0) >= 1)


def wait(browser: WebDriver, condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> None:
    def holds(_: WebDriver) -> bool:
        try:
            return condition()
        except StaleElementReferenceException:  # the page redrew under us; try again
            return False

    WebDriverWait(browser, seconds, poll_frequency=0.25).until(holds)


def shown_totals(browser: WebDriver) -> dict[str, tuple[str, str]]:
    """Each total's value as the page holds it and as it shows it."""
    return {
        figure.get_attribute("data-key") or "": (figure.get_attribute("data-value") or "", figure.text)
        for figure in browser.find_elements(By.CSS_SELECTOR, "#totals dd")
    }


def drawn_per(browser: WebDriver, granularity: str, points: int) -> Callable[[], bool]:
    """The time series is drawn for this granularity (not still the previous one) with this many points."""

    def drawn() -> bool:
        chart = browser.find_element(By.ID, "chart-windows")
        label = chart.find_element(By.TAG_NAME, "svg").get_attribute("aria-label") or ""
        return f"per {granularity}," in label and len(chart.find_elements(By.CSS_SELECTOR, ".point")) == points

    return drawn


def bars(browser: WebDriver, chart: str) -> int:
    return len(browser.find_elements(By.CSS_SELECTOR, f"#{chart} .bar"))


def payment_bars(browser: WebDriver, chart: str) -> list[list[dict[str, Any]]]:
    """Each bar's segments: their outcome and the count each stands for."""
    return [
        [
            {
                "outcome": (segment.get_attribute("class") or "").split()[-1],
                "value": int(segment.get_attribute("data-value") or 0),
            }
            for segment in bar.find_elements(By.CLASS_NAME, "segment")
        ]
        for bar in browser.find_elements(By.CSS_SELECTOR, f"#{chart} .bar")
    ]


def shown_cycle(browser: WebDriver, program_id: str) -> dict[str, tuple[int, Decimal]]:
    """The current cycle's figures for a program as the page holds them: payments and their amount."""
    return {
        figure.get_attribute("data-key") or "": (
            int(figure.get_attribute("data-count") or -1),
            Decimal(figure.get_attribute("data-amount") or "NaN"),
        )
        for figure in browser.find_elements(By.CSS_SELECTOR, f'#cycles-panel [data-program="{program_id}"] dd')
    }


def cycle_figures(cycle: dict[str, Any]) -> dict[str, tuple[int, Decimal]]:
    """What the panel must show for a cycle of the cycles API."""

    def of(*statuses: str) -> tuple[int, Decimal]:
        parts = [cycle["by_status"][status] for status in statuses]
        return sum(part["count"] for part in parts), sum((Decimal(part["amount"]) for part in parts), Decimal(0))

    return {
        "entitled": (cycle["count"], Decimal(cycle["total"])),
        "paid": of("completed"),
        "failed": of("failed"),
        "outstanding": of("scheduled", "sent"),
        "cancelled": of("cancelled"),
    }


def current_cycle(worker: SagaWorker, program_id: str) -> dict[str, Any]:
    """The program's newest opened cycle, from the API now (synchronous: read inside a browser wait)."""
    response = httpx.get(
        f"{worker.base_url}/api/v1/programs/{program_id}/cycles",
        headers={"Authorization": f"Bearer {token(worker, Role.AUDITOR)}"},
    )
    response.raise_for_status()
    return next(cycle for cycle in response.json()["items"] if cycle["state"] != "not_opened")


async def api(worker: SagaWorker, role: Role, path: str) -> Any:
    async with worker.client(role) as client:
        response = await client.get(path)
    response.raise_for_status()
    return response.json()


async def postgres_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM households) AS households,"
                    " (SELECT count(*) FROM eligibility_assessments) AS assessed,"
                    " (SELECT count(*) FROM eligibility_assessments WHERE decision = 'approved') AS approved,"
                    " (SELECT count(*) FROM payments) AS payments_scheduled,"
                    " (SELECT count(*) FROM payments WHERE status = 'sent') AS payments_sent,"
                    " (SELECT count(*) FROM payments WHERE status = 'completed') AS payments_completed"
                )
            )
        ).one()
    return {name: int(value) for name, value in row._mapping.items()}


async def personal_values(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT {', '.join(PERSONAL)} FROM households"))
        return [str(value) for row in rows for value in row if value]


async def test_an_auditor_sees_the_totals_the_api_and_postgresql_hold(
    worker: SagaWorker, ui_engine: AsyncEngine, saga: int, browser: WebDriver, tmp_path: Path
) -> None:
    summary = await api(worker, Role.AUDITOR, "/api/v1/analytics/summary")
    registry = await api(worker, Role.AUDITOR, "/api/v1/analytics/registry")
    postgres = await postgres_counts(ui_engine)
    expected = {
        **{key: summary[key] for key in ("assessed", "approved", "approval_rate", "payments_scheduled")},
        **{key: summary[key] for key in ("payments_completed", "payments_failed", "payments_cancelled")},
        "amount_scheduled": summary["amount_scheduled"],
        "amount_completed": summary["amount_completed"],
        "households": registry["households"],
        "payments_sent": registry["payments_by_status"]["sent"],
    }
    assert {key: expected[key] for key in COUNTS} == postgres

    open_page(browser, worker, Role.AUDITOR)
    wait(
        browser,
        lambda: (
            {key: value for key, (value, _) in shown_totals(browser).items()}
            == {key: str(value) for key, value in expected.items()}
        ),
    )
    for key, (_, shown) in shown_totals(browser).items():
        if key in COUNTS:
            assert re.sub(r"\D", "", shown) == str(expected[key]), key  # formatted for people, the same number
    assert "token" not in browser.current_url  # moved out of the address bar ...
    assert browser.execute_script("return sessionStorage.getItem('dsrs-token')")  # ... into this tab's storage
    screenshot(browser, tmp_path / "auditor-1280x800.png")


async def test_each_chart_has_a_bar_or_point_per_datum(worker: SagaWorker, saga: int, browser: WebDriver) -> None:
    summary = await api(worker, Role.AUDITOR, "/api/v1/analytics/summary")
    programs, regions = len(summary["by_program"]), len(summary["by_region"])
    assert programs
    assert regions
    open_page(browser, worker, Role.AUDITOR)
    assert bars(browser, "chart-approval-program") == programs
    assert bars(browser, "chart-payments-program") == programs
    assert bars(browser, "chart-approval-region") == regions
    assert bars(browser, "chart-payments-region") == regions
    # Each payments bar is split into paid, failed, cancelled and open, adding up to what was scheduled.
    for group, bar in zip(summary["by_region"].values(), payment_bars(browser, "chart-payments-region"), strict=True):
        segments = {segment["outcome"]: segment["value"] for segment in bar}
        assert sum(segments.values()) == group["payments_scheduled"]
        assert segments["completed"] == group["payments_completed"]
        assert segments["failed"] == group["payments_failed"]
    rate = browser.find_elements(By.CSS_SELECTOR, "#chart-approval-program .bar")[0].get_attribute("data-value")
    assert float(rate or "nan") == next(iter(summary["by_program"].values()))["approval_rate"]
    for chart in ("chart-approval-program", "chart-payments-region"):
        labelled = browser.find_element(By.ID, chart).get_attribute("aria-labelledby")
        assert labelled
        assert all(browser.find_element(By.ID, name).text for name in labelled.split())

    for granularity in ("minute", "hour", "day"):
        windows = await api(worker, Role.AUDITOR, f"/api/v1/analytics/windows?granularity={granularity}")
        starts = {point["window_start"] for point in windows["points"]}
        Select(browser.find_element(By.ID, "granularity")).select_by_value(granularity)
        # A point for assessed and one for approved in each window, and a row each in the table.
        wait(browser, drawn_per(browser, granularity, 2 * len(starts)))
        assert len(browser.find_elements(By.CSS_SELECTOR, "#windows-table tbody tr")) == len(starts)
        assessed = sum(point["assessed"] for point in windows["points"])
        drawn = browser.find_elements(By.CSS_SELECTOR, "#chart-windows circle.point.assessed")
        assert sum(int(point.get_attribute("data-value") or 0) for point in drawn) == assessed


async def test_a_households_decisions_show_without_its_personal_fields(
    worker: SagaWorker, ui_engine: AsyncEngine, saga: int, browser: WebDriver, tmp_path: Path
) -> None:
    async with ui_engine.connect() as connection:
        household_id = await connection.scalar(text("SELECT id FROM households ORDER BY id LIMIT 1"))
    household = await api(worker, Role.AUDITOR, f"/api/v1/households/{household_id}")
    open_page(browser, worker, Role.AUDITOR)
    field = browser.find_element(By.ID, "household-id")
    field.send_keys(str(household_id))
    field.submit()
    wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#lookup-result article")) > 0)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#lookup-result article")) == len(household["assessments"])
    rules = sum(len(assessment["rule_results"]) for assessment in household["assessments"])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#lookup-result .rules tbody tr")) == rules
    screenshot(browser, tmp_path / "decisions.png")

    # Neither the text a person reads nor the document behind it holds a name, phone, email or address.
    page = browser.find_element(By.TAG_NAME, "body").text + browser.page_source
    personal = await personal_values(ui_engine)
    assert personal
    assert [value for value in personal if value in page] == []


async def test_an_admin_sees_the_dead_letters_and_no_household(
    worker: SagaWorker, saga: int, browser: WebDriver, tmp_path: Path
) -> None:
    letters = await eventually(
        lambda: api(worker, Role.ADMIN, "/api/v1/admin/dlq"),
        lambda answer: len(answer["items"]) + len(answer["held_in_database"]) >= saga,
    )
    total = len(letters["items"]) + len(letters["held_in_database"])
    open_page(browser, worker, Role.ADMIN)
    assert browser.find_element(By.ID, "operations").is_displayed()
    wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#dead-letters-table tbody tr")) > 0)
    rows = browser.find_elements(By.CSS_SELECTOR, "#dead-letters-table tbody tr")
    assert sum(int(row.get_attribute("data-count") or 0) for row in rows) == total
    assert any("registry.household.intake" in row.text for row in rows)
    assert browser.find_element(By.CSS_SELECTOR, "#outbox dd[data-key=pending]").get_attribute("data-value") == "0"
    assert not browser.find_element(By.ID, "lookup-form").is_displayed()
    assert "may not read households" in browser.find_element(By.ID, "lookup-result").text
    screenshot(browser, tmp_path / "admin.png")


async def test_an_auditor_reads_the_outbox_but_not_the_dead_letters(
    worker: SagaWorker, saga: int, browser: WebDriver
) -> None:
    open_page(browser, worker, Role.AUDITOR)
    assert browser.find_element(By.ID, "operations").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#outbox dd[data-key=pending]").is_displayed()
    assert "Only admins may read the dead letters" in browser.find_element(By.ID, "dead-letters").text


async def test_the_current_cycle_shows_what_the_cycles_api_holds(
    worker: SagaWorker, saga: int, browser: WebDriver, tmp_path: Path
) -> None:
    summary = await api(worker, Role.AUDITOR, "/api/v1/analytics/summary")
    opened, *others = sorted(summary["by_program"])
    assert others, "a program without an opened cycle should be on the page too"
    for program_id in [opened, *others]:
        assert await api(worker, Role.AUDITOR, f"/api/v1/programs/{program_id}/cycles") is not None
    result = run_dsrs("payments", "cycle", "open", opened, env=worker.env)
    assert result.returncode == 0, result.stderr
    assert current_cycle(worker, opened)["count"] > 0, "the saga's approvals are entitled"

    for role in (Role.PROGRAM_OFFICER, Role.AUDITOR):  # the roles the cycles API allows
        open_page(browser, worker, role)
        # Compared with a fresh answer each time: payments may move on while the page refreshes.
        wait(browser, lambda: shown_cycle(browser, opened) == cycle_figures(current_cycle(worker, opened)))
        cycle = current_cycle(worker, opened)
        block = browser.find_element(By.CSS_SELECTOR, f'#cycles-panel [data-program="{opened}"]')
        assert block.get_attribute("data-cycle") == cycle["cycle"]
        assert f"Cycle {cycle['cycle']}, due " in block.text
        for label in ("Entitled", "Paid", "Failed", "Outstanding", "Cancelled"):  # words, not colour alone
            assert label in block.text
        entitled = block.find_element(By.CSS_SELECTOR, "dd[data-key=entitled]")
        assert re.sub(r"\D", "", entitled.text.splitlines()[0]) == str(cycle["count"])  # formatted, the same
        for program_id in others:
            other = browser.find_element(By.CSS_SELECTOR, f'#cycles-panel [data-program="{program_id}"]')
            assert "No cycle opened yet" in other.text
            assert other.find_elements(By.TAG_NAME, "dd") == []
    screenshot(browser, tmp_path / "cycles.png")


async def test_a_registrar_does_not_see_operations(
    worker: SagaWorker, saga: int, browser: WebDriver, tmp_path: Path
) -> None:
    open_page(browser, worker, Role.REGISTRAR)
    assert not browser.find_element(By.ID, "operations").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#dead-letters-table") == []
    assert browser.find_element(By.CSS_SELECTOR, "#totals dd[data-key=assessed]").text  # the KPIs are for everyone
    # Nor payment cycles: the panel says so, with no figures.
    assert "may not read payment cycles" in browser.find_element(By.ID, "cycles-panel").text
    assert browser.find_elements(By.CSS_SELECTOR, "#cycles-panel .cycle") == []
    screenshot(browser, tmp_path / "registrar.png")


async def test_without_a_valid_token_the_page_says_so(worker: SagaWorker, saga: int, browser: WebDriver) -> None:
    browser.get("about:blank")
    browser.get(f"{worker.base_url}/ui/#token=not-a-token-{uuid.uuid4().hex}")
    wait(browser, lambda: "Not signed in" in browser.find_element(By.ID, "status").text)
    assert browser.find_elements(By.CSS_SELECTOR, "#totals dd") == []


async def test_the_page_fits_a_phone_and_is_keyboard_reachable(
    worker: SagaWorker, saga: int, browser: WebDriver, tmp_path: Path
) -> None:
    viewport(browser, 390, 844)
    try:
        open_page(browser, worker, Role.AUDITOR)
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"
        screenshot(browser, tmp_path / "auditor-390x844.png")
        # Tab from the top reaches the granularity selector, the id field and its button.
        reached = set()
        body = browser.find_element(By.TAG_NAME, "body")
        body.click()
        for _ in range(40):
            browser.switch_to.active_element.send_keys("\t")
            reached.add(
                browser.switch_to.active_element.get_attribute("id") or browser.switch_to.active_element.tag_name
            )
        assert {"granularity", "household-id", "button"} <= reached
    finally:
        viewport(browser, 1280, 800)
