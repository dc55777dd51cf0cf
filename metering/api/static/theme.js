// Dark (wall screen) and light themes: a data-theme attribute on <html>, kept in localStorage; set before first paint.
function theme() { return localStorage.getItem("pc.theme") || "dark"; }
document.documentElement.dataset.theme = theme();
function toggleTheme() {
  localStorage.setItem("pc.theme", theme() === "dark" ? "light" : "dark");
  document.documentElement.dataset.theme = theme();
  if (window.onThemeChange) window.onThemeChange();
}
