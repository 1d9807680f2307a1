// Dashboards (operators; seed 000): the executive snapshot, the product dashboard and the
// payout dashboard, each a set of cards and tables drawn from the API's worded figures (the
// page formats no number). The tab and the period live in the address; the API decides who
// may see which (the payout one: finance and admins) and its 403 shows in the notice.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const TABS = ["executive", "product", "exchanges", "payouts"];
  const DEFAULT_PERIOD = { executive: "30d", product: "30d", exchanges: "30d", payouts: "7d" };
  const STATUS_BADGE = { ok: "good", lag: "wait", error: "bad" };
  const board = document.getElementById("board");
  const range = document.getElementById("board-range");
  const tabButtons = document.querySelectorAll("[data-tab]");
  const periodButtons = document.querySelectorAll("[data-period]");
  const state = { tab: "executive", period: "30d" };
  let sequence = 0;

  function fromUrl() {
    const params = new URLSearchParams(location.search);
    state.tab = TABS.includes(params.get("tab")) ? params.get("tab") : "executive";
    const period = params.get("period");
    state.period = ["7d", "30d", "90d"].includes(period) ? period : DEFAULT_PERIOD[state.tab];
  }

  function toUrl() {
    const params = new URLSearchParams(location.search);
    params.set("tab", state.tab);
    params.set("period", state.period);
    history.replaceState(null, "", `${location.pathname}?${params}${location.hash}`);
  }

  function pressed() {
    for (const b of tabButtons) b.setAttribute("aria-pressed", String(b.dataset.tab === state.tab));
    for (const b of periodButtons) {
      b.setAttribute("aria-pressed", String(b.dataset.period === state.period));
    }
  }

  // --- pieces ---------------------------------------------------------------------------

  const text = (figure) => (figure && figure.text) || "—";

  function change(value) {
    if (!value) return el("dd", { class: "change none" }, "—");
    return el("dd", { class: `change ${value.direction}`, title: t("admin.dashboards.change_title") },
      value.text);
  }

  // A KPI: its label, its value and (when compared) the change against the period before.
  function figure(name, value, compared, main) {
    return el("div", { class: main ? "figure main" : "figure", testid: `kpi-${name}` },
      el("dt", {}, t(`admin.dashboards.kpi.${name}`)),
      el("dd", { class: "value", testid: `kpi-${name}-value` }, text(value)),
      compared === undefined ? null : change(compared));
  }

  function card(name, ...children) {
    return el("section", { class: "card", testid: `card-${name}` },
      el("h2", {}, t(`admin.dashboards.card.${name}`)), ...children);
  }

  // A table of rows [label, ...cells]; the first column is text, the others numbers.
  function table(name, columns, rows) {
    if (!rows.length) return el("p", { class: "muted", testid: `${name}-empty` }, t("admin.dashboards.none"));
    const head = el("tr", {}, ...columns.map((column, i) =>
      el("th", { class: i ? "num" : null, scope: "col" }, t(`admin.dashboards.col.${column}`))));
    const body = rows.map((row) => el("tr", { testid: `${name}-row` }, ...row.map((cell, i) =>
      el("td", { class: i ? "num" : null }, cell))));
    return el("div", { class: "board-box" },
      el("table", { class: "board-lines", testid: `${name}-table` },
        el("thead", {}, head), el("tbody", {}, ...body)));
  }

  const shares = (name, list, counted = "count") => table(name, ["what", counted, "share"],
    list.map((s) => [s.label, text(s.count), text(s.percent)]));

  // --- the three dashboards ---------------------------------------------------------------

  function executive(d) {
    return [
      card("headline", el("dl", { class: "figures" },
        figure("volume", d.volume.value, d.volume.change, true),
        figure("revenue", d.revenue.value, d.revenue.change, true),
        figure("gross", d.gross),
        figure("traders", d.traders),
        figure("new_traders", d.new_traders.value, d.new_traders.change),
        figure("activation", d.activation.value, d.activation.change))),
      card("by_exchange", table("by-exchange", ["exchange", "revenue", "share"],
        d.by_exchange.map((line) => [line.name, text(line.revenue), text(line.share)]))),
      card("attention", el("dl", { class: "figures" },
        figure("pending_withdrawals", d.pending_withdrawals),
        figure("alerts_firing", d.alerts_firing))),
    ];
  }

  function product(d) {
    const retention = (value) => (value ? value.text : "—");
    return [
      card("headline", el("dl", { class: "figures" },
        figure("new_traders", d.new_traders.value, d.new_traders.change, true),
        figure("activation", d.activation.value, d.activation.change, true),
        figure("retention_d30", d.retention_d30.value, d.retention_d30.change),
        figure("exchanges_per_trader", d.exchanges_per_trader.value,
          d.exchanges_per_trader.change))),
      card("funnel", table("funnel", ["step", "count", "conversion"],
        d.funnel.map((step) => [step.label, text(step.count), text(step.conversion)]))),
      card("cohorts", table("cohorts", ["week", "signups", "d1", "d7", "d30"],
        d.cohorts.map((c) => [c.week_start, text(c.signups), ...c.retention.map(retention)]))),
      card("features", el("p", { class: "muted small" },
        t("admin.dashboards.of_active", { count: d.active_traders.text })),
      shares("features", d.features)),
      card("platforms", shares("platforms", d.platforms)),
      card("sources", shares("sources", d.sources)),
      card("first_trade", shares("first-trade", d.first_trade)),
    ];
  }

  // A card per exchange (a six-column table would not fit a phone): its status, the period's
  // figures and the last day's sync runs.
  function exchanges(d) {
    const lines = d.exchanges.map((x) => el("section", { class: "card", testid: "exchange-card",
      dataset: { id: x.id, status: x.status } },
      el("div", { class: "card-head" }, el("h2", {}, x.name),
        el("span", { class: `badge ${STATUS_BADGE[x.status] || "done"}`, testid: "exchange-status" },
          x.status_text)),
      el("p", { class: "muted small" }, x.sync_text),
      el("dl", { class: "figures" },
        figure("traders", x.traders), figure("volume", x.volume),
        figure("gross", x.gross), figure("revenue", x.revenue.value, x.revenue.change, true)),
      el("p", { class: "small", testid: "exchange-runs" }, t("admin.dashboards.runs", {
        ok: x.runs.ok.text, failed: x.runs.failed.text, running: x.runs.running.text }))));
    return [card("headline", el("dl", { class: "figures" },
      figure("revenue", d.revenue, undefined, true))), ...lines];
  }

  function payouts(d) {
    const now = d.now;
    return [
      card("headline", el("dl", { class: "figures" },
        figure("pending", d.pending), figure("pending_amount", d.pending_amount),
        figure("completed", now.completed), figure("completed_amount", now.completed_amount, undefined, true),
        figure("failed", now.failed), figure("failed_amount", now.failed_amount),
        figure("rejected", now.rejected), figure("success", now.success, d.success_change))),
      card("queue", el("p", { testid: "awaiting" }, d.awaiting_approval.count
        ? t("admin.dashboards.awaiting", { count: d.awaiting_approval.text,
          since: C.when(d.oldest_awaiting) })
        : t("admin.dashboards.awaiting_none")),
      C.config.urls.admin_payouts ? el("a", { href: C.config.urls.admin_payouts, class: "button",
        testid: "open-queue" }, t("admin.dashboards.open_queue")) : null),
      card("ways", table("ways", ["way", "requests", "amount", "share"],
        d.ways.map((w) => [w.label, text(w.paid), text(w.amount), text(w.percent)]))),
      card("durations", shares("durations", d.durations, "requests")),
    ];
  }

  const DRAW = { executive, product, exchanges, payouts };

  async function load() {
    const mine = ++sequence;
    pressed();
    toUrl();
    C.pageBusy(true);
    try {
      const data = await C.api("GET", `/api/admin/dashboards/${state.tab}`,
        { query: { period: state.period } });
      if (mine !== sequence) return;
      C.hideNotice();
      range.textContent = t("admin.dashboards.range", { start: data.start, end: data.end });
      C.fill(board, ...DRAW[state.tab](data));
    } catch (error) {
      if (mine !== sequence) return;
      C.fill(board);
      range.textContent = "";
      C.fail(error, load);
    } finally {
      if (mine === sequence) C.pageBusy(false);
    }
  }

  for (const b of tabButtons) {
    b.addEventListener("click", () => {
      if (b.dataset.tab === state.tab) return;
      C.haptic("selection");
      state.tab = b.dataset.tab;
      state.period = DEFAULT_PERIOD[state.tab];
      load();
    });
  }
  for (const b of periodButtons) {
    b.addEventListener("click", () => {
      if (b.dataset.period === state.period) return;
      C.haptic("selection");
      state.period = b.dataset.period;
      load();
    });
  }

  fromUrl();
  pressed();
  C.ready.then((me) => { if (me) load(); });
})();
