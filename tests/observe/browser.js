// The observer's page in a real browser: Debian's chromium, headless,
// driven over the DevTools protocol with a small WebSocket client of our
// own (no npm packages). It loads the page, waits for the tree to show
// the running supervisors, clicks a worker, clicks the kill button, and
// waits for the worker to come back under a new pid. Any script error on
// the page fails it.
//
//   node browser.js --url http://127.0.0.1:PORT/ --sup LABEL --worker ID
//                   [--shot FILE.png] [--timeout SECONDS]
//
// Exit status: 0 passed, 1 failed, 77 skipped (no chromium).
"use strict";
const { spawn, execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const deadline = Date.now() + 1000 * Number(args.timeout || 90);

function fail(why) {
  console.error("browser test: FAIL: " + why);
  cleanup();
  process.exit(1);
}
function skip(why) {
  console.error("browser test: SKIP: " + why);
  process.exit(77);
}
function note(what) { console.error("browser test: " + what); }

// ---- chromium ---------------------------------------------------------------

function findChromium() {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      return execFileSync("sh", ["-c", "command -v " + name]).toString().trim();
    } catch (e) { /* next */ }
  }
  return null;
}

let browser = null;
let profile = null;
function cleanup() {
  // The whole process group: the browser and every helper it started.
  if (browser) {
    try { process.kill(-browser.pid, "SIGKILL"); } catch (e) { /* gone */ }
  }
  browser = null;
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  profile = null;
}
process.on("exit", cleanup);

// Starts chromium on a free DevTools port; resolves with that port.
function launch(exe) {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "grove-browser-"));
  browser = spawn(exe, ["--headless=new", "--no-sandbox", "--disable-gpu",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0", "--user-data-dir=" + profile,
    "--window-size=1400,1000", "about:blank"],
    { stdio: ["ignore", "ignore", "pipe"], detached: true });
  return new Promise((resolve, reject) => {
    let err = "";
    browser.stderr.on("data", (d) => {
      err += d;
      const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(err);
      if (m) resolve(Number(m[1]));
    });
    browser.on("exit", (code) =>
      reject(new Error("chromium exited " + code + ": " + err)));
  });
}

function getJSON(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: p }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        try { resolve(JSON.parse(body)); } catch (e) { reject(e); }
      });
    }).on("error", reject);
  });
}

// ---- a WebSocket client (RFC 6455), enough for the DevTools protocol --------

function connectWS(url) {
  const u = new URL(url);
  const key = crypto.randomBytes(16).toString("base64");
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname,
      headers: { Connection: "Upgrade", Upgrade: "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key } });
    req.on("upgrade", (res, socket) => resolve(new WS(socket)));
    req.on("error", reject);
    req.end();
  });
}

class WS {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.parts = [];
    this.onmessage = null;
    socket.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
  }
  send(text) {
    const data = Buffer.from(text);
    const mask = crypto.randomBytes(4);
    let head;
    if (data.length < 126) {
      head = Buffer.from([0x81, 0x80 | data.length]);
    } else if (data.length < 65536) {
      head = Buffer.from([0x81, 0x80 | 126, data.length >> 8,
        data.length & 255]);
    } else {
      head = Buffer.alloc(10);
      head[0] = 0x81; head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(data.length), 2);
    }
    for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
    this.socket.write(Buffer.concat([head, mask, data]));
  }
  parse() {
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = this.buf[0] & 0x80, op = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f, off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (op === 0x8) { this.socket.end(); return; }
      if (op === 0x9 || op === 0xa) continue; // ping, pong
      this.parts.push(Buffer.from(payload));
      if (fin) {
        const text = Buffer.concat(this.parts).toString();
        this.parts = [];
        if (this.onmessage) this.onmessage(text);
      }
    }
  }
}

// ---- the DevTools protocol -------------------------------------------

