#!/usr/bin/python3
"""Drives imr's Cockpit page (cockpit/imr) in headless Chromium against a real imr-daemon.

Starts the built imr-daemon on a private state directory and socket, records a small caseload
through its socket as root, and serves the page with Cockpit's own web service on loopback
(cockpit-ws --local-session: no login, the bridge runs as the web service's user). The page is
found through XDG_DATA_DIRS and pointed at the test's socket and imr-ctl by a manifest
override in XDG_CONFIG_DIRS, so nothing is installed. Three web services run as uid nobody
with a primary group that the daemon's [access] maps to a role (daemon: coordinator, nogroup:
reader, sys: none), as the access matrix test does.

The coordinator goes through the board (acknowledge, snooze, an alert arriving live), the
cases (search, filter, pages), a case (deadline explanations, recording the next fact, a
correction), an import of a letter and the calendar; the reader and the stranger get their
views. Afterwards the daemon's log must hold what was done, with the actor. A screenshot of
each page is written to the output directory, which the test prints.

    Tests/Browser/cockpit_page_test.py [--bin .build/debug] [--out DIR] [--readme-screenshot PATH]

Needs root (setpriv), cockpit-ws and cockpit-bridge, chromium, chromium-driver and
python3-selenium (scripts/setup installs them); run with Debian's /usr/bin/python3.
Exit status: 0 passed, 1 failed, 77 skipped (not root).
"""

import argparse
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import zoneinfo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"
NOBODY = 65534
GROUPS = {"coordinator": 1, "reader": 65534, "stranger": 3}  # daemon, nogroup, sys
TIMEOUT = 30


