#!/bin/sh
# Install a camviewer bundle for this user, without root:
#   installer/linux/install.sh [BUNDLE]     BUNDLE: the built folder holding the camviewer executable (default: dist/camviewer)
# Puts the bundle in $XDG_DATA_HOME/camviewer/bundle (default ~/.local/share), a `camviewer` link in
# ~/.local/bin, a menu entry with its icon, and the DICOM file type; refreshes the desktop's caches
# where their tools exist. Every path it creates is listed in $XDG_DATA_HOME/camviewer/installed-files,
# which uninstall.sh removes exactly.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUNDLE=$(cd "${1:-$HERE/../../dist/camviewer}" 2>/dev/null && pwd) || { echo "install: no bundle at ${1:-dist/camviewer}; build it with installer/build.sh" >&2; exit 1; }
[ -x "$BUNDLE/camviewer" ] || { echo "install: $BUNDLE has no camviewer executable" >&2; exit 1; }
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
HOME_DIR="$DATA/camviewer"
APP="$HOME_DIR/bundle"
BIN="$HOME/.local/bin"
MANIFEST="$HOME_DIR/installed-files"
CACHED="$DATA/applications $DATA/mime $DATA/icons/hicolor"
[ ! -e "$MANIFEST" ] || { echo "install: camviewer is already installed for this user; run uninstall.sh first" >&2; exit 1; }
for target in "$APP" "$BIN/camviewer" "$DATA/applications/camviewer.desktop"; do
    if [ -e "$target" ] || [ -L "$target" ]; then echo "install: $target exists already; not replacing it" >&2; exit 1; fi
done
LIST=$(mktemp)
INSTALLED=0

roll_back() {  # a failed install leaves nothing behind: what it created so far goes again
    if [ "$INSTALLED" = 0 ]; then
        if grep -qxF "$APP" "$LIST"; then rm -rf "$APP"; fi
        sort -r "$LIST" | while IFS= read -r path; do
            if [ -L "$path" ] || [ -f "$path" ]; then rm -f "$path"; elif [ -d "$path" ]; then rmdir "$path" 2>/dev/null || true; fi
        done
        echo "install: failed; nothing was left installed" >&2
    fi
    rm -f "$LIST" "$LIST.before" "$LIST.after"
}
trap roll_back EXIT

make_dir() {  # mkdir -p that lists each folder it creates, outermost first
    missing=""
    dir=$1
    while [ ! -d "$dir" ]; do missing="$dir
$missing"; dir=$(dirname "$dir"); done
    printf '%s' "$missing" | while IFS= read -r d; do [ -n "$d" ] && mkdir "$d" && printf '%s\n' "$d" >> "$LIST"; done
}

put() {  # put SOURCE DEST: copy one file, listing it
    make_dir "$(dirname "$2")"
    cp "$1" "$2"
    printf '%s\n' "$2" >> "$LIST"
}

snapshot() { for d in $CACHED; do [ -d "$d" ] && find "$d"; done | sort; }

make_dir "$APP"
cp -R "$BUNDLE/." "$APP/"
find "$APP" -mindepth 1 >> "$LIST"
make_dir "$BIN"
ln -s "$APP/camviewer" "$BIN/camviewer"
printf '%s\n' "$BIN/camviewer" >> "$LIST"
make_dir "$DATA/applications"
sed "s|@BIN@|$APP/camviewer|g" "$HERE/camviewer.desktop" > "$DATA/applications/camviewer.desktop"
printf '%s\n' "$DATA/applications/camviewer.desktop" >> "$LIST"
put "$HERE/camviewer.svg" "$DATA/icons/hicolor/scalable/apps/camviewer.svg"
put "$HERE/camviewer-dicom.xml" "$DATA/mime/packages/camviewer-dicom.xml"

snapshot > "$LIST.before"
if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$DATA/mime" >/dev/null 2>&1 || true; fi
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$DATA/applications" || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t -f "$DATA/icons/hicolor" || true; fi
snapshot > "$LIST.after"
comm -13 "$LIST.before" "$LIST.after" >> "$LIST"  # the caches these tools made anew are install's too

printf '%s\n' "$MANIFEST" >> "$LIST"
cp "$LIST" "$MANIFEST"
INSTALLED=1
echo "camviewer installed: $BIN/camviewer, and in the desktop's menu (Science). Uninstall: $HERE/uninstall.sh"
case ":$PATH:" in *":$BIN:"*) ;; *) echo "note: $BIN is not on PATH; the menu entry works without it" ;; esac
