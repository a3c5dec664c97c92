/* imr's Cockpit page: the board, the cases, a case, letter imports and the calendar.
 *
 * Everything is read from and recorded through the imr daemon's Varlink socket (varlink.js),
 * as the logged-in user: the daemon decides what that user may do from their groups. Letter
 * imports and the calendar run imr-ctl through cockpit.spawn, so the same code reads letters
 * and writes the ICS file as on the command line. Dates and times are shown in Pacific time.
 */
"use strict";

const PACIFIC = "America/Los_Angeles";
const config = Object.assign(
    { socket: "/run/imr/imr.sock", imrCtl: "/usr/local/bin/imr-ctl" },
    (cockpit.manifests && cockpit.manifests.imr && cockpit.manifests.imr.config) || {}
);

const state = {
    user: null, // the Unix user name: "mine" means cases and alerts coordinated by it
    role: null, // "coordinator" (or admin), "reader", or "none"
    conn: null, // the connection for queries and commands
    follow: null, // the board's io.imr.Alerts.Follow connection
    alerts: new Map(), // alertId -> Alert, while the board is shown
    page: null,
};

/* ---- Words ---------------------------------------------------------------------------- */

const RULES = {
    "rfa.deemed-receipt": "RFA deemed received",
    "ur.decision.prospective": "UR decision (prospective or concurrent review)",
    "ur.decision.expedited": "UR decision, expedited review",
    "ur.decision.retrospective": "UR decision, retrospective review",
    "ur.decision.formulary": "UR decision on a formulary drug",
    "ur.info-request": "Ask the physician for more information (optional)",
    "ur.deferral": "Written deferral of UR (liability disputed)",
    "ur.notice.physician": "Tell the requesting physician of the UR decision",
    "ur.notice.written": "Serve the written UR decision",
    "imr.application": "IMR application must reach the Administrative Director",
    "imr.eligibility-response": "Answer the request for eligibility information",
    "imro.assignment-notice": "IMRO's notice of assignment",
    "imr.records": "Send the medical records to the IMRO",
    "imr.determination": "IMRO's Final Determination",
    "imr.implementation": "Implement the overturned determination",
    "wcab.appeal": "File a WCAB appeal of the determination",
};

const PARTIES = {
    "claims-administrator": "Claims administrator",
    employee: "Employee",
    imro: "IMRO",
    "administrative-director": "Administrative Director",
    "either-party": "Either party",
    parties: "The parties",
};

const STAGES = [
    ["opened", "Opened"],
    ["rfaReceived", "RFA received"],
    ["underReview", "Under review"],
    ["urDecided", "UR decided"],
    ["imrApplied", "IMR applied for"],
    ["imrIneligible", "IMR ineligible"],
    ["imrEligible", "IMR eligible"],
    ["imrAssigned", "IMR assigned"],
    ["determined", "Determined"],
    ["implemented", "Implemented"],
    ["appealed", "Appealed"],
    ["closed", "Closed"],
    ["withdrawn", "Withdrawn"],
];
const STAGE_WORDS = Object.fromEntries(STAGES);

const LEVELS = { notice: "Notice", reminder: "Reminder", "due-today": "Due today", overdue: "Overdue" };

const STATUS_WORDS = {
    pending: "Pending",
    missed: "Missed",
    met: "Met",
    "met-late": "Met late",
    "not-applicable": "Not applicable",
    superseded: "Superseded",
};

function ruleWords(rule) {
    return RULES[rule] || rule;
}

function partyWords(party) {
    return PARTIES[party] || party || "—";
}

/* "URDecisionIssued" -> "UR decision issued" */
function typeWords(type) {
    const words = type.match(/[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|\d+/g) || [type];
    return words
        .map((w, i) => (w.length > 1 && w === w.toUpperCase() ? w : i === 0 ? w : w.toLowerCase()))
        .join(" ");
}

function camelWords(key) {
    const w = typeWords(key.charAt(0).toUpperCase() + key.slice(1));
    return w.charAt(0) + w.slice(1);
}

/* ---- Pacific dates -------------------------------------------------------------------- */

const instantFormat = new Intl.DateTimeFormat("en-US", {
    timeZone: PACIFIC,
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
});
const instantThisYearFormat = new Intl.DateTimeFormat("en-US", {
    timeZone: PACIFIC,
    weekday: "short",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
});
const yearFormat = new Intl.DateTimeFormat("en-US", { timeZone: PACIFIC, year: "numeric" });
const dayFormat = new Intl.DateTimeFormat("en-US", {
    timeZone: "UTC",
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
});
const isoDayFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: PACIFIC,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
});
const isoMinuteParts = new Intl.DateTimeFormat("en-CA", {
    timeZone: PACIFIC,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
});

/* An instant in Pacific time; the year is left out when it is this year's. */
function fmtInstant(text) {
    if (!text) return "—";
    const t = Date.parse(text);
    if (isNaN(t)) return text;
    const thisYear = yearFormat.format(new Date()) === yearFormat.format(new Date(t));
    return (thisYear ? instantThisYearFormat : instantFormat).format(new Date(t));
}

/* A California date (YYYY-MM-DD) in words; it names a day, not an instant. */
function fmtDay(text) {
    if (!text) return "—";
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    return m ? dayFormat.format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]))) : text;
}

/* A deadline's due: the instant for an hour deadline, else the end of its Pacific day. */
function fmtDue(row) {
    if (row.isExactInstant === false && row.dueDate) return "end of " + fmtDay(row.dueDate);
    // A day deadline's due is the last second of its Pacific day.
    const m = /^(\d{4}-\d{2}-\d{2})T23:59:59-0[78]:00$/.exec(row.due || "");
    if (m && row.isExactInstant !== true) return "end of " + fmtDay(m[1]);
    return fmtInstant(row.due);
}

function todayPacific() {
    return isoDayFormat.format(new Date());
}

/* Now in Pacific wall-clock time, "YYYY-MM-DDTHH:MM", for datetime-local inputs. */
function nowPacificMinute(offsetMs) {
    const parts = {};
    for (const p of isoMinuteParts.formatToParts(new Date(Date.now() + (offsetMs || 0)))) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

function timeLeft(due) {
    const ms = Date.parse(due) - Date.now();
    if (isNaN(ms)) return "";
    const abs = Math.abs(ms);
    const days = Math.floor(abs / 86400000);
    const hours = Math.floor((abs % 86400000) / 3600000);
    const minutes = Math.floor((abs % 3600000) / 60000);
    let span;
    if (days >= 2) span = `${days} days`;
    else if (days === 1) span = hours ? `1 day ${hours} h` : "1 day";
    else if (hours >= 1) span = `${hours} h ${minutes} min`;
    else if (minutes >= 1) span = `${minutes} min`;
    else span = "less than a minute";
    return ms < 0 ? `overdue by ${span}` : `${span} left`;
}

/* The time left of a due instant, kept current while the page is open. */
function timeLeftCell(due) {
    const past = Date.parse(due) < Date.now();
    return h("span", { class: "time-left" + (past ? " overdue-text" : ""), "data-due": due }, timeLeft(due));
}

function refreshTimes() {
    for (const el of document.querySelectorAll(".time-left[data-due]")) {
        el.textContent = timeLeft(el.dataset.due);
        el.classList.toggle("overdue-text", Date.parse(el.dataset.due) < Date.now());
    }
}

/* ---- DOM ------------------------------------------------------------------------------ */

/* h("a", {href: "#"}, "text", child...): an element; attributes starting with "on" are
 * listeners; children are strings (text, never HTML), nodes, arrays or null. */
function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === null || v === undefined || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (k === "class") el.className = v;
        else if (k === "dataset") Object.assign(el.dataset, v);
        else if (v === true) el.setAttribute(k, "");
        else el.setAttribute(k, v);
    }
    append(el, children);
    return el;
}

/* Replaces el's children. */
function fill(el, ...children) {
    el.replaceChildren();
    return append(el, children);
}

function append(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c === null || c === undefined || c === false) continue;
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
}

/* A table: columns [{label, cell(row) -> node|string}], with a caption; each cell carries its
 * column's label for the narrow (tablet portrait) layout, where rows stack. */
function table(caption, columns, rows, rowAttrs) {
    return h(
        "div",
        { class: "table-wrap" },
        h(
            "table",
            {},
            h("caption", {}, caption),
            h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
            h(
                "tbody",
                {},
                rows.map((r) =>
                    h(
                        "tr",
                        rowAttrs ? rowAttrs(r) : {},
                        columns.map((c, i) =>
                            h(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, "data-label": c.label }, h("div", { class: "cell" }, c.cell(r)))
                        )
                    )
                )
            )
        )
    );
}

function caseLink(caseId) {
    return h("a", { href: "#/case/" + encodeURIComponent(caseId), class: "case-link" }, caseId);
}

function badge(kind, text) {
    return h("span", { class: "badge badge-" + kind }, text);
}

function announce(text) {
    const el = document.getElementById("announce");
    el.textContent = "";
    setTimeout(() => (el.textContent = text), 50);
}

/* A message shown where something was done: success or the daemon's sentence. */
function notice(kind, ...content) {
    return h("p", { class: "notice notice-" + kind, role: kind === "error" ? "alert" : "status" }, content);
}

function errorText(e) {
    if (e instanceof VarlinkError) {
        if (e.short === "PermissionDenied") return "The imr daemon refused: your role does not allow this.";
        if (e.short === "CaseNotFound") {
            const near = e.parameters.didYouMean && e.parameters.didYouMean.length;
            return `There is no case ${e.parameters.caseId}.` + (near ? ` Did you mean ${e.parameters.didYouMean.join(", ")}?` : "");
        }
        if (e.short === "TransitionRefused" || e.parameters.message) return e.parameters.message || e.message;
        return e.name + (Object.keys(e.parameters).length ? " " + JSON.stringify(e.parameters) : "");
    }
    if (e && e.message) return e.message;
    return String(e);
}

