// Chat page for the Telegram stub. Vanilla JS; talks to /stub/api/*.
// Message HTML comes from the server already reduced to Telegram's allowed tags with every
// text node escaped (markup.safe_html); everything else is inserted with textContent.
"use strict";

const POLL_MS = 700;
const $ = (id) => document.getElementById(id);

const ui = {
  personas: $("personas"), messages: $("messages"), title: $("chat-title"), sub: $("chat-sub"),
  avatar: $("chat-avatar"), form: $("composer"), input: $("text-input"), send: $("send-button"),
  file: $("file-input"), replyKeyboard: $("reply-keyboard"), toast: $("toast"), alert: $("alert"),
  alertText: $("alert-text"), commandsButton: $("commands-button"), commandsMenu: $("commands-menu"),
  menuApp: $("menu-app"), botInfo: $("bot-info"),
};

let world = null;          // GET /stub/api/state
let current = null;        // the chosen persona {from, chat_id, label, language_code}
let cursor = 0;            // change cursor for incremental polling
let log = new Map();       // message_id -> log entry
let chatInfo = null;
let pollTimer = null;
let generation = 0;        // bumps on persona switch so stale poll replies are ignored

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ ok: false, description: response.statusText }));
  if (!body.ok) throw new Error(body.description || `HTTP ${response.status}`);
  return body;
}
const postJson = (path, data) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
});

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function initials(name) {
  return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]).join("").toUpperCase();
}

// ----- personas ---------------------------------------------------------------------------
async function loadWorld() {
  world = await api("/stub/api/state");
  ui.botInfo.textContent = `Bot: ${world.bot.first_name} (@${world.bot.username}) · id ${world.bot.id}`;
  ui.personas.replaceChildren();
  if (!world.personas.length) {
    ui.personas.append(el("div", "hint", "No users declared yet. Use state.add_user(...) or POST /stub/api/users."));
  }
  for (const persona of world.personas) {
    const button = el("button", "persona");
    button.type = "button";
    const chat = world.chats.find((c) => c.id === persona.chat_id);
    const avatar = el("div", chat && chat.type !== "private" ? "avatar group" : "avatar", initials(persona.label));
    const text = el("div");
    const [who, where] = persona.label.split(" — ");
    text.append(el("div", "persona-name", who));
    const lang = persona.language_code ? ` · ${persona.language_code}` : "";
    text.append(el("div", "persona-sub", `${where || ""}${lang}`));
    button.append(avatar, text);
    button.dataset.key = `${persona.from}:${persona.chat_id}`;
    button.addEventListener("click", () => choose(persona));
    ui.personas.append(button);
  }
  const wanted = new URLSearchParams(location.hash.slice(1));
  const remembered = world.personas.find(
    (p) => String(p.from) === wanted.get("from") && String(p.chat_id) === wanted.get("chat"));
  if (remembered) choose(remembered);
}

function choose(persona) {
  current = persona;
  generation += 1;
  cursor = 0;
  log = new Map();
  chatInfo = null;
  history.replaceState(null, "", `#from=${persona.from}&chat=${persona.chat_id}`);
  for (const b of ui.personas.children) b.classList.toggle("active", b.dataset.key === `${persona.from}:${persona.chat_id}`);
  ui.input.disabled = ui.send.disabled = false;
  ui.input.focus();
  ui.messages.replaceChildren();
  updateMenuApp();
  poll();
}

// ----- polling ----------------------------------------------------------------------------
async function poll() {
  clearTimeout(pollTimer);
  if (!current) return;
  const mine = generation;
  try {
    const body = await api(`/stub/api/chats/${current.chat_id}/messages?after=${cursor}`);
    if (mine !== generation) return;
    chatInfo = body.chat;
    cursor = body.cursor;
    let changed = false;
    for (const entry of body.messages) {
      log.set(entry.message_id, entry);
      changed = true;
    }
    renderHeader(body.chat_action);
    if (changed) render();
  } catch (error) {
    ui.sub.textContent = `stub unreachable: ${error.message}`;
  } finally {
    if (mine === generation) pollTimer = setTimeout(poll, POLL_MS);
  }
}

function renderHeader(action) {
  const chat = chatInfo || {};
  const isGroup = chat.type && chat.type !== "private";
  ui.title.textContent = isGroup ? chat.title : world.bot.first_name;
  ui.avatar.textContent = initials(ui.title.textContent);
  ui.avatar.className = isGroup ? "avatar group" : "avatar";
  const me = world.users.find((u) => u.id === current.from);
  const base = isGroup ? `group · you are ${me ? me.first_name : current.from}` : `bot · you are ${me ? me.first_name : current.from}`;
  ui.sub.textContent = action ? `${world.bot.first_name} is ${action.replace("_", " ")}…` : base;
  ui.sub.classList.toggle("typing", Boolean(action));
}