def log(*args):
    print("browser-test:", *args, flush=True)


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_for(what, predicate, timeout=TIMEOUT, interval=0.1):
    """Polls predicate until it returns a true value; fails naming what after timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # an element not there yet, a stale one
            last_error = e
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- Varlink, as the reference: NUL-framed JSON on the Unix socket ----------------------------


class Varlink:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buffer = b""

    def call(self, method, parameters=None, **more):
        parameters = dict(parameters or {}, **more)
        self.sock.sendall(json.dumps({"method": method, "parameters": parameters}).encode() + b"\0")
        while b"\0" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure(f"{method}: the daemon closed the connection")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        reply = json.loads(message)
        if "error" in reply:
            raise Failure(f"{method}: {reply['error']} {json.dumps(reply.get('parameters'))}")
        return reply.get("parameters", {})

    def close(self):
        self.sock.close()


def pacific_now():
    return datetime.datetime.now(PACIFIC)


def instant(days_ago, hours_later=0):
    """An instant days_ago days and two hours before now, plus hours_later: never in the future."""
    t = pacific_now() - datetime.timedelta(days=days_ago, hours=2) + datetime.timedelta(hours=hours_later)
    return t.replace(second=0, microsecond=0).isoformat(timespec="seconds")


def day(days_ago):
    return (pacific_now() - datetime.timedelta(days=days_ago)).date().isoformat()


def open_case(v, case_id, coordinator, employer="Acme Logistics", claim=None):
    v.call(
        "io.imr.Cases.Open",
        caseId=case_id,
        claimNumber=claim or f"ADJ{abs(hash(case_id)) % 10_000_000:07d}",
        employer=employer,
        claimsAdministrator="Golden State TPA",
        injuredWorkerReference="J.S.",
        dateOfInjury=day(400),
        coordinator=coordinator,
    )


def receive_rfa(v, case_id, days_ago, items):
    v.call(
        "io.imr.Cases.ReceiveRFA",
        caseId=case_id,
        rfaId="R1",
        receivedAt=instant(days_ago),
        receivedTimeOfDayKnown=True,
        transmission="fax",
        physician="Dr. Rivera",
        reviewType="prospective",
        expedited=False,
        formulary=False,
        items=[{"id": i, "description": d} for i, d in items],
    )


def decide_ur_notice_due_in(v, case_id, seconds, items=("I1",), outcome="approved"):
    """A UR decision made 24 hours less `seconds` ago: the physician must be told within 24 hours
    (ur.notice.physician), so that deadline passes `seconds` after now. A deadline must pass after it
    was recorded to be overdue on the board (one already past when recorded is history)."""
    decided = pacific_now() - datetime.timedelta(hours=24) + datetime.timedelta(seconds=seconds)
    v.call(
        "io.imr.Cases.DecideUR",
        caseId=case_id,
        rfaId="R1",
        decidedAt=decided.isoformat(timespec="seconds"),
        decisions=[{"itemId": i, "outcome": outcome} for i in items],
    )


def seed(v):
    """The caseload: a few cases of nobody's at known stages, and enough others to need pages."""
    # The physician notice of BOARD-1 falls overdue seconds from now: an overdue alert.
    open_case(v, "BOARD-1", "nobody", employer="Café Olé Foods")
    receive_rfa(v, "BOARD-1", 3, [("I1", "MRI lumbar spine"), ("I2", "Physical therapy x12")])
    decide_ur_notice_due_in(v, "BOARD-1", 3, items=("I1", "I2"))
    # Due within the week: the UR decision of BOARD-2, with one alert (its notice). The RFA came
    # at 06:00 on the last weekday before today: the notice (5 business days before the due day,
    # at 08:00) falls on that day after the RFA came, so it is raised (late) at once, and the
    # reminder (2 business days before) is still to come, whatever the time the test runs.
    # (Were that weekday a holiday, the RFA would count from the next business day.)
    open_case(v, "BOARD-2", "nobody", employer="Sierra Builders")
    received = pacific_now() - datetime.timedelta(days=1)
    while received.weekday() >= 5:
        received -= datetime.timedelta(days=1)
    received = received.replace(hour=6, minute=0, second=0, microsecond=0)
    v.call(
        "io.imr.Cases.ReceiveRFA",
        caseId="BOARD-2",
        rfaId="R1",
        receivedAt=received.isoformat(timespec="seconds"),
        receivedTimeOfDayKnown=True,
        transmission="fax",
        physician="Dr. Rivera",
        reviewType="prospective",
        expedited=False,
        formulary=False,
        items=[{"id": "I1", "description": "Acupuncture x6"}],
    )
    # Denied and served: the employee's IMR application clock runs; next is the application.
    open_case(v, "CASE-3", "nobody", employer="Harbor Freight Lines", claim="ADJ9900123")
    receive_rfa(v, "CASE-3", 20, [("I1", "Lumbar epidural steroid injection")])
    v.call(
        "io.imr.Cases.DecideUR",
        caseId="CASE-3",
        rfaId="R1",
        decidedAt=instant(18),
        decisions=[{"itemId": "I1", "outcome": "denied"}],
    )
    v.call("io.imr.Cases.NotifyPhysician", {"caseId": "CASE-3", "itemIds": ["I1"], "notifiedAt": instant(18, 1), "method": "fax"})
    v.call(
        "io.imr.Cases.ServeWrittenDecision",
        {"caseId": "CASE-3", "itemIds": ["I1"], "servedOn": day(17), "method": "mail", "destination": "california"},
    )
    # Others' cases, for search, filters and pages.
    for n in range(1, 61):
        case_id = f"LOAD-{n:03d}"
        open_case(v, case_id, "alice" if n % 2 else "bob", employer=f"Employer {n:03d} Inc")
        if n % 3 == 0:
            receive_rfa(v, case_id, n % 9, [("I1", "Follow-up visit")])
    # BOARD-1's overdue alert and BOARD-2's notice are raised before anyone looks.
    wait_for(
        "the notice of BOARD-2",
        lambda: any(a["caseId"] == "BOARD-2" for a in v.call("io.imr.Alerts.List", limit=1000)["alerts"]),
    )
    wait_for(
        "the overdue alert of BOARD-1",
        lambda: any(a["caseId"] == "BOARD-1" and a["level"] == "overdue" for a in v.call("io.imr.Alerts.List", limit=1000)["alerts"]),
    )


# ---- Processes ----------------------------------------------------------------------------


