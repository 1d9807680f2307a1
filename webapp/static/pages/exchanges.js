// Exchanges: a card per exchange with the trader's share, the tracked sign-up link (copy
// button) and the "I already have an account" guide.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const list = document.getElementById("exchange-list");

  // Selected, the link can still be copied by hand when the clipboard is refused.
  function select(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyButton(exchange, shown, status) {
    const button = el("button", { type: "button", class: "button small", testid: `copy-${exchange.id}` },
      t("exchanges.copy"));
    button.addEventListener("click", async () => {
      const done = await C.copy(exchange.link);
      if (done) {
        C.haptic("success");
        button.textContent = `✓ ${t("exchanges.copied")}`;
        status.textContent = t("exchanges.copied");
        setTimeout(() => { button.textContent = t("exchanges.copy"); status.textContent = ""; }, 2500);
      } else {
        C.haptic("error");
        select(shown);
        status.textContent = t("exchanges.copy_failed");
      }
    });
    return button;
  }

  // Inside Telegram a link to the exchange opens in the browser, not inside the Mini App.
  function openOutside(event) {
    if (!C.tg || !C.tg.openLink) return;
    event.preventDefault();
    C.tg.openLink(event.currentTarget.href);
  }

  function linkBlock(exchange) {
    if (!exchange.link) return el("p", { class: "muted", text: t("exchanges.no_link") });
    const shown = el("a", { class: "link-field", href: exchange.link, target: "_blank",
      rel: "noopener noreferrer", testid: `link-${exchange.id}`, onClick: openOutside }, exchange.link);
    const status = el("span", { class: "muted copy-status", role: "status", testid: `copied-${exchange.id}` });
    return el("div", { class: "link-block" },
      el("p", { class: "label", text: t("exchanges.link") }),
      el("div", { class: "link-row" }, shown, copyButton(exchange, shown, status)),
      status);
  }

  function card(exchange) {
    return el("article", { class: "card exchange", testid: `exchange-${exchange.id}` },
      el("header", { class: "card-head" },
        el("h2", { text: exchange.name }),
        el("p", { class: "share" },
          el("strong", { testid: `share-${exchange.id}` }, t("exchanges.share", { share: exchange.share_text })),
          el("span", { class: "hint" }, ` ${t("exchanges.share_hint")}`))),
      linkBlock(exchange),
      exchange.uids.length
        ? el("p", { class: "muted" }, t("exchanges.uids", { uids: exchange.uids.join(", ") }))
        : el("p", {}, el("a", { href: C.config.urls.accounts }, t("exchanges.link_uid"))),
      exchange.guide
        ? el("details", { class: "guide" }, el("summary", { text: t("exchanges.guide") }),
          el("p", { class: "prewrap", text: exchange.guide }))
        : null);
  }

  async function load() {
    C.pageBusy(true);
    try {
      const data = await C.api("GET", "/api/exchanges");
      C.hideNotice();
      if (data.exchanges.length) C.fill(list, data.exchanges.map(card));
      else C.fill(list, el("p", { class: "muted", text: t("exchanges.empty") }));
    } catch (error) {
      C.fill(list);
      C.fail(error, load);
    } finally {
      list.removeAttribute("aria-busy");
      C.pageBusy(false);
    }
  }

  C.ready.then((me) => {
    if (me) load();
    else C.fill(list);
  });
})();
