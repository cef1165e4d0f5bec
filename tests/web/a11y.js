// Accessibility checks run in the page by test_browser.py. Returns what fails.
() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };
  const describe = (el) =>
    `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${(el.textContent || el.getAttribute("aria-label") || "").trim().slice(0, 40)}"`;

  // 1. every form control has a label
  const unlabelled = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) unlabelled.push(describe(el));
  }

  // 2. text contrast (WCAG AA: 4.5:1, 3:1 for large text), from computed colours
  const parse = (c) => {
    const m = c.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/);
    return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : [0, 0, 0, 1];
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) out = [r * a + out[0] * (1 - a), g * a + out[1] * (1 - a), b * a + out[2] * (1 - a)];
    return out;
  };
  const low_contrast = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    if (el.closest("svg") || !visible(el)) continue;  // SVG text is checked in its own fills by design review
    const s = getComputedStyle(el);
    const fg = parse(s.color);
    const bg = background(el);
    const blended = [fg[0] * fg[3] + bg[0] * (1 - fg[3]), fg[1] * fg[3] + bg[1] * (1 - fg[3]), fg[2] * fg[3] + bg[2] * (1 - fg[3])];
    const [l1, l2] = [lum(blended), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && +s.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5)) low_contrast.push(`${describe(el)} ${ratio.toFixed(2)}`);
  }

  // 3. what Tab must reach, each with an id for the test to track
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])";
  const focusables = [];
  let n = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (el.disabled || (!visible(el) && !el.classList.contains("skip"))) continue;
    el.dataset.a11yId = String(n++);
    focusables.push({ id: el.dataset.a11yId, desc: describe(el) });
  }
  window.__meshwardFocus = () => {
    const el = document.activeElement;
    if (!el || el === document.body || !el.dataset || el.dataset.a11yId === undefined) {
      return { id: el && el !== document.body ? "other:" + describe(el) : null, desc: el ? describe(el) : "", visible_focus: true };
    }
    const s = getComputedStyle(el);
    let shown = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
    const rect = el.querySelector && el.querySelector("rect");
    if (!shown && rect) shown = parseFloat(getComputedStyle(rect).strokeWidth) >= 3;
    return { id: el.dataset.a11yId, desc: describe(el), visible_focus: shown };
  };
  return { unlabelled, low_contrast, focusables };
}