// ----- rendering --------------------------------------------------------------------------
function render() {
  const nearBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
  const visible = [...log.values()].filter((m) => !m.deleted).sort((a, b) => a.message_id - b.message_id);
  ui.messages.replaceChildren();
  if (!visible.length) ui.messages.append(el("div", "empty", "No messages yet. Say /start."));
  for (const message of visible) ui.messages.append(renderMessage(message));
  renderReplyKeyboard(visible);
  if (nearBottom || visible.length <= 1) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function senderName(message) {
  if (message.from_bot) return world.bot.first_name;
  const user = world.users.find((u) => u.id === message.from_id);
  return user ? user.first_name : String(message.from_id);
}

function renderMessage(message) {
  const mine = !message.from_bot && message.from_id === current.from;
  const row = el("div", mine ? "row mine" : "row");
  const bubble = el("div", "bubble");
  const isGroup = chatInfo && chatInfo.type !== "private";
  if (isGroup && !mine) bubble.append(el("div", "sender", senderName(message)));
  const file = message.document || (message.photo && message.photo[message.photo.length - 1]);
  if (file) bubble.append(renderDocument(file, Boolean(message.photo)));
  const body = el("span");
  body.innerHTML = message.html; // sanitised server-side (see header comment)
  for (const spoiler of body.querySelectorAll(".tg-spoiler")) {
    spoiler.addEventListener("click", () => spoiler.classList.add("revealed"));
  }
  const time = new Date(message.date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  bubble.append(body, el("span", "meta", message.edit_count ? `edited ${time}` : time));
  row.append(bubble);
  const inline = message.reply_markup && message.reply_markup.inline_keyboard;
  if (inline && inline.length) row.append(renderInlineKeyboard(message, inline));
  return row;
}

function renderDocument(file, isPhoto) {
  const box = el("div", "document");
  // A CSS-drawn icon: emoji fonts are not guaranteed (e.g. headless or minimal desktops).
  box.append(el("div", "doc-icon", isPhoto ? "IMG" : (file.file_name || "").split(".").pop().slice(0, 4).toUpperCase() || "FILE"));
  const info = el("div");
  const link = el("a", "", file.file_name || (isPhoto ? "photo" : "file"));
  link.href = `/stub/api/files/${encodeURIComponent(file.file_id)}`;
  info.append(link, el("div", "doc-size", `${Math.max(1, Math.round((file.file_size || 0) / 1024))} KB`));
  box.append(info);
  return box;
}

function webAppLaunch(url) {
  return `/stub/webapp?from=${encodeURIComponent(current.from)}&url=${encodeURIComponent(url)}`;
}

function renderInlineKeyboard(message, rows) {
  const keyboard = el("div", "keyboard");
  for (const row of rows) {
    const line = el("div", "keyboard-row");
    for (const button of row) line.append(inlineButton(message, button));
    keyboard.append(line);
  }
  return keyboard;
}

function inlineButton(message, button) {
  const node = el("button", "kb-button", button.text);
  node.type = "button";
  // A Mini App opens through the stand-in, which signs its launch data (initData) for the
  // person chosen and redirects to the app's URL with it in the hash, as Telegram's clients do.
  const openUrl = button.web_app ? webAppLaunch(button.web_app.url)
    : button.url || (button.login_url && button.login_url.url);
  if (openUrl) {
    node.append(el("span", "kb-kind", button.web_app ? "⧉ app" : "↗"));
    node.title = button.web_app ? button.web_app.url : openUrl;
    node.addEventListener("click", () => window.open(openUrl, "_blank", "noopener"));
  } else if (button.callback_data !== undefined) {
    node.addEventListener("click", () => press(message, button, node));
  } else if (button.copy_text) {
    node.addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(button.copy_text.text));
  } else {
    node.disabled = true;
    node.title = "This button type is not supported by the stub";
  }
  return node;
}

function renderReplyKeyboard(visible) {
  // The newest bot message carrying a reply keyboard (or its removal) decides what is shown.
  const latest = [...visible].reverse().find((m) => m.from_bot && m.reply_markup &&
    (m.reply_markup.keyboard || m.reply_markup.remove_keyboard));
  const keyboard = latest && latest.reply_markup.keyboard;
  ui.replyKeyboard.hidden = !keyboard;
  ui.replyKeyboard.replaceChildren();
  if (!keyboard) return;
  for (const row of keyboard) {
    const line = el("div", "keyboard-row");
    for (const button of row) {
      const text = typeof button === "string" ? button : button.text;
      const node = el("button", "kb-button", text);
      node.type = "button";
      node.addEventListener("click", () => sendText(text));
      line.append(node);
    }
    ui.replyKeyboard.append(line);
  }
}

// ----- actions ----------------------------------------------------------------------------
async function sendText(text) {
  if (!current || !text.trim()) return;
  try {
    await postJson("/stub/api/send", { chat_id: current.chat_id, from: current.from, text });
    poll();
  } catch (error) {
    showError(error.message);
  }
}

async function press(message, button, node) {
  node.disabled = true;
  try {
    const body = await postJson("/stub/api/press", {
      chat_id: current.chat_id, from: current.from, message_id: message.message_id,
      data: button.callback_data, wait_answer: 3,
    });
    const answer = body.answer;
    if (answer && answer.text) (answer.show_alert ? showAlert : showToast)(answer.text);
    if (answer && answer.url) window.open(answer.url, "_blank", "noopener");
    poll();
  } catch (error) {
    showError(error.message);
  } finally {
    node.disabled = false;
  }
}

async function uploadFile(file) {
  const form = new FormData();
  form.append("chat_id", current.chat_id);
  form.append("from", current.from);
  const caption = ui.input.value.trim();
  if (caption) form.append("caption", caption);
  form.append("file", file, file.name);
  try {
    await api("/stub/api/upload", { method: "POST", body: form });
    ui.input.value = "";
    poll();
  } catch (error) {
    showError(error.message);
  }
}

function showToast(text) {
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => { ui.toast.hidden = true; }, 2500);
}
function showAlert(text) {
  ui.alertText.textContent = text;
  ui.alert.hidden = false;
}
function showError(text) {
  const note = el("div", "error-note", text);
  ui.messages.append(note);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  setTimeout(() => note.remove(), 5000);
}