class Page {
  constructor(ws) {
    this.ws = ws;
    this.next = 1;
    this.waiting = new Map();
    this.errors = [];
    ws.onmessage = (text) => {
      const m = JSON.parse(text);
      if (m.id && this.waiting.has(m.id)) {
        const { resolve, reject } = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.error) reject(new Error(JSON.stringify(m.error)));
        else resolve(m.result);
      } else if (m.method === "Runtime.exceptionThrown") {
        this.errors.push(m.params.exceptionDetails.exception?.description ||
          m.params.exceptionDetails.text);
      } else if (m.method === "Runtime.consoleAPICalled" &&
                 m.params.type === "error") {
        this.errors.push(m.params.args.map((a) => a.value || a.description)
          .join(" "));
      }
    };
  }
  call(method, params = {}) {
    const id = this.next++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) =>
      this.waiting.set(id, { resolve, reject }));
  }
  async eval(expr) {
    const r = await this.call("Runtime.evaluate", { expression: expr,
      returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails)
      throw new Error("evaluate: " + r.exceptionDetails.text);
    return r.result.value;
  }
  // A real mouse click in the middle of the element.
  async click(selector) {
    const box = await this.eval(`(() => {
      const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return null;
      e.scrollIntoView({block: "center"});
      const r = e.getBoundingClientRect();
      if (!r.width || !r.height) return null;
      return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()`);
    if (!box) fail("nothing visible to click at " + selector);
    for (const type of ["mousePressed", "mouseReleased"])
      await this.call("Input.dispatchMouseEvent", { type, x: box.x, y: box.y,
        button: "left", clickCount: 1 });
  }
  // Polls expr until it returns something truthy.
  async until(what, expr, ms = 15000) {
    const end = Math.min(Date.now() + ms, deadline);
    for (;;) {
      const v = await this.eval(expr);
      if (v) return v;
      if (Date.now() > end) fail("timed out waiting for " + what);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// ---- the test --------------------------------------------------------

async function main() {
  for (const a of ["url", "sup", "worker"])
    if (!args[a]) fail("missing --" + a);
  const exe = findChromium();
  if (!exe) skip("no chromium (install it: tools/install-deps.sh browser)");
  const devPort = await launch(exe);
  const targets = await getJSON(devPort, "/json/list");
  const target = targets.find((t) => t.type === "page");
  if (!target) fail("chromium has no page");
  const page = new Page(await connectWS(target.webSocketDebuggerUrl));
  await page.call("Runtime.enable");
  await page.call("Page.enable");
  await page.call("Page.navigate", { url: args.url });
  note("loaded " + args.url);

  const sup = JSON.stringify(args.sup);
  // The worker's row, as page code: its pid is the row's data-pid.
  const row = `document.querySelector(".proc[data-id=" +
    JSON.stringify(${JSON.stringify(args.worker)}) + "]")`;
  await page.until("the tree to show " + args.sup,
    `[...document.querySelectorAll(".supname")]
       .some((e) => e.textContent === ${sup})`);
  const before = await page.until("worker " + args.worker,
    `${row}?.dataset.pid`);
  note("worker " + args.worker + " is " + before);
  const roots = await page.eval(
    `document.querySelectorAll("#tree > .sup").length`);
  if (roots < 1) fail("no supervision tree drawn");

  await page.click(`.proc[data-id="${args.worker}"]`);
  await page.until("the details of " + before,
    `document.getElementById("detail-body").dataset.pid ===
       ${JSON.stringify(before)} &&
     !!document.querySelector("#detail-body table") &&
     !document.getElementById("kill").hidden`);
  await page.click("#kill");
  await page.until("the kill to be confirmed",
    `document.getElementById("kill-result").textContent
       .startsWith("killed")`);
  const after = await page.until("the restarted worker",
    `(() => { const p = ${row}?.dataset.pid;
       return p && p !== ${JSON.stringify(before)} ? p : null; })()`);
  note("worker " + args.worker + " restarted as " + after);
  await page.until("an event in the list",
    `[...document.querySelectorAll("#events li")]
       .some((e) => e.textContent.includes("child_terminated"))`);
  const text = await page.eval(`${row}.textContent`);
  if (!text.includes("\u21bb1"))
    fail("the restart count is not shown: " + text);

  if (args.shot) {
    const shot = await page.call("Page.captureScreenshot", { format: "png" });
    fs.writeFileSync(args.shot, Buffer.from(shot.data, "base64"));
    note("screenshot in " + args.shot);
  }
  if (page.errors.length) fail("errors on the page: " + page.errors.join("; "));
  note("PASS");
  cleanup();
  process.exit(0);
}

setTimeout(() => fail("the whole test timed out"),
  Math.max(1, deadline - Date.now())).unref();
main().catch((e) => fail(e.stack || String(e)));