function canRecord() {
    return state.role === "coordinator";
}

function newCommandId() {
    return crypto.randomUUID ? crypto.randomUUID() : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) =>
        (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
}

function call(method, parameters, onReply) {
    return state.conn.call(method, parameters, onReply);
}

/* ---- Start: who am I, may I read, may I record ------------------------------------------ */

function connect() {
    state.conn = new VarlinkConnection(config.socket);
    state.conn.onclose = (problem) => {
        if (state.role) showProblem("The connection to the imr daemon ended (" + problem + "). Reload the page to connect again.");
    };
}

async function start() {
    try {
        const user = await cockpit.user();
        state.user = user.name;
    } catch (e) {
        state.user = null;
    }
    connect();
    let status;
    try {
        status = await call("io.imr.Admin.Status", {});
    } catch (e) {
        if (e instanceof VarlinkError && (e.short === "PermissionDenied" || e.name === "cockpit.access-denied")) {
            state.role = "none";
            showOutsider();
            return;
        }
        showProblem(errorText(e) + " Is imr-daemon running? (systemctl status imr-daemon)");
        return;
    }
    // The daemon says who the user is to it: their role under its access policy.
    const role = status.caller ? status.caller.role : "reader";
    state.role = role === "admin" || role === "coordinator" ? "coordinator" : "reader";
    document.body.dataset.role = state.role;
    document.getElementById("nav").hidden = false;
    document.getElementById("who").textContent =
        (state.user || "?") + (state.role === "reader" ? " · reader: you can see everything and change nothing" : " · coordinator");
    cockpit.addEventListener("locationchanged", route);
    setInterval(refreshTimes, 30000);
    // The page's own links are its routes (#/board); the skip link only moves the focus.
    document.querySelector(".skip-link").addEventListener("click", (e) => {
        e.preventDefault();
        document.getElementById("main").focus();
    });
    route();
}

function showOutsider() {
    document.getElementById("nav").hidden = true;
    const main = document.getElementById("main");
    fill(main,
        h(
            "section",
            { class: "outsider", "aria-labelledby": "outsider-title" },
            h("h1", { id: "outsider-title" }, "You are not one of imr's users yet"),
            h(
                "p",
                {},
                "The imr daemon does not let ",
                h("strong", {}, state.user || "this account"),
                " read disputes or deadlines. Ask your administrator to add you to imr: the group ",
                h("code", {}, "imr"),
                " to read, and also ",
                h("code", {}, "imr-coordinators"),
                " to record."
            ),
            h("pre", {}, `usermod -aG imr,imr-coordinators ${state.user || "USER"}`),
            h("p", {}, "Then log out of Cockpit and in again.")
        )
    );
    main.focus();
}

function showProblem(text) {
    const main = document.getElementById("main");
    fill(main,
        h("section", { class: "problem" }, h("h1", {}, "The imr daemon cannot be reached"), notice("error", text))
    );
}

/* ---- Router ----------------------------------------------------------------------------- */

const PAGES = {
    board: renderBoard,
    cases: renderCases,
    case: renderCase,
    import: renderImport,
    calendar: renderCalendar,
};

function route() {
    const path = cockpit.location.path;
    const name = PAGES[path[0]] ? path[0] : "board";
    if (state.page === "board" && name !== "board") stopFollowing();
    if (state.page === "import" && name !== "import") removeLetters();
    state.page = name;
    for (const a of document.querySelectorAll("#nav a")) {
        const current = a.dataset.page === name || (name === "case" && a.dataset.page === "cases");
        if (current) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
    }
    // Each visit renders into a view of its own: a slow answer to an earlier visit then fills
    // a view no longer shown instead of the page.
    const main = h("div", { class: "view", "data-page": name }, h("p", { class: "loading" }, "Loading…"));
    fill(document.getElementById("main"), main);
    Promise.resolve(PAGES[name](main, path.slice(1), cockpit.location.options)).catch((e) => {
        fill(main, h("h1", {}, "Something went wrong"), notice("error", errorText(e)));
    });
}

/* Goes to a page; options with no value are left out of the URL. */
function go(path, options) {
    const kept = {};
    for (const [k, v] of Object.entries(options || {})) if (v !== undefined && v !== null && v !== "") kept[k] = String(v);
    cockpit.location.go(path, kept);
}

function pageTitle(text) {
    const title = h("h1", { tabindex: "-1" }, text);
    setTimeout(() => title.focus({ preventScroll: true }), 0);
    document.title = text + " · IMR";
    return title;
}

/* ---- My board --------------------------------------------------------------------------- */

const RULE_PARTY = {
    "ur.decision.prospective": "claims-administrator",
    "ur.decision.expedited": "claims-administrator",
    "ur.decision.retrospective": "claims-administrator",
    "ur.decision.formulary": "claims-administrator",
    "ur.info-request": "claims-administrator",
    "ur.deferral": "claims-administrator",
    "ur.notice.physician": "claims-administrator",
    "ur.notice.written": "claims-administrator",
    "imr.application": "employee",
    "imr.eligibility-response": "parties",
    "imro.assignment-notice": "imro",
    "imr.records": "claims-administrator",
    "imr.determination": "imro",
    "imr.implementation": "claims-administrator",
    "wcab.appeal": "either-party",
};
const LEVEL_RANK = { notice: 0, reminder: 1, "due-today": 2, overdue: 3 };
const board = { within: 7, deadlines: [], partyOf: new Map(), alertsBox: null, fresh: new Set() };

function stopFollowing() {
    if (state.follow) state.follow.close();
    state.follow = null;
}

async function renderBoard(main, rest, options) {
    board.within = Math.max(1, Math.min(365, parseInt(options.within, 10) || 7));
    const alertsBox = h("div", { id: "alerts-box" }, h("p", { class: "loading" }, "Loading alerts…"));
    const deadlinesBox = h("div", { id: "deadlines-box" }, h("p", { class: "loading" }, "Loading deadlines…"));
    const live = h("p", { class: "live-state", id: "live-state" }, "Live updates: connecting…");
    board.alertsBox = alertsBox;
    const within = h(
        "select",
        {
            id: "within",
            onchange: (e) => go(["board"], { within: e.target.value }),
        },
        [1, 3, 7, 14, 30, 90].map((n) => h("option", { value: n, selected: n === board.within }, n === 1 ? "1 day" : `${n} days`))
    );
    fill(main,
        pageTitle("My board"),
        h(
            "p",
            { class: "lead" },
            "Open alerts and running deadlines of the cases coordinated by ",
            h("strong", {}, state.user || "you"),
            ". Times are Pacific."
        ),
        h(
            "section",
            { "aria-labelledby": "alerts-title" },
            h("div", { class: "section-head" }, h("h2", { id: "alerts-title", tabindex: "-1" }, "My open alerts"), live),
            alertsBox
        ),
        h(
            "section",
            { "aria-labelledby": "deadlines-title" },
            h(
                "div",
                { class: "section-head" },
                h("h2", { id: "deadlines-title" }, `My deadlines due within ${board.within} days`),
                h("div", { class: "inline-field" }, h("label", { for: "within" }, "Due within"), within)
            ),
            deadlinesBox
        )
    );

    const [deadlines, alerts] = await Promise.all([
        call("io.imr.Deadlines.List", { coordinator: state.user, withinDays: board.within, limit: 200 }),
        call("io.imr.Alerts.List", { mine: true, limit: 500 }),
    ]);
    board.deadlines = deadlines.deadlines;
    for (const d of deadlines.deadlines) board.partyOf.set(d.id, d.party);
    board.deadlinesBox = deadlinesBox;
    fill(deadlinesBox, deadlineTable(deadlines));
    state.alerts = new Map(alerts.alerts.map((a) => [a.alertId, a]));
    board.fresh = new Set();
    renderAlerts();
    startFollowing(live);
}

function startFollowing(live) {
    stopFollowing();
    const conn = new VarlinkConnection(config.socket);
    state.follow = conn;
    live.textContent = "Live updates: on";
    live.classList.add("on");
    conn.call("io.imr.Alerts.Follow", { mine: true }, (reply) => {
        if (state.follow !== conn || !reply.alert) return;
        const alert = reply.alert;
        if (state.alerts.has(alert.alertId) && reply.replayed) return;
        if (alert.acknowledgedBy) return;
        // A higher level of the same deadline supersedes the lower ones.
        for (const [id, other] of state.alerts) {
            if (other.deadlineId === alert.deadlineId && LEVEL_RANK[other.level] < LEVEL_RANK[alert.level]) {
                state.alerts.delete(id);
            }
        }
        const isNew = !state.alerts.has(alert.alertId);
        state.alerts.set(alert.alertId, alert);
        if (isNew && !reply.replayed) {
            board.fresh.add(alert.alertId);
            announce(`New alert: ${LEVELS[alert.level] || alert.level}, ${ruleWords(alert.rule)}, case ${alert.caseId}`);
            refreshDeadlinesSoon();
        }
        renderAlerts();
    }).then(
        () => {
            if (state.follow !== conn) return;
            live.textContent = "Live updates stopped: the daemon is stopping. Reload the page when it is back.";
            live.classList.remove("on");
        },
        (e) => {
            if (state.follow !== conn) return;
            live.textContent = "Live updates stopped: " + errorText(e) + " Reload the page to resume.";
            live.classList.remove("on");
        }
    );
}

/* A new alert means a deadline came near or passed: the deadline list is read again, once for
 * a burst of alerts. */
function refreshDeadlinesSoon() {
    clearTimeout(board.refreshTimer);
    board.refreshTimer = setTimeout(async () => {
        if (state.page !== "board") return;
        try {
            const page = await call("io.imr.Deadlines.List", { coordinator: state.user, withinDays: board.within, limit: 200 });
            for (const d of page.deadlines) board.partyOf.set(d.id, d.party);
            if (state.page === "board") fill(board.deadlinesBox, deadlineTable(page));
        } catch (e) {
            console.warn("refreshing the deadlines failed", e);
        }
    }, 500);
}

