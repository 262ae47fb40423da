/* gazette search page: Pagefind's search engine (one bundle per year, its
   JavaScript API) under gazette's own interface, in the page's language:
   ranking for a gazette (exact title, then document number, then names and
   issuer, then body; exact strings above shared characters), sort by date,
   a publication-date range, filters, and a document-number table checked
   first (readers type numbers with any brackets).  Text from the index is set
   with textContent; the only markup shown is Pagefind's <mark> in excerpts. */
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form) return;
  var root = new URL(form.dataset.root || "./", window.location.href);
  var lang = form.dataset.lang, defaultLang = form.dataset.defaultLang;
  var T = JSON.parse(form.dataset.translations || "{}");
  var GROUPS = JSON.parse(form.dataset.filters || "[]");
  var input = document.getElementById("search-q"), sortBox = document.getElementById("search-sort");
  var fromBox = document.getElementById("search-from"), toBox = document.getElementById("search-to");
  var filterBox = form.querySelector(".filter-groups");
  var status = document.getElementById("search-status"), list = document.getElementById("search-results");
  var more = document.getElementById("search-more"), hit = document.getElementById("docno-hit");
  var noExact = document.getElementById("no-exact");
  var PAGE = 10, RERANK = 30;
  var table = null;

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function message(key, term, count) {  /* a function replacement: "$&" in a query stays "$&" */
    return String(T[key] || "").replace("[SEARCH_TERM]", function () { return term; })
      .replace("[COUNT]", function () { return String(count); });
  }

  /* Excerpts are the one piece of markup shown: Pagefind escapes the text and
     adds <mark>; as a second line, any "<" or ">" that is not part of its <mark> highlights
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
      /* one code-like word (digits or hyphens: an index number, an id): exactly that;
         several words are searched as words, after the words as a phrase (exactQuery) */
      if (/^[^\s"]*[0-9-][^\s"]*$/.test(q) && /[A-Za-z]/.test(q)) return '"' + q + '"';
      return q;
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


  /* ------------------------------------------------------------ ranking */
  /* the text of a field as compared with the query: case, width, spaces and
     punctuation do not count (the index copy has Han characters spaced) */
  function squash(text) {
    return String(text == null ? "" : text).normalize("NFKC").toLowerCase().replace(/[\s\p{P}\p{S}]+/gu, "");
  }
  /* Where the query occurs, as an exact string: 0 it is the title; 1 it is the
     document number, an issuer or a name; 2 in the title; 3 in the document
     number; 4 in an issuer or a name; 5 in the text; 6 only some of its words */
  function tier(data, term) {
    var q = squash(term.replace(/^"|"$/g, ""));
    var m = data.meta || {};
    if (!q) return 6;
    var title = squash(m.title);
    var parts = String(m.issuer || "").split(" / ").concat(String(m.names || "").split(" / ")).map(squash).filter(Boolean);
    var docno = m.doc_number ? normalize(m.doc_number) : "", asked = normalize(term);
    if (title === q) return 0;
    if ((docno && docno === asked) || parts.indexOf(q) >= 0) return 1;
    if (title.indexOf(q) >= 0) return 2;
    if (docno && (docno.indexOf(asked) >= 0 || squash(m.doc_number).indexOf(q) >= 0)) return 3;
    if (parts.some(function (p) { return p.indexOf(q) >= 0; })) return 4;
    return squash(data.content).indexOf(q) >= 0 ? 5 : 6;
  }

  /* ------------------------------------------------------------- engine */
  /* each year's bundle is its own Pagefind instance (its own module URL), so
     results can be merged by score, or laid out year by year in date order */
  var bundles = (form.dataset.bundles || "").split(" ").filter(Boolean).map(function (b) {
    var m = /(\d{4})\/?$/.exec(b);
    return { year: m ? +m[1] : 0, path: new URL(b, root).pathname };
  });
  var ready = null;
  function engines() {
    if (!ready) ready = Promise.all(bundles.map(function (b) {
      return import(b.path + "pagefind.js").then(function (pf) {
        return pf.options({ bundlePath: b.path, baseUrl: root.pathname, excerptLength: 36 })
          .then(function () { return pf.init(); })
          .then(function () { return { year: b.year, pf: pf }; });
      });
    }));
    return ready;
  }

  function inRange(year, s) {
    return !((s.from && year < +s.from.slice(0, 4)) || (s.to && year > +s.to.slice(0, 4)));
  }
  function wholeYear(year, s) {
    return (!s.from || s.from <= year + "-01-01") && (!s.to || s.to >= year + "-12-31");
  }

  async function searchYear(e, s, q, exact) {
    if (!inRange(e.year, s)) return null;
    var filters = {};
    Object.keys(s.chosen).forEach(function (k) { filters[k] = { any: s.chosen[k] }; });
    if (!wholeYear(e.year, s)) {  /* the days of this year inside the range */
      var all = (await e.pf.filters()) || {};
      var days = Object.keys(all.published || {}).filter(function (d) {
        return (!s.from || d >= s.from) && (!s.to || d <= s.to);
      });
      if (!days.length) return null;
      filters.published = { any: days };
    }
    /* no words: Pagefind lists pages only for a filter; the year's own is one */
    if (!q && !Object.keys(filters).length) filters.year = { any: [String(e.year)] };
    var options = { filters: filters };
    var sort = s.sort || (q ? "" : "newest");
    if (sort) options.sort = { date: sort === "oldest" ? "asc" : "desc" };
    var loose = await e.pf.search(q, options);
    var strict = exact && !sort ? await e.pf.search(exact, options) : null;
    return { year: e.year, loose: loose, strict: strict };
  }

  /* -> {results: [{key, score, data()}], exact: count | null, filters: {key: {value: count}}} */
  async function find(s) {
    var all = await engines();
    var q = s.term ? indexQuery(s.term) : null, exact = s.term ? exactQuery(s.term) : null;
    var runs = (await Promise.all(all.map(function (e) { return searchYear(e, s, q, exact); }))).filter(Boolean);
    var sort = s.sort || (q ? "" : "newest");
    var tag = function (year) { return function (r) { r.key = year + ":" + r.id; return r; }; };
    var pick = function (which) {
      var ordered = sort === "oldest" ? runs.slice().reverse() : runs;  /* bundles are newest first */
      var out = [];
      ordered.forEach(function (run) { if (run[which]) out = out.concat(run[which].results.map(tag(run.year))); });
      return sort ? out : out.sort(function (a, b) { return b.score - a.score; });
    };
    var results = pick("loose"), exactCount = null;
    if (exact && !sort) {  /* the words as a phrase first, then pages with only some of them */
      var strict = pick("strict"), seen = {};
      strict.forEach(function (r) { seen[r.key] = true; });
      exactCount = strict.length;
      results = strict.concat(results.filter(function (r) { return !seen[r.key]; }));
    }
    if (s.term && !sort) {
      var head = results.slice(0, RERANK);
      var datas = await Promise.all(head.map(function (r) { return r.data(); }));
      head.forEach(function (r, i) { r.loaded = datas[i]; r.tier = tier(datas[i], s.term); r.rank = i; });
      head.sort(function (a, b) { return a.tier - b.tier || a.rank - b.rank; });
      results = head.concat(results.slice(RERANK));
    }
    var counts = {};
    runs.forEach(function (run) {
      var f = run.loose.filters || {};
      Object.keys(f).forEach(function (k) {
        counts[k] = counts[k] || {};
        Object.keys(f[k]).forEach(function (v) { counts[k][v] = (counts[k][v] || 0) + f[k][v]; });
      });
    });
    return { results: results, exact: exactCount, filters: counts };
  }

  /* ------------------------------------------------------------ filters */
  var filterInputs = {};  /* "key\u0000value" -> {box, count} */
  async function drawFilters() {
    var totals = {};
    (await engines()).forEach(function (e) { totals[e.year] = e; });
    var merged = {};
    for (var year in totals) {
      var f = (await totals[year].pf.filters()) || {};
      Object.keys(f).forEach(function (k) {
        merged[k] = merged[k] || {};
        Object.keys(f[k]).forEach(function (v) { merged[k][v] = (merged[k][v] || 0) + f[k][v]; });
      });
    }
    GROUPS.forEach(function (group, g) {
      var key = group[0], values = merged[key] || {};
      var names = Object.keys(values);
      if (!names.length) return;
      names.sort(key === "year" ? function (a, b) { return b.localeCompare(a); }
                                : function (a, b) { return values[b] - values[a] || a.localeCompare(b); });
      var set = document.createElement("fieldset");
      var legend = document.createElement("legend");
      legend.textContent = group[1];
      set.appendChild(legend);
      names.forEach(function (value, i) {
        var row = document.createElement("div"), box = document.createElement("input");
        var label = document.createElement("label"), count = document.createElement("span");
        row.className = "filter-option";
        box.type = "checkbox"; box.id = "filter-" + g + "-" + i; box.name = key; box.value = value;
        box.checked = (initial.chosen[key] || []).indexOf(value) >= 0;
        label.htmlFor = box.id;
        label.textContent = value + " ";
        count.className = "filter-count";
        count.textContent = "(" + values[value] + ")";
        label.appendChild(count);
        row.appendChild(box); row.appendChild(label);
        set.appendChild(row);
        filterInputs[key + "\u0000" + value] = { box: box, count: count };
      });
      filterBox.appendChild(set);
    });
    if (Object.keys(initial.chosen).length) form.querySelector("details").open = true;
  }
  function updateCounts(counts) {
    Object.keys(filterInputs).forEach(function (k) {
      var parts = k.split("\u0000"), n = (counts[parts[0]] || {})[parts[1]] || 0;
      filterInputs[k].count.textContent = "(" + n + ")";
      filterInputs[k].box.parentNode.classList.toggle("filter-empty", n === 0);
    });
  }

  /* ------------------------------------------------------------ page */
  function state() {
    var chosen = {};
    filterBox.querySelectorAll("input[type=checkbox]:checked").forEach(function (c) {
      (chosen[c.name] = chosen[c.name] || []).push(c.value);
    });
    var from = fromBox.value, to = toBox.value;
    if (from && to && from > to) { var t = from; from = to; to = t; }
    return { term: input.value.trim(), sort: sortBox.value, from: from, to: to, chosen: chosen };
  }

  function showHit(term) {
    if (!hit) return;
    var matches = (table && term && table[normalize(term)]) || [];
    var ul = hit.querySelector("ul");
    ul.innerHTML = "";
    matches.forEach(function (m) {
      var inLang = m.url[lang] ? lang : defaultLang;
      var li = document.createElement("li");
      li.innerHTML = '<a href="' + esc(new URL(m.url[inLang], root).pathname) + '"' +
        (inLang !== lang ? ' lang="' + esc(inLang) + '"' : "") + ">" + esc(m.title[inLang]) + "</a> " +
        '<span class="docno">' + esc(m.doc_number) + "</span>" +
        (inLang !== lang ? ' <span class="badge badge-zh-only">' + esc(T.chinese_only) + "</span>" : "");
      ul.appendChild(li);
    });
    hit.hidden = matches.length === 0;
  }

  function item(data) {
    var m = data.meta || {};
    var li = document.createElement("li"), h = document.createElement("h2"), a = document.createElement("a");
    li.className = "search-result";
    a.className = "result-link";
    a.href = data.url;
    a.textContent = m.title || data.url;
    h.appendChild(a);
    li.appendChild(h);
    var line = [m.doc_number, m.issuer, m.date].filter(Boolean).join(" · ");
    if (line) {
      var p = document.createElement("p");
      p.className = "result-meta";
      p.textContent = line;
      li.appendChild(p);
    }
    var excerpt = document.createElement("p");
    excerpt.className = "result-excerpt";
    excerpt.innerHTML = unspaceHan(safeExcerpt(data.excerpt));
    li.appendChild(excerpt);
    return li;
  }

  var asked = 0, current = null, shown = 0;
  async function showMore(mine) {
    var slice = current.results.slice(shown, shown + PAGE);
    var datas = await Promise.all(slice.map(function (r) { return r.loaded || r.data(); }));
    if (mine !== asked) return;
    datas.forEach(function (d) { list.appendChild(item(d)); });
    shown += slice.length;
    more.hidden = shown >= current.results.length;
  }

  function remember(s) {
    var params = new URLSearchParams();
    if (s.term) params.set("q", s.term);
    if (s.sort) params.set("sort", s.sort);
    if (s.from) params.set("from", s.from);
    if (s.to) params.set("to", s.to);
    Object.keys(s.chosen).sort().forEach(function (k) {
      s.chosen[k].forEach(function (v) { params.append(k, v); });
    });
    var query = params.toString();
    history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  async function run() {
    var s = state(), mine = ++asked;
    remember(s);
    showHit(s.term);
    noExact.hidden = true;
    var browsing = !s.term && (s.from || s.to || Object.keys(s.chosen).length);
    if (!s.term && !browsing) {
      list.innerHTML = ""; status.textContent = ""; more.hidden = true;
      list.dataset.term = ""; list.setAttribute("aria-busy", "false"); list.dataset.done = String(mine);
      return;
    }
    list.setAttribute("aria-busy", "true");
    if (s.term) status.textContent = message("searching", s.term, 0);
    var found;
    try {
      found = await find(s);
    } catch (err) {
      if (mine === asked) { status.textContent = T.failed || ""; list.setAttribute("aria-busy", "false"); }
      throw err;
    }
    if (mine !== asked) return;
    current = found; shown = 0;
    list.innerHTML = "";
    var n = found.results.length;
    status.textContent = s.term ? message(n === 0 ? "zero" : n === 1 ? "one" : "many", s.term, n)
                                : message(n === 0 ? "browse_zero" : "browse_many", "", n);
    noExact.hidden = !(found.exact === 0 && n > 0);
    updateCounts(found.filters);
    await showMore(mine);
    if (mine !== asked) return;
    list.dataset.term = s.term;
    list.dataset.done = String(mine);  /* which search the list shows (tests wait on it) */
    list.setAttribute("aria-busy", "false");
  }

  /* for benchmarks/search_recall.py and the tests: what this page finds, in its order */
  window.gazetteSearch = {
    indexQuery: indexQuery, exactQuery: exactQuery, normalizeDocNumber: normalize,
    query: async function (term, options) {
      options = options || {};
      var found = await find({ term: String(term || "").trim(), sort: options.sort || "", from: options.from || "",
                               to: options.to || "", chosen: options.filters || {} });
      var top = found.results.slice(0, options.top || PAGE);
      var datas = await Promise.all(top.map(function (r) { return r.loaded || r.data(); }));
      return { count: found.results.length, exact: found.exact,
               results: datas.map(function (d) {
                 var m = d.meta || {};
                 return { url: d.url, title: m.title || "", issuer: m.issuer || "", date: m.date || "" };
               }) };
    }
  };

  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(run, 250); }
  form.addEventListener("submit", function (ev) { ev.preventDefault(); clearTimeout(timer); run(); });
  input.addEventListener("input", later);
  [sortBox, fromBox, toBox].forEach(function (el) { el.addEventListener("change", function () { clearTimeout(timer); run(); }); });
  filterBox.addEventListener("change", function () { clearTimeout(timer); run(); });
  more.addEventListener("click", function () { showMore(asked); });

  var params = new URLSearchParams(window.location.search);
  var initial = { chosen: {} };
  GROUPS.forEach(function (g) { if (params.getAll(g[0]).length) initial.chosen[g[0]] = params.getAll(g[0]); });
  input.value = params.get("q") || "";
  sortBox.value = ["newest", "oldest"].indexOf(params.get("sort")) >= 0 ? params.get("sort") : "";
  fromBox.value = /^\d{4}-\d{2}-\d{2}$/.test(params.get("from") || "") ? params.get("from") : "";
  toBox.value = /^\d{4}-\d{2}-\d{2}$/.test(params.get("to") || "") ? params.get("to") : "";
  var tableReady = fetch(new URL("data/docnumbers.json", root))
    .then(function (r) { return r.ok ? r.json() : {}; })
    .catch(function () { return {}; })
    .then(function (data) { table = data; });
  Promise.all([tableReady, drawFilters()]).then(function () {
    form.dataset.ready = "true";
    if (input.value || fromBox.value || toBox.value || Object.keys(initial.chosen).length) return run();
  }).catch(function () { status.textContent = T.failed || ""; });
})();
