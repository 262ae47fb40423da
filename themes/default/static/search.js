/* gazette search page: Pagefind UI (self-hosted), localised, with filters,
   plus a document-number table checked first (Pagefind's tokeniser splits
   "沪府办字〔2024〕5号", and readers type it with other brackets). */
(function () {
  "use strict";
  var box = document.getElementById("search");
  if (!box || typeof PagefindUI === "undefined") return;
  var root = new URL(box.dataset.root || "./", window.location.href);
  var lang = box.dataset.lang, defaultLang = box.dataset.defaultLang;
  var hit = document.getElementById("docno-hit");
  var table = null;

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* Pagefind UI shows excerpts with innerHTML.  Pagefind escapes them itself;
     as a second line, any "<" or ">" that is not part of its <mark> highlights
     is escaped too ("&" is left alone: a character reference makes no markup). */
  function safeExcerpt(html) {
    return String(html == null ? "" : html).split(/(<\/?mark>)/).map(function (part) {
      return part === "<mark>" || part === "</mark>" ? part : part.replace(/</g, "&lt;").replace(/>/g, "&gt;");
    }).join("");
  }

  var BRACKETS = { "[": "〔", "]": "〕", "［": "〔", "］": "〕", "【": "〔", "】": "〕", "(": "〔", ")": "〕",
                   "（": "〔", "）": "〕", "﹝": "〔", "﹞": "〕", "〈": "〔", "〉": "〕" };
  function normalize(text) {  /* the same rule as gazette.search.normalize_doc_number */
    var out = "";
    for (var ch of String(text || "")) {
      var code = ch.codePointAt(0);
      if (code >= 0xFF01 && code <= 0xFF5E && !BRACKETS[ch]) ch = String.fromCodePoint(code - 0xFEE0);
      out += BRACKETS[ch] || ch;
    }
    return out.replace(/\s+/g, "").replace(/号$/, "");
  }

  function showHit(term) {
    if (!table || !hit) return;
    var matches = table[normalize(term)] || [];
    var list = hit.querySelector("ul");
    list.innerHTML = "";
    matches.forEach(function (m) {
      var inLang = m.url[lang] ? lang : defaultLang;
      var li = document.createElement("li");
      li.innerHTML = '<a href="' + esc(new URL(m.url[inLang], root).pathname) + '"' +
        (inLang !== lang ? ' lang="' + esc(inLang) + '"' : "") + ">" + esc(m.title[inLang]) + "</a> " +
        '<span class="docno">' + esc(m.doc_number) + "</span>" +
        (inLang !== lang ? ' <span class="badge badge-zh-only">' + esc(box.dataset.chineseOnly) + "</span>" : "");
      list.appendChild(li);
    });
    hit.hidden = matches.length === 0;
  }

  /* one Pagefind bundle per year, newest first, merged here */
  var bundles = (box.dataset.bundles || "").split(" ").filter(Boolean).map(function (b) {
    return new URL(b, root).pathname;
  });
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: bundles[0],
    mergeIndex: bundles.slice(1).map(function (b) { return { bundlePath: b }; }),
    baseUrl: root.pathname,
    showSubResults: false,
    showImages: false,
    resetStyles: false,
    autofocus: false,
    translations: JSON.parse(box.dataset.translations || "{}"),
    processTerm: function (term) { showHit(term); return term; },
    processResult: function (result) {
      var m = result.meta || {};
      var line = [m.doc_number, m.issuer, m.date].filter(Boolean).map(esc).join(" · ");
      result.excerpt = safeExcerpt(result.excerpt);
      (result.sub_results || []).forEach(function (sub) { sub.excerpt = safeExcerpt(sub.excerpt); });
      if (line) result.excerpt = '<span class="result-meta">' + line + "</span><br>" + result.excerpt;
      result.meta = { title: m.title };  /* shown above, localised; no raw key chips */
      return result;
    }
  });

  /* Pagefind UI's input has a placeholder but no label element: give it one */
  var input = box.querySelector("input[type=text], input[type=search], .pagefind-ui__search-input");
  if (input && !input.labels.length) {
    input.id = input.id || "pagefind-q";
    var label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = input.id;
    label.textContent = JSON.parse(box.dataset.translations || "{}").search_label || "Search";
    input.parentNode.insertBefore(label, input);
  }

  var query = new URLSearchParams(window.location.search).get("q");
  fetch(new URL("data/docnumbers.json", root))
    .then(function (r) { return r.ok ? r.json() : {}; })
    .catch(function () { return {}; })
    .then(function (data) {
      table = data;
      if (query) { showHit(query); ui.triggerSearch(query); }
    });
})();
