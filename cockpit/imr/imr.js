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

function fmtInstant(text) {
    if (!text) return "—";
    const t = Date.parse(text);
    return isNaN(t) ? text : instantFormat.format(new Date(t));
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
                            h(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, "data-label": c.label }, c.cell(r))
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
function notice(kind, text) {
    return h("p", { class: "notice notice-" + kind, role: kind === "error" ? "alert" : "status" }, text);
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
    try {
        await call("io.imr.Admin.Status", {});
    } catch (e) {
        if (e instanceof VarlinkError && (e.short === "PermissionDenied" || e.name === "cockpit.access-denied")) {
            state.role = "none";
            showOutsider();
            return;
        }
        showProblem(errorText(e) + " Is imr-daemon running? (systemctl status imr-daemon)");
        return;
    }
    // The daemon alone knows the user's role. Acknowledging no alert is a coordinator's call
    // that records nothing: a reader is refused it before anything is looked at.
    try {
        await call("io.imr.Alerts.Acknowledge", { alertId: "-" });
        state.role = "coordinator";
    } catch (e) {
        state.role = e instanceof VarlinkError && e.short === "PermissionDenied" ? "reader" : "coordinator";
    }
    document.body.dataset.role = state.role;
    document.getElementById("nav").hidden = false;
    document.getElementById("who").textContent =
        (state.user || "?") + (state.role === "reader" ? " · reader: you can see everything and change nothing" : " · coordinator");
    cockpit.addEventListener("locationchanged", route);
    setInterval(refreshTimes, 30000);
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
    state.page = name;
    for (const a of document.querySelectorAll("#nav a")) {
        const current = a.dataset.page === name || (name === "case" && a.dataset.page === "cases");
        if (current) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
    }
    const main = document.getElementById("main");
    fill(main, h("p", { class: "loading" }, "Loading…"));
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
            h("div", { class: "section-head" }, h("h2", { id: "alerts-title" }, "My open alerts"), live),
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
    }).catch((e) => {
        if (state.follow !== conn) return;
        live.textContent = "Live updates stopped: " + errorText(e) + " Reload the page to resume.";
        live.classList.remove("on");
    });
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
    const next = box.querySelector("button.ack");
    (next || document.getElementById("alerts-title")).focus && (next || box).focus();
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

function renderCase(main, rest) { fill(main, pageTitle("Case " + rest[0])); }
function renderImport(main) { fill(main, pageTitle("Import letters")); }
function renderCalendar(main) { fill(main, pageTitle("Calendar")); }

start();
