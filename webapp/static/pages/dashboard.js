// Dashboard: totals of a period with the change against the previous one, the balance, the
// server-drawn chart and a card per exchange with its sync times (an empty day explained).
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const TOTALS = ["volume", "fee", "commission", "rebate"];
  const BALANCE = ["available", "held", "paid_out", "total_earned", "estimated"];
  const periodButtons = [...document.querySelectorAll("[data-period]")];
  const chart = document.getElementById("chart");
  const chartFailed = document.getElementById("chart-failed");
  let period = "30d";
  let sequence = 0; // answers to an older period switch are dropped
  let chartUrl = null;

  function showChange(node, change) {
    if (!change) { // "all", or nothing earned before: nothing to compare with
      node.className = "change none";
      node.textContent = "—";
      node.title = t("dashboard.no_change");
      return;
    }
    node.className = `change ${change.direction}`;
    node.title = t("dashboard.change_title");
    const arrow = { up: "▲", down: "▼", flat: "●" }[change.direction] || "";
    C.fill(node, el("span", { "aria-hidden": "true" }, arrow), " ", change.text);
  }

  function exchangeCard(exchange) {
    return el("article", { class: "card exchange", testid: `exchange-card-${exchange.id}` },
      el("h3", { text: exchange.name }),
      el("dl", { class: "pairs" },
        el("div", {}, el("dt", { text: t("dashboard.exchange.volume") }),
          el("dd", { text: C.money(exchange.volume) })),
        el("div", {}, el("dt", { text: t("dashboard.exchange.rebate") }),
          el("dd", { class: "strong", text: C.money(exchange.rebate) }))),
      el("p", { class: "sync muted", testid: "sync-text" }, exchange.sync_text));
  }

  function render(data) {
    for (const name of TOTALS) {
      $(`total-${name}`).textContent = C.money(data.totals[name]);
      showChange($(`change-${name}`), data.change[name]);
    }
    $("total-estimated").textContent = C.money(data.totals.estimated);
    for (const name of BALANCE) $(`balance-${name}`).textContent = C.money(data.balance[name]);
    for (const node of document.querySelectorAll(".estimated-part")) {
      node.classList.add("estimated");
      node.title = t("common.estimated_title");
    }
    const cards = document.getElementById("exchange-cards");
    if (data.exchanges.length) C.fill(cards, data.exchanges.map(exchangeCard));
    else {
      C.fill(cards, el("p", { class: "muted" }, t("dashboard.no_exchanges"), " ",
        el("a", { href: C.config.urls.accounts }, t("dashboard.link_accounts"))));
    }
    const available = Number(data.balance.available.amount);
    if (available > 0) {
      C.mainButton(t("dashboard.withdraw"), () => { location.href = C.config.urls.withdraw; });
    } else C.mainButton(null);
  }

  async function loadChart(mine) {
    try {
      const response = await C.api("GET", "/api/dashboard/chart",
        { query: { period, theme: C.theme() }, raw: true });
      const blob = await response.blob();
      if (mine !== sequence) return;
      if (chartUrl) URL.revokeObjectURL(chartUrl);
      chartUrl = URL.createObjectURL(blob);
      chart.src = chartUrl;
      chart.hidden = false;
      chartFailed.hidden = true;
    } catch (_) {
      if (mine !== sequence) return;
      chart.hidden = true;
      chartFailed.hidden = false;
    }
  }

  async function load() {
    const mine = ++sequence;
    for (const button of periodButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.period === period));
    }
    C.pageBusy(true);
    loadChart(mine);
    try {
      const data = await C.api("GET", "/api/dashboard", { query: { period } });
      if (mine !== sequence) return;
      C.hideNotice();
      render(data);
    } catch (error) {
      if (mine === sequence) C.fail(error, load);
    } finally {
      if (mine === sequence) C.pageBusy(false);
    }
  }

  C.ready.then((me) => {
    if (!me) return;
    for (const button of periodButtons) {
      button.addEventListener("click", () => {
        if (button.dataset.period === period) return;
        period = button.dataset.period;
        C.haptic("selection");
        load();
      });
    }
    // The chart is drawn in the theme's colours: redraw it when the theme changes.
    if (C.tg && C.tg.onEvent) C.tg.onEvent("themeChanged", () => loadChart(sequence));
    if (window.matchMedia) {
      matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => loadChart(sequence));
    }
    load();
  });
})();