class Processes:
    def __init__(self):
        self.started = []

    def start(self, name, argv, log_path, env=None):
        out = open(log_path, "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.started.append((name, p, out))
        return p

    def stop_all(self):
        for name, p, out in reversed(self.started):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            out.close()


def start_daemon(procs, work, bin_dir):
    config = os.path.join(work, "imr-daemon.toml")
    with open(config, "w") as f:
        # No quiet hours: an alert raised late is raised at once, whenever the test runs.
        f.write('[access]\nreaders = ["nogroup"]\ncoordinators = ["daemon"]\nadmins = ["bin"]\n[alerts]\nquiet_hours = ""\n')
    sock = os.path.join(work, "imr.sock")
    procs.start(
        "imr-daemon",
        [os.path.join(bin_dir, "imr-daemon"), "--config", config, "--state-dir", os.path.join(work, "state"), "--socket", sock],
        os.path.join(work, "daemon.log"),
    )

    def ready():
        v = Varlink(sock)
        try:
            return v.call("io.imr.Admin.Status")
        finally:
            v.close()

    wait_for("imr-daemon to answer on " + sock, ready, timeout=60, interval=0.2)
    os.chmod(sock, 0o666)  # the socket's group would be imr under systemd; here nobody must reach it
    return sock


def start_cockpit(procs, work, role, sock, bin_dir):
    """cockpit-ws on loopback with a local session, as nobody with the role's group."""
    port = free_port()
    home = os.path.join(work, "home-" + role)
    tmp = os.path.join(work, "tmp-" + role)
    for d in [home, tmp]:
        os.makedirs(d, exist_ok=True)
        os.chown(d, NOBODY, GROUPS[role])
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "XDG_DATA_DIRS": os.path.join(work, "data") + ":/usr/share",
        "XDG_CONFIG_DIRS": os.path.join(work, "config"),
        "XDG_RUNTIME_DIR": home,
        "TMPDIR": tmp,
    }
    argv = [
        "setpriv", f"--reuid={NOBODY}", f"--regid={GROUPS[role]}", "--clear-groups",
        COCKPIT_WS, "--no-tls", "--local-session=cockpit-bridge", "--port", str(port), "--address", "127.0.0.1",
    ]
    procs.start("cockpit-ws-" + role, argv, os.path.join(work, f"cockpit-ws-{role}.log"), env=env)

    def listening():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_for(f"cockpit-ws ({role}) on port {port}", listening, interval=0.1)
    return f"http://127.0.0.1:{port}"


def prepare_package(work, sock, bin_dir):
    """The page as the checkout has it, where cockpit-bridge (as nobody) finds and reads it, and
    an override of its config naming the test's socket and imr-ctl."""
    data = os.path.join(work, "data", "cockpit")
    os.makedirs(data)
    shutil.copytree(os.path.join(REPO, "cockpit", "imr"), os.path.join(data, "imr"))
    imr_ctl = os.path.join(bin_dir, "imr-ctl")
    if subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "test", "-x", imr_ctl]).returncode != 0:
        # A checkout nobody cannot enter (under /root, say): imr-ctl is copied where it can.
        shutil.copy(imr_ctl, os.path.join(work, "imr-ctl"))
        imr_ctl = os.path.join(work, "imr-ctl")
    conf = os.path.join(work, "config", "cockpit")
    os.makedirs(conf)
    with open(os.path.join(conf, "imr.override.json"), "w") as f:
        json.dump({"config": {"socket": sock, "imrCtl": imr_ctl}}, f)


# ---- The browser --------------------------------------------------------------------------


