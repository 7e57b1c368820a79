"""The pages on the real stack: kiosk -> dashboard -> clerk call -> calling display within one second;
the clerk cannot pick a ticket; paper out shows on the dashboard and the kiosk; the display survives a
server restart without a reload."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from hall_server.auth import Principal, PrincipalStore
from simulators.processes import ServerProcess
from tests.e2e.conftest import Stack, wait_until

pytestmark = pytest.mark.e2e

LIVE_S = 1.0  # a change must be on every open page within this


def _token(stack: Stack, principal: Principal) -> str:
    """A token for `principal`, added to the server's principals file (the server re-reads it)."""
    store = PrincipalStore(stack.workdir / "principals.json")
    try:
        return store.add(principal)
    except ValueError:  # made earlier in this test
        return store.add(principal.model_copy(update={"id": f"{principal.id}-{time.monotonic_ns()}"}))


def _open(context: BrowserContext, stack: Stack, path: str) -> Page:
    """Open a page; a kiosk page is given its device token once in the address, as at installation."""
    page = context.new_page()
    if path.startswith("/kiosk/"):
        hall = path.split("/")[2].split("?")[0]
        token = _token(stack, Principal(id=f"kiosk-{hall}", role="kiosk", hall=hall))
        path += ("&" if "?" in path else "?") + f"token={token}"
    page.goto(stack.server.url + path)
    return page


def _take_ticket_at_kiosk(kiosk: Page, subject: str, matter: str) -> str:
    kiosk.click(f"#btn-{subject}")
    kiosk.click(f"[data-matter={matter}]")
    number = kiosk.get_by_test_id("ticket-number")
    expect(number).to_have_text(re.compile(r"^[A-Z]\d{3}$"))
    return number.inner_text()


def _clerk_login(clerk: Page, stack: Stack, hall: str, window: str) -> None:
    clerk.select_option("#f-hall", hall)
    clerk.wait_for_function(
        "w => [...document.querySelectorAll('#f-window option')].some(o => o.value === w)", arg=window
    )
    clerk.select_option("#f-window", window)
    clerk.fill("#f-staff", "cc-city-s01")
    clerk.fill("#f-name", "王芳")
    clerk.fill("#f-token", _token(stack, Principal(id=f"clerk-{window}", role="clerk", hall=hall, window=window)))
    clerk.click("#login-form button[type=submit]")
    expect(clerk.locator("#console")).to_be_visible()


def test_ticket_from_kiosk_to_dashboard_to_clerk_call_to_display(web_stack: Stack, context: BrowserContext) -> None:
    stack = web_stack
    dashboard = _open(context, stack, f"/halls/{stack.hall_id}")
    display = _open(context, stack, f"/display/{stack.hall_id}")
    expect(display.get_by_test_id("live-badge")).to_have_text("实时")
    kiosk = _open(context, stack, f"/kiosk/{stack.hall_id}")

    number = _take_ticket_at_kiosk(kiosk, "enterprise", "E001")
    assert number == "A001"
    expect(kiosk.locator("#t-ahead")).to_have_text("0")
    expect(kiosk.locator("#t-print")).to_have_attribute("data-status", "printed", timeout=15_000)
    assert stack.hall.wait_for_printed(timeout=5).text.count("A001") >= 1
    expect(dashboard.get_by_test_id("waiting-total")).to_have_text("1", timeout=LIVE_S * 1000)
    expect(display.get_by_test_id("waiting")).to_have_text("1", timeout=LIVE_S * 1000)

    clerk = _open(context, stack, "/clerk")
    _clerk_login(clerk, stack, stack.hall_id, "w01")
    expect(clerk.get_by_test_id("waiting-count")).to_have_text("1")
    # the clerk sees how many wait, never which tickets, and has nowhere to type or pick one
    assert "A001" not in clerk.locator("body").inner_text()
    assert clerk.locator("#console input, #console select, #console textarea").count() == 0
    assert clerk.locator("#console [data-ticket], #console li, #console option").count() == 0

    clerk.click("[data-action=call-next]")
    expect(clerk.get_by_test_id("current-number")).to_have_text("A001")
    called = time.monotonic()
    expect(display.get_by_test_id("now-number")).to_have_text("A001", timeout=LIVE_S * 1000)
    expect(display.get_by_test_id("now-window")).to_contain_text("1")
    expect(display.get_by_test_id("now")).to_have_class(re.compile("flash"))
    assert time.monotonic() - called <= LIVE_S + 0.2
    expect(dashboard.locator("[data-window=w01] .tkt")).to_contain_text("A001", timeout=LIVE_S * 1000)
    # even after the call the console shows only the ticket at its own window
    assert clerk.locator("#console [data-ticket], #console li, #console option").count() == 0

    # a call from the caller keypad of another window reaches the display the same way
    stack.issue("P001")
    stack.hall.press("w02", "call_next")
    wait_until(
        lambda: any(
            w["current_ticket_id"]
            for w in stack.server.get(f"/api/halls/{stack.hall_id}")["windows"]
            if w["id"] == "w02"
        ),
        10,
        "w02 called",
    )
    expect(display.get_by_test_id("now-number")).to_have_text("B001", timeout=LIVE_S * 1000)
    expect(display.get_by_test_id("recent")).to_contain_text("A001")

    clerk.click("[data-action=finish]")
    expect(clerk.get_by_test_id("current-number")).to_have_text("暂无办理对象")


