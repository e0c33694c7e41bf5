/**
 * The command-line flags every headless Chromium the tests start takes (support/cdp.ts): no
 * GPU, no first-run pages, extensions or background traffic, its own profile directory, and no sandbox as root (the
 * sandbox refuses to run as root: CI containers).
 */
export function headlessArgs(profile: string): string[] {
  return [
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
  ];
}