// ----- bot commands and menu button -------------------------------------------------------
function commandsFor(persona) {
  const base = '{"type": "default"}|';
  const all = world.commands || {};
  return all[`${base.slice(0, -1)}|${persona.language_code || ""}`] || all[base] || [];
}

function toggleCommands() {
  if (!current) return;
  if (!ui.commandsMenu.hidden) { ui.commandsMenu.hidden = true; return; }
  const commands = commandsFor(current);
  ui.commandsMenu.replaceChildren();
  if (!commands.length) ui.commandsMenu.append(el("div", "command-item", "The bot has not set any commands."));
  for (const command of commands) {
    const item = el("button", "command-item");
    item.type = "button";
    item.append(el("b", "", `/${command.command}`), el("span", "", command.description));
    item.addEventListener("click", () => { ui.commandsMenu.hidden = true; sendText(`/${command.command}`); });
    ui.commandsMenu.append(item);
  }
  ui.commandsMenu.hidden = false;
}

function updateMenuApp() {
  const buttons = world.menu_buttons || {};
  const button = buttons[String(current.chat_id)] || buttons["null"];
  const isApp = button && button.type === "web_app" && current.chat_id === current.from;
  ui.menuApp.hidden = !isApp;
  if (isApp) {
    ui.menuApp.textContent = button.text || "Open app";
    ui.menuApp.onclick = () => window.open(webAppLaunch(button.web_app.url), "_blank", "noopener");
  }
}

// ----- wiring -----------------------------------------------------------------------------
ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.input.value;
  ui.input.value = "";
  sendText(text);
});
ui.file.addEventListener("change", () => {
  if (ui.file.files.length && current) uploadFile(ui.file.files[0]);
  ui.file.value = "";
});
ui.commandsButton.addEventListener("click", async () => {
  world = await api("/stub/api/state");  // commands may have been set since page load
  toggleCommands();
});
$("alert-ok").addEventListener("click", () => { ui.alert.hidden = true; });

loadWorld().catch((error) => { ui.sub.textContent = `stub unreachable: ${error.message}`; });
// Users and chats may be declared after the page opened (e.g. the bot seeds them at start).
setInterval(async () => {
  try {
    const fresh = await api("/stub/api/state");
    if (JSON.stringify(fresh.personas) !== JSON.stringify(world && world.personas)) await loadWorld();
    else { world = fresh; if (current) updateMenuApp(); }
  } catch (_) { /* header shows the error on the next poll */ }
}, 5000);