def browser(download_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800", "--lang=en-US"]:
        options.add_argument(a)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": download_dir})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class Page:
    """The page at its own URL (not inside the shell's frame), as one role."""

    readme_screenshot = None

    def __init__(self, driver, base, out):
        self.d = driver
        self.base = base
        self.out = out

    def open(self, fragment=""):
        self.d.get(self.base + "/cockpit/@localhost/imr/index.html" + fragment)

    def css(self, selector):
        return self.d.find_elements("css selector", selector)

    def one(self, selector, what=None):
        return wait_for(what or selector, lambda: (self.css(selector) or [None])[0])

    def go(self, element):
        """Clicks a link or button that shows another page (or the same one again), and waits
        until the new page is rendered, so that nothing of the old one is used."""
        self.d.execute_script("document.querySelector('#main > .view').dataset.old = 'yes'")
        element.click()
        wait_for("the next page", lambda: self.d.execute_script(
            "const v = document.querySelector('#main > .view');"
            "return v && !v.dataset.old && !v.querySelector('.loading') && v.querySelector('h1') !== null"))

    def text(self):
        return self.d.find_element("css selector", "body").text

    def wait_text(self, needle, timeout=TIMEOUT):
        return wait_for(f"the page to show {needle!r}", lambda: needle in self.text(), timeout=timeout)

    def shot(self, name, top=True):
        if top:
            self.d.execute_script("window.scrollTo(0, 0)")
        path = os.path.join(self.out, name + ".png")
        self.d.save_screenshot(path)
        log("screenshot", path)
        return path

    def console_errors(self):
        return [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"]


# Run in the page: every control has a name, every text has the contrast WCAG AA asks
# (4.5:1, 3:1 for large text), and nothing is wider than the window.
AUDIT = r"""
const problems = [];
function named(el) {
    if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) return true;
    if (el.labels && el.labels.length) return true;
    return (el.textContent || "").trim().length > 0 && !["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName);
}
for (const el of document.querySelectorAll("input, select, textarea, button, a[href]")) {
    if (el.offsetParent === null && el.type !== "hidden") continue;
    if (!named(el)) problems.push("no accessible name: " + el.outerHTML.slice(0, 120));
}
function rgb(text) { const m = text.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; }
function lum(c) { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }
function background(el) {
    for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; }
    return { r: 255, g: 255, b: 255, a: 1 };
}
const seen = new Set();
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el) || el.offsetParent === null) continue;
    if (el.closest(".visually-hidden, .skip-link, button:disabled")) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const fg = rgb(style.color), bg = background(el);
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${walker.currentNode.textContent.trim().slice(0, 40)}"`);
}
for (const wrap of document.querySelectorAll(".table-wrap"))
    if (wrap.scrollWidth > wrap.clientWidth + 1) problems.push(`a table needs ${wrap.scrollWidth}px and has ${wrap.clientWidth}px: ${wrap.querySelector("caption").textContent}`);
if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);
return problems;
"""


def audit(page, where):
    problems = page.d.execute_script(AUDIT)
    check(not problems, f"accessibility problems on {where}: " + "; ".join(problems[:10]))


def viewport(page, width, height):
    page.d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    )


def run(args):
    if os.geteuid() != 0:
        log("skipped: needs root to run the web service as nobody (setpriv); CI runs as root")
        return 77
    bin_dir = os.path.abspath(args.bin)
    out = args.out or tempfile.mkdtemp(prefix="imr-cockpit-shots-")
    os.makedirs(out, exist_ok=True)
    log("screenshots and logs in", out)
    work = tempfile.mkdtemp(prefix="imr-cockpit-")
    os.chmod(work, 0o755)
    procs = Processes()
    driver = None
    started = time.monotonic()
    try:
        sock = start_daemon(procs, work, bin_dir)
        v = Varlink(sock)
        seed(v)
        prepare_package(work, sock, bin_dir)
        urls = {role: start_cockpit(procs, work, role, sock, bin_dir) for role in GROUPS}
        downloads = os.path.join(work, "downloads")
        os.makedirs(downloads)
        driver = browser(downloads)
        driver.set_page_load_timeout(60)
        Page.readme_screenshot = args.readme_screenshot and os.path.abspath(args.readme_screenshot)
        Page.bin_dir = bin_dir
        page = Page(driver, urls["coordinator"], out)
        viewport(page, 1280, 800)
        for step in STEPS:
            t = time.monotonic()
            step(page, v, urls, work)
            log(f"{step.__name__}: ok ({time.monotonic() - t:.1f}s)")
        errors = [e for e in page.console_errors() if "favicon" not in e["message"]]
        check(not errors, f"the browser console has errors: {errors}")
        log(f"passed in {time.monotonic() - started:.0f}s")
        return 0
    except Exception as e:
        log("FAILED:", e)
        traceback.print_exc()
        if driver:
            try:
                Page(driver, "", out).shot("failure")
                for entry in driver.get_log("browser"):
                    log("console:", entry["level"], entry["message"])
            except Exception:
                pass
        for name in os.listdir(work):
            if name.endswith(".log"):
                shutil.copy(os.path.join(work, name), out)
        log("logs copied to", out)
        return 1
    finally:
        if driver:
            driver.quit()
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


# ---- The steps ----------------------------------------------------------------------------


def board_shows_my_alerts_and_deadlines(page, v, urls, work):
    page.open("#/board")
    page.one('tr.alert-row[data-case-id="BOARD-1"]', "the overdue alert of BOARD-1 on the board")
    rows = wait_for("deadline rows", lambda: page.css("tr.deadline-row"))
    first = rows[0]
    check("overdue" in first.get_attribute("class"), "the first deadline row is not an overdue one")
    check(first.get_attribute("data-case-id") == "BOARD-1", "BOARD-1's overdue UR decision is not first")
    text = page.text()
    for needle in ["UR decision (prospective or concurrent review)", "Claims administrator", "overdue by", "I1, I2"]:
        check(needle in text, f"the board does not show {needle!r}")
    check("LOAD-" not in text, "the board shows other coordinators' cases")
    page.shot("01-board")


def acknowledging_and_snoozing_from_the_row(page, v, urls, work):
    from selenium.webdriver.common.keys import Keys

    # BOARD-1 may have another alert beside the overdue one (before 08:00 Pacific, the reminder of
    # its written decision, due the day after tomorrow, has been raised): act on alerts by id.
    row = page.one('tr.alert-row.level-overdue[data-case-id="BOARD-1"]', "BOARD-1's overdue alert")
    acknowledged = row.get_attribute("data-alert-id")
    row.find_element("css selector", "button.ack").send_keys(Keys.ENTER)  # by keyboard
    wait_for("BOARD-1's overdue alert to leave the board", lambda: not page.css(f'tr.alert-row[data-alert-id="{acknowledged}"]'))
    page.wait_text("Acknowledged: Tell the requesting physician of the UR decision, case BOARD-1.")
    row = page.one('tr.alert-row[data-case-id="BOARD-2"]')
    snoozed = row.get_attribute("data-alert-id")
    from selenium.webdriver.support.ui import Select

    Select(row.find_element("css selector", "select.snooze-for")).select_by_value("4h")
    row.find_element("css selector", "button.snooze-btn").click()
    wait_for("BOARD-2's alert to leave the board", lambda: not page.css(f'tr.alert-row[data-alert-id="{snoozed}"]'))
    page.wait_text("Snoozed until")
    listed = {a["alertId"] for a in v.call("io.imr.Alerts.List", limit=1000)["alerts"]}
    check(acknowledged not in listed and snoozed not in listed, "the daemon still lists the acknowledged or snoozed alert")


def an_alert_arrives_without_reloading(page, v, urls, work):
    marker = page.d.execute_script("window.imrTestMarker = 42; return window.imrTestMarker")
    open_case(v, "LIVE-1", "nobody", employer="Pacific Coast Dairy")
    receive_rfa(v, "LIVE-1", 2, [("I1", "Cervical MRI")])
    decide_ur_notice_due_in(v, "LIVE-1", 2)
    page.one('tr.alert-row.fresh[data-case-id="LIVE-1"]', "LIVE-1's alert to appear on the open board")
    page.one('tr.alert-row.level-overdue[data-case-id="LIVE-1"]', "LIVE-1's overdue alert to replace its reminder")
    # One row for the physician's notice: overdue replaced the reminder. (Before 08:00 Pacific the
    # written decision's reminder is also open: another deadline, another row.)
    notice_rows = [
        r for r in page.css('tr.alert-row[data-case-id="LIVE-1"]')
        if r.find_element("css selector", "code.rule-id").text == "ur.notice.physician"
    ]
    check(len(notice_rows) == 1, f"LIVE-1 has {len(notice_rows)} open alert rows for ur.notice.physician, not one")
    check(page.d.execute_script("return window.imrTestMarker") == marker, "the page was reloaded")
    page.wait_text("Live updates: on")
    page.shot("02-board-live")


def cases_search_filter_and_pages(page, v, urls, work):
    from selenium.webdriver.support.ui import Select

    page.go(page.d.find_element("link text", "Cases"))
    page.wait_text("Cases 1–25")
    first = [r.get_attribute("data-case-id") for r in page.css("tr.case-row")]
    check(len(first) == 25, f"the first page has {len(first)} cases, not 25")
    page.go(page.one("#cases-next"))
    page.wait_text("Page 2")
    page.wait_text("Cases 26–50")
    second = [r.get_attribute("data-case-id") for r in page.css("tr.case-row")]
    check(len(second) == 25 and not set(first) & set(second), "the second page repeats the first's cases")
    page.go(page.one("#cases-next"))
    page.wait_text("Cases 51–")
    third = [r.get_attribute("data-case-id") for r in page.css("tr.case-row")]
    check(page.one("#cases-next").get_attribute("disabled") is not None, "the last page offers a next page")
    check(len(set(first + second + third)) == 64, "the pages do not hold every open case once")
    page.go(page.one("#cases-previous"))
    page.wait_text("Cases 26–50")
    # Search by the start of the employer, with non-ASCII letters.
    box = page.one("#case-q")
    box.clear()
    box.send_keys("Café")
    page.go(page.one("form.filters button[type=submit]"))
    wait_for("the search to find BOARD-1", lambda: [r.get_attribute("data-case-id") for r in page.css("tr.case-row")] == ["BOARD-1"])
    page.wait_text("Café Olé Foods")
    # Filter by coordinator and stage.
    box = page.one("#case-q")
    box.clear()
    coordinator = page.one("#case-coordinator")
    coordinator.clear()
    coordinator.send_keys("bob")
    Select(page.one("#case-stage")).select_by_value("rfaReceived")
    page.go(page.one("form.filters button[type=submit]"))
    page.wait_text("Cases 1–")
    rows = page.css("tr.case-row")
    check(rows, "no case of bob's at stage RFA received")
    for r in rows:
        check("bob" in r.text and "RFA received" in r.text, f"a row outside the filter: {r.text}")
    page.shot("03-cases")


def a_case_its_deadlines_and_recording_the_next_fact(page, v, urls, work):
    from selenium.webdriver.support.ui import Select

    page.go(page.d.find_element("link text", "Cases"))
    box = page.one("#case-q")
    box.clear()
    box.send_keys("ADJ99001")
    page.go(page.one("form.filters button[type=submit]"))
    page.go(page.one('tr.case-row[data-case-id="CASE-3"] a.case-link'))
    page.wait_text("Harbor Freight Lines")
    card = page.one('li.deadline[data-rule="imr.application"]', "the IMR application deadline")
    check(card.get_attribute("data-status") == "pending", "the IMR application deadline is not running")
    check("Employee must act" in card.text, f"the IMR application deadline does not say who must act: {card.text}")
    card.find_element("css selector", "summary").click()
    explained = card.text
    for needle in ["Citation: LC 4610.5", "Started by:", "If missed:", "calendar"]:
        check(needle in explained, f"the explanation lacks {needle!r}: {explained}")
    met = page.one('li.deadline[data-rule="ur.decision.prospective"]')
    check(met.get_attribute("data-status") == "met" and "met by UR decision issued" in met.text, f"the UR decision is not shown met: {met.text}")
    check("uid:0 root" in page.one("ol.timeline").text, "the timeline does not name the actor")
    offered = [o.get_attribute("value") for o in Select(page.one("#record-fact")).options]
    check("ReceiveIMRApplication" in offered, f"the IMR application is not offered: {offered}")
    for refused in ["DecideUR", "AssignIMR", "RecordDetermination", "FindEligible"]:
        check(refused not in offered, f"the form offers {refused}, which the lifecycle does not allow now: {offered}")
    Select(page.one("#record-fact")).select_by_value("ReceiveIMRApplication")
    page.one("#record-submit").click()
    page.wait_text("Recorded IMR application received on case CASE-3")
    newest = page.one("ol.timeline li")
    check(newest.get_attribute("data-type") == "IMRApplicationReceived", "the timeline's newest event is not the application")
    check("nobody" in newest.find_element("css selector", ".actor").text, f"the application's actor is not nobody: {newest.text}")
    offered = [o.get_attribute("value") for o in Select(page.one("#record-fact")).options]
    check("FindEligible" in offered and "ReceiveIMRApplication" not in offered, f"after the application the form offers {offered}")
    page.shot("04-case")
    # Correct the day the written decision was served.
    served = next(e for e in v.call("io.imr.Cases.History", caseId="CASE-3")["events"] if e["type"] == "WrittenURDecisionServed")
    Select(page.one("#correct-event")).select_by_value(str(served["version"]))
    Select(page.one("#correct-field")).select_by_value("servedOn")
    page.d.execute_script("arguments[0].value = arguments[1]", page.one("#correct-value"), day(16))
    page.one("#correct-reason").send_keys("The proof of service is dated a day later")
    page.one("#correct-submit").click()
    page.wait_text("“Served on” of #%d Written UR decision served is now %s" % (served["version"], day(16)))
    page.wait_text("The proof of service is dated a day later")
    page.shot("05-case-corrected")


LETTER = "CM16-0213037.pdf"


def importing_letters(page, v, urls, work):
    page.go(page.d.find_element("link text", "Import letters"))
    not_a_letter = os.path.join(work, "not-a-letter.txt")
    with open(not_a_letter, "w") as f:
        f.write("Dear colleague, this is an invitation to a conference.\n")
    letter = os.path.join(SHARED, "fixtures", "letters", "pdf", LETTER)
    page.one("#letter-files").send_keys(letter + "\n" + not_a_letter)
    card = page.one(f'article.letter[data-file="{LETTER}"]', "the letter's facts")
    for needle in ["CM16-0213037", "Fri, Dec 9, 2016", "MRI of the right shoulder without contrast", "Family Practice"]:
        check(needle in card.text, f"the letter's card lacks {needle!r}: {card.text}")
    bad = page.one('article.letter[data-file="not-a-letter.txt"]')
    check(bad.get_attribute("data-status") == "unreadable" and "not a readable IMR Final Determination" in bad.text, f"the unrelated file is not refused: {bad.text}")
    check(not any(c["caseId"] == "CM16-0213037" for c in v.call("io.imr.Cases.Search", text="CM16-0213037")["cases"]), "the dry run recorded something")
    page.shot("06-import-read")
    page.one("#letters-record").click()
    done = page.one(f'article.letter[data-file="{LETTER}"][data-status="opened"]', "the letter's outcome")
    check("Recorded into a new case CM16-0213037" in done.text, f"the outcome is not shown: {done.text}")
    page.shot("07-import-recorded")
    events = v.call("io.imr.Cases.History", caseId="CM16-0213037")["events"]
    check(events and all(e.get("importedFrom") and LETTER in e["importedFrom"] for e in events), f"the imported events do not name the letter: {events}")
    check(all(e["actor"].endswith("nobody") for e in events), "the imported events' actor is not nobody")
    tmp = os.path.join(work, "tmp-coordinator")
    wait_for("the letters' temporary copies to be removed", lambda: os.listdir(tmp) == [])


def downloading_the_calendar(page, v, urls, work):
    page.d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": os.path.join(work, "downloads")})
    page.go(page.d.find_element("link text", "Calendar"))
    page.one("#calendar-download").click()
    page.one("#calendar-link", "the exported calendar")
    running = v.call("io.imr.Deadlines.List", coordinator="nobody", limit=1000)["deadlines"]
    page.wait_text(f"{len(running)} deadline{'' if len(running) == 1 else 's'} in imr-deadlines-nobody.ics")
    path = os.path.join(work, "downloads", "imr-deadlines-nobody.ics")
    wait_for("the download", lambda: os.path.exists(path) and os.path.getsize(path) > 0)
    with open(path) as f:
        ics = f.read()
    check(ics.startswith("BEGIN:VCALENDAR") and ics.count("BEGIN:VEVENT") == len(running), "the downloaded calendar is not the export")
    check("LIVE-1" in ics and "LOAD-" not in ics, "the calendar holds other coordinators' deadlines")
    page.shot("08-calendar")


def every_page_is_accessible_at_1280_and_on_a_tablet(page, v, urls, work):
    for fragment, ready in [
        ("#/board", "tr.alert-row"),
        ("#/cases", "tr.case-row"),
        ("#/case/CASE-3", "li.deadline"),
        ("#/import", "#letter-files"),
        ("#/calendar", "#calendar-download"),
    ]:
        # 1040: the page's frame in Cockpit's shell at 1280x800; 1024x768 and 768x1024: a tablet.
        for width, height in [(1280, 800), (1040, 730), (1024, 768), (768, 1024)]:
            viewport(page, width, height)
            page.open(fragment)
            page.one(ready)
            audit(page, f"{fragment} at {width}x{height}")
    viewport(page, 768, 1024)
    page.open("#/board")
    page.one("tr.alert-row")
    page.shot("09-board-tablet")
    viewport(page, 1280, 800)


def a_reader_sees_everything_and_can_change_nothing(page, v, urls, work):
    reader = Page(page.d, urls["reader"], page.out)
    reader.open("#/board")
    reader.wait_text("reader: you can see everything and change nothing")
    reader.one('tr.alert-row[data-case-id="LIVE-1"]', "nobody's open alert, seen by a reader")
    check(not reader.css("button.ack") and not reader.css("button.snooze-btn"), "a reader is offered acknowledge or snooze")
    # And the daemon refuses the reader what the page does not offer, on the page's own channel.
    alert_id = next(a["alertId"] for a in v.call("io.imr.Alerts.List", limit=1000)["alerts"] if a["caseId"] == "LIVE-1")
    refused = reader.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "state.conn.call('io.imr.Alerts.Acknowledge', {alertId: arguments[0]}).then(() => done('recorded'), (e) => done(e.name));",
        alert_id,
    )
    check(refused == "org.varlink.service.PermissionDenied", f"the daemon answered a reader's acknowledgement with {refused}")
    reader.shot("10-reader-board")
    reader.open("#/case/CASE-3")
    reader.one('li.deadline[data-rule="imr.application"]')
    check(not reader.css("#record-fact") and not reader.css("#correct-event"), "a reader is offered recording or correcting")
    reader.open("#/import")
    reader.wait_text("recording them needs the coordinator role")
    audit(reader, "the reader's import page")


