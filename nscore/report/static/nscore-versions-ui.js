/* nscore.report.versions: version switcher, banner on versions that are not the latest, and hover
   previews of cross-references. Everything comes from the site itself (no other host). */
(function () {
  "use strict";

  function versions() {
    var nav = document.querySelector("nav.nscore-versions");
    var data = window.nscoreVersions;
    if (!nav || !data || !data.versions) return;
    var script = nav.nextElementSibling && nav.nextElementSibling.tagName === "SCRIPT" ? nav.nextElementSibling : null;
    var src = script ? script.getAttribute("src") : "nscore-versions.js";
    var root = src.slice(0, src.length - "nscore-versions.js".length);  // this version's root
    var page = nav.getAttribute("data-page") || "index.html";
    var cutoff = nav.getAttribute("data-cutoff");
    var tree = root + (data.prefix || "");
    var others = data.versions.filter(function (c) { return c !== cutoff; });
    if (others.length) {
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = "Other versions (" + others.length + ")";
      details.appendChild(summary);
      var list = document.createElement("ul");
      data.versions.forEach(function (c) {
        var li = document.createElement("li");
        if (c === cutoff) {
          li.textContent = "Data cutoff " + c + " (this version)";
          li.setAttribute("aria-current", "page");
        } else {
          var a = document.createElement("a");
          a.href = tree + "v/" + c + "/" + page;
          a.textContent = "Data cutoff " + c + (c === data.newest ? " (latest)" : "");
          li.appendChild(a);
        }
        list.appendChild(li);
      });
      details.appendChild(list);
      nav.querySelector(".nscore-versions-list").appendChild(details);
    }
    var banner = document.querySelector(".nscore-version-banner");
    if (banner && data.newest && cutoff && data.newest !== cutoff) {
      banner.textContent = "This is an older version of the publication (data cutoff " + cutoff + "). A newer version exists: data cutoff " + data.newest + ". ";
      var latest = document.createElement("a");
      latest.href = tree + page;
      latest.textContent = "Read this page in the latest version";
      banner.appendChild(latest);
      banner.hidden = false;
    }
  }

  // ---------------------------------------------------------------- hover previews
  var tip = null, shownFor = null, cache = {};

  function textOf(el, max) {
    var t = (el.textContent || "").replace(/\s+/g, " ").replace(/#$/, "").trim();
    return t.length > max ? t.slice(0, max - 1) + "\u2026" : t;
  }

  function previewOf(doc, id) {
    var el = id ? doc.getElementById(id) : doc.querySelector("main h1, article h1, h1");
    if (!el) return null;
    if (el.tagName === "FIGURE") { var fc = el.querySelector("figcaption"); return fc ? textOf(fc, 400) : null; }
    if (el.tagName === "TABLE") { var cap = el.querySelector("caption"); return cap ? textOf(cap, 400) : null; }
    var heading = /^H[1-6]$/.test(el.tagName) ? el : el.querySelector("h1, h2, h3, h4, h5, h6");
    if (heading) {
      var section = heading.tagName === el.tagName ? el.parentElement : el;
      var para = section.querySelector("p");
      return textOf(heading, 120) + (para ? " \u2014 " + textOf(para, 300) : "");
    }
    return textOf(el, 400) || null;
  }

  function hide() {
    if (!tip) return;
    tip.hidden = true;
    if (shownFor) shownFor.removeAttribute("aria-describedby");
    shownFor = null;
  }

  function show(link, text) {
    if (!text) return;
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "nscore-preview";
      tip.className = "nscore-preview";
      tip.setAttribute("role", "tooltip");
      tip.hidden = true;
      (document.querySelector("main") || document.body).appendChild(tip);
    }
    hide();
    tip.textContent = text;
    var r = link.getBoundingClientRect();
    tip.style.left = Math.max(8, Math.min(window.scrollX + r.left, window.scrollX + document.documentElement.clientWidth - 360)) + "px";
    tip.style.top = (window.scrollY + r.bottom + 6) + "px";
    tip.hidden = false;
    link.setAttribute("aria-describedby", tip.id);
    shownFor = link;
  }

  function preview(link) {
    var href = link.getAttribute("href") || "";
    var url = new URL(href, document.baseURI);
    var id = url.hash ? decodeURIComponent(url.hash.slice(1)) : "";
    var here = new URL(document.baseURI);
    if (url.origin === here.origin && url.pathname === here.pathname) { show(link, previewOf(document, id)); return; }
    if (url.protocol === "file:" || url.origin !== here.origin) return;
    var key = url.pathname;
    var done = function (doc) { if (doc && (shownFor === null || shownFor === link)) show(link, previewOf(doc, id)); };
    if (cache[key] !== undefined) { done(cache[key]); return; }
    fetch(url.pathname).then(function (r) { return r.ok ? r.text() : null; }).then(function (t) {
      cache[key] = t ? new DOMParser().parseFromString(t, "text/html") : null;
      if (document.activeElement === link || link.matches(":hover")) done(cache[key]);
    }).catch(function () { cache[key] = null; });
  }

  function previews() {
    var links = document.querySelectorAll("main a.reference.internal, article a.reference.internal");
    Array.prototype.forEach.call(links, function (a) {
      if (a.closest(".nscore-ard, nav, .bd-toc, .headerlink, .nscore-preview, .prev-next-area")) return;
      a.addEventListener("mouseenter", function () { preview(a); });
      a.addEventListener("focus", function () { preview(a); });
      a.addEventListener("mouseleave", hide);
      a.addEventListener("blur", hide);
    });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
  }

  function start() { versions(); previews(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
