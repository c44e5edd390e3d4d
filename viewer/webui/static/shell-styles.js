// xterm.js writes its layout and theme rules into <style> elements it adds
// inside the terminal; the page's Content-Security-Policy (style-src 'self')
// does not apply them. This copies the rules of those elements, and of
// those only, into constructed style sheets (CSSOM, which the policy
// allows), and keeps them current as xterm.js rewrites them. Nothing else
// on the page gets inline styles: the terminal shows output as text, never
// as markup.
(() => {
  'use strict';
  const sheets = new Map(); // <style> element -> CSSStyleSheet
  window.peerdeskAdoptStyles = (root) => {
    const sync = () => {
      let changed = false;
      for (const el of root.querySelectorAll('style')) {
        let s = sheets.get(el);
        if (!s) {
          s = new CSSStyleSheet();
          sheets.set(el, s);
          changed = true;
        }
        if (s.peerdeskText !== el.textContent) {
          s.replaceSync(el.textContent);
          s.peerdeskText = el.textContent;
        }
      }
      for (const el of [...sheets.keys()]) {
        if (!root.contains(el)) {
          sheets.delete(el);
          changed = true;
        }
      }
      if (changed) {
        const ours = new Set(sheets.values());
        document.adoptedStyleSheets = [...document.adoptedStyleSheets.filter((s) => !s.peerdeskOwned), ...ours];
        for (const s of ours) s.peerdeskOwned = true;
      }
    };
    new MutationObserver(sync).observe(root, { childList: true, characterData: true, subtree: true });
    sync();
    return sync;
  };
})();