def a_stranger_is_told_to_ask_for_access(page, v, urls, work):
    stranger = Page(page.d, urls["stranger"], page.out)
    stranger.open("#/board")
    stranger.wait_text("Ask your administrator to add you to imr")
    check(not stranger.one("#nav").is_displayed(), "the stranger sees the pages' navigation")
    check("usermod -aG imr,imr-coordinators nobody" in stranger.text(), "the stranger's page does not say what to run")
    audit(stranger, "the stranger's page")
    stranger.shot("11-stranger")


def the_log_holds_what_was_done_and_by_whom(page, v, urls, work):
    """What the page recorded is in the daemon's log with the actor: the case's events through
    imr-ctl history, the alerts' events (on their own streams) read from the log's file."""
    sock = os.path.join(work, "imr.sock")
    out = subprocess.run(
        [os.path.join(page.bin_dir, "imr-ctl"), "history", "CASE-3", "--json", "--socket", sock],
        capture_output=True, text=True, check=True,
    ).stdout
    by_type = {e["type"]: e for e in json.loads(out)}
    for kind in ["IMRApplicationReceived", "EventCorrected"]:
        check(kind in by_type, f"imr-ctl history CASE-3 lacks {kind}")
        check(by_type[kind]["actor"] == "uid:65534 nobody", f"{kind} was recorded by {by_type[kind]['actor']}, not nobody")
    check(by_type["CaseOpened"]["actor"] == "uid:0 root", "the case's opening is not root's")
    import sqlite3

    db = sqlite3.connect(f"file:{os.path.join(work, 'state', 'imr.sqlite')}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT event_type, CAST(payload AS TEXT), CAST(metadata AS TEXT) FROM events "
        "WHERE event_type IN ('AlertAcknowledged', 'AlertSnoozed') ORDER BY position"
    ).fetchall()
    db.close()
    # An alert's event names who acted in its payload ("by"); its metadata carries no actor.
    seen = [(kind, json.loads(payload).get("by")) for kind, payload, metadata in rows]
    check(
        ("AlertAcknowledged", "nobody") in seen and ("AlertSnoozed", "nobody") in seen,
        f"the log does not hold the acknowledgement and the snooze by nobody: {seen}",
    )


