// The chat without page reloads: posts the same form with fetch (the CSRF field travels with it), shows the
// customer's bubble and a typing state at once, then asks the server for what follows (the thread items and
// quick replies as the page draws them, already escaped and linkified) and, while a colleague is awaited or
// answering, keeps asking. Quick replies send their words the same way. Without this script the forms post.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  var form = document.getElementById("chat-form");
  if (!chat || !form || !window.fetch || !window.FormData) { return; }
  var list = document.getElementById("messages");
  var last = parseInt(chat.dataset.last || "0", 10);
  var timer = null;
  var busy = false;

  function scrollEnd(el) {
    if (el && el.scrollIntoView) { el.scrollIntoView({ block: "end" }); }
  }

  function pendingBubble(text) {
    var li = document.createElement("li");
    li.className = "msg customer pending";
    var who = document.createElement("span");
    who.className = "who asst-sr";
    who.textContent = chat.dataset.you + ": ";
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    li.appendChild(who);
    li.appendChild(bubble);
    list.appendChild(li);
    return li;
  }

  function typing(on) {
    var t = document.getElementById("typing");
    if (on && !t) {
      t = document.createElement("li");
      t.id = "typing";
      t.className = "typing";
      t.setAttribute("role", "status");
      var label = document.createElement("span");
      label.className = "asst-sr";
      label.textContent = chat.dataset.typing;
      t.appendChild(label);
      for (var i = 0; i < 3; i++) { t.appendChild(document.createElement("i")); }
      list.appendChild(t);
      scrollEnd(t);
    } else if (!on && t) {
      t.parentNode.removeChild(t);
    }
    list.setAttribute("aria-busy", on ? "true" : "false");
  }

  function systemLine(text) {
    var li = document.createElement("li");
    li.className = "sys sys-error";
    li.setAttribute("role", "alert");
    var span = document.createElement("span");
    span.textContent = text;
    li.appendChild(span);
    list.appendChild(li);
    scrollEnd(li);
  }

  // the server's fragment (escaped and linkified there): the customer's own message replaces its pending
  // bubble, a message already shown is skipped, the rest is appended
  function merge(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var nodes = Array.prototype.slice.call(tpl.content.querySelectorAll("li"));
    var added = null;
    nodes.forEach(function (li) {
      var id = li.getAttribute("data-id");
      var sys = li.getAttribute("data-sys");
      if (sys) {
        if (list.querySelector('li[data-sys="' + sys + '"]')) { return; }
      } else if (list.querySelector('li.msg[data-id="' + id + '"]')) {
        return;
      }
      if (li.classList.contains("customer")) {
        var pending = list.querySelector("li.msg.customer.pending");
        if (pending) { list.replaceChild(li, pending); added = li; return; }
      }
      var t = document.getElementById("typing");
      list.insertBefore(li, t || null);
      added = li;
    });
    scrollEnd(added);
  }

  function setChips(html) {
    var old = document.getElementById("chips");
    if (!old) { return; }
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    var fresh = tpl.content.firstElementChild;
    if (fresh) { old.parentNode.replaceChild(fresh, old); }
  }

  function setStatus(status) {
    var state = document.getElementById("end");
    var words = { waiting: chat.dataset.waiting, agent: chat.dataset.withAgent, closed: chat.dataset.closed };
    if (state && status !== chat.dataset.status && words[status]) { state.textContent = words[status]; }
    chat.dataset.status = status;
    var waiting = status === "waiting" || status === "agent";
    if (waiting && !timer) { timer = window.setInterval(poll, 4000); }
    if (!waiting && timer) { window.clearInterval(timer); timer = null; }
    if (status === "closed") {
      form.hidden = true;
      var chips = document.getElementById("chips");
      if (chips) { chips.hidden = true; }
    }
  }

  function poll() {
    var id = chat.dataset.conversation;
    if (!id) { return Promise.resolve(); }
    return fetch("/assistant/" + id + "/messages?after=" + last, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        merge(data.html || "");
        last = Math.max(last, data.last || 0);
        setChips(data.chips || "");
        setStatus(data.status);
      });
  }

  function send(text) {
    if (busy) { return; }
    text = (text || "").trim();
    if (!text) { return; }
    busy = true;
    var data = new FormData(form);
    data.set("text", text);
    pendingBubble(text);
    form.elements.text.value = "";
    var chips = document.getElementById("chips");
    if (chips) { chips.hidden = true; }
    typing(true);
    fetch("/assistant", { method: "POST", body: data, headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (res.conversation_id) {
          chat.dataset.conversation = res.conversation_id;
          form.elements.conversation_id.value = res.conversation_id;
          var hidden = document.querySelectorAll("#chips input[name=conversation_id]");
          Array.prototype.forEach.call(hidden, function (h) { h.value = res.conversation_id; });
          // the replies come from the poll, which also moves `last` past them
          return poll();
        }
        var pending = list.querySelector("li.msg.customer.pending");
        if (pending) { pending.parentNode.removeChild(pending); }
        form.elements.text.value = text;
        systemLine(res.message || chat.dataset.failed);
      })
      .catch(function () { systemLine(chat.dataset.failed); })
      .then(function () {
        typing(false);
        busy = false;
        form.elements.text.focus();
      });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    send(form.elements.text.value);
  });

  // quick replies: a chip's words go out as the next message (links are left to the browser)
  chat.addEventListener("click", function (ev) {
    var chip = ev.target.closest ? ev.target.closest("button.chip") : null;
    if (!chip || !chat.contains(chip)) { return; }
    ev.preventDefault();
    send(chip.value);
  });

  setStatus(chat.dataset.status);
}());
