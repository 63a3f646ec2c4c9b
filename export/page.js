// kinhub genealogy page: draws the embedded graph as SVG, pan/zoom, search, side panel.
// Plain DOM code with no dependencies. Every string from the data goes through
// textContent or setAttribute, never innerHTML, so names and card texts cannot become markup.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("kinhub-data").textContent);
  var svg = document.getElementById("graph");
  var viewport = document.getElementById("viewport");
  var panel = document.getElementById("panel");
  var NODE_W = data.layout.node_width, NODE_H = data.layout.node_height;
  var view = { x: 0, y: 0, k: 1 };
  var nodeEls = [], edgeEls = [], selected = -1, focusRelation = null;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function html(name, text, parent, cls) {
    var node = document.createElement(name);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }
  function colour(relation) { return data.colours[relation] || data.colours.other; }
  function short(text) { return text.length > 24 ? text.slice(0, 22) + "\u2026" : text; }

  function applyView() {
    viewport.setAttribute("transform",
      "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")");
  }
  function fit() {
    var box = svg.getBoundingClientRect(), b = data.layout.bounds;
    var w = Math.max(b.width, 1), h = Math.max(b.height, 1);
    view.k = Math.min(2, 0.92 * Math.min(box.width / w, box.height / h));
    view.x = (box.width - w * view.k) / 2 - b.x * view.k;
    view.y = (box.height - h * view.k) / 2 - b.y * view.k;
    applyView();
  }
  function centreOn(i) {
    var box = svg.getBoundingClientRect(), n = data.nodes[i];
    view.k = Math.max(view.k, 0.8);
    view.x = box.width / 2 - n.x * view.k;
    view.y = box.height / 2 - n.y * view.k;
    applyView();
  }
  function zoomAt(factor, cx, cy) {
    var k = Math.min(8, Math.max(0.02, view.k * factor));
    view.x = cx - (cx - view.x) * (k / view.k);
    view.y = cy - (cy - view.y) * (k / view.k);
    view.k = k;
    applyView();
  }

  // ---------------------------------------------------------------- drawing
  var defs = el("defs", {}, svg);
  Object.keys(data.colours).forEach(function (relation) {
    var marker = el("marker", { id: "arrow-" + relation, viewBox: "0 0 10 10", refX: "10",
      refY: "5", markerWidth: "9", markerHeight: "9", markerUnits: "userSpaceOnUse",
      orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: colour(relation) }, marker);
  });
  var edgeLayer = el("g", { "class": "edges" }, viewport);
  var nodeLayer = el("g", { "class": "nodes" }, viewport);

  data.edges.forEach(function (edge, i) {
    var p = data.nodes[edge.parent], c = data.nodes[edge.child];
    var x1 = p.x, y1 = p.y + NODE_H / 2, x2 = c.x, y2 = c.y - NODE_H / 2;
    if (c.y <= p.y) { y1 = p.y - NODE_H / 2; y2 = c.y + NODE_H / 2; }
    var mid = (y1 + y2) / 2;
    var relation = edge.attrs.relation || "other";
    var width = typeof edge.attrs.kinship_cs === "number"
      ? 1.5 + 7 * Math.max(0, edge.attrs.kinship_cs) : 1.5;
    var path = el("path", {
      d: "M" + x1 + "," + y1 + " C" + x1 + "," + mid + " " + x2 + "," + mid + " " + x2 + "," + y2,
      stroke: colour(relation), "stroke-width": width.toFixed(2), fill: "none",
      "class": "edge" + (typeof edge.attrs.kinship_cs === "number" ? "" : " unmeasured"),
      "marker-end": "url(#arrow-" + (data.colours[relation] ? relation : "other") + ")"
    }, edgeLayer);
    el("title", {}, path).textContent = edge.label;
    path.dataset.relation = relation;
    edgeEls.push(path);
  });

  data.nodes.forEach(function (node, i) {
    var g = el("g", { "class": "node" + (node.id === data.root ? " root" : "") +
      (node.attrs.unresolved ? " unresolved" : ""),
      transform: "translate(" + (node.x - NODE_W / 2) + "," + (node.y - NODE_H / 2) + ")" },
      nodeLayer);
    g.dataset.id = node.id;
    g.dataset.relation = node.relation;
    el("rect", { width: NODE_W, height: NODE_H, rx: 8, ry: 8,
      fill: "#ffffff", stroke: colour(node.relation) }, g);
    el("rect", { width: 6, height: NODE_H, rx: 3, fill: colour(node.relation) }, g);
    // Two lines, owner above name, keep the boxes narrow enough for wide generations.
    var slash = node.id.indexOf("/");
    var owner = slash > 0 && !node.attrs.unresolved ? node.id.slice(0, slash) : "";
    var name = owner ? node.id.slice(slash + 1) : node.id;
    if (owner) el("text", { x: 12, y: 14, "class": "owner" }, g).textContent = short(owner);
    el("text", { x: 12, y: owner ? 30 : NODE_H / 2 + 4 }, g).textContent = short(name);
    el("title", {}, g).textContent = node.id;
    g.addEventListener("click", function (event) { event.stopPropagation(); select(i, false); });
    nodeEls.push(g);
  });

  // ---------------------------------------------------------------- side panel
  function row(dl, key, value) {
    if (value === undefined || value === null || value === "") return;
    html("dt", key, dl);
    html("dd", typeof value === "number" ? value.toLocaleString("en") : value, dl);
  }
  function link(parent, index, suffix) {
    var li = html("li", null, parent);
    var a = html("a", data.nodes[index].id, li);
    a.href = "#";
    a.addEventListener("click", function (event) { event.preventDefault(); select(index, true); });
    if (suffix) html("span", " " + suffix, li, "muted");
  }
  function showPanel(i) {
    var node = data.nodes[i];
    panel.replaceChildren();
    html("h2", node.id, panel);
    var dl = html("dl", null, panel);
    Object.keys(node.attrs).forEach(function (key) { row(dl, key, node.attrs[key]); });
    var parents = html("ul", null), children = html("ul", null);
    data.edges.forEach(function (edge) {
      if (edge.child === i) link(parents, edge.parent, edge.label);
      if (edge.parent === i) link(children, edge.child, edge.label);
    });
    if (parents.childNodes.length) { html("h3", "Parents", panel); panel.appendChild(parents); }
    if (children.childNodes.length) { html("h3", "Children", panel); panel.appendChild(children); }
    if (node.recipe) {
      html("h3", "Recipe (" + node.recipe.source + ")", panel);
      html("pre", node.recipe.text, panel);
    }
    panel.hidden = false;
  }
  function select(i, centre) {
    if (selected >= 0) nodeEls[selected].classList.remove("selected");
    selected = i;
    nodeEls[i].classList.add("selected");
    showPanel(i);
    if (centre) centreOn(i);
  }

  // ---------------------------------------------------------------- search
  var search = document.getElementById("search");
  var status = document.getElementById("search-status");
  var names = document.getElementById("names");
  data.nodes.forEach(function (node) { html("option", null, names).value = node.id; });
  function find(text) {
    var query = text.trim().toLowerCase();
    if (!query) return -1;
    for (var i = 0; i < data.nodes.length; i++) {
      if (data.nodes[i].id.toLowerCase() === query) return i;
    }
    for (var j = 0; j < data.nodes.length; j++) {
      if (data.nodes[j].id.toLowerCase().indexOf(query) >= 0) return j;
    }
    return -1;
  }
  function runSearch() {
    var i = find(search.value);
    status.textContent = i < 0 && search.value.trim() ? "no model matches" : "";
    if (i >= 0) select(i, true);
  }
  search.addEventListener("keydown", function (event) { if (event.key === "Enter") runSearch(); });
  search.addEventListener("change", runSearch);

  // ---------------------------------------------------------------- legend
  var legend = document.getElementById("legend");
  data.relations.forEach(function (relation) {
    var item = html("button", null, legend, "legend-item");
    item.type = "button";
    var swatch = html("span", null, item, "swatch");
    swatch.style.background = colour(relation);
    html("span", relation, item);
    item.addEventListener("click", function () {
      focusRelation = focusRelation === relation ? null : relation;
      legend.querySelectorAll(".legend-item").forEach(function (b) {
        b.classList.toggle("active", b === item && focusRelation !== null);
      });
      nodeEls.forEach(function (g) {
        g.classList.toggle("dim", focusRelation !== null && g.dataset.relation !== focusRelation);
      });
      edgeEls.forEach(function (p) {
        p.classList.toggle("dim", focusRelation !== null && p.dataset.relation !== focusRelation);
      });
    });
  });

  // ---------------------------------------------------------------- pan and zoom
  var drag = null;
  svg.addEventListener("pointerdown", function (event) {
    drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false };
  });
  window.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    view.x = drag.vx + dx; view.y = drag.vy + dy;
    applyView();
  });
  window.addEventListener("pointerup", function () { drag = null; });
  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    var box = svg.getBoundingClientRect();
    zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", function () {
    var box = svg.getBoundingClientRect(); zoomAt(1.25, box.width / 2, box.height / 2);
  });
  document.getElementById("zoom-out").addEventListener("click", function () {
    var box = svg.getBoundingClientRect(); zoomAt(0.8, box.width / 2, box.height / 2);
  });
  document.getElementById("fit").addEventListener("click", fit);

  document.getElementById("summary").textContent =
    data.nodes.length + " models, " + data.edges.length + " edges";
  // Open the root's panel first, so the fit uses the width that is left for the graph.
  var rootIndex = data.nodes.findIndex(function (n) { return n.id === data.root; });
  if (rootIndex >= 0) select(rootIndex, false);
  fit();
  document.body.dataset.ready = "true";
})();