function alertParty(alert) {
    return board.partyOf.get(alert.deadlineId) || RULE_PARTY[alert.rule];
}

function renderAlerts() {
    const box = board.alertsBox;
    if (!box) return;
    const alerts = Array.from(state.alerts.values()).sort(
        (a, b) => Date.parse(a.due) - Date.parse(b.due) || LEVEL_RANK[b.level] - LEVEL_RANK[a.level]
    );
    if (alerts.length === 0) {
        fill(box, h("p", { class: "empty" }, "No open alerts. New ones appear here as the daemon raises them."));
        return;
    }
    const columns = [
        { label: "Level", cell: (a) => [badge(a.level, LEVELS[a.level] || a.level), a.late ? h("span", { class: "late" }, " raised late") : null] },
        { label: "Deadline", cell: (a) => [h("span", { class: "rule" }, ruleWords(a.rule)), h("code", { class: "rule-id" }, a.rule)] },
        { label: "Case", cell: (a) => caseLink(a.caseId) },
        { label: "Items", cell: (a) => (a.itemIds && a.itemIds.length ? a.itemIds.join(", ") : "—") },
        { label: "Who must act", cell: (a) => partyWords(alertParty(a)) },
        { label: "Due", cell: (a) => fmtDue(a) },
        { label: "Time left", cell: (a) => timeLeftCell(a.due) },
    ];
    if (canRecord()) columns.push({ label: "Actions", cell: alertActions });
    fill(box,
        table(`${alerts.length} open alert${alerts.length === 1 ? "" : "s"}, soonest due first`, columns, alerts, (a) => ({
            class: "alert-row level-" + a.level + (board.fresh.has(a.alertId) ? " fresh" : ""),
            "data-alert-id": a.alertId,
            "data-case-id": a.caseId,
        }))
    );
}

function alertActions(alert) {
    const what = `${ruleWords(alert.rule)}, case ${alert.caseId}`;
    const selectId = "snooze-" + alert.alertId.replace(/[^A-Za-z0-9_-]/g, "_");
    const select = h(
        "select",
        { id: selectId, class: "snooze-for", "aria-label": "Snooze for how long: " + what },
        h("option", { value: "1h" }, "1 hour"),
        h("option", { value: "4h" }, "4 hours"),
        h("option", { value: "tomorrow" }, "Tomorrow 8:00"),
        h("option", { value: "3d" }, "3 days")
    );
    const status = h("span", { class: "row-status", role: "status" });
    return h(
        "div",
        { class: "actions" },
        h(
            "button",
            {
                type: "button",
                class: "btn btn-primary ack",
                "aria-label": "Acknowledge alert: " + what,
                onclick: (e) => acknowledge(alert, e.target, status),
            },
            "Acknowledge"
        ),
        h(
            "span",
            { class: "snooze" },
            select,
            h(
                "button",
                {
                    type: "button",
                    class: "btn snooze-btn",
                    "aria-label": "Snooze alert: " + what,
                    onclick: (e) => snooze(alert, select.value, e.target, status),
                },
                "Snooze"
            )
        ),
        status
    );
}

function snoozeUntil(choice) {
    if (choice === "tomorrow") {
        const tomorrow = new Date(Date.parse(todayPacific() + "T12:00:00Z") + 86400000).toISOString().slice(0, 10);
        return tomorrow + "T08:00";
    }
    const ms = { "1h": 3600e3, "4h": 4 * 3600e3, "3d": 3 * 86400e3 }[choice] || 3600e3;
    return nowPacificMinute(ms);
}

async function acknowledge(alert, button, status) {
    button.disabled = true;
    try {
        await call("io.imr.Alerts.Acknowledge", { alertId: alert.alertId });
        removeAlert(alert, `Acknowledged: ${ruleWords(alert.rule)}, case ${alert.caseId}.`);
    } catch (e) {
        button.disabled = false;
        status.textContent = errorText(e);
    }
}

async function snooze(alert, choice, button, status) {
    button.disabled = true;
    const until = snoozeUntil(choice);
    try {
        const reply = await call("io.imr.Alerts.Snooze", { alertId: alert.alertId, until });
        removeAlert(alert, `Snoozed until ${fmtInstant(reply.alert.snoozedUntil)}: ${ruleWords(alert.rule)}, case ${alert.caseId}.`);
    } catch (e) {
        button.disabled = false;
        status.textContent = errorText(e);
    }
}

function removeAlert(alert, message) {
    state.alerts.delete(alert.alertId);
    renderAlerts();
    announce(message);
    const box = board.alertsBox;
    box.prepend(notice("success", message));
    // The focus goes to the next alert's button, or to the heading when none is left.
    const next = box.querySelector("button.ack");
    (next || document.getElementById("alerts-title")).focus();
}

function deadlineTable(page) {
    const rows = page.deadlines;
    if (rows.length === 0) return h("p", { class: "empty" }, "Nothing of yours falls due in this window.");
    const overdue = rows.filter((d) => Date.parse(d.due) < Date.now()).length;
    const columns = [
        {
            label: "Due",
            cell: (d) => [
                Date.parse(d.due) < Date.now() ? badge("overdue", "Overdue") : null,
                h("span", { class: "due" }, fmtDue(d)),
            ],
        },
        { label: "Time left", cell: (d) => timeLeftCell(d.due) },
        { label: "Deadline", cell: (d) => [h("span", { class: "rule" }, ruleWords(d.rule)), h("code", { class: "rule-id" }, d.rule)] },
        { label: "Case", cell: (d) => caseLink(d.caseId) },
        { label: "Items", cell: (d) => (d.itemIds.length ? d.itemIds.join(", ") : "—") },
        { label: "Who must act", cell: (d) => partyWords(d.party) },
    ];
    const more = page.next
        ? h("p", { class: "more" }, `${page.remaining}${page.remainingAtLeast ? "+" : ""} more: open Cases to see them by case.`)
        : null;
    return [
        table(
            `${rows.length} deadline${rows.length === 1 ? "" : "s"}` + (overdue ? `, ${overdue} overdue first` : "") + ", soonest due first",
            columns,
            rows,
            (d) => ({ class: "deadline-row" + (Date.parse(d.due) < Date.now() ? " overdue" : ""), "data-case-id": d.caseId })
        ),
        more,
    ];
}

/* ---- Cases ---------------------------------------------------------------------------- */

const CASES_PER_PAGE = 25;
const casesPaging = { key: null, cursors: [] }; // the `after` of each page shown before this one

async function renderCases(main, rest, options) {
    const q = (options.q || "").trim();
    const stage = options.stage || "";
    const coordinator = (options.coordinator || "").trim();
    const scope = options.scope || "open";
    const after = options.after || null;
    const key = JSON.stringify([q, stage, coordinator, scope]);
    if (casesPaging.key !== key || !after) casesPaging.cursors = [];
    casesPaging.key = key;

    const form = h(
        "form",
        {
            class: "filters",
            role: "search",
            "aria-label": "Find cases",
            onsubmit: (e) => {
                e.preventDefault();
                const f = e.target.elements;
                casesPaging.cursors = [];
                go(["cases"], {
                    q: f.q.value.trim() || undefined,
                    stage: f.stage.value || undefined,
                    coordinator: f.coordinator.value.trim() || undefined,
                    scope: f.scope.value,
                });
            },
        },
        h(
            "div",
            { class: "field" },
            h("label", { for: "case-q" }, "Search"),
            h("input", {
                id: "case-q",
                name: "q",
                type: "search",
                value: q,
                size: 28,
                "aria-describedby": "case-q-hint",
                autocomplete: "off",
            }),
            h("span", { class: "hint", id: "case-q-hint" }, "Claim number, IMR case number, employer or case id")
        ),
        h(
            "div",
            { class: "field" },
            h("label", { for: "case-stage" }, "Stage"),
            h(
                "select",
                { id: "case-stage", name: "stage" },
                h("option", { value: "" }, "Any stage"),
                STAGES.map(([id, words]) => h("option", { value: id, selected: id === stage }, words))
            )
        ),
        h(
            "div",
            { class: "field" },
            h("label", { for: "case-coordinator" }, "Coordinator"),
            h("input", { id: "case-coordinator", name: "coordinator", value: coordinator, size: 14, list: "coordinator-me" }),
            h("datalist", { id: "coordinator-me" }, state.user ? h("option", { value: state.user }) : null)
        ),
        h(
            "div",
            { class: "field" },
            h("label", { for: "case-scope" }, "Cases"),
            h(
                "select",
                { id: "case-scope", name: "scope" },
                h("option", { value: "open", selected: scope === "open" }, "Open"),
                h("option", { value: "all", selected: scope === "all" }, "Open and closed")
            )
        ),
        h("button", { type: "submit", class: "btn btn-primary" }, "Find")
    );
    const results = h("div", { id: "case-results", "aria-live": "polite" }, h("p", { class: "loading" }, "Loading cases…"));
    fill(main, pageTitle("Cases"), form, results);

    const imrNumber = /^CM\d{2}-\d{7}$/i.test(q) ? q.toUpperCase() : null;
    if (q && !imrNumber) {
        // Search finds by the start of the id, claim number, IMR case number, employer or claims
        // administrator, at most 100; the stage and coordinator are applied to what it found.
        const reply = await call("io.imr.Cases.Search", { text: q, limit: 100 });
        const rows = reply.cases.filter(
            (c) =>
                (!stage || c.stage === stage) &&
                (!coordinator || c.coordinator === coordinator) &&
                (scope === "all" || c.isOpen)
        );
        fill(
            results,
            caseTable(rows, `${rows.length} case${rows.length === 1 ? "" : "s"} starting with “${q}”`),
            reply.more ? h("p", { class: "more" }, "More cases start with this; type more of it to narrow the search.") : null
        );
        return;
    }
    const page = await call("io.imr.Cases.List", {
        open: scope === "all" ? null : true,
        stage: stage || null,
        coordinator: coordinator || null,
        imrCaseNumber: imrNumber,
        limit: CASES_PER_PAGE,
        after,
    });
    const number = casesPaging.cursors.length + 1;
    const first = (number - 1) * CASES_PER_PAGE + 1;
    const caption =
        page.cases.length === 0
            ? "No cases"
            : `Cases ${first}–${first + page.cases.length - 1}` +
              (page.next ? `, ${page.remaining}${page.remainingAtLeast ? "+" : ""} more` : "") +
              ", soonest next deadline first";
    const turn = (cursor, back) => {
        if (back) casesPaging.cursors.pop();
        else casesPaging.cursors.push(after);
        go(["cases"], Object.assign({}, options, { after: cursor || undefined }));
    };
    const pager = h(
        "nav",
        { class: "pager", "aria-label": "Pages of cases" },
        h(
            "button",
            {
                type: "button",
                class: "btn",
                id: "cases-previous",
                disabled: number === 1,
                onclick: () => turn(casesPaging.cursors[casesPaging.cursors.length - 1], true),
            },
            "Previous page"
        ),
        h("span", { id: "cases-page" }, `Page ${number}`),
        h("button", { type: "button", class: "btn", id: "cases-next", disabled: !page.next, onclick: () => turn(page.next, false) }, "Next page")
    );
    fill(results, caseTable(page.cases, caption), pager);
}

