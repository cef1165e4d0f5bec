// meshward web UI: small enhancements only; every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Findings: "select all" and an apply button that says how many it will change.
  for (const all of document.querySelectorAll("[data-select-all]")) {
    const form = all.closest("form");
    const boxes = () => form.querySelectorAll('input[name="ids"]');
    const button = form.querySelector('fieldset.bulk button[type="submit"]');
    const update = () => {
      const n = [...boxes()].filter((b) => b.checked).length;
      if (button) button.textContent = n ? `Apply to ${n} selected` : "Apply to selected";
      all.checked = n > 0 && n === boxes().length;
      all.indeterminate = n > 0 && n < boxes().length;
    };
    all.addEventListener("change", () => {
      for (const b of boxes()) b.checked = all.checked;
      update();
    });
    form.addEventListener("change", update);
  }

  // Triage: a justification is needed exactly when the state is "not affected".
  for (const state of document.querySelectorAll("form.triage select[name=state]")) {
    const just = state.form.querySelector("select[name=justification]");
    const sync = () => {
      just.required = state.value === "not_affected";
    };
    state.addEventListener("change", sync);
    sync();
  }

  // Control tasks: a reason is needed exactly for "not applicable" and "risk accepted".
  for (const status of document.querySelectorAll("form.tasks select[name=status]")) {
    const reason = status.form.querySelector("input[name=reason]");
    const sync = () => {
      reason.required = ["not_applicable", "risk_accepted"].includes(status.value);
    };
    status.addEventListener("change", sync);
    sync();
  }

  // Graphs: pointing at or focusing a service highlights its API links.
  for (const fig of document.querySelectorAll("[data-graph]")) {
    const edges = [...fig.querySelectorAll("path[data-from]")];
    const mark = (id, on) => {
      for (const e of edges) {
        if (e.dataset.from === id || e.dataset.to === id) e.classList.toggle("lit", on);
      }
    };
    for (const node of fig.querySelectorAll("[data-node]")) {
      const id = node.dataset.node;
      for (const [ev, on] of [["mouseenter", true], ["mouseleave", false], ["focus", true], ["blur", false]]) {
        node.addEventListener(ev, () => mark(id, on));
      }
    }
  }
});
