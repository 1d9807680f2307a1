// Users (operators): the directory — a search (Telegram id, @username, a name or an exchange
// UID), filters, a sort and pages of a chosen size, each user linking to their page. The
// address keeps what is shown; the API decides who may see it (a 403's message in the notice).
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const COLUMNS = ["user", "role", "state", "source", "exchanges", "available", "since"];
  const SIZES = [10, 25, 50, 100];
  const DEFAULT_SIZE = 25;
  const DEFAULT_SORT = "newest";
  const filterForm = document.getElementById("admin-filters");
  const gotoForm = document.getElementById("admin-goto");
  const FIELDS = {
    q: $("admin-q"), state: $("admin-state"), role: $("admin-role"), source: $("admin-source"),
    exchange: $("admin-exchange"), has_balance: $("admin-has-balance"), sort: $("admin-sort"),
  };
  const NAMES = Object.keys(FIELDS);
  const filterError = $("admin-filter-error");
  const body = document.getElementById("admin-user-rows");
  const total = $("admin-total");
  const prev = $("admin-page-prev");
  const next = $("admin-page-next");
  const info = $("admin-page-info");
  const sizeSelect = $("admin-page-size");
  const pageInput = $("admin-page-input");
  const gotoError = $("admin-goto-error");
  // What is shown: the applied filters (not what is typed but not applied yet) and the page.
  const state = { q: "", state: "", role: "", source: "", exchange: "", has_balance: "",
    sort: DEFAULT_SORT, page: 1, pages: 1, page_size: DEFAULT_SIZE };
  let exchangeNames = {};
  let exchangesShown = false;
  let sequence = 0;

  function fromUrl() {
    const params = new URLSearchParams(location.search);
    for (const name of NAMES) state[name] = params.get(name) || "";
    if (!state.sort) state.sort = DEFAULT_SORT;
    state.page = Math.max(1, parseInt(params.get("page"), 10) || 1);
    const size = parseInt(params.get("page_size"), 10);
    state.page_size = SIZES.includes(size) ? size : DEFAULT_SIZE;
    showState();
  }

  function showState() {
    for (const name of NAMES) {
      FIELDS[name].value = state[name];
      // A choice the page does not offer (an old address) is dropped; the exchanges come
      // with the first answer, so one of those is left for the API to judge.
      if (name !== "exchange" && FIELDS[name].value !== state[name]) {
        state[name] = name === "sort" ? DEFAULT_SORT : "";
        FIELDS[name].value = state[name];
      }
    }
    sizeSelect.value = String(state.page_size);
  }

  // The address keeps the filters, so a reload (or the way back from a user) shows the same.
  function toUrl() {
    const params = new URLSearchParams(location.search);
    for (const name of NAMES) {
      const value = state[name];
      if (value && !(name === "sort" && value === DEFAULT_SORT)) params.set(name, value);
      else params.delete(name);
    }
    if (state.page > 1) params.set("page", state.page); else params.delete("page");
    if (state.page_size !== DEFAULT_SIZE) params.set("page_size", state.page_size);
    else params.delete("page_size");
    const query = String(params);
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  }

  function query() {
    const wanted = { page: state.page, page_size: state.page_size };
    for (const name of NAMES) wanted[name] = state[name];
    return wanted;
  }

  // A catalog word, or the code itself when the catalog has none (a value added later).
  function word(prefix, code) {
    const key = `${prefix}.${code}`;
    const text = t(key);
    return text === key ? code : text;
  }

  function userUrl(id) {
    const url = new URL(C.config.urls.admin_user, location.href);
    url.searchParams.set("id", String(id));
    return `${url.pathname}${url.search}`;
  }

  function cell(column, content, extra) {
    return el("td", { class: ["col-" + column, column === "available" ? "num" : null],
      "data-label": t(`admin.col.${column}`), ...extra }, content);
  }

  function stateBadge(banned) {
    return el("span", { class: banned ? "badge bad" : "badge good" },
      t(banned ? "admin.state.banned" : "admin.state.active"));
  }

  function line(user) {
    const exchanges = user.exchanges.map((id) => exchangeNames[id] || id).join(", ");
    return el("tr", { class: user.banned ? "line banned" : "line", testid: "admin-user-row",
      dataset: { id: String(user.id), role: user.role, banned: String(user.banned) } },
      cell("user", [
        el("a", { href: userUrl(user.id), class: "strong", testid: `admin-user-${user.id}` },
          user.name || t("admin.no_name")),
        user.username ? [" ", el("span", { class: "muted" }, `@${user.username}`)] : null,
        el("div", { class: "muted small" }, el("code", {}, String(user.id)))]),
      cell("role", user.role_text),
      cell("state", stateBadge(user.banned)),
      cell("source", word("admin.source", user.source)),
      cell("exchanges", exchanges || "—"),
      cell("available", el("span", { class: "value" }, C.money(user.available)),
        { testid: "admin-user-available" }),
      cell("since", C.when(user.created_at)));
  }

  function showExchanges(exchanges) {
    exchangeNames = Object.fromEntries((exchanges || []).map((x) => [x.id, x.name]));
    if (exchangesShown) return;
    exchangesShown = true;
    C.fill(FIELDS.exchange, el("option", { value: "" }, t("admin.users.any")),
      (exchanges || []).map((x) => el("option", { value: x.id }, x.name)));
    FIELDS.exchange.value = state.exchange;
  }

  function render(data) {
    showExchanges(data.exchanges);
    if (data.users.length) C.fill(body, data.users.map(line));
    else {
      C.fill(body, el("tr", { class: "empty-row" }, el("td", { colspan: COLUMNS.length,
        class: "muted", testid: "admin-users-empty" }, t("admin.users.empty"))));
    }
    state.page = data.page;
    state.pages = Math.max(1, data.pages);
    state.page_size = data.page_size || state.page_size;
    total.textContent = t("admin.users.total", { count: data.total });
    info.textContent = t("admin.users.page_info", { page: state.page, pages: state.pages });
    prev.disabled = state.page <= 1;
    next.disabled = state.page >= state.pages;
    pageInput.max = String(state.pages);
    pageInput.value = "";
    sizeSelect.value = String(state.page_size);
  }

  function showError(box, message, input) {
    for (const field of [...Object.values(FIELDS), pageInput]) C.markField(field, false);
    box.hidden = !message;
    box.textContent = message || "";
    if (input) { C.markField(input, true); input.focus(); }
  }

  async function load() {
    const mine = ++sequence;
    C.pageBusy(true);
    prev.disabled = true;
    next.disabled = true;
    try {
      const data = await C.api("GET", "/api/admin/users", { query: query() });
      if (mine !== sequence) return;
      C.hideNotice();
      showError(filterError, null);
      render(data);
      toUrl();
    } catch (error) {
      if (mine !== sequence) return;
      // A filter the API refuses (400, or 422): said under the filters, at that field.
      if (error instanceof C.ApiFailure && (error.status === 400 || error.status === 422)) {
        C.haptic("error");
        showError(filterError, error.message, FIELDS[error.field] || null);
      } else {
        C.fill(body);
        total.textContent = "";
        C.fail(error, load);
      }
    } finally {
      if (mine === sequence) {
        body.removeAttribute("aria-busy");
        C.pageBusy(false);
      }
    }
  }

  function apply(event) {
    if (event) event.preventDefault();
    for (const name of NAMES) state[name] = FIELDS[name].value.trim();
    state.page = 1;
    C.haptic("selection");
    load();
  }

  function go(page) {
    if (page < 1 || page > state.pages || page === state.page) return;
    state.page = page;
    C.haptic("selection");
    load();
    document.getElementById("admin-users").scrollIntoView({ block: "start" });
  }

  function goto(event) {
    event.preventDefault();
    const page = Number(pageInput.value);
    if (!Number.isInteger(page) || page < 1 || page > state.pages) {
      C.haptic("error");
      showError(gotoError, t("admin.users.bad_page", { pages: state.pages }), pageInput);
      return;
    }
    showError(gotoError, null);
    go(page);
  }

  filterForm.addEventListener("submit", apply);
  // A choice applies at once; the search waits for Enter or the button.
  for (const name of NAMES) if (name !== "q") FIELDS[name].addEventListener("change", apply);
  sizeSelect.addEventListener("change", () => {
    state.page_size = Number(sizeSelect.value);
    state.page = 1;
    C.haptic("selection");
    load();
  });
  gotoForm.addEventListener("submit", goto);
  pageInput.addEventListener("input", () => showError(gotoError, null));
  prev.addEventListener("click", () => go(state.page - 1));
  next.addEventListener("click", () => go(state.page + 1));
  fromUrl();
  C.ready.then((me) => {
    if (me) load();
    else C.fill(body);
  });
})();