function caseTable(rows, caption) {
    if (rows.length === 0) return h("p", { class: "empty" }, "No case matches.");
    return table(
        caption,
        [
            { label: "Case", cell: (c) => caseLink(c.caseId) },
            { label: "Claim number", cell: (c) => c.claimNumber },
            { label: "Employer", cell: (c) => c.employer },
            { label: "Coordinator", cell: (c) => c.coordinator },
            { label: "Stage", cell: (c) => STAGE_WORDS[c.stage] || c.stage },
            { label: "Items", cell: (c) => String(c.items) },
            {
                label: "Next deadline",
                cell: (c) =>
                    c.nextDue
                        ? [h("span", { class: "rule" }, ruleWords(c.nextRule)), h("span", {}, fmtDue({ due: c.nextDue }) + " · "), timeLeftCell(c.nextDue)]
                        : "—",
            },
            { label: "IMR case", cell: (c) => (c.imrCaseNumbers.length ? c.imrCaseNumbers.join(", ") : "—") },
        ],
        rows,
        (c) => ({ class: "case-row", "data-case-id": c.caseId })
    );
}

/* ---- A case ----------------------------------------------------------------------------- */

const ITEM_STATUS = {
    pendingUR: "Waiting for UR",
    approved: "Approved",
    modified: "Modified",
    denied: "Denied",
    imrApplied: "IMR applied for",
    imrEligible: "IMR eligible",
    imrIneligible: "IMR ineligible",
    imrAssigned: "IMR assigned",
    upheld: "Upheld by IMR",
    overturned: "Overturned by IMR",
    implemented: "Implemented",
    appealed: "Appealed to the WCAB",
};

const SERVICE_METHODS = ["mail", "fax", "email", "electronic", "personal"];

/* The fields a correction may replace (Workflow's CorrectableField) and the kind of value each takes. */
const CORRECTABLE = {
    dateOfInjury: "date", claimNumber: "text",
    receivedAt: "instant", transmission: "text", treatmentRecommendedOn: "date", physician: "text",
    expedited: "flag", formulary: "flag", reviewType: "text",
    requestedOn: "date", receivedOn: "date", sentOn: "date", deferredOn: "date",
    decidedAt: "instant", notifiedAt: "instant",
    servedOn: "date", serviceMethod: "text", serviceDestination: "text",
    foundOn: "date", assignedOn: "date", priority: "text", noticeMethod: "text", decidedOn: "date", mailedOn: "date",
    reviewerSpecialty: "text", implementedOn: "date", filedOn: "date", resolvedOn: "date", withdrawnOn: "date",
    closedOn: "date",
};

async function renderCase(main, rest) {
    const caseId = rest[0];
    if (!caseId) return go(["cases"]);
    const [reply, history] = await Promise.all([
        call("io.imr.Cases.Get", { caseId }),
        call("io.imr.Cases.History", { caseId, limit: 1000 }),
    ]);
    const c = reply.case;
    const events = history.events;
    const pending = c.deadlines.filter((d) => d.status === "pending" || d.status === "missed");
    fill(
        main,
        h("p", { class: "crumbs" }, h("a", { href: "#/cases" }, "Cases"), " › ", caseId),
        pageTitle(`Case ${caseId}`),
        h(
            "p",
            { class: "lead" },
            badge(c.isOpen ? "pending" : "superseded", c.isOpen ? "Open" : c.closedOn ? "Closed" : "Withdrawn"),
            " ",
            STAGE_WORDS[c.stage] || c.stage,
            ` · ${pending.length} running deadline${pending.length === 1 ? "" : "s"} · version ${c.version}`
        ),
        h("div", { id: "case-message" }),
        h(
            "div",
            { class: "cols" },
            h("section", { "aria-labelledby": "facts-title" }, h("h2", { id: "facts-title" }, "Facts"), factList(c)),
            h("section", { "aria-labelledby": "rfas-title" }, h("h2", { id: "rfas-title" }, "Requests for authorization"), rfaList(c))
        ),
        h("section", { "aria-labelledby": "items-title" }, h("h2", { id: "items-title" }, "Items"), itemTable(c)),
        h("section", { "aria-labelledby": "deadlines-title" }, h("h2", { id: "deadlines-title" }, "Deadlines"), deadlineCards(c.deadlines)),
        canRecord()
            ? h("section", { "aria-labelledby": "record-title", id: "record" }, h("h2", { id: "record-title" }, "Record what happened next"), recordForm(c))
            : null,
        h("section", { "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, "Timeline"), timeline(c, events)),
        c.notes.length ? h("section", {}, h("h2", {}, "Notes"), h("ul", { class: "notes" }, c.notes.map((n) => h("li", {}, h("span", { class: "meta" }, fmtInstant(n.writtenAt) + ": "), n.text)))) : null,
        c.corrections.length
            ? h(
                  "section",
                  {},
                  h("h2", {}, "Corrections"),
                  h(
                      "ul",
                      { class: "corrections" },
                      c.corrections.map((k) =>
                          h("li", {}, `${camelWords(k.field)} of ${typeWords(k.correctedType || "event " + k.correctedVersion)} (version ${k.correctedVersion}): `,
                              k.previous ? `${k.previous} → ` : "", h("strong", {}, k.value), ` — ${k.reason}`)
                      )
                  )
              )
            : null,
        canRecord()
            ? h("section", { "aria-labelledby": "correct-title", id: "correct" }, h("h2", { id: "correct-title" }, "Correct a recorded fact"), correctForm(c, events))
            : null
    );
}

/* After recording: the outcome at the top of the re-read case, focused so that it is seen and read. */
function caseMessage(text) {
    const box = document.getElementById("case-message");
    const message = notice("success", text);
    message.setAttribute("tabindex", "-1");
    fill(box, message);
    setTimeout(() => message.focus(), 10);
}

function factList(c) {
    const rows = [
        ["Claim number", c.claimNumber],
        ["Employer", c.employer],
        ["Claims administrator", c.claimsAdministrator],
        ["Injured worker", c.injuredWorkerReference],
        ["Date of injury", fmtDay(c.dateOfInjury)],
        ["Coordinator", c.coordinator],
        c.withdrawnOn ? ["Withdrawn", fmtDay(c.withdrawnOn)] : null,
        c.closedOn ? ["Closed", fmtDay(c.closedOn)] : null,
    ].filter(Boolean);
    return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v || "—")]));
}

function rfaList(c) {
    if (!c.rfas.length) return h("p", { class: "empty" }, "No RFA recorded.");
    return c.rfas.map((r) =>
        h(
            "dl",
            { class: "facts" },
            h("dt", {}, "RFA"),
            h("dd", {}, h("strong", {}, r.rfaId), ` (${r.itemIds.join(", ")})`),
            h("dt", {}, "Received"),
            h("dd", {}, (r.receivedTimeOfDayKnown ? fmtInstant(r.receivedAt) : fmtDay(r.receivedAt.slice(0, 10)) + ", time unknown") + ` by ${r.transmission}`),
            h("dt", {}, "Physician"),
            h("dd", {}, r.physician),
            h("dt", {}, "Review"),
            h("dd", {}, [r.reviewType, r.expedited ? "expedited" : null, r.formulary ? "formulary drug" : null].filter(Boolean).join(", ")),
            r.informationRequestedOn ? [h("dt", {}, "Information requested"), h("dd", {}, fmtDay(r.informationRequestedOn))] : null,
            r.informationReceivedOn ? [h("dt", {}, "Information received"), h("dd", {}, fmtDay(r.informationReceivedOn))] : null,
            r.deferredOn ? [h("dt", {}, "Deferred"), h("dd", {}, fmtDay(r.deferredOn))] : null
        )
    );
}

