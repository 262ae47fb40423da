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

  /* The index has every Han character as a word of its own (gazette.search.
     index_document); the query gets the same treatment, and a query that is one
     run of text is searched as an exact phrase: the characters in that order. */
  var HAN_TEST = /[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[\u{20000}-\u{3134f}]/u;
  var BEFORE_HAN = /(?<=\S)(?=[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[\u{20000}-\u{3134f}])/gu;
  var HAN_BEFORE_ALNUM = /(?<=[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[\u{20000}-\u{3134f}])(?=[0-9A-Za-z])/gu;
  function spaceHan(text) {  /* the same rule as gazette.search.space_han */
    return text.replace(BEFORE_HAN, " ").replace(HAN_BEFORE_ALNUM, " ").replace(/\s+/g, " ").trim();
  }
  function indexQuery(term) {
    var q = String(term || "").trim();
    if (!HAN_TEST.test(q)) {
      /* one code-like word (digits or hyphens: an index number, an id): exactly that */
      if (/^[^\s"]*[0-9-][^\s"]*$/.test(q) && /[A-Za-z]/.test(q)) return '"' + q + '"';
      /* three words or more (a title, a name, a phrase copied from a text): as a phrase */
      return !/^".*"$/.test(q) && q.split(/\s+/).length >= 3 ? '"' + q + '"' : q;
    }
    var phrase = q.replace(/^"|"$/g, "");
    if (!/\s/.test(phrase)) return '"' + spaceHan(phrase) + '"';
    return spaceHan(phrase);
  }
  /* and the excerpt loses the spaces the index put between characters */
  function unspaceHan(html) {
    var HANCLASS = "[\\u3007\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff]";
    var gap = new RegExp("(" + HANCLASS + "|</mark>)[\\s\\u200b]+(?=<mark>|" + HANCLASS + ")", "gu");
    var before = new RegExp("(" + HANCLASS + ")(</mark>)?[\\s\\u200b]+(?=[0-9A-Za-z<])", "gu");
    var after = new RegExp("([0-9A-Za-z])[\\s\\u200b]+(?=(<mark>)?" + HANCLASS + ")", "gu");
    var out = html.replace(gap, "$1").replace(gap, "$1");
    out = out.replace(before, "$1$2").replace(after, "$1");
    return out.replace(/<\/mark><mark>/g, "").replace(/\u200b/g, "");
  }

  /* Several words: results may contain only some of them.  Ask Pagefind for
     the words as an exact phrase too, and say so when nothing matches exactly. */
  function exactQuery(term) {
    var q = String(term || "").trim().replace(/^"|"$/g, "");
    return !HAN_TEST.test(q) && /\s/.test(q) ? '"' + q + '"' : null;
  }
  var noExact = document.getElementById("no-exact");
  var asked = 0;
  function checkExact(term, bundle) {
    var exact = exactQuery(term), mine = ++asked;
    if (noExact) noExact.hidden = true;
    if (!exact || !noExact) return;
    import(bundle + "pagefind.js").then(function (pf) { return pf.search(exact); }).then(function (r) {
      if (mine === asked && r) noExact.hidden = r.results.length > 0;
    }).catch(function () {});
  }

  /* for benchmarks/search_recall.py: the page's own query rules */
  window.gazetteSearch = { indexQuery: indexQuery, exactQuery: exactQuery,
                           normalizeDocNumber: function (t) { return normalize(t); } };

  var BRACKETS = { "[": "〔", "]": "〕", "［": "〔", "］": "〕", "【": "〔", "】": "〕", "(": "〔", ")": "〕",
                   "（": "〔", "）": "〕", "﹝": "〔", "﹞": "〕", "〈": "〔", "〉": "〕" };
  function normalize(text) {  /* the same rule as gazette.search.normalize_doc_number */
    var out = "";
    for (var ch of String(text || "")) {
      var code = ch.codePointAt(0);
      if (code >= 0xFF01 && code <= 0xFF5E && !BRACKETS[ch]) ch = String.fromCodePoint(code - 0xFEE0);
      out += BRACKETS[ch] || ch;
    }
    out = out.replace(/\s+/g, "");
    out = out.replace(/(^|[^〔])(\d{4})年第?(\d+)/g, "$1〔$2〕$3").replace(/〔(\d{4})〕第(\d+)/, "〔$1〕$2");
    return out.replace(/号$/, "");
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
    processTerm: function (term) { showHit(term); checkExact(term, bundles[0]); return indexQuery(term); },
    processResult: function (result) {
      var m = result.meta || {};
      var line = [m.doc_number, m.issuer, m.date].filter(Boolean).map(esc).join(" · ");
      result.excerpt = unspaceHan(safeExcerpt(result.excerpt));
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
