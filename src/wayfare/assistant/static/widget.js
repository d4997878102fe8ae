/* wayfare chat widget and page tracking. Hand-written, no third-party code.
   <script src="https://YOUR-WAYFARE/widget.js" data-key="INGEST_KEY" async></script> */
(function () {
  "use strict";
  var me = document.currentScript || (function () { var s = document.getElementsByTagName("script"); return s[s.length - 1]; })();
  if (!me || window.__wayfareWidget) { return; }
  window.__wayfareWidget = true;
  var key = me.getAttribute("data-key") || "";
  var base = (me.getAttribute("data-host") || me.src.replace(/\/widget\.js.*$/, "")).replace(/\/$/, "");
  var title = me.getAttribute("data-title") || "Questions? Chat with us";
  // a signed-in customer: the business's server prints their user id and HMAC-SHA256(identity secret, user id)
  var userId = me.getAttribute("data-user-id") || "";
  var userHash = me.getAttribute("data-user-hash") || "";
  var store = window.localStorage;
  function get(k) { try { return store.getItem(k); } catch (e) { return null; } }
  function put(k, v) { try { store.setItem(k, v); } catch (e) { /* private mode */ } }
  function uid() {
    var a = new Uint8Array(16); (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var visitor = get("wf_anon");
  if (!visitor) { visitor = uid(); put("wf_anon", visitor); }
  var conv = get("wf_conv");
  var seen = 0;

  function post(path, body) {  // text/plain: a simple request, no CORS preflight
    body.writeKey = key;
    return fetch(base + path, { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); });
  }

  function page() {  // a beacon: fire and forget, so the shop's console stays free of CORS errors
    var body = JSON.stringify({ writeKey: key, anonymousId: visitor, name: document.title, properties: {
      url: location.href, path: location.pathname, referrer: document.referrer, title: document.title } });
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(base + "/v1/page", new Blob([body], { type: "text/plain" }))) { return; }
    } catch (e) { /* fall through */ }
    fetch(base + "/v1/page", { method: "POST", mode: "no-cors", keepalive: true, headers: { "Content-Type": "text/plain" },
                               body: body }).catch(function () { /* tracking must never break the page */ });
  }
  page();
  window.wayfare = { page: page, visitor: visitor };

  var css = "#wf-chat{position:fixed;right:16px;bottom:16px;z-index:2147483000;font:15px/1.4 system-ui,sans-serif}" +
    "#wf-chat button{font:inherit;cursor:pointer}" +
    "#wf-open{background:#1f5f8b;color:#fff;border:0;border-radius:24px;padding:12px 18px;box-shadow:0 2px 8px #0004}" +
    "#wf-panel{display:none;width:320px;max-width:calc(100vw - 32px);height:440px;max-height:calc(100vh - 32px);background:#fff;" +
    "color:#222;border-radius:10px;box-shadow:0 4px 24px #0005;flex-direction:column;overflow:hidden}" +
    "#wf-panel.open{display:flex}#wf-head{background:#1f5f8b;color:#fff;padding:10px 12px;display:flex;justify-content:space-between}" +
    "#wf-head button{background:none;border:0;color:#fff;font-size:18px}#wf-log{flex:1;overflow:auto;padding:10px}" +
    ".wf-m{margin:6px 0;padding:8px 10px;border-radius:8px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}" +
    ".wf-customer{background:#e3eef6;margin-left:auto}.wf-assistant,.wf-system{background:#f2f2f2}.wf-staff{background:#e8f5e9}" +
    ".wf-who{font-size:12px;color:#555;display:block}#wf-form{display:flex;border-top:1px solid #ddd}" +
    "#wf-in{flex:1;border:0;padding:10px;font:inherit}#wf-send{border:0;background:#1f5f8b;color:#fff;padding:0 14px}" +
    "#wf-person{border:0;background:none;color:#1f5f8b;text-decoration:underline;padding:4px 10px;text-align:left}";
  var style = document.createElement("style"); style.textContent = css; document.head.appendChild(style);

  var root = document.createElement("div"); root.id = "wf-chat";
  root.innerHTML = '<button id="wf-open" type="button" aria-expanded="false" aria-controls="wf-panel"></button>' +
    '<section id="wf-panel" role="dialog" aria-label="Chat"><div id="wf-head"><span id="wf-title"></span>' +
    '<button id="wf-close" type="button" aria-label="Close chat">\u00d7</button></div>' +
    '<div id="wf-log" aria-live="polite"></div>' +
    '<button id="wf-person" type="button">Talk to a person</button>' +
    '<form id="wf-form"><label for="wf-in" style="position:absolute;left:-9999px">Your message</label>' +
    '<input id="wf-in" autocomplete="off" maxlength="2000" placeholder="Type your question\u2026">' +
    '<button id="wf-send" type="submit">Send</button></form></section>';
  function $(id) { return root.querySelector("#" + id); }
  $("wf-open").textContent = title; $("wf-title").textContent = "Automated assistant";

  var who = { customer: "You", assistant: "Assistant (automated)", staff: "Team", system: "" };
  function show(role, text, author) {
    var d = document.createElement("div"); d.className = "wf-m wf-" + role;
    var w = document.createElement("span"); w.className = "wf-who";
    w.textContent = role === "staff" && author ? author + " (team)" : (who[role] || "");
    var t = document.createElement("span"); t.textContent = text;  // text only: never HTML from the server
    d.appendChild(w); d.appendChild(t); $("wf-log").appendChild(d);
    $("wf-log").scrollTop = $("wf-log").scrollHeight;
  }
  function poll() {
    if (!conv) { return; }
    fetch(base + "/v1/assistant/chat/" + encodeURIComponent(conv) + "/messages?visitor_id=" +
          encodeURIComponent(visitor) + "&after=" + seen + "&key=" + encodeURIComponent(key))
      .then(function (r) { return r.json(); })
      .then(function (j) {
        (j.messages || []).forEach(function (m) { seen = Math.max(seen, m.n); show(m.role, m.text, m.author); });
      }).catch(function () {});
  }
  function send(text) {
    if (!text) { return; }
    show("customer", text); seen += 1;
    post("/v1/assistant/chat", { message: text, visitor_id: visitor, conversation_id: conv || undefined,
                                 user_id: userId || undefined, user_hash: userHash || undefined })
      .then(function (r) {
        if (r.status === 404 && conv) {  // a conversation this server does not know: start afresh
          conv = null; seen = 0; put("wf_conv", ""); $("wf-log").lastChild.remove(); send(text); return;
        }
        if (r.status !== 200) { show("system", (r.body && r.body.error) || "Sorry, something went wrong."); return; }
        if (r.body.conversation_id && r.body.conversation_id !== conv) { conv = r.body.conversation_id; put("wf_conv", conv); }
        seen = Math.max(seen, r.body.n || seen + 1);
        show("assistant", r.body.answer);
      }).catch(function () { show("system", "You seem to be offline; please try again."); });
  }
  function toggle(open) {
    $("wf-panel").classList.toggle("open", open); $("wf-open").style.display = open ? "none" : "";
    $("wf-open").setAttribute("aria-expanded", String(open));
    if (open) {
      if (!$("wf-log").childNodes.length && !conv) {
        show("assistant", "Hi! I'm an automated assistant. Ask me anything, or press \u201cTalk to a person\u201d at any time.");
      }
      $("wf-in").focus();
    }
  }
  $("wf-open").addEventListener("click", function () { toggle(true); });
  $("wf-close").addEventListener("click", function () { toggle(false); });
  $("wf-person").addEventListener("click", function () { send("I would like to talk to a person"); });
  $("wf-form").addEventListener("submit", function (e) { e.preventDefault(); var v = $("wf-in").value.trim(); $("wf-in").value = ""; send(v); });
  function mount() { document.body.appendChild(root); if (conv) { poll(); } setInterval(poll, 3000); }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