function itemFacts(i) {
    const facts = [
        i.urOutcome ? `UR ${i.urOutcome}` + (i.urDecidedAt ? ` ${fmtInstant(i.urDecidedAt)}` : i.urDecidedOn ? ` ${fmtDay(i.urDecidedOn)}` : "") : null,
        i.authorizedPortion ? `authorized: ${i.authorizedPortion}` : null,
        i.physicianNotifiedAt ? `physician told ${fmtInstant(i.physicianNotifiedAt)}` : null,
        i.writtenDecisionServedOn ? `written decision served ${fmtDay(i.writtenDecisionServedOn)} by ${i.writtenDecisionServiceMethod}` : null,
        i.imrApplicationReceivedOn ? `IMR application received ${fmtDay(i.imrApplicationReceivedOn)}` : null,
        i.imrEligibleOn ? `eligible ${fmtDay(i.imrEligibleOn)}` : null,
        i.imrIneligibleOn ? `ineligible ${fmtDay(i.imrIneligibleOn)} (${i.ineligibilityReason})` : null,
        i.imrAssignedOn ? `assigned ${fmtDay(i.imrAssignedOn)} (${i.imrPriority})` : null,
        i.recordsReceivedOn ? `records received ${fmtDay(i.recordsReceivedOn)}` : null,
        i.imrDecision ? `IMR ${i.imrDecision} ${fmtDay(i.determinationDecidedOn)}` + (i.guideline ? ` (${i.guideline})` : "") : null,
        i.implementedOn ? `implemented ${fmtDay(i.implementedOn)}` : null,
        i.appealFiledOn ? `appeal filed ${fmtDay(i.appealFiledOn)}` : null,
        i.appealResolvedOn ? `appeal ${i.appealOutcome} ${fmtDay(i.appealResolvedOn)}` : null,
        i.importedFrom ? `from letter ${i.importedFrom}` : null,
    ];
    return facts.filter(Boolean).join("; ") || "—";
}

function itemTable(c) {
    if (!c.items.length) return h("p", { class: "empty" }, "No item yet.");
    return table(
        `${c.items.length} item${c.items.length === 1 ? "" : "s"}`,
        [
            { label: "Item", cell: (i) => i.itemId },
            { label: "Treatment", cell: (i) => i.description },
            { label: "State", cell: (i) => h("span", { class: "item-status" }, ITEM_STATUS[i.status] || i.status) },
            { label: "IMR case", cell: (i) => i.imrCaseNumber || "—" },
            { label: "What is recorded", cell: itemFacts },
        ],
        c.items,
        (i) => ({ "data-item-id": i.itemId })
    );
}

function deadlineCards(deadlines) {
    if (!deadlines.length) return h("p", { class: "empty" }, "No deadline: nothing recorded starts a clock yet.");
    const order = { missed: 0, pending: 1, "met-late": 2, met: 3, "not-applicable": 4, superseded: 5 };
    const sorted = deadlines.slice().sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9) || Date.parse(a.due) - Date.parse(b.due));
    return h(
        "ul",
        { class: "deadlines" },
        sorted.map((d) => {
            const running = d.status === "pending" || d.status === "missed";
            return h(
                "li",
                { class: "deadline status-" + d.status, "data-rule": d.rule, "data-status": d.status },
                h(
                    "div",
                    { class: "deadline-head" },
                    badge(d.status === "pending" && Date.parse(d.due) < Date.now() ? "overdue" : d.status, STATUS_WORDS[d.status] || d.status),
                    h("strong", { class: "rule" }, ruleWords(d.rule)),
                    h("code", { class: "rule-id" }, d.rule)
                ),
                h(
                    "p",
                    { class: "deadline-line" },
                    `Due ${fmtDue(d)}`,
                    running ? [" · ", timeLeftCell(d.due)] : null,
                    ` · ${partyWords(d.party)} must act`,
                    d.itemIds.length ? ` · items ${d.itemIds.join(", ")}` : "",
                    d.satisfiedBy ? ` · met by ${typeWords(d.satisfiedBy.eventType)} ${d.satisfiedBy.at ? fmtInstant(d.satisfiedBy.at) : fmtDay(d.satisfiedBy.on)}` : ""
                ),
                d.statusNote ? h("p", { class: "status-note" }, d.statusNote) : null,
                d.history ? h("p", { class: "status-note" }, d.history) : null,
                h(
                    "details",
                    { class: "explain" },
                    h("summary", {}, "How it was counted"),
                    h("p", {}, h("strong", {}, "Citation: "), d.citation, ` (confidence ${d.confidence})`),
                    h("p", {}, h("strong", {}, "Started by: "), d.trigger.description, d.trigger.at ? `, ${fmtInstant(d.trigger.at)}` : d.trigger.date ? `, ${fmtDay(d.trigger.date)}` : ""),
                    h("ol", { class: "explanation" }, d.explanation.map((line) => h("li", {}, line))),
                    d.assumptions.length ? [h("p", {}, h("strong", {}, "Assumptions")), h("ul", {}, d.assumptions.map((a) => h("li", {}, a)))] : null,
                    d.correctionNotes.length ? [h("p", {}, h("strong", {}, "Corrections")), h("ul", {}, d.correctionNotes.map((a) => h("li", {}, a)))] : null,
                    h("p", { class: "consequence" }, h("strong", {}, "If missed: "), d.consequenceIfMissed.summary || d.consequenceIfMissed.kind)
                )
            );
        })
    );
}

function timeline(c, events) {
    const imported = new Map(events.map((e) => [e.version, e.importedFrom]));
    return h(
        "ol",
        { class: "timeline", reversed: true },
        c.timeline
            .slice()
            .reverse()
            .map((t) =>
                h(
                    "li",
                    { "data-version": t.version, "data-type": t.type },
                    h("strong", {}, typeWords(t.type)),
                    h(
                        "div",
                        { class: "meta" },
                        `#${t.version} · recorded ${fmtInstant(t.recordedAt)} by `,
                        h("span", { class: "actor" }, t.actor || "unknown"),
                        t.importedFrom || imported.get(t.version) ? ` · from letter ${t.importedFrom || imported.get(t.version)}` : ""
                    )
                )
            )
    );
}

/* ---- Recording the next fact: only what the lifecycle allows now ------------------------- */

function field(label, input, hint) {
    const id = input.id || "f-" + Math.random().toString(36).slice(2);
    input.id = id;
    const hintId = hint ? id + "-hint" : null;
    if (hintId) input.setAttribute("aria-describedby", hintId);
    return h("div", { class: "field" + (input.tagName === "TEXTAREA" ? " wide" : "") }, h("label", { for: id }, label), input, hint ? h("span", { class: "hint", id: hintId }, hint) : null);
}

function dateInput(name, required) {
    return h("input", { type: "date", name, value: todayPacific(), max: todayPacific(), required: required !== false });
}

function instantInput(name) {
    return h("input", { type: "datetime-local", name, value: nowPacificMinute(), required: true });
}

function textInput(name, required, attrs) {
    return h("input", Object.assign({ type: "text", name, required: required !== false, maxlength: 200 }, attrs || {}));
}

function selectInput(name, options, selected) {
    return h("select", { name }, options.map((o) => (Array.isArray(o) ? h("option", { value: o[0], selected: o[0] === selected }, o[1]) : h("option", { value: o, selected: o === selected }, o))));
}

function itemChecks(legend, items) {
    return h(
        "fieldset",
        { class: "items-choice", "data-name": "itemIds" },
        h("legend", {}, legend),
        h(
            "div",
            { class: "checks" },
            items.map((i) => h("label", {}, h("input", { type: "checkbox", name: "itemIds", value: i.itemId, checked: true }), ` ${i.itemId}: ${i.description}`))
        )
    );
}

