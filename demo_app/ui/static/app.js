// The live page. Everything the API returns is untrusted (the display especially): it reaches the page
// only through textContent and form values, never innerHTML, so markup in data shows as text.
"use strict";

const POLL_MS = 1000;
const SYSTEM_POLL_MS = 2000;
const etags = new Map();
let token = sessionStorage.getItem("demoapp-token") || "";
let editingId = null;
let knownIds = null;

const $ = (id) => document.getElementById(id);

function headers(extra) {
  const result = Object.assign({}, extra);
  if (token) result.Authorization = "Bearer " + token;
  return result;
}

async function request(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 401) askForToken();
  return response;
}

// A GET that answers null when nothing changed since the last answer (ETag / 304).
async function poll(path) {
  const extra = { "Cache-Control": "no-cache" };
  if (etags.has(path)) extra["If-None-Match"] = etags.get(path);
  const response = await fetch(path, { headers: headers(extra), cache: "no-store" });
  if (response.status === 304) return null;
  if (response.status === 401) {
    askForToken();
    return null;
  }
  const etag = response.headers.get("ETag");
  if (etag) etags.set(path, etag);
  else etags.delete(path);
  return response;
}

function askForToken() {
  $("token-form").hidden = false;
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status-text").textContent = text;
}

function formatUptime(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
}

function shortTime(rfc3339) {
  const date = new Date(rfc3339);
  return isNaN(date) ? String(rfc3339) : date.toLocaleTimeString();
}

async function refreshHealth() {
  try {
    const response = await fetch("/health", { cache: "no-store" });
    const body = await response.json();
    if (response.ok) setStatus("ok", "healthy · " + String(body.store));
    else setStatus("down", "store unavailable");
  } catch (error) {
    setStatus("down", "service unreachable");
  }
}

async function refreshSystem() {
  const response = await poll("/api/system");
  if (!response || !response.ok) return;
  const facts = await response.json();
  $("system-hostname").textContent = String(facts.hostname);
  $("system-ips").textContent = Array.isArray(facts.ips) && facts.ips.length ? facts.ips.join(", ") : "none";
  $("system-store").textContent = facts.store ? String(facts.store.engine) : "?";
  $("system-version").textContent = String(facts.version);
  $("system-uptime").textContent = formatUptime(Number(facts.uptime_seconds) || 0);
  $("system-platform").textContent = String(facts.platform) + " · Python " + String(facts.python);
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (error) {
    return text;
  }
}

async function refreshDisplay() {
  const response = await poll("/api/display");
  if (!response || !response.ok) return;
  const text = await response.text();
  $("display-json").textContent = prettyJson(text);
  const updated = response.headers.get("X-Display-Updated-At");
  $("display-meta").textContent = updated
    ? "updated " + shortTime(updated) + " · " + text.length + " bytes"
    : "nothing displayed yet";
}

function cell(text, placeholder) {
  const td = document.createElement("td");
  if (text === null || text === undefined || text === "") {
    const span = document.createElement("span");
    span.className = "placeholder";
    span.textContent = placeholder;
    td.appendChild(span);
  } else {
    td.textContent = String(text);
  }
  return td;
}

function button(label, className, testid, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.className = className;
  element.dataset.testid = testid;
  element.addEventListener("click", onClick);
  return element;
}

function showItemsError(message) {
  const element = $("items-error");
  element.textContent = message;
  element.hidden = !message;
}

async function explain(response) {
  try {
    const body = await response.json();
    return String(body.error) + (body.field ? " (" + String(body.field) + ")" : "");
  } catch (error) {
    return "HTTP " + response.status;
  }
}

function itemRow(item) {
  const row = document.createElement("tr");
  row.dataset.testid = "item-row";
  row.dataset.id = String(item.id);
  if (knownIds && !knownIds.has(item.id)) row.className = "fresh";
  const id = cell(item.id, "");
  const name = cell(item.name, "");
  name.dataset.testid = "item-name";
  const description = cell(item.description, item.description === "" ? "empty" : "none");
  description.dataset.testid = "item-description";
  const updated = cell(shortTime(item.updated_at), "");
  const actions = document.createElement("td");
  actions.className = "actions";
  actions.appendChild(button("Edit", "secondary", "item-edit", () => startEdit(row, item)));
  actions.appendChild(button("Delete", "danger", "item-delete", () => deleteItem(item.id)));
  row.append(id, name, description, updated, actions);
  return row;
}

function startEdit(row, item) {
  editingId = item.id;
  const nameInput = document.createElement("input");
  nameInput.value = item.name;
  nameInput.maxLength = 256;
  nameInput.dataset.testid = "item-edit-name";
  const descriptionInput = document.createElement("input");
  descriptionInput.value = item.description === null ? "" : item.description;
  descriptionInput.dataset.testid = "item-edit-description";
  const nameCell = document.createElement("td");
  nameCell.appendChild(nameInput);
  const descriptionCell = document.createElement("td");
  descriptionCell.appendChild(descriptionInput);
  const actions = document.createElement("td");
  actions.className = "actions";
  actions.appendChild(
    button("Save", "", "item-save", async () => {
      const response = await request("PATCH", "/api/items/" + item.id, {
        name: nameInput.value,
        description: descriptionInput.value === "" && item.description === null ? null : descriptionInput.value,
      });
      if (!response.ok) {
        showItemsError(await explain(response));
        return;
      }
      showItemsError("");
      editingId = null;
      refreshItems(true);
    }),
  );
  actions.appendChild(
    button("Cancel", "secondary", "item-cancel", () => {
      editingId = null;
      refreshItems(true);
    }),
  );
  row.replaceChild(nameCell, row.children[1]);
  row.replaceChild(descriptionCell, row.children[2]);
  row.replaceChild(actions, row.children[4]);
  nameInput.focus();
}

async function deleteItem(id) {
  const response = await request("DELETE", "/api/items/" + id);
  if (!response.ok && response.status !== 404) {
    showItemsError(await explain(response));
    return;
  }
  showItemsError("");
  refreshItems(true);
}

async function refreshItems(force) {
  // An open edit form is not redrawn under the presenter's cursor; the list catches up after it.
  if (editingId !== null) return;
  if (force) etags.delete("/api/items");
  const response = await poll("/api/items");
  if (!response || !response.ok) return;
  const items = await response.json();
  const rows = items.map(itemRow);
  $("items-list").replaceChildren(...rows);
  $("items-count").textContent = String(items.length);
  $("items-empty").hidden = items.length > 0;
  knownIds = new Set(items.map((item) => item.id));
}

async function addItem(event) {
  event.preventDefault();
  const description = $("item-description-input").value;
  const response = await request("POST", "/api/items", {
    name: $("item-name-input").value,
    description: description === "" ? null : description,
  });
  if (!response.ok) {
    showItemsError(await explain(response));
    return;
  }
  showItemsError("");
  $("item-form").reset();
  $("item-name-input").focus();
  refreshItems(true);
}

function every(milliseconds, task) {
  const run = async () => {
    try {
      await task();
    } catch (error) {
      setStatus("down", "service unreachable");
    }
    setTimeout(run, milliseconds);
  };
  run();
}

document.addEventListener("DOMContentLoaded", () => {
  $("item-form").addEventListener("submit", addItem);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token-input").value;
    sessionStorage.setItem("demoapp-token", token);
    $("token-form").hidden = true;
    etags.clear();
  });
  every(POLL_MS, refreshHealth);
  every(POLL_MS, refreshItems);
  every(POLL_MS, refreshDisplay);
  every(SYSTEM_POLL_MS, refreshSystem);
});
