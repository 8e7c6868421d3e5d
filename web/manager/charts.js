/* Plain SVG charts for the manager page, readable on a projector: large labels, thick marks,
 * a dashed target line. Each chart is drawn in a fixed coordinate box (viewBox) that CSS
 * scales to its panel. Text is set as text, never as markup. */
(function (global) {
  'use strict';

  const NS = 'http://www.w3.org/2000/svg';
  const W = 560, H = 280, PAD = { l: 56, r: 16, t: 20, b: 44 };
  const Charts = {};

  /* Makes an SVG element with attributes and optional text. */
  function svg(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* A round upper bound for an axis (1, 2, 5 steps). */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  /* The chart's frame: an <svg> with its title for screen readers, y grid and labels. */
  function frame(title, yMax, yFormat) {
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img', 'aria-label': title });
    root.appendChild(svg('title', {}, title));
    const ih = H - PAD.t - PAD.b;
    for (let i = 0; i <= 4; i++) {
      const v = yMax * i / 4, y = PAD.t + ih - ih * i / 4;
      root.appendChild(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: 'grid' }));
      root.appendChild(svg('text', { x: PAD.l - 8, y: y + 6, class: 'ylabel', 'text-anchor': 'end' }, yFormat(v)));
    }
    return root;
  }

  /* Labels of the x axis, thinned so that they never overlap. */
  function xLabels(root, labels, xOf) {
    const every = Math.max(1, Math.ceil(labels.length / 12));
    labels.forEach(function (label, i) {
      if (i % every) return;
      root.appendChild(svg('text', { x: xOf(i), y: H - PAD.b + 26, class: 'xlabel', 'text-anchor': 'middle' }, label));
    });
  }

  /* A dashed horizontal target line with its label. */
  function target(root, y, label) {
    root.appendChild(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: 'target' }));
    root.appendChild(svg('text', { x: W - PAD.r - 4, y: y - 6, class: 'target-label', 'text-anchor': 'end' }, label));
  }

  /* The axis top: a round number, or for counts (opts.integer) a multiple of 4 so that the
   * four grid steps are whole. */
  function axisTop(top, opts) {
    if (opts.yMax) return opts.yMax;
    if (opts.integer) return Math.max(4, Math.ceil(top * 1.1 / 4) * 4);
    return niceMax(top * 1.1);
  }

  /* Lines over categories: series [{name, values (null for none), cls}], an optional target
   * {value, label}; returns the <svg>. */
  Charts.lines = function (title, labels, series, opts) {
    opts = opts || {};
    let top = opts.target ? opts.target.value : 0;
    series.forEach((s) => s.values.forEach((v) => { if (v !== null && v > top) top = v; }));
    const yMax = axisTop(top, opts), fmt = opts.yFormat || String;
    const root = frame(title, yMax, fmt);
    const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
    const xOf = (i) => PAD.l + (labels.length > 1 ? iw * i / (labels.length - 1) : iw / 2);
    const yOf = (v) => PAD.t + ih - ih * v / yMax;
    xLabels(root, labels, xOf);
    if (opts.target) target(root, yOf(opts.target.value), opts.target.label);
    series.forEach(function (s) {
      let d = '';
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) return;
        d += (d && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? 'L' : 'M') + xOf(i).toFixed(1) + ' ' + yOf(v).toFixed(1);
        root.appendChild(svg('circle', { cx: xOf(i), cy: yOf(v), r: 5, class: 'dot ' + s.cls },
          undefined)).appendChild(svg('title', {}, s.name + ' ' + labels[i] + ': ' + fmt(v)));
      });
      if (d) root.insertBefore(svg('path', { d: d, class: 'line ' + s.cls }), root.querySelector('circle'));
    });
    return root;
  };

  /* Bars over categories: values (null for none), cls(v) a class per bar, an optional target
   * {value, label}, yMax fixed or from the data; returns the <svg>. */
  Charts.bars = function (title, labels, values, opts) {
    opts = opts || {};
    let top = opts.target ? opts.target.value : 0;
    values.forEach((v) => { if (v !== null && v > top) top = v; });
    const yMax = axisTop(top, opts), fmt = opts.yFormat || String;
    const root = frame(title, yMax, fmt);
    const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b, n = Math.max(1, labels.length);
    const slot = iw / n, bw = Math.max(4, Math.min(64, slot * 0.7));
    const xOf = (i) => PAD.l + slot * (i + 0.5);
    xLabels(root, labels, xOf);
    values.forEach(function (v, i) {
      if (v === null || v === undefined) return;
      const h = ih * Math.min(v, yMax) / yMax;
      const bar = svg('rect', { x: xOf(i) - bw / 2, y: PAD.t + ih - h, width: bw, height: Math.max(h, 1),
        class: 'bar ' + (opts.cls ? opts.cls(v, i) : '') });
      bar.appendChild(svg('title', {}, labels[i] + ': ' + fmt(v)));
      root.appendChild(bar);
      if (opts.valueLabels && n <= 16)
        root.appendChild(svg('text', { x: xOf(i), y: PAD.t + ih - h - 6, class: 'vlabel', 'text-anchor': 'middle' }, fmt(v)));
    });
    if (opts.target) target(root, PAD.t + ih - ih * opts.target.value / yMax, opts.target.label);
    return root;
  };

  /* A legend: [{name, cls}] as a row of swatches (HTML, beside the chart). */
  Charts.legend = function (items) {
    return Q.el('div', { class: 'legend' }, items.map((it) =>
      Q.el('span', { class: 'legend-item' }, Q.el('span', { class: 'swatch ' + it.cls }), it.name)));
  };

  global.Charts = Charts;
})(window);
