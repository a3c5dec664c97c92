/* A Varlink client over a Cockpit stream channel to a Unix socket.
 *
 * Varlink messages are JSON objects, each ended by a NUL byte. The channel is binary so that
 * a multi-byte UTF-8 character split between two chunks is put together again before it is
 * decoded. Calls on one connection are answered in order, so the pending calls are a queue;
 * a call with "more" keeps the head of the queue until a reply comes without "continues".
 */
"use strict";

class VarlinkError extends Error {
    /* name: the Varlink error ("io.imr.Cases.CaseNotFound"), or "cockpit.<problem>" when the
     * channel itself failed (not-found: no socket; access-denied: the socket's permissions). */
    constructor(name, parameters) {
        super(parameters && parameters.message ? parameters.message : name);
        this.name = name;
        this.parameters = parameters || {};
    }

    get short() {
        return this.name.split(".").pop();
    }
}

class VarlinkConnection {
    constructor(path) {
        this.path = path;
        this.pending = [];
        this.chunks = [];
        this.problem = null;
        this.onclose = null;
        this.encoder = new TextEncoder();
        this.decoder = new TextDecoder("utf-8");
        this.channel = cockpit.channel({ payload: "stream", unix: path, binary: true });
        this.channel.addEventListener("message", (event, data) => this.received(data));
        this.channel.addEventListener("close", (event, options) => this.closed(options || {}));
    }

    received(data) {
        let start = 0;
        for (let i = 0; i < data.length; i++) {
            if (data[i] !== 0) continue;
            this.chunks.push(data.subarray(start, i));
            const bytes = VarlinkConnection.concat(this.chunks);
            this.chunks = [];
            start = i + 1;
            this.dispatch(bytes);
        }
        if (start < data.length) this.chunks.push(data.slice(start));
    }

    static concat(chunks) {
        if (chunks.length === 1) return chunks[0];
        const length = chunks.reduce((n, c) => n + c.length, 0);
        const out = new Uint8Array(length);
        let offset = 0;
        for (const c of chunks) {
            out.set(c, offset);
            offset += c.length;
        }
        return out;
    }

    dispatch(bytes) {
        let message;
        try {
            message = JSON.parse(this.decoder.decode(bytes));
        } catch (e) {
            this.fail("cockpit.protocol-error", { message: "The daemon sent a reply that is not JSON: " + e });
            return;
        }
        const call = this.pending[0];
        if (!call) return;
        if (message.error) {
            this.pending.shift();
            call.reject(new VarlinkError(message.error, message.parameters));
            return;
        }
        const parameters = message.parameters || {};
        if (call.onReply) {
            if (!message.continues) this.pending.shift();
            try {
                call.onReply(parameters, !!message.continues);
            } catch (e) {
                console.error(e);
            }
            if (!message.continues) call.resolve(parameters);
        } else {
            this.pending.shift();
            call.resolve(parameters);
        }
    }

    closed(options) {
        this.problem = options.problem || "disconnected";
        const messages = {
            "not-found": "There is no imr daemon socket at " + this.path + ".",
            "access-denied": "You may not connect to " + this.path + ".",
            disconnected: "The imr daemon closed the connection.",
        };
        this.fail("cockpit." + this.problem, {
            message: messages[this.problem] || "The connection to the imr daemon failed (" + this.problem + ").",
        });
        if (this.onclose) this.onclose(this.problem);
    }

    fail(name, parameters) {
        const pending = this.pending;
        this.pending = [];
        for (const call of pending) call.reject(new VarlinkError(name, parameters));
    }

    /* One call. onReply, when given, makes it a "more" call: it gets every reply (parameters,
     * continues) and the promise resolves with the last. */
    call(method, parameters, onReply) {
        if (this.problem) {
            return Promise.reject(new VarlinkError("cockpit." + this.problem, { message: "Not connected to the imr daemon." }));
        }
        const message = { method, parameters: VarlinkConnection.prune(parameters || {}) };
        if (onReply) message.more = true;
        return new Promise((resolve, reject) => {
            this.pending.push({ resolve, reject, onReply });
            const bytes = this.encoder.encode(JSON.stringify(message));
            const framed = new Uint8Array(bytes.length + 1);
            framed.set(bytes);
            this.channel.send(framed);
        });
    }

    /* Varlink's optional parameters are left out rather than sent as null. */
    static prune(parameters) {
        const out = {};
        for (const [k, v] of Object.entries(parameters)) if (v !== null && v !== undefined) out[k] = v;
        return out;
    }

    close() {
        if (!this.problem) this.channel.close();
    }
}