def test_printer_out_of_paper_alarms_the_dashboard_and_the_kiosk_shows_the_number(
    web_stack: Stack, context: BrowserContext
) -> None:
    stack = web_stack
    dashboard = _open(context, stack, f"/halls/{stack.hall_id}")
    kiosk = _open(context, stack, f"/kiosk/{stack.hall_id}")
    expect(dashboard.locator("#alarms .ok-row")).to_be_visible()

    stack.hall.printer.set_state("paper_out")
    alarm = dashboard.locator("#alarms [data-device=kiosk1-printer][data-alarm=paper_out]")
    expect(alarm).to_be_visible(timeout=20_000)
    expect(kiosk.locator("#paper-banner")).to_be_visible(timeout=LIVE_S * 1000 + 500)

    number = _take_ticket_at_kiosk(kiosk, "personal", "P002")
    assert number == "B001"
    expect(kiosk.locator("#t-print")).to_have_text("打印机缺纸，请记下您的号码")
    expect(kiosk.get_by_test_id("ticket-number")).to_have_text("B001")
    # the print really failed on the server (the command's result), and the number stays on screen
    expect(kiosk.locator("#t-print")).to_have_attribute("data-status", re.compile("failed|timeout"), timeout=40_000)
    expect(kiosk.get_by_test_id("ticket-number")).to_have_text("B001")

    kiosk.click("[data-lang-switch]")
    expect(kiosk.locator("#t-print")).to_contain_text("out of paper")
    kiosk.reload()
    expect(kiosk.locator("#btn-personal")).to_contain_text("Personal")  # the language choice is remembered


def test_calling_display_recovers_after_a_server_restart(web_stack: Stack, context: BrowserContext) -> None:
    stack = web_stack
    display = _open(context, stack, f"/display/{stack.hall_id}")
    expect(display.get_by_test_id("live-badge")).to_have_text("实时")
    stack.issue("E001")
    stack.server.post(f"/api/halls/{stack.hall_id}/windows/w01/call-next").raise_for_status()
    expect(display.get_by_test_id("now-number")).to_have_text("A001", timeout=5_000)

    old = stack.server
    old.stop()
    expect(display.get_by_test_id("live-badge")).to_have_text("正在重新连接…", timeout=5_000)
    new = ServerProcess(stack.workdir, old.database_url, old.mqtt_url, port=old.port).start()
    try:
        expect(display.get_by_test_id("live-badge")).to_have_text("实时", timeout=10_000)
        new.post(f"/api/halls/{stack.hall_id}/tickets", {"matter": "P001"}).raise_for_status()
        new.post(f"/api/halls/{stack.hall_id}/windows/w02/call-next").raise_for_status()
        wait_until(lambda: new.get(f"/api/halls/{stack.hall_id}/windows/w02")["current_ticket_id"], 10, "w02 called")
        expect(display.get_by_test_id("now-number")).to_have_text("B001", timeout=LIVE_S * 1000)
        expect(display.get_by_test_id("recent")).to_contain_text("A001")
    finally:
        new.close()