/* What may be recorded next on this case, as {key, label, fields(), build(form) -> [method, parameters]}. */
function nextFacts(c) {
    const facts = [];
    const items = c.items;
    const where = (pred) => items.filter(pred);
    const checkedItems = (form) => Array.from(form.querySelectorAll('input[name="itemIds"]:checked')).map((i) => i.value);
    const v = (form, name) => (form.elements[name] ? form.elements[name].value.trim() : "");
    const opt = (form, name) => v(form, name) || null;
    const add = (key, label, fields, build) => facts.push({ key, label, fields, build });
    const rfaSelect = (rfas) => field("RFA", selectInput("rfaId", rfas.map((r) => [r.rfaId, `${r.rfaId} (${r.itemIds.join(", ")})`])));

    if (c.isOpen) {
        const pendingRFAs = c.rfas.filter((r) => items.some((i) => i.rfaId === r.rfaId && i.status === "pendingUR"));
        if (pendingRFAs.length) {
            add("DecideUR", "UR decided", () => {
                const rows = where((i) => i.status === "pendingUR");
                return [
                    rfaSelect(pendingRFAs),
                    field("Decided at (Pacific)", instantInput("decidedAt")),
                    h(
                        "fieldset",
                        {},
                        h("legend", {}, "Outcome per item (items of the chosen RFA are sent)"),
                        rows.map((i) =>
                            h(
                                "div",
                                { class: "checks decision", "data-item-id": i.itemId, "data-rfa-id": i.rfaId },
                                field(`${i.itemId}: ${i.description}`, selectInput("outcome-" + i.itemId, [["approved", "Approved"], ["modified", "Modified"], ["denied", "Denied"]], "denied")),
                                field(`Authorized portion of ${i.itemId} (when modified)`, textInput("portion-" + i.itemId, false, { maxlength: 2000 }))
                            )
                        )
                    ),
                ];
            }, (form) => {
                const rfaId = v(form, "rfaId");
                const decisions = where((i) => i.status === "pendingUR" && i.rfaId === rfaId).map((i) => ({
                    itemId: i.itemId,
                    outcome: v(form, "outcome-" + i.itemId),
                    authorizedPortion: v(form, "outcome-" + i.itemId) === "modified" ? opt(form, "portion-" + i.itemId) : null,
                }));
                return ["DecideUR", { caseId: c.caseId, rfaId, decidedAt: v(form, "decidedAt"), decisions }];
            });
            const askable = pendingRFAs.filter((r) => !r.informationRequestedOn);
            if (askable.length) {
                add("RequestInformation", "UR asked the physician for more information", () => [
                    rfaSelect(askable),
                    field("Requested on", dateInput("requestedOn")),
                    field("What is needed", h("textarea", { name: "whatIsNeeded", required: true, maxlength: 2000 })),
                ], (form) => ["RequestInformation", { caseId: c.caseId, rfaId: v(form, "rfaId"), requestedOn: v(form, "requestedOn"), whatIsNeeded: v(form, "whatIsNeeded") }]);
            }
            const awaited = pendingRFAs.filter((r) => r.informationRequestedOn && !r.informationReceivedOn);
            if (awaited.length) {
                add("ReceiveInformation", "The information UR asked for arrived", () => [rfaSelect(awaited), field("Received on", dateInput("receivedOn"))],
                    (form) => ["ReceiveInformation", { caseId: c.caseId, rfaId: v(form, "rfaId"), receivedOn: v(form, "receivedOn") }]);
            }
            const deferrable = pendingRFAs.filter((r) => !r.deferredOn);
            if (deferrable.length) {
                add("DeferUR", "UR deferred: liability is disputed", () => [
                    rfaSelect(deferrable),
                    field("Deferred on", dateInput("deferredOn")),
                    field("The liability dispute", h("textarea", { name: "liabilityDispute", required: true, maxlength: 2000 })),
                ], (form) => ["DeferUR", { caseId: c.caseId, rfaId: v(form, "rfaId"), deferredOn: v(form, "deferredOn"), liabilityDispute: v(form, "liabilityDispute") }]);
            }
        }
        const decided = (i) => ["approved", "modified", "denied"].includes(i.status);
        const unnotified = where((i) => decided(i) && !i.physicianNotifiedAt && !i.importedFrom);
        if (unnotified.length) {
            add("NotifyPhysician", "The physician was told of the UR decision", () => [
                itemChecks("Items", unnotified),
                field("Told at (Pacific)", instantInput("notifiedAt")),
                field("How", selectInput("method", SERVICE_METHODS, "fax")),
            ], (form) => ["NotifyPhysician", { caseId: c.caseId, itemIds: checkedItems(form), notifiedAt: v(form, "notifiedAt"), method: v(form, "method") }]);
        }
        const unserved = where((i) => decided(i) && !i.writtenDecisionServedOn && !i.importedFrom);
        if (unserved.length) {
            add("ServeWrittenDecision", "The written UR decision was served", () => [
                itemChecks("Items", unserved),
                field("Served on", dateInput("servedOn")),
                field("How", selectInput("method", SERVICE_METHODS, "mail")),
                field("Served to", selectInput("destination", [["california", "An address in California"], ["other-state", "Elsewhere in the US"], ["outside-us", "Outside the US"]])),
            ], (form) => ["ServeWrittenDecision", { caseId: c.caseId, itemIds: checkedItems(form), servedOn: v(form, "servedOn"), method: v(form, "method"), destination: v(form, "destination") }]);
        }
        const disputable = where((i) => (i.status === "denied" || i.status === "modified") && (i.writtenDecisionServedOn || i.importedFrom));
        if (disputable.length) {
            add("ReceiveIMRApplication", "The IMR application was received", () => [itemChecks("Items disputed", disputable), field("Received on", dateInput("receivedOn"))],
                (form) => ["ReceiveIMRApplication", { caseId: c.caseId, itemIds: checkedItems(form), receivedOn: v(form, "receivedOn") }]);
        }
        const applied = where((i) => i.status === "imrApplied");
        if (applied.length) {
            const unasked = applied.filter((i) => !i.eligibilityInformationRequestedOn);
            if (unasked.length) {
                add("RequestEligibilityInformation", "The Administrative Director asked for eligibility information", () => [
                    itemChecks("Items", unasked),
                    field("Request received on", dateInput("requestedOn")),
                    field("What is requested", h("textarea", { name: "whatIsRequested", required: true, maxlength: 2000 })),
                    h("fieldset", { "data-name": "requestedFrom" }, h("legend", {}, "Asked of"), h("div", { class: "checks" },
                        h("label", {}, h("input", { type: "checkbox", name: "requestedFrom", value: "claims-administrator", checked: true }), " Claims administrator"),
                        h("label", {}, h("input", { type: "checkbox", name: "requestedFrom", value: "employee" }), " Employee"))),
                ], (form) => ["RequestEligibilityInformation", {
                    caseId: c.caseId, itemIds: checkedItems(form), requestedOn: v(form, "requestedOn"), whatIsRequested: v(form, "whatIsRequested"),
                    requestedFrom: Array.from(form.querySelectorAll('input[name="requestedFrom"]:checked')).map((i) => i.value),
                }]);
            }
            const unanswered = applied.filter((i) => i.eligibilityInformationRequestedOn && !i.eligibilityInformationSentOn);
            if (unanswered.length) {
                add("SendEligibilityInformation", "The eligibility information was sent", () => [itemChecks("Items", unanswered), field("Sent on", dateInput("sentOn"))],
                    (form) => ["SendEligibilityInformation", { caseId: c.caseId, itemIds: checkedItems(form), sentOn: v(form, "sentOn") }]);
            }
            add("FindEligible", "The application was found eligible", () => [itemChecks("Items", applied), field("Found on", dateInput("foundOn"))],
                (form) => ["FindEligible", { caseId: c.caseId, itemIds: checkedItems(form), foundOn: v(form, "foundOn") }]);
            add("FindIneligible", "The application was found ineligible", () => [
                itemChecks("Items", applied),
                field("Found on", dateInput("foundOn")),
                field("Reason", selectInput("reason", [["late", "Late"], ["no-ur-denial", "No UR denial"], ["untimely-ur", "UR was untimely"], ["duplicate", "Duplicate"], ["already-decided", "Already decided"], ["other", "Other"]])),
                field("Detail", h("textarea", { name: "detail", maxlength: 2000 })),
            ], (form) => ["FindIneligible", { caseId: c.caseId, itemIds: checkedItems(form), foundOn: v(form, "foundOn"), reason: v(form, "reason"), detail: opt(form, "detail") }]);
        }
        const eligible = where((i) => i.status === "imrEligible");
        if (eligible.length) {
            add("AssignIMR", "The IMRO was assigned", () => [
                itemChecks("Items", eligible),
                field("IMR case number", textInput("imrCaseNumber", true, { pattern: "CM\\d{2}-\\d{7}", placeholder: "CM24-0012345" }), "CM, two digits, a hyphen and seven digits"),
                field("Assigned on", dateInput("assignedOn")),
                field("Priority", selectInput("priority", ["standard", "expedited"])),
                field("Notice sent by", selectInput("noticeMethod", [["", "Not known"], ["mail", "Mail"], ["electronic", "Electronically"]])),
            ], (form) => ["AssignIMR", { caseId: c.caseId, itemIds: checkedItems(form), imrCaseNumber: v(form, "imrCaseNumber").toUpperCase(), assignedOn: v(form, "assignedOn"), priority: v(form, "priority"), noticeMethod: opt(form, "noticeMethod") }]);
        }
        const assigned = where((i) => i.status === "imrAssigned");
        const numbers = [...new Set(assigned.map((i) => i.imrCaseNumber))];
        if (numbers.length) {
            const withoutRecords = [...new Set(assigned.filter((i) => !i.recordsReceivedOn).map((i) => i.imrCaseNumber))];
            if (withoutRecords.length) {
                add("ReceiveRecords", "The IMRO received the medical records", () => [field("IMR case", selectInput("imrCaseNumber", withoutRecords)), field("Received on", dateInput("receivedOn"))],
                    (form) => ["ReceiveRecords", { caseId: c.caseId, imrCaseNumber: v(form, "imrCaseNumber"), receivedOn: v(form, "receivedOn") }]);
            }
            add("RecordDetermination", "The IMRO's Final Determination", () => [
                field("IMR case", selectInput("imrCaseNumber", numbers)),
                field("Decided on", dateInput("decidedOn")),
                field("Mailed on", dateInput("mailedOn", false), "Leave empty when not known"),
                field("Reviewer specialty", textInput("reviewerSpecialty")),
                h("fieldset", {}, h("legend", {}, "Decision per item (items of the chosen IMR case are sent)"),
                    assigned.map((i) => h("div", { class: "checks decision", "data-item-id": i.itemId },
                        field(`${i.itemId}: ${i.description}`, selectInput("decision-" + i.itemId, [["upheld", "Upheld"], ["overturned", "Overturned"]])),
                        field(`Guideline for ${i.itemId}`, textInput("guideline-" + i.itemId, true, { maxlength: 2000 })),
                        field(`Rationale for ${i.itemId}`, h("textarea", { name: "rationale-" + i.itemId, required: true, maxlength: 2000 }))))),
            ], (form) => {
                const number = v(form, "imrCaseNumber");
                return ["RecordDetermination", {
                    caseId: c.caseId, imrCaseNumber: number, decidedOn: v(form, "decidedOn"), mailedOn: opt(form, "mailedOn"), reviewerSpecialty: v(form, "reviewerSpecialty"),
                    items: assigned.filter((i) => i.imrCaseNumber === number).map((i) => ({ itemId: i.itemId, decision: v(form, "decision-" + i.itemId), guideline: v(form, "guideline-" + i.itemId), rationaleSummary: v(form, "rationale-" + i.itemId) })),
                }];
            });
        }
        const overturned = where((i) => i.status === "overturned");
        if (overturned.length) {
            add("RecordImplementation", "An overturned item was implemented", () => [
                field("Item", selectInput("itemId", overturned.map((i) => [i.itemId, `${i.itemId}: ${i.description}`]))),
                field("Implemented on", dateInput("implementedOn")),
                field("How", selectInput("kind", [["authorized", "Services authorized"], ["reimbursed", "Services already given were paid"]])),
            ], (form) => ["RecordImplementation", { caseId: c.caseId, itemId: v(form, "itemId"), implementedOn: v(form, "implementedOn"), kind: v(form, "kind") }]);
        }
        const appealable = where((i) => ["upheld", "overturned", "implemented"].includes(i.status) && !i.appealFiledOn);
        if (appealable.length) {
            add("FileAppeal", "A WCAB appeal was filed", () => [itemChecks("Items", appealable), field("Filed on", dateInput("filedOn")), field("Filed by", selectInput("filedBy", [["employee", "Employee"], ["claims-administrator", "Claims administrator"]]))],
                (form) => ["FileAppeal", { caseId: c.caseId, itemIds: checkedItems(form), filedOn: v(form, "filedOn"), filedBy: v(form, "filedBy") }]);
        }
        const appealed = where((i) => i.status === "appealed");
        if (appealed.length) {
            add("ResolveAppeal", "The WCAB resolved the appeal", () => [itemChecks("Items", appealed), field("Resolved on", dateInput("resolvedOn")), field("Outcome", selectInput("outcome", [["dismissed", "Dismissed"], ["denied", "Denied"], ["remanded", "Remanded to IMR"]]))],
                (form) => ["ResolveAppeal", { caseId: c.caseId, itemIds: checkedItems(form), resolvedOn: v(form, "resolvedOn"), outcome: v(form, "outcome") }]);
        }
        add("ReceiveRFA", "A new RFA was received", () => [
            field("RFA id", textInput("rfaId", true, { maxlength: 64, value: "R" + (c.rfas.length + 1) })),
            field("Received at (Pacific)", instantInput("receivedAt")),
            h("label", { class: "check" }, h("input", { type: "checkbox", name: "receivedTimeOfDayKnown", checked: true }), " The time of day is known"),
            field("Sent by", selectInput("transmission", ["fax", "email", "mail"])),
            field("Physician", textInput("physician")),
            field("Treatment recommended on", dateInput("treatmentRecommendedOn", false), "Leave empty when not known"),
            field("Review", selectInput("reviewType", ["prospective", "concurrent", "retrospective"])),
            h("label", { class: "check" }, h("input", { type: "checkbox", name: "expedited" }), " Expedited"),
            h("label", { class: "check" }, h("input", { type: "checkbox", name: "formulary" }), " Formulary drug"),
            field("Items, one per line: an id, then the treatment", h("textarea", { name: "items", required: true, placeholder: "I3 Physical therapy x8" })),
        ], (form) => ["ReceiveRFA", {
            caseId: c.caseId, rfaId: v(form, "rfaId"), receivedAt: v(form, "receivedAt"), receivedTimeOfDayKnown: form.elements.receivedTimeOfDayKnown.checked,
            transmission: v(form, "transmission"), physician: v(form, "physician"), treatmentRecommendedOn: opt(form, "treatmentRecommendedOn"),
            reviewType: v(form, "reviewType"), expedited: form.elements.expedited.checked, formulary: form.elements.formulary.checked,
            items: v(form, "items").split("\n").map((l) => l.trim()).filter(Boolean).map((l) => { const m = /^(\S+)\s+(.*)$/.exec(l); return m ? { id: m[1], description: m[2] } : { id: l, description: l }; }),
        }]);
        add("Withdraw", "The dispute was withdrawn", () => [field("Withdrawn on", dateInput("withdrawnOn")), field("Reason", h("textarea", { name: "reason", required: true, maxlength: 2000 }))],
            (form) => ["Withdraw", { caseId: c.caseId, withdrawnOn: v(form, "withdrawnOn"), reason: v(form, "reason") }]);
        add("Close", "The case was closed", () => [field("Closed on", dateInput("closedOn")), field("Reason", h("textarea", { name: "reason", required: true, maxlength: 2000 }))],
            (form) => ["Close", { caseId: c.caseId, closedOn: v(form, "closedOn"), reason: v(form, "reason") }]);
    }
    add("Reassign", "The case moves to another coordinator", () => [field("Coordinator (user name)", textInput("coordinator", true, { maxlength: 64, pattern: "[A-Za-z0-9._@-]+" }))],
        (form) => ["Reassign", { caseId: c.caseId, coordinator: v(form, "coordinator") }]);
    add("AddNote", "A note", () => [field("Note", h("textarea", { name: "text", required: true, maxlength: 10000 }))], (form) => ["AddNote", { caseId: c.caseId, text: v(form, "text") }]);
    return facts;
}

