/*
 * cert-assistant chat widget: one file, no build step, no dependencies.
 *
 *   <script src="https://ASSISTANT/widget.js" data-api="https://ASSISTANT" defer></script>
 *
 * Adds <cert-assistant-chat>: a floating button and a chat panel in a shadow root, so the
 * page's CSS and the widget's never meet. Answers stream from POST /api/chat/stream (SSE
 * read with fetch); [n] markers link to the cited course sections; thumbs post to
 * /api/feedback. The conversation lives in sessionStorage, so it survives navigation
 * between pages of the same site. Everything from questions and answers is set with
 * textContent, and only http(s) links are ever made.
 *
 * Optional attributes: data-api (default: where this script came from),
 * data-title (default "Course assistant").
 */
(function () {
  "use strict";

  var TAG = "cert-assistant-chat";
  if (!window.customElements || customElements.get(TAG)) return;

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var scriptUrl = new URL((script && script.src) || location.href, location.href);
  var API = ((script && script.dataset.api) || scriptUrl.origin).replace(/\/+$/, "");
  var TITLE = (script && script.dataset.title) || "Course assistant";
  var STORE_KEY = "cert-assistant:" + API;
  var HISTORY_MESSAGES = 10; // sent with each question; the API accepts 20 by default
  var KEPT_MESSAGES = 60;
  var MAX_CHARS = 2000;
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M4 12l16-8-6 16-2.5-6.5z",
    up: "M7 11v9H4v-9zm2 9h8.5a2 2 0 0 0 2-1.6l1.3-6A2 2 0 0 0 18.8 10H14V6a2 2 0 0 0-2-2l-3 7z",
    down: "M17 13V4h3v9zm-2-9H6.5a2 2 0 0 0-2 1.6l-1.3 6A2 2 0 0 0 5.2 14H10v4a2 2 0 0 0 2 2l3-7z",
  };

  var CSS = [
    ":host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;",
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2937}",
    "*{box-sizing:border-box}",
    "button{font:inherit;cursor:pointer}",
    ":focus-visible{outline:3px solid #f59e0b;outline-offset:2px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    ".launcher{width:60px;height:60px;border-radius:50%;border:0;background:#4338ca;color:#fff;",
    "box-shadow:0 8px 24px rgba(55,48,163,.35);display:grid;place-items:center;",
    "transition:transform .15s}",
    ".launcher:hover{transform:scale(1.06)}",
    ".launcher svg{width:28px;height:28px}",
    "svg{fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}",
    ".panel{position:absolute;right:0;bottom:76px;width:min(400px,calc(100vw - 32px));",
    "height:min(660px,calc(100vh - 120px));background:#fff;border-radius:16px;display:flex;",
    "flex-direction:column;overflow:hidden;box-shadow:0 18px 50px rgba(15,23,42,.28);",
    "border:1px solid #e5e7eb}",
    ".panel[hidden]{display:none}",
    "header{display:flex;align-items:center;gap:8px;padding:14px 14px 14px 18px;",
    "background:linear-gradient(135deg,#4338ca,#6366f1);color:#fff}",
    "header h2{flex:1;margin:0;font-size:16px;font-weight:650}",
    "header button{border:0;background:rgba(255,255,255,.16);color:#fff;border-radius:8px;",
    "padding:5px 10px;font-size:13px;display:grid;place-items:center}",
    "header button:hover{background:rgba(255,255,255,.28)}",
    "header .close svg{width:16px;height:16px}",
    ".log{flex:1;overflow-y:auto;padding:16px;display:flex;flex-direction:column;gap:12px;",
    "background:#f8fafc}",
    ".hint{margin:auto 8px;color:#64748b;text-align:center;font-size:14px}",
    ".msg{max-width:88%;padding:10px 13px;border-radius:14px;white-space:pre-wrap;",
    "overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:#4338ca;color:#fff;border-bottom-right-radius:4px}",
    ".bot{align-self:flex-start;background:#fff;border:1px solid #e2e8f0;",
    "border-bottom-left-radius:4px}",
    ".error{align-self:flex-start;background:#fef2f2;border:1px solid #fecaca;color:#991b1b}",
    ".ref{display:block;margin-top:4px;font-size:12px;color:#b91c1c}",
    "a{color:#4338ca}",
    "a.cite{display:inline-block;min-width:1.6em;padding:0 5px;margin:0 1px;border-radius:6px;",
    "background:#eef2ff;font-size:12px;font-weight:650;text-align:center;text-decoration:none;",
    "vertical-align:1px}",
    "a.cite:hover{background:#c7d2fe}",
    ".sources{margin-top:10px;padding-top:8px;border-top:1px solid #e2e8f0;font-size:13px;",
    "white-space:normal}",
    ".sources h3{margin:0 0 4px;font-size:12px;text-transform:uppercase;letter-spacing:.04em;",
    "color:#64748b}",
    ".sources ol,.sources ul{margin:0;padding-left:20px}",
    ".sources li{margin:2px 0}",
    ".sources small{display:block;color:#64748b}",
    ".typing{display:inline-flex;gap:4px;padding:4px 0}",
    ".typing i{width:7px;height:7px;border-radius:50%;background:#94a3b8;",
    "animation:blink 1.2s infinite}",
    ".typing i:nth-child(2){animation-delay:.2s}.typing i:nth-child(3){animation-delay:.4s}",
    "@keyframes blink{0%,80%,100%{opacity:.3}40%{opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.typing i{animation:none}.launcher{transition:none}}",
    ".rate{display:flex;align-items:center;gap:6px;margin-top:8px;font-size:12px;color:#64748b;",
    "white-space:normal;flex-wrap:wrap}",
    ".rate button{border:1px solid #e2e8f0;background:#fff;border-radius:8px;padding:3px 7px;",
    "color:#475569;display:grid;place-items:center}",
    ".rate button svg{width:16px;height:16px}",
    ".rate button[aria-pressed=true]{background:#eef2ff;border-color:#818cf8;color:#3730a3}",
    ".rate form{display:flex;gap:6px;width:100%;margin-top:4px}",
    ".rate input{flex:1;font:inherit;padding:5px 8px;border:1px solid #cbd5e1;border-radius:8px}",
    ".composer{display:flex;gap:8px;align-items:flex-end;padding:12px;border-top:1px solid #e5e7eb;",
    "background:#fff}",
    ".composer textarea{flex:1;resize:none;font:inherit;line-height:1.4;padding:9px 12px;",
    "border:1px solid #cbd5e1;border-radius:12px;max-height:120px;color:inherit}",
    ".composer textarea:focus{border-color:#6366f1;outline:none;",
    "box-shadow:0 0 0 3px rgba(99,102,241,.25)}",
    ".composer button{width:42px;height:42px;border:0;border-radius:12px;background:#4338ca;",
    "color:#fff;display:grid;place-items:center}",
    ".composer button:disabled{background:#a5b4fc;cursor:default}",
    ".composer svg{width:20px;height:20px}",
    ".note{margin:0;padding:0 12px 10px;font-size:11px;color:#94a3b8;background:#fff}",
    "@media (max-width:480px){:host{right:12px;bottom:12px}",
    ".panel{position:fixed;inset:0;width:auto;height:auto;border-radius:0}",
    ":host([open]) .launcher{display:none}}",
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
      this.state = load();
      this.views = new WeakMap();
      this.busy = false;
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
      var reset = el("button", { type: "button", class: "reset" }, ["New chat"]);
      reset.setAttribute("aria-label", "Start a new conversation");
      var close = el("button", { type: "button", class: "close", "aria-label": "Close" }, [
        icon("close"),
      ]);
      this.panel = el("section", {
        class: "panel",
        id: "panel",
        role: "dialog",
        "aria-label": TITLE,
        hidden: "",
      }, [
        el("header", {}, [el("h2", {}, [TITLE]), reset, close]),
        this.log,
        form,
        el("p", { class: "note" }, ["Answers come from the course pages and link to them."]),
      ]);
      root.appendChild(this.panel);
      root.appendChild(this.launcher);

      this.launcher.addEventListener("click", () => this.toggle(this.panel.hidden));
      close.addEventListener("click", () => this.toggle(false));
      reset.addEventListener("click", () => this.restart());
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
      this.panel.addEventListener("keydown", (e) => {
        if (e.key === "Escape") this.toggle(false);
      });

      this.state.messages.forEach((m) => {
        if (m.pending) {
          m.pending = false;
          if (!m.text) m.error = "The answer was interrupted when the page changed.";
        }
      });
      this.renderAll();
      if (this.state.open) this.toggle(true, false);
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
      this.state.open = open;
      this.save();
      if (open && focus !== false) this.input.focus();
      if (open) this.log.scrollTop = this.log.scrollHeight;
      if (!open && focus !== false) this.launcher.focus();
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

    async ask() {
      var question = this.input.value.trim();
      if (!question || this.busy) return;
      this.busy = true;
      this.send.disabled = true;
      var history = this.history();
      this.input.value = "";
      this.fit();
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

    add(message) {
      this.state.messages.push(message);
      var hint = this.log.querySelector(".hint");
      if (hint) hint.remove();
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
        this.log.appendChild(el("p", { class: "hint" }, [
          "Ask anything about the course. Every answer links to the course pages it comes from.",
        ]));
      }
      this.state.messages.forEach((m) => this.log.appendChild(this.view(m)));
    }

    view(message) {
      var node;
      if (message.role === "user") {
        node = el("div", { class: "msg user" }, [message.text]);
      } else if (message.error && !message.text) {
        node = el("div", { class: "msg error", role: "alert" }, [message.error]);
        if (message.requestId) {
          node.appendChild(el("span", { class: "ref" }, ["Reference: " + message.requestId]));
        }
      } else {
        node = this.answerView(message);
      }
      this.views.set(message, node);
      return node;
    }

    answerView(message) {
      var node = el("div", { class: "msg bot" });
      if (!message.text && message.pending) {
        node.setAttribute("aria-label", "The assistant is writing");
        node.appendChild(el("span", { class: "typing" }, [el("i"), el("i"), el("i")]));
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
      if (message.error) node.appendChild(el("span", { class: "ref" }, [message.error]));
      var sources = (message.citations || []).filter((c) => safeUrl(c.url));
      if (sources.length) {
        node.appendChild(this.sourcesView("Sources", "ol", sources, true));
      } else if (message.refused && (message.suggestions || []).some((s) => safeUrl(s.url))) {
        var related = message.suggestions.filter((s) => safeUrl(s.url));
        node.appendChild(this.sourcesView("Related sections", "ul", related, false));
      }
      if (message.done && message.interactionId) node.appendChild(this.rateView(message));
      return node;
    }

    sourcesView(heading, listTag, items, numbered) {
      var list = el(listTag);
      items.forEach((item) => {
        var a = link(safeUrl(item.url), lastPart(item.section));
        if (item.text) a.title = item.text; // the quoted passage, as a tooltip
        var li = el("li", {}, [a, el("small", {}, [parentParts(item.section, item.title)])]);
        if (numbered) li.value = item.n;
        list.appendChild(li);
      });
      return el("div", { class: "sources" }, [el("h3", {}, [heading]), list]);
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