def the_board_inside_cockpit(page, v, urls, work):
    """The board as Cockpit shows it: in the shell's frame, from its menu."""
    page.d.get(urls["coordinator"] + "/imr")
    frame = page.one('iframe[name="cockpit1:localhost/imr"]', "the page's frame in Cockpit's shell")
    page.d.switch_to.frame(frame)
    page.one("tr.alert-row")
    page.one("tr.deadline-row")
    page.d.switch_to.default_content()
    page.wait_text("IMR deadlines")
    path = page.shot("12-board-in-cockpit")
    if page.readme_screenshot:
        shutil.copy(path, page.readme_screenshot)
        log("README screenshot", page.readme_screenshot)


STEPS = [
    board_shows_my_alerts_and_deadlines,
    acknowledging_and_snoozing_from_the_row,
    an_alert_arrives_without_reloading,
    cases_search_filter_and_pages,
    a_case_its_deadlines_and_recording_the_next_fact,
    importing_letters,
    downloading_the_calendar,
    every_page_is_accessible_at_1280_and_on_a_tablet,
    a_reader_sees_everything_and_can_change_nothing,
    a_stranger_is_told_to_ask_for_access,
    the_log_holds_what_was_done_and_by_whom,
    the_board_inside_cockpit,
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(REPO, ".build", "debug"), help="where imr-daemon and imr-ctl are")
    parser.add_argument("--out", help="where screenshots go (default: a new temporary directory)")
    parser.add_argument("--readme-screenshot", help="also write the board, inside Cockpit's shell, to this PNG")
    args = parser.parse_args()
    sys.exit(run(args))


if __name__ == "__main__":
    main()