function recordForm(c) {
    const facts = nextFacts(c);
    const body = h("div", { class: "record-fields" });
    const message = h("div", { class: "record-message" });
    const choice = h(
        "select",
        { id: "record-fact", name: "fact", onchange: () => show() },
        facts.map((f, i) => h("option", { value: f.key, selected: i === 0 }, f.label))
    );
    const show = () => {
        const fact = facts.find((f) => f.key === choice.value);
        fill(body, fact.fields());
    };
    const form = h(
        "form",
        {
            class: "record",
            "aria-labelledby": "record-title",
            onsubmit: async (e) => {
                e.preventDefault();
                const fact = facts.find((f) => f.key === choice.value);
                const [method, parameters] = fact.build(form);
                parameters.commandId = form.dataset.commandId;
                const button = form.querySelector("button[type=submit]");
                button.disabled = true;
                try {
                    const reply = await call("io.imr.Cases." + method, parameters);
                    const text = `Recorded ${reply.recorded.events.map(typeWords).join(", ")} on case ${c.caseId} (version ${reply.recorded.version}).`;
                    announce(text);
                    await renderCase(document.querySelector("#main > .view"), [c.caseId]);
                    caseMessage(text);
                } catch (err) {
                    button.disabled = false;
                    fill(message, notice("error", errorText(err)));
                }
            },
        },
        h("div", { class: "field wide" }, h("label", { for: "record-fact" }, "What happened"), choice),
        body,
        h("div", { class: "field" }, h("button", { type: "submit", class: "btn btn-primary", id: "record-submit" }, "Record")),
        message
    );
    // One id for this form's command: sending it twice (a double click, a retry) records it once.
    form.dataset.commandId = newCommandId();
    show();
    return [
        c.isOpen ? null : h("p", { class: "lead" }, "The case has ended: only notes, a new coordinator and corrections can be recorded."),
        form,
    ];
}

/* ---- Correcting one field of an earlier event -------------------------------------------- */

function correctForm(c, events) {
    const correctable = events.filter((e) => Object.keys(e.payload || {}).some((k) => CORRECTABLE[k]));
    if (!correctable.length) return h("p", { class: "empty" }, "Nothing recorded here has a field that can be corrected.");
    const eventSelect = h(
        "select",
        { id: "correct-event", name: "version", onchange: () => showFields() },
        correctable.map((e) => h("option", { value: e.version }, `#${e.version} ${typeWords(e.type)}`))
    );
    const fieldSelect = h("select", { id: "correct-field", name: "field", onchange: () => showValue() });
    const valueBox = h("div", { class: "field", id: "correct-value-box" });
    const message = h("div", { class: "correct-message" });
    const current = () => correctable.find((e) => String(e.version) === eventSelect.value);
    const showFields = () => {
        const e = current();
        fill(fieldSelect, Object.keys(e.payload).filter((k) => CORRECTABLE[k]).map((k) => h("option", { value: k }, camelWords(k))));
        showValue();
    };
    const showValue = () => {
        const e = current();
        const name = fieldSelect.value;
        const kind = CORRECTABLE[name];
        const was = e.payload[name];
        let input;
        if (kind === "date") input = h("input", { type: "date", id: "correct-value", name: "value", value: typeof was === "string" ? was : "", required: true });
        else if (kind === "instant") input = h("input", { type: "datetime-local", id: "correct-value", name: "value", value: nowPacificMinute(typeof was === "number" ? was * 1000 - Date.now() : 0), required: true });
        else if (kind === "flag") input = selectInput("value", [["true", "Yes"], ["false", "No"]], String(!!was));
        else input = h("input", { type: "text", id: "correct-value", name: "value", value: was == null ? "" : String(was), required: true, maxlength: 200 });
        input.id = "correct-value";
        fill(valueBox, h("label", { for: "correct-value" }, `New value (${kind === "instant" ? "Pacific time" : kind})`), input);
    };
    const form = h(
        "form",
        {
            class: "correct",
            "aria-labelledby": "correct-title",
            onsubmit: async (e) => {
                e.preventDefault();
                const name = fieldSelect.value;
                const kind = CORRECTABLE[name];
                const raw = form.elements.value.value.trim();
                const value = { kind, value: kind === "flag" ? raw === "true" : raw };
                const button = form.querySelector("button[type=submit]");
                button.disabled = true;
                try {
                    const reply = await call("io.imr.Cases.Correct", {
                        caseId: c.caseId,
                        version: parseInt(eventSelect.value, 10),
                        field: name,
                        value,
                        reason: form.elements.reason.value.trim(),
                        commandId: form.dataset.commandId,
                    });
                    const shown = kind === "flag" ? (value.value ? "yes" : "no") : raw;
                    const text =
                        `Correction recorded (version ${reply.recorded.version}): “${camelWords(name)}” of ` +
                        `#${eventSelect.value} ${typeWords(current().type)} is now ${shown}. Every deadline was counted again.`;
                    announce(text);
                    await renderCase(document.querySelector("#main > .view"), [c.caseId]);
                    caseMessage(text);
                } catch (err) {
                    button.disabled = false;
                    fill(message, notice("error", errorText(err)));
                }
            },
        },
        h("div", { class: "field" }, h("label", { for: "correct-event" }, "Recorded fact"), eventSelect),
        h("div", { class: "field" }, h("label", { for: "correct-field" }, "Field"), fieldSelect),
        valueBox,
        h("div", { class: "field wide" }, h("label", { for: "correct-reason" }, "Reason for the correction"), h("textarea", { id: "correct-reason", name: "reason", required: true, maxlength: 2000 })),
        h("div", { class: "field" }, h("button", { type: "submit", class: "btn btn-primary", id: "correct-submit" }, "Record the correction")),
        message
    );
    form.dataset.commandId = newCommandId();
    showFields();
    return [h("p", { class: "lead" }, "The original stays in the log; the correction is recorded with your name and reason, and every deadline is counted again."), form];
}

