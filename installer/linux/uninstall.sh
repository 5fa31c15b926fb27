#!/bin/sh
# Remove what install.sh installed for this user: exactly the paths listed in its manifest, files
# first, then the folders it created if they are empty; then refresh the desktop caches that were
# there before install (they listed camviewer).
set -eu
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
MANIFEST="$DATA/camviewer/installed-files"
[ -f "$MANIFEST" ] || { echo "uninstall: camviewer is not installed for this user (no $MANIFEST)" >&2; exit 1; }
LIST=$(mktemp)
trap 'rm -f "$LIST"' EXIT
sort -r "$MANIFEST" > "$LIST"  # deepest first; the manifest itself is in it
while IFS= read -r path; do
    if [ -L "$path" ] || [ -f "$path" ]; then rm -f "$path"; fi
done < "$LIST"
while IFS= read -r path; do
    if [ -d "$path" ] && [ ! -L "$path" ]; then rmdir "$path" 2>/dev/null || true; fi
done < "$LIST"
# A cache still here was there before install (install's own are in the manifest): refresh it.
if [ -f "$DATA/mime/mime.cache" ] && command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$DATA/mime" >/dev/null 2>&1 || true; fi
if [ -f "$DATA/applications/mimeinfo.cache" ] && command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$DATA/applications" || true; fi
if [ -f "$DATA/icons/hicolor/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t -f "$DATA/icons/hicolor" || true; fi
echo "camviewer uninstalled"
