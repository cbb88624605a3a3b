// Navigation within the app, for the pages: `go` to another app URL and `onLeave` to stop a page's
// timers when another page is shown. The router (app.js) registers how a URL is shown, so pages
// need not import the router that imports them.

let showPage = async () => {};
let leave = () => {};

/** The router's page renderer (app.js, once, at start). */
export function setShowPage(fn) {
  showPage = fn;
}

/** Stops a page's timers (the job page's polling) when another page is shown. */
export const onLeave = (fn) => {
  leave = fn;
};

/** Runs and forgets the shown page's leave hook: the router calls it before showing another. */
export function leavePage() {
  leave();
  leave = () => {};
}

/** Shows another app URL (pushes it to the history); `replace` for state changes within a page. */
export function go(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  showPage().then(() => {
    if (!replace) document.getElementById("main").focus({ preventScroll: true });
  });
}