/* ---- Import letters --------------------------------------------------------------------- */

/* imr-ctl through cockpit.spawn: its output, or an error whose message is what it printed on
 * standard error; `output` on the error holds standard output (imr-ctl prints JSON there even
 * when it exits non-zero). */
function imrCtl(args) {
    return new Promise((resolve, reject) => {
        cockpit.spawn([config.imrCtl].concat(args), { err: "message", environ: ["LC_ALL=C.UTF-8"] }).then(
            (output) => resolve(output),
            (ex, output) => {
                ex.output = output;
                reject(ex);
            }
        );
    });
}

const letters = { dir: null, files: [] }; // files: {name, path, facts, problem, outcome}

async function removeLetters() {
    if (letters.dir) {
        const dir = letters.dir;
        letters.dir = null;
        try {
            await cockpit.spawn(["rm", "-rf", "--", dir]);
        } catch (e) {
            console.warn("could not remove", dir, e);
        }
    }
    letters.files = [];
}

function safeName(name, used) {
    let base = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "") || "letter";
    if (!/\.(pdf|txt)$/i.test(base)) base += ".txt";
    let candidate = base;
    for (let n = 2; used.has(candidate); n++) candidate = `${n}-${base}`;
    used.add(candidate);
    return candidate;
}

async function renderImport(main) {
    const input = h("input", { type: "file", id: "letter-files", multiple: true, accept: ".pdf,.txt,application/pdf,text/plain" });
    const results = h("div", { id: "letters", "aria-live": "polite" });
    const zone = h(
        "div",
        { class: "dropzone", id: "dropzone" },
        h("p", {}, "Drop IMR Final Determination letters (PDF or text) here, or choose them:"),
        h("label", { for: "letter-files" }, "Letters "),
        input
    );
    zone.addEventListener("dragover", (e) => {
        e.preventDefault();
        zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
        e.preventDefault();
        zone.classList.remove("over");
        readLetters(Array.from(e.dataTransfer.files), results);
    });
    input.addEventListener("change", () => readLetters(Array.from(input.files), results));
    fill(
        main,
        pageTitle("Import letters"),
        h(
            "p",
            { class: "lead" },
            "imr reads each letter as ",
            h("code", {}, "imr-ctl import"),
            " does, shows what it carries, and records it only when you say so: into the case whose items carry its IMR case number, or a new case named by that number."
        ),
        canRecord() ? null : h("p", { class: "notice notice-info" }, "You can read letters here; recording them needs the coordinator role."),
        zone,
        results
    );
    if (letters.files.length) showLetters(results);
}

async function readLetters(files, results) {
    await removeLetters();
    if (!files.length) return;
    fill(results, h("p", { class: "loading" }, `Reading ${files.length} letter${files.length === 1 ? "" : "s"}…`));
    try {
        letters.dir = (await cockpit.spawn(["mktemp", "-d", "--tmpdir", "imr-letters-XXXXXX"])).trim();
        const used = new Set();
        for (const file of files) {
            const name = safeName(file.name, used);
            const path = letters.dir + "/" + name;
            const bytes = new Uint8Array(await file.arrayBuffer());
            await cockpit.file(path, { binary: true }).replace(bytes);
            letters.files.push({ name: file.name, path, facts: null, problem: null, outcome: null });
        }
        for (const letter of letters.files) {
            try {
                letter.facts = JSON.parse(await imrCtl(["import", "--dry-run", "--json", letter.path]))[0];
            } catch (e) {
                letter.problem = (e.message || String(e)).replace(letter.path, letter.name).replace(/^imr-ctl: import: /, "");
            }
        }
        showLetters(results);
    } catch (e) {
        fill(results, notice("error", "The letters could not be read: " + errorText(e)));
    }
}

function showLetters(results) {
    const readable = letters.files.filter((l) => l.facts && !l.outcome);
    const force = h("input", { type: "checkbox", id: "letters-force", name: "force" });
    const record = h(
        "button",
        { type: "button", class: "btn btn-primary", id: "letters-record", onclick: () => recordLetters(results, force.checked) },
        `Record ${readable.length} letter${readable.length === 1 ? "" : "s"}`
    );
    fill(
        results,
        h("h2", {}, "The letters"),
        letters.files.map((l) => letterCard(l)),
        canRecord() && readable.length
            ? h(
                  "div",
                  { class: "actions" },
                  record,
                  h("label", { class: "check", for: "letters-force" }, force, " Where a letter contradicts the case, record corrections instead of refusing it")
              )
            : null
    );
}

function letterCard(l) {
    const f = l.facts;
    const o = l.outcome;
    return h(
        "article",
        { class: "letter", "data-file": l.name, "data-status": o ? o.status : f ? "read" : "unreadable" },
        h("h3", {}, l.name, f ? ` — ${f.case_number}` : ""),
        l.problem ? notice("error", l.problem) : null,
        f
            ? [
                  h(
                      "dl",
                      { class: "facts" },
                      [
                          ["IMR case number", f.case_number],
                          ["Decided on", fmtDay(f.decision_date)],
                          ["Assigned on", fmtDay(f.date_assigned)],
                          ["Application received", fmtDay(f.application_received)],
                          ["UR denial", fmtDay(f.ur_denial_date)],
                          ["Date of injury", fmtDay(f.date_of_injury)],
                          ["Priority", f.priority || "—"],
                          ["Reviewer", f.reviewer_specialty || "—"],
                      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])
                  ),
                  table(
                      `${f.items.length} disputed item${f.items.length === 1 ? "" : "s"}`,
                      [
                          { label: "Disputed treatment", cell: (i) => i.disputed },
                          { label: "Decision", cell: (i) => badge(i.decision === "overturned" ? "met" : "missed", i.decision) },
                          { label: "Guideline", cell: (i) => i.guideline || "—" },
                      ],
                      f.items
                  ),
                  f.warnings.length ? h("ul", { class: "warnings" }, f.warnings.map((w) => h("li", {}, w))) : null,
              ]
            : null,
        o
            ? h(
                  "div",
                  { class: "outcome" },
                  notice(
                      o.status === "refused" ? "error" : "success",
                      {
                          opened: "Recorded into a new case ",
                          recorded: "Recorded into case ",
                          corrected: "Recorded, with corrections, into case ",
                          "already-recorded": "Already recorded in case ",
                          refused: "Refused: ",
                      }[o.status] || o.status + " ",
                      o.status === "refused" ? o.message : caseLink(o.case_id),
                      o.events && o.events.length ? ` (${o.events.map(typeWords).join(", ")})` : ""
                  ),
                  o.differences && o.differences.length
                      ? h("ul", {}, o.differences.map((d) => h("li", {}, `${camelWords(d.field)}${d.item_id ? " of " + d.item_id : ""}: recorded ${d.recorded}, letter ${d.letter}`)))
                      : null
              )
            : null
    );
}

async function recordLetters(results, force) {
    const todo = letters.files.filter((l) => l.facts && !l.outcome);
    const button = document.getElementById("letters-record");
    if (button) button.disabled = true;
    let output;
    try {
        output = await imrCtl(["import", "--json", "--socket", config.socket].concat(force ? ["--force"] : [], todo.map((l) => l.path)));
    } catch (e) {
        // 1: a letter was refused; the others were recorded and every outcome is on standard output.
        output = e.output;
        if (!output) {
            fill(results, notice("error", "imr-ctl import failed: " + (e.message || e)));
            return;
        }
    }
    for (const outcome of JSON.parse(output)) {
        const letter = todo.find((l) => l.path === outcome.file);
        if (letter) letter.outcome = outcome;
    }
    const done = todo.filter((l) => l.outcome && l.outcome.status !== "refused").length;
    announce(`${done} of ${todo.length} letters recorded.`);
    showLetters(results);
    // The copies are needed only while a letter may still be recorded (again, with corrections).
    if (letters.files.every((l) => !l.facts || (l.outcome && l.outcome.status !== "refused"))) {
        const dir = letters.dir;
        letters.dir = null;
        if (dir) cockpit.spawn(["rm", "-rf", "--", dir]).catch((e) => console.warn("could not remove", dir, e));
    }
}

/* ---- Calendar ---------------------------------------------------------------------------- */

function renderCalendar(main) {
    const message = h("div", { id: "calendar-message", "aria-live": "polite" });
    const button = h("button", { type: "button", class: "btn btn-primary", id: "calendar-download" }, "Download my deadlines (.ics)");
    button.addEventListener("click", async () => {
        button.disabled = true;
        fill(message, h("p", { class: "loading" }, "Exporting…"));
        try {
            const ics = await imrCtl(["export", "ics", "--mine", "--socket", config.socket]);
            const events = (ics.match(/^BEGIN:VEVENT/gm) || []).length;
            const url = URL.createObjectURL(new Blob([ics], { type: "text/calendar" }));
            const name = `imr-deadlines-${state.user || "mine"}.ics`;
            const link = h("a", { href: url, download: name, id: "calendar-link" }, `Save ${name} again`);
            fill(message, notice("success", `${events} deadline${events === 1 ? "" : "s"} in ${name}. `), h("p", {}, link));
            link.click();
        } catch (e) {
            fill(message, notice("error", "The export failed: " + (e.message || e)));
        } finally {
            button.disabled = false;
        }
    });
    fill(
        main,
        pageTitle("Calendar"),
        h(
            "p",
            { class: "lead" },
            "Every running deadline of your cases as an iCalendar file, with alarms at the times the daemon alerts. Import it into your calendar; importing a newer file updates the events instead of duplicating them. Day deadlines are all-day events on their due date; hour deadlines are timed events (Pacific time)."
        ),
        button,
        message
    );
}

start();
