/*
 * cert-assistant chat widget: one file, no build step, no dependencies.
 *
 *   <script src="https://ASSISTANT/widget.js" data-api="https://ASSISTANT" defer></script>
 *
 * Adds <cert-assistant-chat>: a floating button and a chat panel in a shadow root, so the
 * page's CSS and the widget's never meet. Answers stream from POST /api/chat/stream (SSE
 * read with fetch); [n] markers link to the cited course sections, and each source's quoted
 * passage opens under it; thumbs post to /api/feedback; an empty panel offers the example
 * questions of GET /api/examples. The conversation lives in sessionStorage, so it survives
 * navigation between pages of the same site. Everything from questions and answers is set
 * with textContent, and only http(s) links are ever made.
 *
 * On a narrow screen the panel fills it, keeps the keyboard inside (Escape closes it), and
 * closes itself when a source is followed, so the next page shows the cited section.
 *
 * Optional attributes: data-api (default: where this script came from),
 * data-title (default "Course assistant"), data-theme ("light", "dark" or "auto", the
 * default, which follows the system); data-theme on <cert-assistant-chat> itself wins.
 */
(function () {
  "use strict";

  var TAG = "cert-assistant-chat";
  if (!window.customElements || customElements.get(TAG)) return;

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var scriptUrl = new URL((script && script.src) || location.href, location.href);
  var API = ((script && script.dataset.api) || scriptUrl.origin).replace(/\/+$/, "");
  var TITLE = (script && script.dataset.title) || "Course assistant";
  var THEME = (script && script.dataset.theme) || "";
  var THEMES = ["light", "dark", "auto"];
  var STORE_KEY = "cert-assistant:" + API;
  var HISTORY_MESSAGES = 10; // sent with each question; the API accepts 20 by default
  var KEPT_MESSAGES = 60;
  var MAX_CHARS = 2000;
  var CONFIRM_AFTER_TURNS = 2; // "New chat" asks first when more questions than this were asked
  var NARROW = window.matchMedia("(max-width: 480px)"); // the panel fills the screen
  var FOCUSABLE = "button:not([disabled]),a[href],textarea,input,[tabindex]:not([tabindex='-1'])";
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M4 12l16-8-6 16-2.5-6.5z",
    up: "M7 11v9H4v-9zm2 9h8.5a2 2 0 0 0 2-1.6l1.3-6A2 2 0 0 0 18.8 10H14V6a2 2 0 0 0-2-2l-3 7z",
    down: "M17 13V4h3v9zm-2-9H6.5a2 2 0 0 0-2 1.6l-1.3 6A2 2 0 0 0 5.2 14H10v4a2 2 0 0 0 2 2l3-7z",
    more: "M8 10l4 4 4-4",
    retry: "M20 11a8 8 0 1 0-2.3 5.7M20 5v6h-6",
  };

  // Colours as custom properties: light by default, dark by the system or by data-theme.
  // Every text colour is at least 4.5:1 on the background it sits on (WCAG AA).
  var LIGHT = "color-scheme:light;--ink:#1f2937;--muted:#475569;--panel:#fff;--log:#f8fafc;" +
    "--line:#e2e8f0;--field:#64748b;--brand:#4338ca;--on-brand:#fff;--bar:#4338ca;" +
    "--link:#4338ca;--chip:#eef2ff;--chip-hover:#c7d2fe;--bubble:#fff;--error:#fef2f2;" +
    "--error-line:#fecaca;--error-ink:#991b1b;--quote:#f1f5f9;--pressed:#eef2ff;" +
    "--pressed-line:#818cf8;--pressed-ink:#3730a3;--disabled:#a5b4fc;--focus:#b45309";
  var DARK = "color-scheme:dark;--ink:#e5e7eb;--muted:#aab4c3;--panel:#111827;--log:#0b1120;" +
    "--line:#334155;--field:#94a3b8;--brand:#4f46e5;--on-brand:#fff;--bar:#312e81;" +
    "--link:#a5b4fc;--chip:#312e81;--chip-hover:#3730a3;--bubble:#1f2937;--error:#450a0a;" +
    "--error-line:#7f1d1d;--error-ink:#fecaca;--quote:#0f172a;--pressed:#312e81;" +
    "--pressed-line:#818cf8;--pressed-ink:#e0e7ff;--disabled:#3730a3;--focus:#fbbf24";

  var CSS = [
    ":host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;",
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);",
    LIGHT, "}",
    ":host([data-theme=dark]){", DARK, "}",
    "@media (prefers-color-scheme:dark){:host(:not([data-theme=light])){", DARK, "}}",
    "*{box-sizing:border-box}",
    "button{font:inherit;cursor:pointer}",
    // Focus rings at 3:1 or more against what is around them, the indigo bar included.
    ":focus-visible{outline:3px solid var(--focus);outline-offset:2px}",
    ".bar :focus-visible{outline-color:#fff}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    ".launcher{width:60px;height:60px;border-radius:50%;border:0;background:var(--brand);",
    "color:var(--on-brand);box-shadow:0 8px 24px rgba(55,48,163,.35);display:grid;",
    "place-items:center;transition:transform .15s}",
    ".launcher:hover{transform:scale(1.06)}",
    ".launcher svg{width:28px;height:28px}",
    "svg{fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}",
    ".panel{position:absolute;right:0;bottom:76px;width:min(400px,calc(100vw - 32px));",
    "height:min(660px,calc(100vh - 120px));background:var(--panel);border-radius:16px;",
    "display:flex;flex-direction:column;overflow:hidden;",
    "box-shadow:0 18px 50px rgba(15,23,42,.28);border:1px solid var(--line)}",
    ".panel[hidden]{display:none}",
    // The bar sits outside the scrolling log, so "New chat" stays in reach in a long chat.
    ".bar{flex:none;display:flex;align-items:center;gap:8px;padding:12px 12px 12px 18px;",
    "background:var(--bar);color:#fff}",
    ".bar h2{flex:1;margin:0;font-size:16px;font-weight:650}",
    ".bar button{border:0;background:rgba(255,255,255,.16);color:#fff;border-radius:8px;",
    "padding:5px 10px;font-size:13px;display:grid;place-items:center}",
    ".bar button:hover{background:rgba(255,255,255,.28)}",
    ".bar .close svg{width:16px;height:16px}",
    ".confirm{flex:none;display:flex;flex-wrap:wrap;align-items:center;gap:8px;",
    "padding:10px 14px;background:var(--panel);border-bottom:1px solid var(--line)}",
    ".confirm[hidden]{display:none}",
    ".confirm p{flex:1 1 100%;margin:0;font-size:14px}",
    ".confirm button,.retry,.examples button{border:1px solid var(--line);",
    "background:var(--bubble);color:var(--ink);border-radius:8px;padding:5px 12px}",
    ".confirm .danger{background:var(--brand);border-color:var(--brand);color:var(--on-brand)}",
    ".log{flex:1;min-height:0;overflow-y:auto;padding:16px;display:flex;",
    "flex-direction:column;gap:12px;background:var(--log)}",
    ".empty{margin:auto 0;display:flex;flex-direction:column;gap:12px}",
    ".hint{margin:0 8px;color:var(--muted);text-align:center;font-size:14px}",
    ".examples{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px}",
    ".examples button{width:100%;text-align:left;padding:9px 12px;border-radius:12px}",
    ".examples button:hover,.confirm button:hover,.retry:hover{border-color:var(--pressed-line)}",
    ".msg{max-width:88%;padding:10px 13px;border-radius:14px;white-space:pre-wrap;",
    "overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:var(--brand);color:var(--on-brand);",
    "border-bottom-right-radius:4px}",
    ".bot{align-self:flex-start;background:var(--bubble);border:1px solid var(--line);",
    "border-bottom-left-radius:4px}",
    ".error{align-self:flex-start;background:var(--error);border:1px solid var(--error-line);",
    "color:var(--error-ink);white-space:normal}",
    ".ref{display:block;margin-top:4px;font-size:12px;color:var(--error-ink)}",
    ".retry{display:inline-flex;align-items:center;gap:6px;margin-top:8px;font-size:14px}",
    ".retry svg{width:16px;height:16px}",
    "a{color:var(--link)}",
    "a.cite{display:inline-block;min-width:1.6em;padding:0 5px;margin:0 1px;border-radius:6px;",
    "background:var(--chip);font-size:12px;font-weight:650;text-align:center;",
    "text-decoration:none;vertical-align:1px}",
    "a.cite:hover{background:var(--chip-hover)}",
    ".sources{margin-top:10px;padding-top:8px;border-top:1px solid var(--line);font-size:13px;",
    "white-space:normal}",
    ".sources h3{margin:0 0 4px;font-size:12px;text-transform:uppercase;letter-spacing:.04em;",
    "color:var(--muted)}",
    ".sources ol,.sources ul{margin:0;padding-left:20px}",
    ".sources li{margin:4px 0}",
    ".sources small{display:block;color:var(--muted)}",
    ".quote-toggle{display:inline-flex;align-items:center;gap:2px;margin-top:2px;border:0;",
    "background:none;color:var(--link);padding:2px 4px 2px 0;font-size:12px;font-weight:600}",
    ".quote-toggle svg{width:16px;height:16px;stroke-width:2.5;transition:transform .15s}",
    ".quote-toggle[aria-expanded=true] svg{transform:rotate(180deg)}",
    ".quote{margin:4px 0 6px;padding:6px 10px;border-left:3px solid var(--pressed-line);",
    "background:var(--quote);border-radius:4px;white-space:pre-wrap}",
    ".quote[hidden]{display:none}",
    ".typing{display:inline-flex;gap:4px;padding:4px 0}",
    ".typing i{width:7px;height:7px;border-radius:50%;background:#94a3b8;",
    "animation:blink 1.2s infinite}",
    ".typing i:nth-child(2){animation-delay:.2s}.typing i:nth-child(3){animation-delay:.4s}",
    "@keyframes blink{0%,80%,100%{opacity:.3}40%{opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.typing i{animation:none}.launcher,",
    ".quote-toggle svg{transition:none}}",
    ".rate{display:flex;align-items:center;gap:6px;margin-top:8px;font-size:12px;",
    "color:var(--muted);white-space:normal;flex-wrap:wrap}",
    ".rate button{border:1px solid var(--line);background:var(--bubble);border-radius:8px;",
    "padding:3px 7px;color:var(--muted);display:grid;place-items:center}",
    ".rate button svg{width:16px;height:16px}",
    ".rate button[aria-pressed=true]{background:var(--pressed);border-color:var(--pressed-line);",
    "color:var(--pressed-ink)}",
    ".rate form{display:flex;gap:6px;width:100%;margin-top:4px}",
    ".rate input{flex:1;font:inherit;font-size:16px;padding:5px 8px;color:inherit;",
    "background:var(--panel);border:1px solid var(--field);border-radius:8px}",
    ".composer{flex:none;display:flex;gap:8px;align-items:flex-end;padding:12px;",
    "border-top:1px solid var(--line);background:var(--panel)}",
    // 16 px at least: a smaller field makes iOS zoom the page in on focus.
    ".composer textarea{flex:1;resize:none;font:inherit;font-size:16px;line-height:1.4;",
    "min-height:44px;max-height:120px;padding:10px 12px;border:1px solid var(--field);",
    "border-radius:12px;color:inherit;background:var(--panel)}",
    ".composer textarea::placeholder{color:var(--muted);opacity:1}",
    ".composer textarea:focus{border-color:#6366f1;outline:none;",
    "box-shadow:0 0 0 3px rgba(99,102,241,.35)}",
    ".composer button{width:44px;height:44px;border:0;border-radius:12px;",
    "background:var(--brand);color:var(--on-brand);display:grid;place-items:center}",
    ".composer button:disabled{background:var(--disabled);cursor:default}",
    ".composer svg{width:20px;height:20px}",
    ".note{flex:none;margin:0;padding:0 12px 10px;font-size:12px;color:var(--muted);",
    "background:var(--panel)}",
    // A phone: the panel fills the screen and every control is a 44 x 44 px touch target.
    "@media (max-width:480px){:host{right:12px;bottom:12px}",
    ".panel{position:fixed;inset:0;width:auto;height:auto;border-radius:0;border:0}",
    ":host([open]) .launcher{display:none}",
    ".panel button{min-width:44px;min-height:44px}",
    ".sources a:not(.cite){display:inline-flex;align-items:center;min-height:44px}",
    ".rate input{min-height:44px}}",
  ].join("");

  // --- small helpers: elements from constants and text only ------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function icon(name) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  /** The URL if it is http(s), else null: no javascript:, data: or other schemes. */
  function safeUrl(value) {
    try {
      var url = new URL(String(value), location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, text, className) {
    var a = el("a", { href: href }, [text]);
    if (className) a.className = className;
    if (new URL(href).origin !== location.origin) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  function lastPart(section) {
    var parts = String(section || "").split(" > ");
    return parts[parts.length - 1];
  }

  function parentParts(section, title) {
    var parts = String(section || "").split(" > ");
    return parts.length > 1 ? parts.slice(0, -1).join(" › ") : String(title || "");
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  function load() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && Array.isArray(saved.messages)) return saved;
    } catch (e) {
      /* storage off or corrupt: start afresh */
    }
    return { id: uuid(), open: false, messages: [] };
  }

  var examples = null; // one request per page for the example questions, made on first need

  /** The example questions the server offers (GET /api/examples); none if it cannot say,
   * and then the next empty panel asks again. */
  function exampleQuestions() {
    if (!examples) {
      examples = fetch(API + "/api/examples", { credentials: "omit" })
        .then((response) => {
          if (!response.ok) throw new WidgetError("no examples");
          return response.json();
        })
        .then((body) => (Array.isArray(body.questions) ? body.questions : []))
        .catch(() => {
          examples = null;
          return [];
        });
    }
    return examples;
  }

  function WidgetError(message, requestId) {
    this.message = message;
    this.requestId = requestId || null;
  }

  async function errorOf(response) {
    var body = {};
    try {
      body = await response.json();
    } catch (e) {
      /* not JSON */
    }
    var message = typeof body.error === "string" ? body.error : "The assistant is unavailable.";
    return new WidgetError(message, body.request_id || response.headers.get("X-Request-ID"));
  }

  /** Server-Sent Events from a fetch response: yields {event, data} with data parsed. */
  async function* readEvents(response) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) return;
      buffer = (buffer + decoder.decode(chunk.value, { stream: true })).replace(/\r\n?/g, "\n");
      var end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        var event = "message";
        var data = [];
        block.split("\n").forEach(function (line) {
          if (!line || line[0] === ":") return; // comment, e.g. keep-alive ping
          var colon = line.indexOf(":");
          var field = colon < 0 ? line : line.slice(0, colon);
          var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
        });
        if (data.length) yield { event: event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  // --- the element -----------------------------------------------------------------------
  class CertAssistantChat extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      this.checkTheme();
      // A named region, so the launcher is inside a landmark like the rest of the page.
      if (!this.hasAttribute("role")) this.setAttribute("role", "region");
      if (!this.hasAttribute("aria-label")) this.setAttribute("aria-label", TITLE);
      this.state = load();
      this.views = new WeakMap();
      this.busy = false;
      this.quotes = 0; // ids for the quoted passages
      var root = this.attachShadow({ mode: "open" });
      root.appendChild(el("style", {}, [CSS]));

      this.launcher = el("button", {
        class: "launcher",
        type: "button",
        "aria-label": "Open the " + TITLE.toLowerCase(),
        "aria-expanded": "false",
        "aria-controls": "panel",
      }, [icon("chat")]);
      this.log = el("div", { class: "log", role: "log", "aria-live": "polite" });
      this.input = el("textarea", {
        id: "question",
        rows: "1",
        maxlength: String(MAX_CHARS),
        placeholder: "Ask about the course…",
        autocomplete: "off",
      });
      this.send = el("button", { type: "submit", "aria-label": "Send question" }, [icon("send")]);
      var form = el("form", { class: "composer" }, [
        el("label", { for: "question", class: "sr" }, ["Your question"]),
        this.input,
        this.send,
      ]);
      this.reset = el("button", { type: "button", class: "reset" }, ["New chat"]);
      var close = el("button", { type: "button", class: "close", "aria-label": "Close" }, [
        icon("close"),
      ]);
      this.confirm = this.confirmView();
      this.panel = el("section", {
        class: "panel",
        id: "panel",
        role: "dialog",
        "aria-labelledby": "title",
        hidden: "",
      }, [
        el("div", { class: "bar" }, [el("h2", { id: "title" }, [TITLE]), this.reset, close]),
        this.confirm,
        this.log,
        form,
        el("p", { class: "note" }, ["Answers come from the course pages and link to them."]),
      ]);
      root.appendChild(this.panel);
      root.appendChild(this.launcher);

      this.launcher.addEventListener("click", () => this.toggle(this.panel.hidden));
      close.addEventListener("click", () => this.toggle(false));
      this.reset.addEventListener("click", () => this.newChat());
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        this.ask();
      });
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.ask();
        }
      });
      this.input.addEventListener("input", () => this.fit());
      this.panel.addEventListener("keydown", (e) => this.keydown(e));
      this.log.addEventListener("click", (e) => this.followed(e));
      NARROW.addEventListener("change", () => this.markModal());

      this.state.messages.forEach((m) => {
        if (m.pending) {
          m.pending = false;
          if (!m.text) m.error = "The answer was interrupted when the page changed.";
        }
      });
      this.renderAll();
      if (this.state.open) this.toggle(true, false);
    }

    /** data-theme from the script tag unless set here; a value that is no theme is named. */
    checkTheme() {
      if (!this.hasAttribute("data-theme") && THEME) this.setAttribute("data-theme", THEME);
      var theme = this.getAttribute("data-theme");
      if (theme !== null && THEMES.indexOf(theme) < 0) {
        console.warn("cert-assistant: data-theme must be light, dark or auto, not \"" + theme +
          "\"; following the system (auto)");
        this.setAttribute("data-theme", "auto");
      }
    }

    save() {
      this.state.messages = this.state.messages.slice(-KEPT_MESSAGES);
      try {
        sessionStorage.setItem(STORE_KEY, JSON.stringify(this.state));
      } catch (e) {
        /* storage full or off: the conversation just won't survive navigation */
      }
    }

    toggle(open, focus) {
      this.panel.hidden = !open;
      this.toggleAttribute("open", open);
      this.launcher.setAttribute("aria-expanded", String(open));
      this.launcher.setAttribute("aria-label", (open ? "Close the " : "Open the ") +
        TITLE.toLowerCase());
      this.launcher.replaceChildren(icon(open ? "close" : "chat"));
      this.markModal();
      this.state.open = open;
      this.save();
      if (open && !this.state.messages.length) this.offerExamples();
      if (open && focus !== false) this.input.focus();
      if (open) this.log.scrollTop = this.log.scrollHeight;
      if (!open && focus !== false) this.launcher.focus();
      if (!open) this.askFirst(false);
    }

    /** Full screen, the panel is modal: assistive technology should not read the page. */
    markModal() {
      if (NARROW.matches) this.panel.setAttribute("aria-modal", "true");
      else this.panel.removeAttribute("aria-modal");
    }

    keydown(e) {
      if (e.key === "Escape") {
        if (!this.confirm.hidden) this.askFirst(false);
        else this.toggle(false);
      } else if (e.key === "Tab" && NARROW.matches) {
        this.trapFocus(e);
      }
    }

    /** Tab and Shift+Tab go round the full-screen panel's controls, never out of it. */
    trapFocus(e) {
      var controls = Array.prototype.filter.call(
        this.panel.querySelectorAll(FOCUSABLE),
        (node) => node.getClientRects().length > 0,
      );
      if (!controls.length) return;
      var first = controls[0];
      var last = controls[controls.length - 1];
      var active = this.shadowRoot.activeElement;
      if (e.shiftKey && (active === first || !this.panel.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !this.panel.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    }

    /** A source followed on a phone: close the panel first, so the next page shows it. */
    followed(e) {
      var a = e.target.closest && e.target.closest("a[href]");
      if (!a || a.target === "_blank" || !NARROW.matches) return;
      this.toggle(false, false); // saved closed; a link within this page moves it, no reload
    }

    /** "New chat": at once for a short conversation, after a confirmation for a longer one. */
    newChat() {
      var asked = this.state.messages.filter((m) => m.role === "user").length;
      if (asked > CONFIRM_AFTER_TURNS) this.askFirst(true);
      else this.restart();
    }

    confirmView() {
      var yes = el("button", { type: "button", class: "danger" }, ["Clear conversation"]);
      var no = el("button", { type: "button" }, ["Keep it"]);
      yes.addEventListener("click", () => {
        this.askFirst(false);
        this.restart();
      });
      no.addEventListener("click", () => this.askFirst(false, true));
      return el("div", {
        class: "confirm",
        role: "alertdialog",
        "aria-labelledby": "confirm-text",
        hidden: "",
      }, [el("p", { id: "confirm-text" }, ["Start a new chat? This conversation will be cleared."]),
        yes, no]);
    }

    askFirst(show, refocus) {
      this.confirm.hidden = !show;
      if (show) this.confirm.querySelector("button:last-child").focus();
      else if (refocus) this.reset.focus();
    }

    restart() {
      this.state = { id: uuid(), open: true, messages: [] };
      this.save();
      this.renderAll();
      this.input.focus();
    }

    fit() {
      this.input.style.height = "auto";
      this.input.style.height = Math.min(this.input.scrollHeight + 2, 120) + "px";
    }

    history() {
      return this.state.messages
        .filter((m) => m.role === "user" || (m.role === "assistant" && m.done))
        .slice(-HISTORY_MESSAGES)
        .map((m) => ({ role: m.role, content: m.text }));
    }

    /** Ask `text` (an example, a retry) or what is typed in the box. */
    async ask(text) {
      var typed = text === undefined;
      var question = (typed ? this.input.value : text).trim();
      if (!question || this.busy) return;
      this.busy = true;
      this.send.disabled = true;
      var history = this.history();
      if (typed) {
        this.input.value = "";
        this.fit();
      }
      this.add({ role: "user", text: question });
      var bot = this.add({ role: "assistant", text: "", citations: [], suggestions: [],
        pending: true });
      try {
        var response = await fetch(API + "/api/chat/stream", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify({ question: question, history: history,
            conversation_id: this.state.id }),
          credentials: "omit",
        });
        if (!response.ok || !response.body) throw await errorOf(response);
        for await (var item of readEvents(response)) {
          var data = item.data;
          if (item.event === "text") {
            bot.text = bot.text ? bot.text + " " + data.text : data.text;
          } else if (item.event === "citations") {
            bot.citations = data.citations || [];
            bot.suggestions = data.suggestions || [];
            bot.refused = !!data.refused;
          } else if (item.event === "done") {
            bot.text = data.answer;
            bot.citations = data.citations || [];
            bot.suggestions = data.suggestions || [];
            bot.refused = !!data.refused;
            bot.interactionId = data.interaction_id;
            bot.done = true;
          } else if (item.event === "error") {
            throw new WidgetError(data.error, data.request_id);
          }
          this.update(bot);
        }
        if (!bot.done) throw new WidgetError("The answer was cut off. Please ask again.");
      } catch (error) {
        bot.error = error instanceof WidgetError ? error.message
          : "Could not reach the assistant. Check your connection and try again.";
        bot.requestId = error instanceof WidgetError ? error.requestId : null;
      } finally {
        bot.pending = false;
        this.update(bot);
        this.busy = false;
        this.send.disabled = false;
        this.input.focus();
      }
    }

    /** Ask again the question whose answer failed, in place of the failed turn. */
    retry(message) {
      var at = this.state.messages.indexOf(message);
      var asked = this.state.messages[at - 1];
      if (at < 1 || asked.role !== "user" || this.busy) return;
      this.state.messages.splice(at - 1, 2);
      this.renderAll();
      this.ask(asked.text);
    }

    add(message) {
      this.state.messages.push(message);
      var empty = this.log.querySelector(".empty");
      if (empty) empty.remove();
      this.log.appendChild(this.view(message));
      this.save();
      this.log.scrollTop = this.log.scrollHeight;
      return message;
    }

    update(message) {
      var old = this.views.get(message);
      if (old && old.isConnected) old.replaceWith(this.view(message));
      this.save();
      this.log.scrollTop = this.log.scrollHeight;
    }

    renderAll() {
      this.log.replaceChildren();
      if (!this.state.messages.length) {
        this.log.appendChild(el("div", { class: "empty" }, [el("p", { class: "hint" }, [
          "Ask anything about the course. Every answer links to the course pages it comes from.",
        ])]));
        if (!this.panel.hidden) this.offerExamples();
      }
      this.state.messages.forEach((m) => this.log.appendChild(this.view(m)));
    }

    /** Example questions under the hint of an empty panel, once the server has named them. */
    offerExamples() {
      exampleQuestions().then((questions) => {
        var empty = this.log.querySelector(".empty");
        if (!empty || !questions.length || empty.querySelector(".examples")) return;
        var list = el("ul", { class: "examples", "aria-label": "Example questions" });
        questions.forEach((question) => {
          var button = el("button", { type: "button" }, [String(question)]);
          button.addEventListener("click", () => this.ask(String(question)));
          list.appendChild(el("li", {}, [button]));
        });
        empty.appendChild(list);
      });
    }

    view(message) {
      var node;
      if (message.role === "user") {
        node = el("div", { class: "msg user" }, [message.text]);
      } else if (message.error && !message.text) {
        node = el("div", { class: "msg error" }, [el("span", { role: "alert" }, [message.error])]);
        if (message.requestId) {
          node.appendChild(el("span", { class: "ref" }, ["Reference: " + message.requestId]));
        }
        node.appendChild(this.retryView(message));
      } else {
        node = this.answerView(message);
      }
      this.views.set(message, node);
      return node;
    }

    retryView(message) {
      var button = el("button", { type: "button", class: "retry" }, [icon("retry"), "Try again"]);
      button.addEventListener("click", () => this.retry(message));
      return button;
    }

    answerView(message) {
      var node = el("div", { class: "msg bot" });
      if (!message.text && message.pending) {
        node.appendChild(el("span", { class: "sr" }, ["The assistant is writing…"]));
        node.appendChild(el("span", { class: "typing", "aria-hidden": "true" }, [
          el("i"), el("i"), el("i"),
        ]));
        return node;
      }
      var byNumber = {};
      (message.citations || []).forEach((c) => {
        byNumber[c.n] = c;
      });
      var text = el("div", { class: "text" });
      String(message.text).split(/(\[\d+\])/).forEach((part) => {
        var marker = /^\[(\d+)\]$/.exec(part);
        var cited = marker && byNumber[marker[1]];
        var href = cited && safeUrl(cited.url);
        if (href) {
          var a = link(href, part, "cite");
          a.setAttribute("aria-label", "Source " + cited.n + ": " + lastPart(cited.section));
          text.appendChild(a);
        } else if (part) {
          text.appendChild(document.createTextNode(part));
        }
      });
      node.appendChild(text);
      if (message.error) {
        node.appendChild(el("span", { class: "ref" }, [message.error]));
        if (!message.pending) node.appendChild(this.retryView(message));
      }
      var sources = (message.citations || []).filter((c) => safeUrl(c.url));
      if (sources.length) {
        node.appendChild(this.sourcesView("Sources", "ol", sources, message));
      } else if (message.refused && (message.suggestions || []).some((s) => safeUrl(s.url))) {
        var related = message.suggestions.filter((s) => safeUrl(s.url));
        node.appendChild(this.sourcesView("Related sections", "ul", related, null));
      }
      if (message.done && message.interactionId) node.appendChild(this.rateView(message));
      return node;
    }

    /** The list of sources; numbered ones (of `message`) can open their quoted passage. */
    sourcesView(heading, listTag, items, message) {
      var list = el(listTag);
      items.forEach((item) => {
        var a = link(safeUrl(item.url), lastPart(item.section));
        var li = el("li", {}, [a, el("small", {}, [parentParts(item.section, item.title)])]);
        if (message) {
          li.value = item.n;
          if (item.text) this.quoteView(li, item, message);
        }
        list.appendChild(li);
      });
      return el("div", { class: "sources" }, [el("h3", {}, [heading]), list]);
    }

    /** A disclosure button under a source that shows the passage quoted from it. */
    quoteView(li, item, message) {
      var id = "quote-" + ++this.quotes;
      var shown = (message.quotesShown || []).indexOf(item.n) >= 0;
      var button = el("button", {
        type: "button",
        class: "quote-toggle",
        "aria-expanded": String(shown),
        "aria-controls": id,
        "aria-label": "Quote from source " + item.n,
      }, ["Quote", icon("more")]);
      var quote = el("blockquote", { class: "quote", id: id }, [String(item.text)]);
      quote.hidden = !shown;
      button.addEventListener("click", () => {
        var open = quote.hidden;
        quote.hidden = !open;
        button.setAttribute("aria-expanded", String(open));
        var others = (message.quotesShown || []).filter((n) => n !== item.n);
        message.quotesShown = open ? others.concat([item.n]) : others;
        this.save();
      });
      li.appendChild(button);
      li.appendChild(quote);
    }

    rateView(message) {
      var row = el("div", { class: "rate" });
      if (message.thanked) {
        row.appendChild(el("span", { role: "status" }, ["Thanks for the feedback."]));
        return row;
      }
      row.appendChild(el("span", {}, ["Helpful?"]));
      [["up", "Helpful"], ["down", "Not helpful"]].forEach((pair) => {
        var button = el("button", {
          type: "button",
          "aria-label": pair[1],
          "aria-pressed": String(message.rating === pair[0]),
        }, [icon(pair[0])]);
        button.addEventListener("click", () => this.rate(message, pair[0], null));
        row.appendChild(button);
      });
      if (message.rating === "down") {
        var input = el("input", {
          type: "text",
          maxlength: "2000",
          placeholder: "What was wrong or missing? (optional)",
          "aria-label": "What was wrong or missing? (optional)",
        });
        var form = el("form", {}, [input, el("button", { type: "submit" }, ["Send"])]);
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          this.rate(message, "down", input.value.trim() || null, true);
        });
        row.appendChild(form);
      }
      if (message.feedbackError) {
        row.appendChild(el("span", { role: "alert" }, [message.feedbackError]));
      }
      return row;
    }

    async rate(message, rating, comment, last) {
      message.rating = rating;
      message.feedbackError = null;
      try {
        var response = await fetch(API + "/api/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          // The id the questions went with: only the conversation that asked may rate.
          body: JSON.stringify({ interaction_id: message.interactionId,
            conversation_id: this.state.id, rating: rating, comment: comment }),
          credentials: "omit",
        });
        if (!response.ok) throw await errorOf(response);
        message.thanked = rating === "up" || !!last;
      } catch (error) {
        message.feedbackError = error instanceof WidgetError ? error.message
          : "Could not send the feedback.";
      }
      this.update(message);
      if (rating === "down" && !message.thanked) {
        var field = this.views.get(message).querySelector(".rate input");
        if (field) field.focus();
      }
    }
  }

  customElements.define(TAG, CertAssistantChat);

  function mount() {
    if (!document.querySelector(TAG)) document.body.appendChild(document.createElement(TAG));
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
