// The chat without page reloads: posts the same form with fetch (the CSRF field travels with it),
// appends the replies and, while a colleague is awaited or answering, polls for their messages.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  var form = document.getElementById("chat-form");
  if (!chat || !form || !window.fetch) { return; }
  var list = document.getElementById("messages");
  var names = { customer: chat.dataset.you, assistant: chat.dataset.bot, agent: chat.dataset.agent };
  var last = parseInt(chat.dataset.last || "0", 10);
  var timer = null;

  function add(sender, text) {
    var li = document.createElement("li");
    li.className = "msg " + sender;
    var who = document.createElement("strong");
    who.textContent = names[sender] || names.assistant;
    li.appendChild(who);
    li.appendChild(document.createTextNode(": " + text));
    list.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function poll() {
    var id = chat.dataset.conversation;
    if (!id) { return; }
    fetch("/assistant/" + id + "/messages?after=" + last, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.messages.forEach(function (m) {
          if (m.sender !== "customer") { add(m.sender, m.text); }
          last = Math.max(last, m.id);
        });
        setStatus(data.status);
      });
  }

  function setStatus(status) {
    chat.dataset.status = status;
    var waiting = status === "waiting" || status === "agent";
    if (waiting && !timer) { timer = window.setInterval(poll, 4000); }
    if (!waiting && timer) { window.clearInterval(timer); timer = null; }
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = form.elements.text;
    var text = input.value.trim();
    if (!text) { return; }
    var data = new FormData(form);
    add("customer", text);
    input.value = "";
    fetch("/assistant", { method: "POST", body: data, headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (res.conversation_id) {
          chat.dataset.conversation = res.conversation_id;
          form.elements.conversation_id.value = res.conversation_id;
          // the replies come from the poll, which also moves `last` past them (adding them from
          // this response as well would show each one twice)
          setStatus(res.status);
          poll();
        } else if (res.message) {
          add("assistant", res.message);
        }
      });
  });
  setStatus(chat.dataset.status);
}());
