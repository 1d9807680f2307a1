// The audit log (admins, finance): who did what to which object, with the object before and
// after, newest first; filtered by who, what (an action or its start: "withdrawal."), the
// object and the days; paged. The filters and the page live in the address, so a reload or a
// shared link shows the same. Above it, whether the hash chain checked out at its last check.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const form = document.getElementById("audit-filters");
  const FILTERS = ["actor", "action", "object_type", "object_id", "from", "to"];
  const inputs = Object.fromEntries(FILTERS.map((name) => [name, $(`audit-${name}`)]));
  const pageSize = $("audit-page-size");
  const filterError = $("audit-filter-error");
  const entries = $("audit-entries");
  const chain = $("audit-chain");
  const totalBox = $("audit-total");
  const pageInfo = $("audit-page-info");
  const prev = $("audit-page-prev");
  const next = $("audit-page-next");
  const state = { page: 1 };

  function fromAddress() {
    const params = new URLSearchParams(location.search);
    for (const name of FILTERS) inputs[name].value = params.get(name) || "";
    if (params.get("page_size")) pageSize.value = params.get("page_size");
    state.page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  }

  function query() {
    const found = { page: state.page > 1 ? String(state.page) : "",
      page_size: pageSize.value !== "50" ? pageSize.value : "" };
    for (const name of FILTERS) found[name] = inputs[name].value.trim();
    return found;
  }

  function toAddress() {
    const params = new URLSearchParams(location.search);
    for (const [name, value] of Object.entries(query())) {
      if (value) params.set(name, value); else params.delete(name);
    }
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  // A before/after as the log keeps it (JSON), laid out to read; the values are not rewritten.
  function snapshot(label, text, testid) {
    if (text === null || text === undefined) return null;
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 1); } catch (_) { /* kept as it is */ }
    return el("details", { class: "audit-snapshot", testid },
      el("summary", {}, label), el("pre", { class: "prewrap small" }, shown));
  }

  function entry(item) {
    const filterBy = (name, value) => el("button", { type: "button", class: "link-button",
      testid: `audit-by-${name}`, onClick: () => {
        inputs[name].value = String(value);
        state.page = 1;
        load();
      } }, String(value));
    return el("li", { class: "card audit-entry", testid: "audit-entry",
      dataset: { seq: String(item.seq), action: item.action } },
    el("div", { class: "card-head" },
      el("strong", { testid: "audit-action" }, item.action),
      el("span", { class: "muted small" }, `#${item.seq} · ${C.when(item.at)}`)),
    el("p", { class: "small" },
      t("admin.audit.by"), " ",
      item.actor_id === null ? t("admin.audit.system") : filterBy("actor", item.actor_id),
      " · ", t("admin.audit.object"), " ", el("code", {}, item.object_type), " ",
      filterBy("object_id", item.object_id)),
    snapshot(t("admin.audit.before"), item.before, "audit-before"),
    snapshot(t("admin.audit.after"), item.after, "audit-after"));
  }

  function showChain(data) {
    const ok = data.chain.ok;
    C.fill(chain, el("span", { class: `badge ${ok ? "good" : "bad"}`, testid: "audit-chain-state",
      dataset: { ok: String(ok) } }, t(ok ? "admin.audit.chain_ok" : "admin.audit.chain_broken")),
    ok ? null : " ", ok ? null : t("admin.audit.chain_broken_at", {
      place: data.chain.broken_at === null ? "?" : data.chain.broken_at,
      since: C.when(data.chain.since) }));
  }

  function render(data) {
    showChain(data);
    totalBox.textContent = t("admin.audit.total", { count: data.total });
    if (data.entries.length) C.fill(entries, data.entries.map(entry));
    else C.fill(entries, el("li", { class: "muted", testid: "audit-empty" }, t("admin.audit.none")));
    entries.removeAttribute("aria-busy");
    pageInfo.textContent = t("admin.audit.page_info", { page: data.page, pages: data.pages });
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= data.pages;
  }

  async function load() {
    filterError.hidden = true;
    for (const name of FILTERS) C.markField(inputs[name], false);
    toAddress();
    C.pageBusy(true);
    try {
      const data = await C.api("GET", "/api/admin/audit", { query: query() });
      C.hideNotice();
      state.page = data.page;
      render(data);
    } catch (error) {
      if (error instanceof C.ApiFailure && error.status === 400 && error.field) {
        // A filter the API refuses: said under the filters, the field marked.
        filterError.textContent = error.message;
        filterError.hidden = false;
        C.markField(inputs[error.field] || pageSize, true);
      } else {
        C.fail(error, load);
      }
    } finally {
      C.pageBusy(false);
    }
  }

  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    state.page = 1;
    C.haptic("selection");
    load();
  });
  pageSize.addEventListener("change", () => { state.page = 1; load(); });
  prev.addEventListener("click", () => { state.page -= 1; load(); });
  next.addEventListener("click", () => { state.page += 1; load(); });
  fromAddress();
  C.ready.then((me) => { if (me) load(); });
})();
