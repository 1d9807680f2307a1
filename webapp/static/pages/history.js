// History: the per-day lines (volume → fee → commission → share = rebate, estimated marked),
// filtered by exchange and dates, a page at a time, with the totals of everything filtered and
// a CSV of exactly those lines (the same filters, every page).
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const COLUMNS = ["day", "exchange", "volume", "fee", "commission", "share", "rebate"];
  const filterForm = document.getElementById("filters");
  const exchangeSelect = $("filter-exchange");
  const fromInput = $("filter-from");
  const toInput = $("filter-to");
  const filterError = $("filter-error");
  const body = document.getElementById("history-lines");
  const foot = document.getElementById("history-totals");
  const prev = $("page-prev");
  const next = $("page-next");
  const info = $("page-info");
  const csvButton = $("csv-export");
  const csvMessage = $("csv-message");
  const FIELDS = { exchange: exchangeSelect, from: fromInput, to: toInput };
  // What is shown: the applied filters (not what is typed but not applied yet) and the page.
  const state = { exchange: "", from: "", to: "", page: 1, pages: 1 };
  let sequence = 0;
  let exchangesShown = false;
  let scrollUp = false; // after a page turn, the new page is shown from its first line

  function fromUrl() {
    const params = new URLSearchParams(location.search);
    for (const name of ["exchange", "from", "to"]) state[name] = params.get(name) || "";
    state.page = Math.max(1, parseInt(params.get("page"), 10) || 1);
    exchangeSelect.value = state.exchange;
    fromInput.value = state.from;
    toInput.value = state.to;
  }

  // The address keeps the filters, so a reload (or Telegram re-opening the page) shows the same.
  function toUrl() {
    const params = new URLSearchParams(location.search);
    for (const name of ["exchange", "from", "to"]) {
      if (state[name]) params.set(name, state[name]); else params.delete(name);
    }
    if (state.page > 1) params.set("page", state.page); else params.delete("page");
    const query = String(params);
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  }

  const filters = () => ({ exchange: state.exchange, from: state.from, to: state.to });

  // A figure sits in one span: stacked on a phone, the cell is "label … value".
  function cell(column, content, extra) {
    const text = ["day", "exchange"].includes(column);
    return el("td", { class: text ? column : "num", "data-label": t(`history.col.${column}`), ...extra },
      text ? content : el("span", { class: "value" }, content));
  }

  function estimatedMark() {
    return el("abbr", { class: "est-mark", title: t("common.estimated_title") },
      `≈ ${t("common.estimated")}`);
  }

  function line(item) {
    return el("tr", { class: item.estimated ? "line estimated" : "line", testid: "history-line",
      dataset: { day: item.day, exchange: item.exchange_id, estimated: String(item.estimated) } },
      cell("day", el("time", { datetime: item.day, text: item.day })),
      cell("exchange", item.exchange_name),
      cell("volume", C.money(item.volume)),
      cell("fee", C.money(item.fee)),
      cell("commission", C.money(item.commission)),
      cell("share", item.share_text),
      cell("rebate", [el("strong", { text: C.money(item.rebate) }),
        item.estimated ? [" ", estimatedMark()] : null], { testid: "history-rebate" }));
  }

  function showExchanges(exchanges) {
    if (exchangesShown) return;
    exchangesShown = true;
    C.fill(exchangeSelect, el("option", { value: "" }, t("history.all_exchanges")),
      exchanges.map((x) => el("option", { value: x.id }, x.name)));
    exchangeSelect.value = state.exchange;
  }

  function render(data) {
    showExchanges(data.exchanges);
    if (data.lines.length) C.fill(body, data.lines.map(line));
    else {
      C.fill(body, el("tr", { class: "empty-row" },
        el("td", { colspan: COLUMNS.length, class: "muted", testid: "history-empty" }, t("history.empty"))));
    }
    $("history-total-volume").textContent = C.money(data.totals.volume);
    $("history-total-fee").textContent = C.money(data.totals.fee);
    $("history-total-commission").textContent = C.money(data.totals.commission);
    $("history-total-rebate").textContent = C.money(data.totals.rebate);
    document.getElementById("history-count").textContent =
      `· ${t("history.lines", { count: data.totals.lines })}`;
    foot.hidden = false;
    state.page = data.page;
    state.pages = Math.max(1, data.pages);
    info.textContent = t("history.page_info", { page: state.page, pages: state.pages });
    prev.disabled = state.page <= 1;
    next.disabled = state.page >= state.pages;
    csvButton.disabled = data.totals.lines === 0;
  }

  function showFilterError(message, field) {
    for (const input of Object.values(FIELDS)) C.markField(input, false);
    filterError.hidden = !message;
    filterError.textContent = message || "";
    if (field && FIELDS[field]) { C.markField(FIELDS[field], true); FIELDS[field].focus(); }
  }

  async function load() {
    const mine = ++sequence;
    C.pageBusy(true);
    prev.disabled = true;
    next.disabled = true;
    try {
      const data = await C.api("GET", "/api/history", { query: { ...filters(), page: state.page } });
      if (mine !== sequence) return;
      C.hideNotice();
      showFilterError(null);
      render(data);
      toUrl();
      if (scrollUp) document.getElementById("history").scrollIntoView({ block: "start" });
      scrollUp = false;
    } catch (error) {
      if (mine !== sequence) return;
      if (error instanceof C.ApiFailure && error.status >= 400 && error.status < 500
          && error.status !== 401) {
        C.haptic("error");
        showFilterError(error.message, error.field);
      } else C.fail(error, load);
    } finally {
      if (mine === sequence) {
        body.removeAttribute("aria-busy");
        C.pageBusy(false);
      }
    }
  }

  function apply(event) {
    event.preventDefault();
    const wanted = { exchange: exchangeSelect.value, from: fromInput.value, to: toInput.value };
    if (wanted.from && wanted.to && wanted.from > wanted.to) { // ISO days compare as text
      C.haptic("error");
      showFilterError(t("history.bad_range"), "from");
      C.markField(toInput, true);
      return;
    }
    Object.assign(state, wanted, { page: 1 });
    C.haptic("selection");
    load();
  }

  function turn(delta) {
    const page = state.page + delta;
    if (page < 1 || page > state.pages) return;
    state.page = page;
    scrollUp = true;
    C.haptic("selection");
    load();
  }

  async function exportCsv() {
    C.busy(csvButton, true);
    csvMessage.textContent = "";
    try {
      const response = await C.api("GET", "/api/history.csv", { query: filters(), raw: true });
      const name = await C.download(response, "history.csv");
      csvMessage.textContent = t("history.csv_done", { name });
    } catch (error) {
      C.fail(error, exportCsv);
    } finally {
      C.busy(csvButton, false);
    }
  }

  filterForm.addEventListener("submit", apply);
  exchangeSelect.addEventListener("change", () => C.haptic("selection"));
  prev.addEventListener("click", () => turn(-1));
  next.addEventListener("click", () => turn(1));
  csvButton.addEventListener("click", exportCsv);
  fromUrl();
  C.ready.then((me) => {
    if (me) load();
    else C.fill(body);
  });
})();
