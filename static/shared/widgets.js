// Drawing ChatKit widget JSON (Card, Row, Col, Text, Badge, Button...) as HTML, for the customer's chat and the
// staff console alike. ctx.onAction(action, button) is called for clicks; ctx.readOnly disables every button.
(function () {
  "use strict";

  const gettext = (text) => (window.gettext ? window.gettext(text) : text); // the chat page loads Django's catalog
  const GAP = (gap) => (gap === undefined || gap === null ? null : typeof gap === "number" ? `${gap * 4}px` : gap);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // Markdown is drawn as plain text, except a link to one of the customer's own return labels
  // ("[Print your return label](/chat/returns/RET-…/label)"), which opens in a new tab. Any other link stays text:
  // a widget never sends anyone to another address.
  const MARKDOWN_LINK = /\[([^\]\n]{1,200})\]\(([^()\s]{1,300})\)/g;
  const LINKABLE = /^\/chat\/returns\/[A-Za-z0-9-]{1,64}\/label(\.pdf)?$/;

  // ``links`` false (the staff console): the link's words only; a label opens for its customer alone.
  function markdown(value, links) {
    const node = el("p", "text");
    const text = String(value || "");
    let shown = 0;
    for (const match of text.matchAll(MARKDOWN_LINK)) {
      if (!LINKABLE.test(match[2])) continue;
      if (!links) {
        node.append(text.slice(shown, match.index), match[1]);
        shown = match.index + match[0].length;
        continue;
      }
      node.append(text.slice(shown, match.index));
      const link = el("a", "widget-link", match[1]);
      link.href = match[2];
      link.target = "_blank";
      link.rel = "noopener";
      link.append(el("span", "visually-hidden", ` ${gettext("(opens in a new tab)")}`));
      node.append(link);
      shown = match.index + match[0].length;
    }
    node.append(text.slice(shown));
    return node;
  }

  function renderChildren(parent, children, ctx) {
    for (const child of children || []) {
      const rendered = renderComponent(child, ctx);
      if (rendered) parent.appendChild(rendered);
    }
    return parent;
  }

  function layout(node, component) {
    if (component.gap !== undefined) node.style.gap = GAP(component.gap);
    if (component.justify) node.style.justifyContent = { between: "space-between", around: "space-around" }[component.justify] || component.justify;
    if (component.align) node.style.alignItems = { start: "flex-start", end: "flex-end" }[component.align] || component.align;
    if (component.wrap) node.style.flexWrap = component.wrap;
    if (component.flex !== undefined) node.style.flex = String(component.flex);
    return node;
  }

  // The same label on several buttons ("Return This" on every line) says to a screen reader which one it is,
  // from the first words of the line it sits on.
  function nameRepeatedButtons(root) {
    const buttons = [...root.querySelectorAll("button")];
    const seen = new Map();
    for (const button of buttons) seen.set(button.textContent, (seen.get(button.textContent) || 0) + 1);
    for (const button of buttons) {
      if (seen.get(button.textContent) < 2) continue;
      const line = button.closest(".list-item, .row");
      const what = line && line.querySelector(".text, .title");
      if (what) button.setAttribute("aria-label", `${button.textContent}: ${what.textContent}`);
    }
    return root;
  }

  // Items that cannot be returned, folded under their count ("Not returnable (3)"): closed on a phone, so what
  // can be done comes first; open where there is room.
  function folded(component, ctx) {
    const [heading, ...rest] = component.children || [];
    const details = el("details", "folded");
    details.appendChild(el("summary", "caption", (heading && heading.value) || ""));
    renderChildren(details, rest, ctx);
    details.open = !window.matchMedia("(max-width: 600px)").matches;
    return details;
  }

  function renderComponent(component, ctx) {
    switch (component.type) {
      case "Card":
        return nameRepeatedButtons(renderChildren(el("div", "card"), component.children, ctx));
      case "ListView":
        return renderChildren(el("ul", "list-view"), component.children, ctx);
      case "ListViewItem":
        return renderChildren(layout(el("li", "list-item"), component), component.children, ctx);
      case "Row":
        return renderChildren(layout(el("div", "row"), component), component.children, ctx);
      case "Col":
      case "Box":
      case "Form":
        if (component.key === "not-returnable") return folded(component, ctx);
        return renderChildren(layout(el("div", "col"), component), component.children, ctx);
      case "Title":
        return el("h3", "title", component.value);
      case "Text":
        return el("p", `text ${component.weight ? "w-" + component.weight : ""}`, component.value);
      case "Markdown":
        return markdown(component.value, ctx.links !== false);
      case "Caption":
        return el("p", `caption ${component.color ? "c-" + component.color : ""}`, component.value);
      case "Badge":
        return el("span", `badge badge-${component.color || "secondary"}`, component.label);
      case "Divider":
        return el("hr", "divider");
      case "Button": {
        const button = el("button", component.style === "primary" ? "primary" : "secondary", component.label || "");
        button.type = "button";
        if (component.onClickAction) button.addEventListener("click", () => ctx.onAction(component.onClickAction, button));
        if (ctx.readOnly) button.disabled = true;
        return button;
      }
      default:
        return null; // a component this page does not draw yet is left out rather than shown broken
    }
  }

  // --- messages: what both pages show of a thread item -----------------------------------------------------
  function textOf(item) {
    return (item.content || []).map((part) => part.text || "").join("");
  }

  // What an agent typed (chat.conversations: item ids "staff_…", text "Name: message"): shown as theirs.
  function isStaff(item) {
    return item.type === "assistant_message" && String(item.id).startsWith("staff_");
  }

  function staffBubble(item) {
    const text = textOf(item);
    const cut = text.indexOf(": ");
    const bubble = el("div", "bubble staff");
    bubble.append(el("div", "staff-name", cut > 0 ? text.slice(0, cut) : gettext("Support team")), el("div", "", cut > 0 ? text.slice(cut + 2) : text));
    return bubble;
  }

  window.ChatKitWidgets = { el, renderComponent, textOf, isStaff, staffBubble };
})();
